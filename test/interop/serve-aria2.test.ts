/**
 * `torrenttp serve` as a process, with real clients: curl gets the plain file (200, 206, 304,
 * 416) and the torrent by Accept; aria2c completes from the gateway with the torrent as served
 * (tracker + wire seed + web seed), with the wire seed alone (no url-list) and with the web seed
 * alone (no trackers); and an unmodified aria2c told only to send the Accept header follows the
 * torrent and completes. Every download is checked byte for byte.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { requireTool, run, until, type Proc } from '../helpers/processes.js';
import { ariaLeech, ariaUdpTrackerArgs } from '../helpers/swarm.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const MAIN = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');
const BT = 'application/x-bittorrent';

async function serve(t: TestContext, root: string, extra: string[] = []): Promise<{ url: string; proc: Proc }> {
  const proc = run(t, process.execPath, [MAIN, 'serve', root, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn', ...extra]);
  await until('serve to print its start line', () => /serving .* at http:\/\/127\.0\.0\.1:\d+\//.test(proc.output), 20_000, proc);
  const url = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(proc.output)![1]!;
  return { url, proc };
}

function curl(args: string[]): { status: number; headers: string; body: Buffer } {
  const r = spawnSync('curl', ['-s', '-D', '-', ...args], { maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr.toString());
  const out = r.stdout;
  let split = out.indexOf('\r\n\r\n');
  const headers = out.subarray(0, split).toString('latin1');
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(headers)![1]), headers, body: out.subarray(split + 4) };
}

async function torrentFrom(url: string): Promise<Uint8Array> {
  for (let i = 0; i < 200; i++) {
    const r = curl(['-H', `Accept: ${BT}`, url]);
    if (r.status === 200) {
      assert.match(r.headers, /content-type: application\/x-bittorrent/i);
      return new Uint8Array(r.body);
    }
    assert.equal(r.status, 503);
    assert.match(r.headers, /retry-after: \d+/i);
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.fail('no torrent after 20 s');
}

test('curl against serve: plain bytes, 206, 304, 416, and a torrent equal to torrenttp create', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('curl', ['--version']);
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(6 * 1024 * 1024 + 11, 21);
    writeFileSync(join(root, 'payload.bin'), payload);
    const { url } = await serve(t, root);
    const file = `${url}/payload.bin`;
    const plain = curl([file]);
    assert.equal(plain.status, 200);
    assert.ok(plain.body.equals(Buffer.from(payload)), 'byte-identical');
    const etag = /etag: (\S+)/i.exec(plain.headers)![1]!;
    const part = curl(['-r', '100-1099', file]);
    assert.equal(part.status, 206);
    assert.ok(part.body.equals(Buffer.from(payload.subarray(100, 1100))));
    assert.equal(curl(['-H', `If-None-Match: ${etag}`, file]).status, 304);
    assert.equal(curl(['-r', `${payload.length}-`, file]).status, 416);

    const torrent = parseTorrent(await torrentFrom(file));
    const created = spawnSync(process.execPath, [MAIN, 'create', join(root, 'payload.bin'), '-o', join(dir, 'c.torrent'), '--json'], { encoding: 'utf8' });
    assert.equal(created.status, 0, created.stderr);
    assert.equal(torrent.infoHash, JSON.parse(created.stdout).infoHash);
  }));

test('aria2c completes from serve: as served, wire seed only, web seed only', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('curl', ['--version']);
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(8 * 1024 * 1024 + 3, 22);
    writeFileSync(join(root, 'payload.bin'), payload);
    const { url } = await serve(t, root);
    const served = await torrentFrom(`${url}/payload.bin`);
    const m = parseTorrent(served);
    const variants: [string, Uint8Array][] = [
      ['as-served', served],
      ['wire-only', encodeTorrent(m.infoBytes, { announceList: m.announceList, urlList: [] })],
      ['web-only', encodeTorrent(m.infoBytes, { announceList: [], urlList: m.urlList })],
    ];
    for (const [name, bytesOfTorrent] of variants) {
      const file = join(dir, `${name}.torrent`);
      writeFileSync(file, bytesOfTorrent);
      const out = join(dir, name);
      await ariaLeech(t, file, out, 60_000);
      assert.ok(readFileSync(join(out, 'payload.bin')).equals(Buffer.from(payload)), `${name}: byte-identical`);
    }
  }));

test('unmodified aria2c with only an Accept header follows the torrent and completes', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(8 * 1024 * 1024 + 5, 23);
    writeFileSync(join(root, 'payload.bin'), payload);
    const { url } = await serve(t, root);
    const out = join(dir, 'dl');
    // The first request starts the hashing and gets 503 + Retry-After; aria2c retries.
    const proc = await ariaLeech(t, `${url}/payload.bin`, out, 90_000, ['--follow-torrent=mem', '--header', `Accept: ${BT}`, '--retry-wait=1', '--max-tries=30']);
    assert.ok(readFileSync(join(out, 'payload.bin')).equals(Buffer.from(payload)), 'byte-identical');
    assert.match(proc.output, /\[MEMORY\]payload\.bin/, 'aria2c took the torrent, not the plain file');
  }));

test('aria2c finds the seed through serve --tracker-port over UDP alone (no web seed, no HTTP tracker)', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('curl', ['--version']);
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(4 * 1024 * 1024 + 7, 24);
    writeFileSync(join(root, 'payload.bin'), payload);
    const { url, proc } = await serve(t, root, ['--tracker-port', '0']);
    const trackerPort = /\n {2}tracker http:\/\/127\.0\.0\.1:(\d+)\/announce/.exec(proc.output)![1]!;
    const m = parseTorrent(await torrentFrom(`${url}/payload.bin`));
    const udp = m.announceList.flat().filter((u) => u.startsWith('udp:'));
    assert.deepEqual(udp, [`udp://127.0.0.1:${trackerPort}`], 'the torrent names the tracker port for UDP');
    const file = join(dir, 'udp-only.torrent');
    writeFileSync(file, encodeTorrent(m.infoBytes, { announceList: [udp], urlList: [] }));
    const out = join(dir, 'dl');
    // Only the tracker can tell aria2c where the seed is (its DHT has no entry point).
    await ariaLeech(t, file, out, 90_000, await ariaUdpTrackerArgs(dir, 'leech'));
    assert.ok(readFileSync(join(out, 'payload.bin')).equals(Buffer.from(payload)), 'byte-identical');
  }));

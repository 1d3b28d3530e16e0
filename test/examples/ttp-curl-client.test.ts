/**
 * examples/ttp-curl-client.sh, a TorrentTTP client made of curl, jq, base64, od and sha1sum,
 * downloads a multi-file torrent from `torrenttp seed --http-port` (no wire peer, no tracker) and
 * gets byte-identical files; from a peer that serves one wrong piece it keeps nothing and fails.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { demoTorrent } from '../gateway/ttp-helpers.js';

const root = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(root, 'dist/src/cli/main.js');
const SCRIPT = join(root, 'examples/ttp-curl-client.sh');

function runScript(url: string, out: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile('bash', [SCRIPT, url, out], { timeout: 120_000 }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/**
 * `torrenttp seed TORRENT . --http-port 0 --listen 127.0.0.1 --no-trackers --json` (and `extra`)
 * in `dir`, killed when the test ends; resolves with it and its TorrentTTP URL once it started.
 */
async function seedOverHttp(t: TestContext, dir: string, torrentFile: string, extra: readonly string[]): Promise<{ seed: ChildProcess; url: string }> {
  const seed = spawn(process.execPath, [BIN, 'seed', torrentFile, '.', '--http-port', '0', '--listen', '127.0.0.1', '--no-trackers', ...extra, '--json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => seed.kill('SIGKILL'));
  let lines = '';
  seed.stdout.on('data', (d: Buffer) => (lines += d.toString()));
  seed.stderr.on('data', (d: Buffer) => (lines += d.toString()));
  const started = (): { ttpUrl: string } | undefined =>
    lines.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; ttpUrl: string }).find((l) => l.event === 'started');
  await until('the seed started', () => started() !== undefined, 60_000);
  return { seed, url: started()!.ttpUrl };
}

test('the curl + jq + sha1sum client downloads a multi-file torrent from torrenttp seed --http-port, and refuses a bad piece', { timeout: 240_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, metainfo } = await demoTorrent(dir);
    writeFileSync(join(dir, 'demo.torrent'), torrent);
    const { seed, url } = await seedOverHttp(t, dir, 'demo.torrent', []);
    assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/ttp/v1/torrents/${metainfo.infoHash}$`));

    const out = join(dir, 'out');
    const ok = await runScript(url, out);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /downloaded demo \(40102 bytes, 3 pieces verified\)/);
    assert.deepEqual(readFileSync(join(out, 'demo', 'docs', 'data.bin')), readFileSync(join(dir, 'demo', 'docs', 'data.bin')));
    assert.deepEqual(readFileSync(join(out, 'demo', 'readme.txt')), readFileSync(join(dir, 'demo', 'readme.txt')));

    // A peer in front of the seed that flips a byte of piece 1: the client must not keep it.
    const liar = createServer((req, res) => {
      void (async () => {
        const r = await request(`${new URL(url).origin}${req.url ?? '/'}`, { headers: req.headers.range === undefined ? {} : { range: req.headers.range } });
        const body = Buffer.from(await r.body.arrayBuffer());
        if (req.url?.endsWith('/pieces/1') === true) body[100] = body[100]! ^ 0xff;
        res.writeHead(r.statusCode, { 'content-type': String(r.headers['content-type'] ?? ''), 'content-length': body.length });
        res.end(body);
      })();
    });
    liar.listen(0, '127.0.0.1');
    await once(liar, 'listening');
    t.after(() => liar.close());
    const liarUrl = url.replace(new URL(url).origin, `http://127.0.0.1:${(liar.address() as AddressInfo).port}`);
    const bad = await runScript(liarUrl, join(dir, 'bad'));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /piece 1 fails its SHA-1/);
    assert.equal(existsSync(join(dir, 'bad', 'demo')), false, 'nothing written');
    seed.kill('SIGTERM');
    await once(seed, 'exit');
  }),
);

test('the curl client writes every file of a torrent whose first file is larger than a pipe buffer', { timeout: 240_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // Before, `tail -c +N all | head -c LEN` per file: head left after LEN bytes, tail died of
    // SIGPIPE, and `set -o pipefail` ended the script after the first file (the demo torrent, 40 KB,
    // fits in a pipe's 64 KiB, so the test above never saw it).
    const src = join(dir, 'pair');
    mkdirSync(src);
    writeFileSync(join(src, 'a.bin'), bytes(300_000, 1));
    writeFileSync(join(src, 'b.bin'), bytes(70_001, 2));
    const { torrent } = await createTorrent(src, { creationDate: null, pieceLength: 16384 });
    writeFileSync(join(dir, 'pair.torrent'), torrent);
    const { seed, url } = await seedOverHttp(t, dir, 'pair.torrent', ['--no-dht']);
    const r = await runScript(url, join(dir, 'out'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /downloaded pair \(370001 bytes, 23 pieces verified\)/);
    for (const f of ['a.bin', 'b.bin']) assert.deepEqual(readFileSync(join(dir, 'out', 'pair', f)), readFileSync(join(src, f)), f);
    seed.kill('SIGTERM');
    await once(seed, 'exit');
  }),
);

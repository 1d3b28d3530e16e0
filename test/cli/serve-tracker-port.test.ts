/**
 * `torrenttp serve --tracker-port` as a process: the start line says where the tracker listens,
 * the torrents name that port and no other, a `torrenttp get` completes and its announces reach
 * the tracker there (its `completed` is counted, read back through that port's `/scrape`), and a
 * taken tracker port ends the start with the flag that picks another.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseTorrent } from '../../src/metainfo/index.js';
import { decodeScrapeResponse, encodeScrapeQuery } from '../../src/tracker/index.js';
import { cli, CLI_BIN } from '../helpers/cli.js';
import { run, until, type Proc } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

async function serve(t: TestContext, root: string, extra: string[]): Promise<{ url: string; trackerPort: number; proc: Proc }> {
  const proc = run(t, process.execPath, [CLI_BIN, 'serve', root, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn', ...extra]);
  await until('serve to print its start lines', () => /\n {2}tracker .*\n/.test(proc.output), 20_000, proc);
  const url = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(proc.output)![1]!;
  const tracker = /\n {2}tracker http:\/\/127\.0\.0\.1:(\d+)\/announce and udp:\/\/127\.0\.0\.1:(\d+) /.exec(proc.output);
  assert.ok(tracker !== null, proc.output);
  assert.equal(tracker[1], tracker[2], 'HTTP and UDP on one number');
  return { url, trackerPort: Number(tracker[1]), proc };
}

async function torrentOf(fileUrl: string): Promise<Uint8Array> {
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${fileUrl}?torrent`);
    const body = new Uint8Array(await r.arrayBuffer());
    if (r.status === 200) return body;
    assert.equal(r.status, 503);
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.fail(`no torrent for ${fileUrl}`);
}

/** `downloaded` (completed announces) of `infoHash`, scraped from the tracker at `base`. */
async function downloaded(base: string, infoHash: Uint8Array): Promise<number> {
  const r = await fetch(`${base}/scrape?${encodeScrapeQuery([infoHash])}`);
  assert.equal(r.status, 200);
  const s = decodeScrapeResponse(new Uint8Array(await r.arrayBuffer()));
  assert.equal(s.failureReason, undefined);
  return s.files.find((f) => Buffer.from(f.infoHash).equals(infoHash))?.downloaded ?? 0;
}

/** `torrenttp get …` as a child process, stopped by its pid if the test ends first. */
function get(t: TestContext, cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI_BIN, 'get', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill();
      await done;
    }
  });
  return done;
}

test('serve --tracker-port 0: the start line and the torrents name the tracker port; a get completes and its announce reaches it there', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(6 * 1024 * 1024 + 17, 41);
    writeFileSync(join(root, 'p.bin'), payload);
    const { url, trackerPort } = await serve(t, root, ['--tracker-port', '0']);
    assert.notEqual(trackerPort, Number(new URL(url).port));
    const tracker = `http://127.0.0.1:${trackerPort}`;

    const m = parseTorrent(await torrentOf(`${url}/p.bin`));
    assert.deepEqual(m.announceList, [[`${tracker}/announce`], [`udp://127.0.0.1:${trackerPort}`]], 'the tracker port, not the web server\'s');
    const infoHash = Uint8Array.from(Buffer.from(m.infoHash, 'hex'));
    assert.equal(await downloaded(tracker, infoHash), 0);

    const r = await get(t, dir, [`${url}/p.bin`, '-o', 'out.bin', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"event":"summary","mode":"swarm","status":"complete"/, 'the swarm, not plain HTTP');
    assert.ok(readFileSync(join(dir, 'out.bin')).equals(Buffer.from(payload)), 'byte-identical');
    // The get said `completed` to the tracker its torrent named (before it exits: its `stopped` follows).
    await until('the tracker port to count the completed get', async () => (await downloaded(tracker, infoHash)) === 1, 10_000);
  }));

test('serve whose --tracker-port is taken: GATEWAY_BIND_FAILED naming the tracker\'s port and --tracker-port, and no "tracker listening"', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    t.after(() => new Promise<void>((r) => holder.close(() => r())));
    const taken = (holder.address() as AddressInfo).port;
    const r = await cli(dir, ['serve', dir, '--host', '127.0.0.1', '--port', '0', '--tracker-port', String(taken), '--cache', join(dir, 'c'), '--log-format', 'json', '--log-level', 'info']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^torrenttp: cannot listen on the address and port: tracker tcp 127\\.0\\.0\\.1:${taken}: in use \\(EADDRINUSE\\); choose another with --tracker-port N, or --tracker-port 0 for any free port \\[GATEWAY_BIND_FAILED\\]$`, 'm'));
    assert.doesNotMatch(r.stderr, /tracker listening|tracker closed/);
    assert.equal(r.stdout, '', 'no start line');
  }));

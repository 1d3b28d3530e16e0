/**
 * torrenttp holds part (or all) of a torrent and dials aria2c (`peers`, as `--peer` does): the
 * connections issue 13 found dead. aria2, accepting, drops a connection when more than the
 * 68-byte handshake arrives before it answers, so we send our bitfield only after its handshake.
 * Every direction ends byte-identical on both sides. aria2c and mktorrent are required (.ci/run).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { freePort, requireTool, run, until, type Proc } from '../helpers/processes.js';
import { ARIA_QUIET, ariaSeed } from '../helpers/swarm.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const TIMEOUT = { timeout: 120_000 };
const PIECE = 256 * 1024;

/** `dir/seed/payload.bin` (a short last piece) and `dir/x.torrent` by mktorrent, announcing nowhere reachable. */
function makeSwarmFiles(dir: string): { payload: Uint8Array; torrent: string; seedDir: string } {
  requireTool('mktorrent', ['-v']);
  const seedDir = join(dir, 'seed');
  mkdirSync(seedDir, { recursive: true });
  const payload = bytes(24 * PIECE + 4321, 13);
  writeFileSync(join(seedDir, 'payload.bin'), payload);
  const torrent = join(dir, 'x.torrent');
  const mk = spawnSync('mktorrent', ['-l', '18', '-d', '-a', 'http://127.0.0.1:1/announce', '-n', 'payload.bin', '-o', torrent, join(seedDir, 'payload.bin')], { encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  return { payload, torrent, seedDir };
}

/** `payload` with the bytes of every piece not in `keep` zeroed: what a partial download looks like on disk. */
function partial(payload: Uint8Array, keep: (piece: number) => boolean): Uint8Array {
  const out = new Uint8Array(payload.length);
  for (let at = 0, i = 0; at < payload.length; at += PIECE, i++) {
    if (keep(i)) out.set(payload.subarray(at, Math.min(at + PIECE, payload.length)), at);
  }
  return out;
}

/**
 * An aria2c leecher listening on a known port, checking what it already has; it exits once
 * complete, or with `stay` seeds on (so that a peer still missing pieces can get them).
 */
async function ariaListeningLeech(t: TestContext, torrent: string, dir: string, stay = false): Promise<{ port: number; proc: Proc }> {
  requireTool('aria2c', ['--version']);
  const port = await freePort();
  const seeding = stay ? '--seed-ratio=0.0' : '--seed-time=0';
  const proc = run(t, 'aria2c', [...ARIA_QUIET, '--no-conf=true', `--dir=${dir}`, '--check-integrity=true', seeding, `--listen-port=${port}`, torrent]);
  await until('aria2c leech to listen', () => /listening on TCP port/.test(proc.output), 20_000, proc);
  return { port, proc };
}

async function exitsOk(proc: Proc, timeoutMs: number, what: string): Promise<void> {
  const code = await Promise.race([proc.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref())]);
  assert.equal(code, 0, `${what} ${code === 'timeout' ? 'timed out' : `exited ${code}`}:\n${proc.output.slice(-3000)}`);
}

test('a resumed torrenttp download (46 % on disk) dials an aria2 seed and gets the rest', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { payload, torrent, seedDir } = makeSwarmFiles(dir);
    const pieces = parseTorrent(readFileSync(torrent)).pieceCount;
    const have = Math.round(pieces * 0.46);
    mkdirSync(join(dir, 'dl'));
    writeFileSync(join(dir, 'dl', 'payload.bin'), payload.subarray(0, have * PIECE)); // an interrupted download
    const seed = await ariaSeed(t, torrent, seedDir, ['--no-conf=true']);
    const client = new Client({ host: '127.0.0.1' });
    t.after(() => client.close());
    const tor = await client.add(readFileSync(torrent), { path: join(dir, 'dl'), peers: [`127.0.0.1:${seed.port}`], trackers: false });
    assert.equal(tor.have.count, have, 'the pieces on disk were verified and kept');
    await Promise.race([tor.done, new Promise((_, reject) => setTimeout(() => reject(new Error(`not done in 60 s; aria2c:\n${seed.proc.output.slice(-2000)}`)), 60_000).unref())]);
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
    assert.ok(tor.stats().downloaded >= payload.length - have * PIECE);
  }));

test('a complete torrenttp seed dials an aria2 leech, which completes', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { payload, torrent, seedDir } = makeSwarmFiles(dir);
    const leech = await ariaListeningLeech(t, torrent, join(dir, 'aria'));
    const client = new Client({ host: '127.0.0.1' });
    t.after(() => client.close());
    const tor = await client.add(readFileSync(torrent), { path: seedDir, peers: [`127.0.0.1:${leech.port}`], trackers: false });
    assert.ok(tor.complete);
    await exitsOk(leech.proc, 60_000, 'aria2c leech');
    assert.deepEqual(readFileSync(join(dir, 'aria', 'payload.bin')), Buffer.from(payload));
    assert.ok(tor.stats().uploaded >= payload.length);
  }));

test('torrenttp with the even pieces dials aria2 with the odd ones: each gets the other half from the other', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { payload, torrent } = makeSwarmFiles(dir);
    mkdirSync(join(dir, 'aria'));
    mkdirSync(join(dir, 'dl'));
    writeFileSync(join(dir, 'aria', 'payload.bin'), partial(payload, (i) => i % 2 === 1));
    writeFileSync(join(dir, 'dl', 'payload.bin'), partial(payload, (i) => i % 2 === 0));
    const leech = await ariaListeningLeech(t, torrent, join(dir, 'aria'), true);
    const client = new Client({ host: '127.0.0.1' });
    t.after(() => client.close());
    const tor = await client.add(readFileSync(torrent), { path: join(dir, 'dl'), peers: [`127.0.0.1:${leech.port}`], trackers: false });
    assert.equal(tor.have.count, Math.ceil(tor.metainfo.pieceCount / 2), 'torrenttp starts with the even pieces');
    await Promise.race([tor.done, new Promise((_, reject) => setTimeout(() => reject(new Error(`torrenttp not done in 60 s; aria2c:\n${leech.proc.output.slice(-2000)}`)), 60_000).unref())]);
    // A seeding aria2c says "Download complete" only when it stops: watch its file instead.
    const want = Buffer.from(payload);
    await until('aria2c to have every piece', () => readFileSync(join(dir, 'aria', 'payload.bin')).equals(want), 60_000, leech.proc);
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
    const s = tor.stats();
    assert.ok(s.uploaded > 0 && s.downloaded > 0, `both ways: up ${s.uploaded}, down ${s.downloaded}`);
  }));

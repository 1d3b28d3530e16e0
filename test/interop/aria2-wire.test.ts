/**
 * Our wire peer leeches a whole torrent from a real aria2c seed over 127.0.0.1 (Debian package
 * `aria2`, installed by .ci/run): handshake, bitfield, interest, unchoke, every block of every
 * piece, each piece's SHA-1 checked against the torrent. Flags and pitfalls: /work/shared/PEERS.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseTorrent, sha1, toHex } from '../../src/metainfo/index.js';
import { connectWirePeer } from '../../src/transport/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { leech, peerId, Recorder, wireTorrent } from '../transport/helpers.js';

function requireTool(cmd: string, pkg: string): void {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'pipe' });
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') assert.fail(`${cmd} is not installed (apt-get install ${pkg}; .ci/run does)`);
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts an aria2c seed and waits until it listens; aria2 exits silently if its port is taken, so retry on another. */
async function startSeed(dir: string, torrentPath: string): Promise<{ child: ChildProcess; port: number; log: () => string }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let out = '';
    const child = spawn(
      'aria2c',
      [
        `--dir=${join(dir, 'seed')}`,
        '--check-integrity=true',
        '--seed-ratio=0.0',
        '--enable-dht=false',
        '--enable-dht6=false',
        '--bt-enable-lpd=false',
        '--enable-peer-exchange=false',
        `--listen-port=${port}`,
        '--summary-interval=0',
        '--console-log-level=notice',
        '--no-conf=true',
        torrentPath,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = once(child, 'exit').then(() => 'exit' as const);
    const deadline = Date.now() + 15_000;
    let state: 'listening' | 'exit' | 'timeout' = 'timeout';
    while (Date.now() < deadline) {
      if (/listening on TCP port/.test(out)) {
        state = 'listening';
        break;
      }
      if ((await Promise.race([exited, new Promise((r) => setTimeout(r, 50, 'wait'))])) === 'exit') {
        state = 'exit';
        break;
      }
    }
    if (state === 'listening') return { child, port, log: () => out };
    if (state === 'timeout') {
      child.kill();
      await exited;
      assert.fail(`aria2c did not start listening within 15 s:\n${out}`);
    }
    if (!/failed to bind/.test(out)) assert.fail(`aria2c exited before listening:\n${out}`);
  }
  assert.fail('aria2c could not bind a free port three times');
}

test('leech a 6 MiB torrent from an aria2c seed: every piece SHA-1 checked', { timeout: 120_000 }, () =>
  withTempDir(async (dir) => {
    requireTool('aria2c', 'aria2');
    requireTool('mktorrent', 'mktorrent');
    mkdirSync(join(dir, 'seed'));
    const payload = bytes(6 * 1024 * 1024 + 4321, 42);
    writeFileSync(join(dir, 'seed', 'payload.bin'), payload);
    const torrentPath = join(dir, 'payload.torrent');
    execFileSync('mktorrent', ['-l', '18', '-d', '-a', 'http://127.0.0.1:1/announce', '-n', 'payload.bin', '-o', torrentPath, join(dir, 'seed', 'payload.bin')], {
      stdio: 'pipe',
    });
    const metainfo = parseTorrent(readFileSync(torrentPath));
    const seed = await startSeed(dir, torrentPath);
    try {
      const rec = new Recorder();
      const link = await connectWirePeer('127.0.0.1', seed.port, wireTorrent(metainfo, false), { peerId: peerId('aria'), onEvent: rec.handler });
      try {
        const bf = await rec.wait('bitfield', 10_000);
        assert.equal(bf.bitfield.complete, true, 'aria2c seeds every piece');
        const started = performance.now();
        const got = await leech(link, rec, metainfo, 90_000);
        const seconds = (performance.now() - started) / 1000;
        const g = metainfo.geometry;
        for (let i = 0; i < g.pieceCount; i++) {
          const at = g.pieceOffset(g.pieceIndex(i));
          const hash = toHex(sha1(got.subarray(at, at + g.pieceLengthOf(i))));
          assert.equal(hash, toHex(metainfo.pieceHashes.subarray(i * 20, i * 20 + 20)), `piece ${i}`);
        }
        assert.ok(Buffer.from(got).equals(Buffer.from(payload)));
        const mbps = payload.length / 1024 / 1024 / seconds;
        console.log(`aria2c → torrenttp: ${(payload.length / 1024 / 1024).toFixed(1)} MiB in ${seconds.toFixed(2)} s = ${mbps.toFixed(1)} MiB/s, final queue depth ${link.desiredQueueDepth}`);
        assert.equal(rec.of('closed').length, 0, `link stayed up; aria2c log:\n${seed.log()}`);
      } finally {
        link.close();
      }
    } finally {
      const exited = once(seed.child, 'exit');
      seed.child.kill();
      await exited;
    }
  }));

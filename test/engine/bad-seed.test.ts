/**
 * A malicious seed among good ones (issue 18), on real sockets with the bad seed in a process
 * of its own (bad-seed-child.ts): it has every piece, unchokes at once, answers fast and flips a
 * byte in every block. A good seed (rate-limited, so the bad one gets most requests) has the
 * same torrent. The download completes byte-identical; the bad seed is banned
 * (ENGINE_PEER_BANNED) and the good one is not; and every piece the downloader reports verified
 * is right on disk at that moment, so no corrupt byte is ever kept as verified.
 * Faults checked once: a hash check that accepts every piece (piece-store.ts `commit`) fails the
 * on-disk check, and a `PeerSet.ban` that bans nobody fails the ban check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '../../src/engine/index.js';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';

const PIECE = 64 * 1024;
const data = bytes(4 * 1024 * 1024, 23);
const CHILD = fileURLToPath(new URL('./bad-seed-child.js', import.meta.url));

test('a seed that corrupts every block is banned; the download completes from the good seed, byte-identical, never keeping a bad piece', { timeout: 60_000 }, () =>
  withTempDir(async (dir) => {
    const seedDir = join(dir, 'seed');
    const dlDir = join(dir, 'dl');
    mkdirSync(seedDir);
    mkdirSync(dlDir);
    writeFileSync(join(seedDir, 'payload.bin'), data);
    const torrent = join(dir, 't.torrent');
    writeFileSync(torrent, torrentBytes({ name: 'payload.bin', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));

    const bad = spawn(process.execPath, [CHILD, torrent, join(seedDir, 'payload.bin')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const badExited = new Promise<void>((r) => bad.on('exit', () => r()));
    let out = '';
    const badPort = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bad seed did not listen: ${out}`)), 10_000);
      bad.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /port (\d+)/.exec(out);
        if (m !== null) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    const good = new Client({ host: '127.0.0.1', uploadLimit: 1024 * 1024 });
    const leech = new Client({ listen: false, allowLoopbackPeers: true });
    try {
      await good.add(torrent, { path: seedDir, trackers: false, webSeeds: false });
      const badId = `127.0.0.1:${badPort}`;
      const goodId = `127.0.0.1:${good.port}`;
      const t = await leech.add(torrent, { path: dlDir, peers: [badId, goodId], trackers: false, webSeeds: false });
      const banned: string[] = [];
      t.on('peerClosed', (link, reason) => {
        if (reason?.code === 'ENGINE_PEER_BANNED') banned.push(link.id);
      });
      const wrongOnDisk: number[] = [];
      const checks: Promise<void>[] = [];
      const fh = await open(join(dlDir, 'payload.bin'), 'r').catch(() => undefined);
      t.on('piece', (i) => {
        checks.push(
          (async () => {
            const f = fh ?? (await open(join(dlDir, 'payload.bin'), 'r'));
            const buf = Buffer.alloc(PIECE);
            await f.read(buf, 0, PIECE, i * PIECE);
            if (fh === undefined) await f.close();
            if (!buf.equals(data.subarray(i * PIECE, (i + 1) * PIECE))) wrongOnDisk.push(i);
          })(),
        );
      });
      await t.done;
      await Promise.all(checks);
      await fh?.close();
      assert.deepEqual(wrongOnDisk, [], 'every piece reported verified was right on disk');
      assert.ok(Buffer.from(readFileSync(join(dlDir, 'payload.bin'))).equals(data), 'byte-identical');
      assert.ok(banned.includes(badId), `the corrupting seed is banned (banned: ${banned.join(', ') || 'none'})`);
      assert.ok(!banned.includes(goodId), 'the good seed is not banned');
      assert.equal(t.isBanned(badId), true);
      assert.ok(/conn/.test(out), 'the bad seed was connected to');
    } finally {
      await leech.close();
      await good.close();
      if (bad.exitCode === null && bad.signalCode === null) process.kill(bad.pid!, 'SIGKILL');
      await badExited;
    }
  }),
);

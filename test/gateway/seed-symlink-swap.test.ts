/**
 * `serve` never hashes or seeds a byte outside the served folder, whatever is swapped meanwhile:
 * a folder on the way to a served file swapped for a symlink to an outside folder holding a file
 * of the same size (and mtime), between serve's check and the hasher's or the seed's open. The
 * hasher and the seed's storage read only through descriptors that lead to exactly the file's
 * real path (/proc/self/fd), so the outside file reaches neither a torrent's piece hashes, nor
 * its `Repr-Digest`, nor a peer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { Client } from '../../src/engine/index.js';
import { createTorrent, HashPool, parseTorrent } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { recordingLogger, startGateway, torrentOf } from './helpers.js';
import { get } from './ttp-helpers.js';

const MIB = 1024 * 1024;
const needsProc = !existsSync('/proc/self/fd') && 'needs /proc/self/fd';

/** `www/sub/f.bin` inside, `secret/sub/f.bin` outside: same size and mtime, other bytes; `swap()` and `back()` turn `www/sub` into a symlink to `secret/sub` and back. */
function layout(dir: string): { root: string; inside: Uint8Array; outside: Uint8Array; swap: () => void; back: () => void } {
  const root = join(dir, 'www');
  const secret = join(dir, 'secret');
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(join(secret, 'sub'), { recursive: true });
  const inside = bytes(MIB + 4321, 3);
  const outside = bytes(MIB + 4321, 4);
  writeFileSync(join(root, 'sub', 'f.bin'), inside);
  writeFileSync(join(secret, 'sub', 'f.bin'), outside);
  const st = statSync(join(root, 'sub', 'f.bin'));
  utimesSync(join(secret, 'sub', 'f.bin'), st.atime, st.mtime);
  return {
    root,
    inside,
    outside,
    swap: () => {
      renameSync(join(root, 'sub'), join(root, 'real'));
      symlinkSync(join(secret, 'sub'), join(root, 'sub'));
    },
    back: () => {
      unlinkSync(join(root, 'sub'));
      renameSync(join(root, 'real'), join(root, 'sub'));
    },
  };
}

const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');

test('a folder swapped for an outside symlink before the seed opens the file: no outside byte reaches a peer', { timeout: 60_000, skip: needsProc }, (t) =>
  withTempDir(t, async (dir) => {
    const l = layout(dir);
    // Swapped once the torrent is made, just before the seed's storage opens.
    const add = Client.prototype.add;
    let swapped = false;
    t.mock.method(Client.prototype, 'add', function (this: Client, ...args: Parameters<Client['add']>) {
      if (!swapped) {
        swapped = true;
        l.swap();
      }
      return add.apply(this, args);
    });
    const logger = recordingLogger();
    const g = await startGateway(t, { root: l.root, cacheDir: join(dir, 'cache'), logger });
    await (await request(`${g.url}/sub/f.bin?torrent`)).body.dump(); // starts the hashing
    await g.swarm.settled();
    assert.ok(swapped);
    // The inside file's torrent (`sub` stays swapped: the file's URL is refused now), whose seed's
    // storage refused to open: not even the outside file's size and mtime are taken through `sub`.
    const m = (await createTorrent(join(l.root, 'real', 'f.bin'), { creationDate: null, name: 'f.bin' })).metainfo;
    const failed = logger.entries.filter((e) => e.msg === 'making the torrent failed').map((e) => (e.obj as { err: { code: string } }).err.code);
    assert.deepEqual(failed, ['STORAGE_PATH_ESCAPE'], 'the seed refused the swapped folder, visibly');
    assert.deepEqual(g.swarm.infoHashes(), []);
    const outsidePieces = new Set(Array.from({ length: m.pieceCount }, (_, i) => sha1(l.outside.subarray(i * m.pieceLength, (i + 1) * m.pieceLength))));
    let served = 0;
    for (let i = 0; i < m.pieceCount; i++) {
      const r = await get(`${g.url}/ttp/v1/torrents/${m.infoHash}/pieces/${i}`);
      if (r.status !== 200) continue;
      served++;
      assert.ok(!outsidePieces.has(sha1(r.body)), `piece ${i} is not the outside file's`);
    }
    t.diagnostic(`pieces served: ${served} of ${m.pieceCount}`);
    assert.equal(served, 0, 'the seed reads nothing through the swapped folder');
  }));

test('a folder swapped for an outside symlink while the pieces are hashed: the torrent is never made of outside bytes', { timeout: 60_000, skip: needsProc }, (t) =>
  withTempDir(t, async (dir) => {
    const l = layout(dir);
    // The first hashing job runs with `sub` swapped, and it is swapped back before the file's identity is checked again.
    const hashPieces = HashPool.prototype.hashPieces;
    let swaps = 0;
    t.mock.method(HashPool.prototype, 'hashPieces', async function (this: HashPool, ...args: Parameters<HashPool['hashPieces']>) {
      if (swaps++ > 0) return hashPieces.apply(this, args);
      l.swap();
      try {
        return await hashPieces.apply(this, args);
      } finally {
        l.back();
      }
    });
    const logger = recordingLogger();
    const g = await startGateway(t, { root: l.root, cacheDir: join(dir, 'cache'), logger });
    const r = await request(`${g.url}/sub/f.bin?torrent`);
    await r.body.dump();
    await g.swarm.settled();
    const failed = logger.entries.filter((e) => e.msg === 'making the torrent failed').map((e) => (e.obj as { err: { code: string } }).err.code);
    assert.deepEqual(failed, ['CREATE_PATH_ESCAPE'], 'the first hashing refused the swapped folder');
    // Asked again (nothing swapped): the inside file's torrent.
    const m = parseTorrent(await torrentOf(`${g.url}/sub/f.bin`));
    assert.equal(m.infoHash, (await createTorrent(join(l.root, 'sub', 'f.bin'), { creationDate: null })).metainfo.infoHash);
  }));

test('a folder swapped for an outside symlink while the whole file\'s SHA-256 is taken: Repr-Digest is never the outside file\'s', { timeout: 60_000, skip: needsProc }, (t) =>
  withTempDir(t, async (dir) => {
    const l = layout(dir);
    const sha256File = HashPool.prototype.sha256File;
    t.mock.method(HashPool.prototype, 'sha256File', async function (this: HashPool, ...args: Parameters<HashPool['sha256File']>) {
      l.swap();
      try {
        return await sha256File.apply(this, args);
      } finally {
        l.back();
      }
    });
    const logger = recordingLogger();
    const g = await startGateway(t, { root: l.root, cacheDir: join(dir, 'cache'), logger });
    await (await request(`${g.url}/sub/f.bin?torrent`)).body.dump(); // starts the hashing
    await g.swarm.settled();
    const head = await request(`${g.url}/sub/f.bin`, { method: 'HEAD' });
    await head.body.dump();
    const outsideDigest = `sha-256=:${createHash('sha256').update(l.outside).digest('base64')}:`;
    assert.notEqual(head.headers['repr-digest'], outsideDigest, 'not the outside file\'s digest');
    assert.equal(head.headers['repr-digest'], undefined, 'no digest: the SHA-256 was refused');
    const failed = logger.entries.filter((e) => e.msg === 'hashing the file for Repr-Digest failed').map((e) => (e.obj as { err: { code: string } }).err.code);
    assert.deepEqual(failed, ['CREATE_PATH_ESCAPE']);
  }));

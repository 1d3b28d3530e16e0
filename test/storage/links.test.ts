/**
 * Files with other names (hard links) in the download folder (issue 18, item 7): a planted
 * `ln outside/precious dl/payload` must never make a download write into `precious`. A linked
 * file that would be written is replaced by a copy of its own; one that is whole and verified is
 * kept (seeding from a hard-linked library); a link planted after open is refused by the disk
 * threads, on the buffered fd and on the O_DIRECT one alike.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiskPool, openStorage, StorageError } from '../../src/storage/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { makeTorrent, pieceIndex, type TestTorrent } from './helpers.js';

const pool = new DiskPool({ threads: 2 });
after(() => pool.close());

/** `dir/dl` is the download folder, `dir/outside` holds the file a link points at. */
async function withDirs(fn: (dl: string, outside: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const dl = join(dir, 'dl');
    const outside = join(dir, 'outside');
    mkdirSync(dl);
    mkdirSync(outside);
    await fn(dl, outside);
  });
}

async function commitAll(s: Awaited<ReturnType<typeof openStorage>>, t: TestTorrent): Promise<void> {
  for (let i = 0; i < t.metainfo.pieceCount; i++) if (!s.bitfield.has(i)) assert.ok(await s.commitPiece(pieceIndex(t, i), t.piece(i)), `piece ${i}`);
}

test('a planted hard link to a shorter file: the download gets a copy of its own, the file outside keeps its bytes', () =>
  withDirs(async (dl, outside) => {
    const t = makeTorrent(300_000, 16384);
    const precious = join(outside, 'precious.txt');
    writeFileSync(precious, 'precious bytes');
    linkSync(precious, t.pathOf(dl, 0));
    const warnings: StorageError[] = [];
    const s = await openStorage(t.metainfo, dl, { pool, onWarning: (e) => warnings.push(e) });
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.code, 'STORAGE_HARD_LINK');
    assert.match(warnings[0]!.message, /payload \(2 links\)/);
    assert.equal(statSync(t.pathOf(dl, 0)).nlink, 1);
    await commitAll(s, t);
    await s.close();
    assert.equal(readFileSync(precious, 'utf8'), 'precious bytes');
    assert.equal(statSync(precious).nlink, 1);
    assert.deepEqual(new Uint8Array(readFileSync(t.pathOf(dl, 0))), t.content);
  }));

test('a planted hard link to a file of exactly the right length: hashed, then replaced before any write', () =>
  withDirs(async (dl, outside) => {
    const t = makeTorrent(300_000, 16384);
    const precious = join(outside, 'precious.bin');
    const original = new Uint8Array(300_000).fill(0x5a);
    writeFileSync(precious, original);
    linkSync(precious, t.pathOf(dl, 0));
    const warnings: StorageError[] = [];
    const s = await openStorage(t.metainfo, dl, { pool, onWarning: (e) => warnings.push(e) });
    assert.deepEqual(warnings.map((w) => w.code), ['STORAGE_HARD_LINK']);
    await commitAll(s, t);
    await s.close();
    assert.deepEqual(new Uint8Array(readFileSync(precious)), original);
    assert.deepEqual(new Uint8Array(readFileSync(t.pathOf(dl, 0))), t.content);
  }));

test('a whole, verified file with other names is kept as it is: seeding only reads it', () =>
  withDirs(async (dl, outside) => {
    const t = makeTorrent(300_000, 16384);
    const library = join(outside, 'library.bin');
    writeFileSync(library, t.content);
    linkSync(library, t.pathOf(dl, 0));
    const warnings: StorageError[] = [];
    const s = await openStorage(t.metainfo, dl, { pool, onWarning: (e) => warnings.push(e) });
    assert.deepEqual(warnings, []);
    assert.ok(s.bitfield.complete);
    assert.deepEqual(await s.readBlock(pieceIndex(t, 3), 0, 16384), t.piece(3));
    await s.close();
    assert.equal(statSync(library).ino, statSync(t.pathOf(dl, 0)).ino, 'still one file, two names');
  }));

test('a linked whole file with a corrupt piece: its copy keeps the verified pieces and the mode; the other name keeps its bytes', () =>
  withDirs(async (dl, outside) => {
    const t = makeTorrent(300_000, 16384);
    const library = join(outside, 'library.bin');
    const damaged = t.content.slice();
    damaged[5 * 16384 + 7] = 0xff ^ damaged[5 * 16384 + 7]!;
    writeFileSync(library, damaged);
    chmodSync(library, 0o640);
    linkSync(library, t.pathOf(dl, 0));
    const warnings: StorageError[] = [];
    const s = await openStorage(t.metainfo, dl, { pool, onWarning: (e) => warnings.push(e) });
    assert.deepEqual(warnings.map((w) => w.code), ['STORAGE_HARD_LINK']);
    assert.deepEqual(s.corruptPieces, [5]);
    assert.equal(s.bitfield.count, t.metainfo.pieceCount - 1, 'nothing verified was lost in the copy');
    assert.equal(statSync(t.pathOf(dl, 0)).mode & 0o777, 0o640);
    await commitAll(s, t);
    await s.close();
    assert.deepEqual(new Uint8Array(readFileSync(library)), damaged);
    assert.deepEqual(new Uint8Array(readFileSync(t.pathOf(dl, 0))), t.content);
  }));

test('a hard link planted after open is refused by the disk threads (buffered writes)', () =>
  withDirs(async (dl, outside) => {
    const t = makeTorrent(300_000, 16384);
    const s = await openStorage(t.metainfo, dl, { pool });
    const precious = join(outside, 'precious.txt');
    writeFileSync(precious, 'precious bytes');
    rmSync(t.pathOf(dl, 0));
    linkSync(precious, t.pathOf(dl, 0));
    await assert.rejects(s.commitPiece(pieceIndex(t, 0), t.piece(0)), (e) => e instanceof StorageError && e.code === 'STORAGE_HARD_LINK' && /2 links/.test(e.message));
    assert.equal(s.bitfield.has(0), false);
    await s.close();
    assert.equal(readFileSync(precious, 'utf8'), 'precious bytes');
  }));

test('a file swapped for a hard link between the buffered open and the O_DIRECT open is not written', () =>
  withDirs(async (dl, outside) => {
    // Piece 2 lies in b at [252144, 307200): its aligned run is under 64 KiB, written buffered only,
    // which opens b's buffered fd. Piece 1 lies in b at [121072, 252144): its aligned run goes
    // through O_DIRECT, opened by path, after the swap.
    const t = makeTorrent([{ path: ['a'], length: 10_000 }, { path: ['b'], length: 300 * 1024 }], 128 * 1024);
    const one = new DiskPool({ threads: 1 });
    try {
      const s = await openStorage(t.metainfo, dl, { pool: one });
      assert.ok(await s.commitPiece(pieceIndex(t, 2), t.piece(2)));
      const precious = join(outside, 'precious.bin');
      const original = new Uint8Array(300 * 1024).fill(0x33);
      writeFileSync(precious, original);
      rmSync(t.pathOf(dl, 1));
      linkSync(precious, t.pathOf(dl, 1));
      await assert.rejects(s.commitPiece(pieceIndex(t, 1), t.piece(1)), { code: 'STORAGE_HARD_LINK' });
      await s.close().catch(() => undefined);
      assert.deepEqual(new Uint8Array(readFileSync(precious)), original);
    } finally {
      await one.close();
    }
  }));

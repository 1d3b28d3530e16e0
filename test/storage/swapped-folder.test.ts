/**
 * A folder inside a torrent's files swapped for a symlink to an outside folder after the storage
 * opened (someone who can write in the download or served tree): the disk threads' open follows
 * it (`O_NOFOLLOW` guards the last component only), so every fd is checked by its own path. The
 * outside file, the same size, is neither read (a seed would upload it) nor written.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { DiskPool, openStorage, RESUME_FOLDER, StorageError, type OpenStorageOptions } from '../../src/storage/index.js';
import { ensureFolders, inspectFile } from '../../src/storage/layout.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { makeTorrent, pieceIndex, writeTorrent, type TestTorrent } from './helpers.js';

const needsProc = !existsSync('/proc/self/fd') && 'needs /proc/self/fd';
const threads = new DiskPool({ threads: 1 });
const inline = new DiskPool({ inline: true });
after(() => Promise.all([threads.close(), inline.close()]));

const escape = (e: unknown): boolean => e instanceof StorageError && e.code === 'STORAGE_PATH_ESCAPE';

for (const [kind, pool] of [['disk threads', threads], ['inline', inline]] as const) {
  test(`${kind}: a folder swapped for an outside symlink after the storage opened is neither read nor written through`, { skip: needsProc }, () =>
    withTempDir(async (dir) => {
      const inside = join(dir, 'inside');
      const outside = join(dir, 'outside');
      mkdirSync(inside);
      const t = makeTorrent([{ path: ['sub', 'f'], length: 5000 }, { path: ['g'], length: 100 }], 4096);
      await writeTorrent(t, inside, pool);
      const store = await openStorage(t.metainfo, inside, { pool, resumeDir: false, recheck: true, pieceCacheBytes: 0 });
      try {
        assert.equal(store.bitfield.count, t.metainfo.pieceCount);
        // payload/sub → an outside folder holding a file of the same size, other bytes.
        const secret = bytes(5000, 99);
        mkdirSync(join(outside, 'sub'), { recursive: true });
        writeFileSync(join(outside, 'sub', 'f'), secret);
        renameSync(join(inside, 'payload', 'sub'), join(inside, 'payload', 'was-sub'));
        symlinkSync(join(outside, 'sub'), join(inside, 'payload', 'sub'));

        await assert.rejects(store.readBlock(pieceIndex(t, 0), 0, 4096), escape, 'the outside bytes are not read');
        await assert.rejects(store.commitPiece(pieceIndex(t, 0), t.piece(0), false), escape, 'nor written');
        assert.deepEqual(new Uint8Array(readFileSync(join(outside, 'sub', 'f'))), secret, 'the outside file is untouched');
      } finally {
        await store.close().catch(() => undefined);
      }
    }));
}

for (const [kind, pool] of [['disk threads', threads], ['inline', inline]] as const) {
  test(`${kind}: a recheck job's file that led outside fails STORAGE_PATH_ESCAPE`, { skip: needsProc }, () =>
    withTempDir(async (dir) => {
      mkdirSync(join(dir, 'outside'));
      writeFileSync(join(dir, 'outside', 'f'), bytes(4096, 99));
      symlinkSync(join(dir, 'outside'), join(dir, 'sub'));
      const job = { files: [{ path: join(dir, 'sub', 'f'), offset: 0, length: 4096, exact: true }], pieceLength: 4096, totalLength: 4096, first: 0, end: 1 };
      await assert.rejects(pool.hashPieces(job), escape);
    }));
}

/**
 * The storage opens in steps, each by path: folders checked, pieces rechecked, files with other
 * names copied (`unshareFile`), files allocated (`allocate`, `createIfMissing`). A swap between
 * the steps (here after the recheck's first job: the inline pool hashes one job at a time) must
 * not lead any later step outside: each fd opened is checked by its path, so the open fails.
 */
async function openSwappingAfterFirstJob(t: TestTorrent, inside: string, outside: string, opts: OpenStorageOptions = {}): Promise<void> {
  let swapped = false;
  const swap = (): void => {
    if (swapped) return;
    swapped = true;
    renameSync(join(inside, 'payload', 'sub'), join(inside, 'payload', 'was-sub'));
    symlinkSync(join(outside, 'sub'), join(inside, 'payload', 'sub'));
  };
  await assert.rejects(
    openStorage(t.metainfo, inside, { pool: inline, resumeDir: false, pieceCacheBytes: 0, ...opts, onCheckProgress: swap }).then((store) => store.close()), // opened: closed, and the rejection missing
    escape,
  );
  assert.ok(swapped, 'a recheck job ran, and the folder was swapped after it');
}

/** `payload/sub` inside and `sub` outside, each holding `f` with `inner` / `outer` (undefined: none). */
function plant(inside: string, outside: string, inner: Uint8Array | undefined, outer: Uint8Array | undefined): void {
  mkdirSync(join(inside, 'payload', 'sub'), { recursive: true });
  mkdirSync(join(outside, 'sub'), { recursive: true });
  if (inner !== undefined) writeFileSync(join(inside, 'payload', 'sub', 'f'), inner);
  if (outer !== undefined) writeFileSync(join(outside, 'sub', 'f'), outer);
}

test('a recheck does not hash, nor declare verified, the outside bytes of a folder swapped after its first job', { skip: needsProc }, () =>
  withTempDir(async (dir) => {
    const inside = join(dir, 'inside');
    const outside = join(dir, 'outside');
    // Pieces 0 (a) and 2 (sub/f) are rechecked in two jobs; b is missing. The outside f holds the
    // torrent's bytes of piece 2 (what a recheck would take as verified and a seed then offer).
    const t = makeTorrent([{ path: ['a'], length: 4096 }, { path: ['b'], length: 4096 }, { path: ['sub', 'f'], length: 4096 }], 4096);
    plant(inside, outside, new Uint8Array(4096), t.fileData(2));
    writeFileSync(join(inside, 'payload', 'a'), t.fileData(0));
    await openSwappingAfterFirstJob(t, inside, outside, { recheck: true });
  }));

test('allocate does not extend a shorter outside file through a folder swapped while the storage opens', { skip: needsProc }, () =>
  withTempDir(async (dir) => {
    const inside = join(dir, 'inside');
    const outside = join(dir, 'outside');
    const t = makeTorrent([{ path: ['a'], length: 4096 }, { path: ['sub', 'f'], length: 5000 }], 4096);
    plant(inside, outside, t.fileData(1).slice(0, 100), bytes(100, 99));
    writeFileSync(join(inside, 'payload', 'a'), t.fileData(0));
    await openSwappingAfterFirstJob(t, inside, outside);
    assert.equal(statSync(join(outside, 'sub', 'f')).size, 100, 'the outside file keeps its size');
  }));

test('allocate of a short file creates none through a folder swapped while the storage opens', { skip: needsProc }, () =>
  withTempDir(async (dir) => {
    const inside = join(dir, 'inside');
    const outside = join(dir, 'outside');
    const t = makeTorrent([{ path: ['a'], length: 4096 }, { path: ['sub', 'f'], length: 5000 }], 4096);
    plant(inside, outside, t.fileData(1).slice(0, 100), undefined);
    writeFileSync(join(inside, 'payload', 'a'), t.fileData(0));
    await openSwappingAfterFirstJob(t, inside, outside);
    assert.equal(existsSync(join(outside, 'sub', 'f')), false, 'nothing is created outside');
  }));

test('createIfMissing creates nothing through a folder swapped while the storage opens', { skip: needsProc }, () =>
  withTempDir(async (dir) => {
    const inside = join(dir, 'inside');
    const outside = join(dir, 'outside');
    // sub/f is not selected but shares piece 1 with d: created empty, never extended.
    const t = makeTorrent([{ path: ['a'], length: 4096 }, { path: ['d'], length: 4000 }, { path: ['sub', 'f'], length: 200 }], 4096);
    plant(inside, outside, undefined, undefined);
    writeFileSync(join(inside, 'payload', 'a'), t.fileData(0));
    await openSwappingAfterFirstJob(t, inside, outside, { selectedFiles: [0, 1] });
    assert.equal(existsSync(join(outside, 'sub', 'f')), false, 'nothing is created outside');
  }));

test('allocate creates no missing file through a folder swapped while the storage opens', { skip: needsProc }, () =>
  withTempDir(async (dir) => {
    const inside = join(dir, 'inside');
    const outside = join(dir, 'outside');
    const t = makeTorrent([{ path: ['a'], length: 4096 }, { path: ['sub', 'f'], length: 5000 }], 4096);
    plant(inside, outside, undefined, undefined);
    writeFileSync(join(inside, 'payload', 'a'), t.fileData(0));
    await openSwappingAfterFirstJob(t, inside, outside);
    assert.equal(existsSync(join(outside, 'sub', 'f')), false, 'nothing is created outside');
  }));

test('unshareFile does not copy nor replace an outside file with other names through a folder swapped while the storage opens', { skip: needsProc }, () =>
  withTempDir(async (dir) => {
    const inside = join(dir, 'inside');
    const outside = join(dir, 'outside');
    // sub/f has two names and a piece to write: it would be replaced by a copy of its own. So
    // would the outside f, also of two names, were the swap followed.
    const t = makeTorrent([{ path: ['a'], length: 4096 }, { path: ['sub', 'f'], length: 4096 }], 4096);
    const secret = bytes(4096, 99);
    plant(inside, outside, new Uint8Array(4096), secret);
    writeFileSync(join(inside, 'payload', 'a'), t.fileData(0));
    linkSync(join(inside, 'payload', 'sub', 'f'), join(inside, 'f-link'));
    linkSync(join(outside, 'sub', 'f'), join(outside, 'keep'));
    const ino = statSync(join(outside, 'sub', 'f')).ino;
    await openSwappingAfterFirstJob(t, inside, outside);
    const st = statSync(join(outside, 'sub', 'f'));
    assert.equal(st.ino, ino, 'the outside file is not replaced');
    assert.equal(st.nlink, 2, 'its other name still shares it');
    assert.deepEqual(new Uint8Array(readFileSync(join(outside, 'sub', 'f'))), secret);
  }));

/**
 * Folders are checked once per open (`known`): a folder swapped for a symlink after its check,
 * while the storage opens, must lead neither the `mkdir` of a missing folder below it nor the
 * `lstat` of a file in it (sizes and mtimes the resume check trusts) outside. Simulated here by
 * swapping between two calls sharing `known`, as the files of one open do.
 */
async function checkedThenSwapped(dir: string): Promise<{ root: string; outside: string; known: Set<string> }> {
  const root = join(dir, 'inside');
  const outside = join(dir, 'outside');
  mkdirSync(root);
  mkdirSync(join(outside, 'sub'), { recursive: true });
  const known = new Set<string>();
  await ensureFolders(root, ['payload', 'sub', 'f'], known);
  assert.ok(known.has(join(root, 'payload', 'sub')));
  renameSync(join(root, 'payload', 'sub'), join(root, 'payload', 'was-sub'));
  symlinkSync(join(outside, 'sub'), join(root, 'payload', 'sub'));
  return { root, outside, known };
}

test('ensureFolders makes no folder outside through a folder swapped since it was checked', { skip: needsProc }, () =>
  withTempDir(async (dir) => {
    const { root, outside, known } = await checkedThenSwapped(dir);
    await assert.rejects(ensureFolders(root, ['payload', 'sub', 'new', 'f'], known), escape);
    assert.equal(existsSync(join(outside, 'sub', 'new')), false, 'no folder is made outside');
  }));

test("the resume check takes no outside file's size and mtime through a folder swapped since it was checked", { skip: needsProc }, () =>
  withTempDir(async (dir) => {
    const { root, outside } = await checkedThenSwapped(dir);
    writeFileSync(join(outside, 'sub', 'f'), bytes(100, 99));
    await assert.rejects(inspectFile(join(root, 'payload', 'sub', 'f'), 5000), escape);
  }));

test("a resume save records no outside file's size and mtime through a folder swapped after the storage opened", { skip: needsProc }, () =>
  withTempDir(async (dir) => {
    const inside = join(dir, 'inside');
    const outside = join(dir, 'outside');
    mkdirSync(inside);
    const t = makeTorrent([{ path: ['a'], length: 4096 }, { path: ['sub', 'f'], length: 5000 }], 4096);
    const store = await openStorage(t.metainfo, inside, { pool: inline, pieceCacheBytes: 0 });
    assert.ok(await store.commitPiece(pieceIndex(t, 0), t.piece(0)));
    mkdirSync(join(outside, 'sub'), { recursive: true });
    writeFileSync(join(outside, 'sub', 'f'), bytes(777, 99));
    renameSync(join(inside, 'payload', 'sub'), join(inside, 'payload', 'was-sub'));
    symlinkSync(join(outside, 'sub'), join(inside, 'payload', 'sub'));
    await assert.rejects(store.close(), escape, 'the save fails, visibly');
    assert.equal(existsSync(join(inside, RESUME_FOLDER, `${t.metainfo.infoHash}.resume`)), false, 'no resume file records the outside file');
  }));

test('a resume save writes nothing outside through its folder swapped for a symlink after it was checked', { skip: needsProc }, () =>
  withTempDir(async (dir) => {
    const inside = join(dir, 'inside');
    const outside = join(dir, 'outside');
    mkdirSync(inside);
    mkdirSync(outside);
    const t = makeTorrent([{ path: ['a'], length: 4096 }], 4096);
    const store = await openStorage(t.metainfo, inside, { pool: inline, pieceCacheBytes: 0 });
    assert.ok(await store.commitPiece(pieceIndex(t, 0), t.piece(0)));
    // The save checks its folder (`lstat`), then writes in it: swapped in between, once.
    const resumeDir = join(realpathSync(inside), RESUME_FOLDER);
    const real = fsp.lstat;
    let swapped = false;
    fsp.lstat = (async (...args: Parameters<typeof real>) => {
      const st = await real(...args);
      if (!swapped && args[0] === resumeDir) {
        swapped = true;
        renameSync(resumeDir, `${resumeDir}-was`);
        symlinkSync(outside, resumeDir);
      }
      return st;
    }) as typeof real;
    syncBuiltinESMExports();
    try {
      await assert.rejects(store.close(), escape);
    } finally {
      fsp.lstat = real;
      syncBuiltinESMExports();
    }
    assert.ok(swapped, 'the save checked its folder, and it was swapped after');
    assert.deepEqual(readdirSync(outside), [], 'nothing is written outside');
  }));

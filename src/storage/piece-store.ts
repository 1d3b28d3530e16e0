import { dirname, join } from 'node:path';
import { Bitfield, FileSelection, type Metainfo, type PieceIndex } from '../metainfo/index.js';
import { DiskPool, type RunOutcome, type RunPiece } from './disk-pool.js';
import type { DiskSlice, WriteMode } from './disk-protocol.js';
import { StorageError, toStorageError } from './errors.js';
import { makeFolders } from './folders.js';
import { allocate, createIfMissing, ensureFolders, findFile, inspectFile, mapLimit, relativePaths, resolveRoot, statFiles, type FileOnDisk } from './layout.js';
import { BufferPool } from './buffer-pool.js';
import { unsharedFilesWarning, unshareFile } from './links.js';
import { PieceCache } from './piece-cache.js';
import { recheckPieces } from './recheck.js';
import { encodeResume, readResume, resumePath, trustsFile, writeFileAtomic } from './resume.js';

/**
 * A torrent's pieces on disk. Rules (docs/storage.md has the why):
 * - A bit in `bitfield` is set only after the piece's SHA-1 matched and its bytes were written.
 * - A resume file lists a piece only after the files holding it were `fdatasync`ed.
 * - Every disk call and every hash runs on a `DiskPool` thread, never on the event loop; but for
 *   an inline pool (`DiskPoolOptions.inline`): hashes on the event loop, disk calls on libuv's pool.
 * - With `selectedFiles`, a file is created only when it is selected or shares a wanted piece
 *   with a selected file; only pieces holding bytes of selected files can be committed.
 */
export interface PieceStore {
  readonly metainfo: Metainfo;
  /** Verified pieces. Only verified pieces are ever set. */
  readonly bitfield: Bitfield;
  /**
   * Pieces whose bytes were on disk when the store opened but failed their hash, ascending, and
   * were not all zeros (so not merely never written): damaged data, neither served nor counted
   * until downloaded again. Empty when nothing was hashed (files the resume file vouches for).
   */
  readonly corruptPieces: readonly PieceIndex[];
  /**
   * Verify a whole piece (SHA-1 off the event loop) and, when it matches, write it to disk and
   * set it in `bitfield`. Resolves false on a hash mismatch (nothing written). Rejects with a
   * StorageError on disk errors (STORAGE_NO_SPACE, STORAGE_READ_ONLY, STORAGE_IO…): the piece
   * is then not marked. `data` may be transferred to a worker (zero copy): do not use it after.
   * `cache` (default true) keeps the written piece in the piece cache for uploads, room made for
   * it when the commit starts (`PieceCache.reserve`); false when nobody is likely to ask for it
   * soon, which frees its buffer for the next piece at once.
   * `mode`: how this piece is written, when not the store's `writeMode`.
   */
  commitPiece(index: PieceIndex, data: Uint8Array, cache?: boolean, mode?: WriteMode): Promise<boolean>;
  /**
   * `commitPiece` for several whole pieces in hand together (a stream's run of consecutive
   * pieces): one job for a disk thread and one answer instead of one per piece, and the writes
   * of pieces that follow each other in a file gathered (`pwritev`). Each piece keeps its own
   * verdict, in order: true written and set in `bitfield`, false a hash mismatch (nothing
   * written, not set; the others unaffected). Rejects (after marking the pieces that were
   * written) with the first StorageError of a piece whose write failed, or at once for a
   * piece that cannot be committed (`commitPiece`'s checks: then nothing is committed). Each
   * `data` may be transferred; `cache` and `mode` as `commitPiece`'s, for every piece.
   */
  commitRun(pieces: readonly WholePiece[], cache?: boolean, mode?: WriteMode): Promise<boolean[]>;
  /**
   * A buffer for piece `index` to fill and hand to `commitPiece`: a recycled one when a committed
   * piece's buffer is free again (see `BufferPool`), else a new one. Its bytes are stale.
   */
  pieceBuffer(index: PieceIndex): Uint8Array;
  /**
   * A block of a verified piece, for uploading, served from an LRU cache of whole pieces (so a
   * seed reads each piece from disk once per cache lifetime). May be a view: do not modify it.
   */
  readBlock(index: PieceIndex, begin: number, length: number): Promise<Uint8Array>;
  /**
   * `readBlock` for a caller that says when it is done with the view: call `release` once the
   * bytes are used (written to a socket, or dropped). Until then the piece's buffer is not
   * reused; after it, and once the cache drops the piece, it may be, for a later read.
   */
  lendBlock(index: PieceIndex, begin: number, length: number): Promise<BlockLease>;
  /** Persist resume state now (also done every `resumeIntervalMs` and on close). */
  saveResume(): Promise<void>;
  close(): Promise<void>;
}

/** A whole piece in hand: its index and its bytes. */
export interface WholePiece {
  readonly index: PieceIndex;
  readonly data: Uint8Array;
}

export interface BlockLease {
  readonly data: Uint8Array;
  /** Call once when `data` is no longer used; more calls do nothing. */
  readonly release: () => void;
}

const NO_RELEASE = (): void => undefined;

export interface OpenStorageOptions {
  /** Ignore the resume file and hash what is on disk. */
  readonly recheck?: boolean;
  /**
   * Seed mode `--skip-verify`: trust files whose sizes are right and mark their pieces verified.
   * The files are seeded as they are: a (selected) file missing or shorter than the torrent says
   * fails the open (STORAGE_FILE_INCOMPLETE), and nothing is created or extended. `serve`'s seed
   * opens a file it hashed, which may be gone by then: its folder never gets a file from us.
   */
  readonly skipVerify?: boolean;
  /** Recheck progress, after each batch of pieces hashed; the last call has checked === total. */
  readonly onCheckProgress?: (checkedBytes: number, totalBytes: number) => void;
  /** Bytes of whole pieces kept for `readBlock`. Default 16 MiB (`DEFAULT_PIECE_CACHE_BYTES`). */
  readonly pieceCacheBytes?: number;
  /** Disk threads to share with other storages; by default one pool per storage, closed by `close()`. */
  readonly pool?: DiskPool;
  /**
   * How verified pieces are written (`WriteMode`): 'direct' (`O_DIRECT`, past the page cache;
   * the default) or 'buffered' (into the page cache). Buffered suits a download whose pieces are
   * read back at once (the proxy's cache: the reads come from the page cache); for the rest,
   * filling the page cache cost more than it saved. docs/storage.md (Write modes) has the figures.
   */
  readonly writeMode?: WriteMode;
  /**
   * Something the user should hear about that costs no data: while opening, files with other
   * names (hard links) replaced by a copy of their own (STORAGE_HARD_LINK); later, a periodic
   * resume save that failed (once until one goes through again; `saveResume` and `close` reject).
   */
  readonly onWarning?: (err: StorageError) => void;
  /**
   * Folder of the resume file. Default `<dir>/.torrenttp`. `false`: no resume file is read or
   * written, and nothing is `fdatasync`ed for one (`saveResume` and `close` write nothing): for a
   * caller whose state dies with the process, as `torrenttp get`'s (a resumed get hashes its
   * `.part` instead), which then costs what curl's write does (docs/cli.md, "get against curl").
   */
  readonly resumeDir?: string | false;
  /** Resume file saved this often while something changed. Default 30 s; 0 saves only on demand and close. */
  readonly resumeIntervalMs?: number;
  /**
   * Files to download (0-based, torrent order); default all. Selected files are created and
   * sized as usual. An unselected file that shares a piece with a selected one is created empty
   * and receives only its bytes of that piece (pieces verify whole; they may make it sparse).
   * Any other unselected file is never created, written or extended; an existing one is still
   * checked and served when the resume file or a recheck vouches for its pieces.
   */
  readonly selectedFiles?: readonly number[];
}

/**
 * 16 MiB: enough for the pieces a swarm is trading right now; the OS page cache is behind it.
 * libtorrent 1.x defaulted to 64 MiB (`cache_size`), 2.0 has none of its own (it maps files);
 * with 64 MiB a 1 GiB loopback leech peaked at ~250 MB RSS, with 16 MiB at ~175 MB.
 */
export const DEFAULT_PIECE_CACHE_BYTES = 16 * 1024 * 1024;
/**
 * Free piece buffers kept for reuse. A leech's steady state needs about the commit window's
 * worth (the engine's `maxCommitBytes`) coming back from the cache; more would only hold memory.
 */
const FREE_BUFFER_BYTES = 16 * 1024 * 1024;
/** How much verified progress a crash can cost at most (it is rechecked, not lost, though). */
export const DEFAULT_RESUME_INTERVAL_MS = 30_000;
/** A resume file's mtime for a file it must not vouch for: no file on disk has it. */
const NEVER_TRUSTED_MTIME_NS = -1n;
/** Folder (under the download folder) that holds resume files by default. */
export const RESUME_FOLDER = '.torrenttp';

export async function openStorage(metainfo: Metainfo, dir: string, opts: OpenStorageOptions = {}): Promise<PieceStore> {
  const pool = opts.pool ?? new DiskPool();
  try {
    return await open(metainfo, dir, pool, opts);
  } catch (err) {
    if (opts.pool === undefined) await pool.close();
    throw toStorageError(err);
  }
}

async function open(metainfo: Metainfo, dir: string, pool: DiskPool, opts: OpenStorageOptions): Promise<DiskPieceStore> {
  const g = metainfo.geometry;
  const root = await resolveRoot(dir);
  const rels = relativePaths(metainfo);
  if (opts.resumeDir === undefined && rels[0]?.[0] === RESUME_FOLDER) {
    throw new StorageError('STORAGE_PATH_CONFLICT', { detail: `the torrent's name is ${RESUME_FOLDER}, where resume files go; pass resumeDir` });
  }
  const resumeFile = opts.resumeDir === false ? undefined : resumePath(opts.resumeDir ?? join(root, RESUME_FOLDER), metainfo.infoHash);
  const selection = opts.selectedFiles === undefined ? undefined : new FileSelection(g, opts.selectedFiles);
  // 1 selected, 2 unselected but shares a wanted piece (boundary bytes), 0 never written.
  const role = new Uint8Array(rels.length).fill(selection === undefined ? 1 : 0);
  if (selection !== undefined) {
    for (const f of selection.touchedFiles()) role[f] = 2;
    for (const f of selection.files) role[f] = 1;
  }
  const known = new Set<string>();
  const files = await mapLimit(rels, 16, async (rel, i) => {
    if (role[i] !== 0 && opts.skipVerify !== true) return inspectFile(await ensureFolders(root, rel, known), g.fileLengths[i]!);
    // Seed mode creates nothing, folders included: a file whose folder is missing is missing (a
    // folder that is a symlink or a file is refused as ever, not said as the file missing).
    const path = role[i] !== 0 ? await ensureFolders(root, rel, known, { create: false }) : await findFile(root, rel, known);
    if (path === undefined) return { path: join(root, ...rel), length: g.fileLengths[i]!, size: 0, exists: false, mtimeNs: 0n, links: 0 };
    return inspectFile(path, g.fileLengths[i]!);
  });
  if (opts.skipVerify === true) {
    const incomplete = files.find((f, i) => role[i] !== 0 && (!f.exists || f.size < f.length));
    if (incomplete !== undefined) {
      throw new StorageError('STORAGE_FILE_INCOMPLETE', { detail: incomplete.exists ? `${incomplete.path} has ${incomplete.size} bytes, the torrent says ${incomplete.length}` : `${incomplete.path} is missing` });
    }
  }
  const resume = opts.recheck === true || resumeFile === undefined ? undefined : await readResume(resumeFile, metainfo.infoHash, g.pieceCount, files.length);

  // A file is trusted when it is whole and, unless skipping verification, the resume file saw it
  // exactly so (size and mtime, and not racily: see `trustsFile`). Pieces wholly in trusted files take the resume file's word;
  // the others are hashed when their bytes exist on disk, and are absent otherwise.
  const trusted = files.map((f, i) => {
    if (f.length === 0) return true;
    if (!f.exists || f.size !== f.length) return false;
    if (opts.skipVerify === true) return true;
    return resume !== undefined && trustsFile(resume, i, f);
  });
  const bitfield = new Bitfield(g.pieceCount);
  const toCheck: number[] = [];
  for (let i = 0; i < g.pieceCount; i++) {
    const slices = g.pieceSlices(i as PieceIndex);
    if (slices.every((s) => trusted[s.fileIndex])) {
      if (opts.skipVerify === true || resume?.bitfield.has(i) === true) bitfield.set(i);
    } else if (slices.every((s) => s.fileOffset + s.length <= files[s.fileIndex]!.size)) {
      toCheck.push(i);
    }
  }
  const corrupt = await recheckPieces(metainfo, files, toCheck, bitfield, pool, opts.onCheckProgress);
  // Hashed before allocating: a file with other names must not be extended in place (links.ts).
  const unshared = await unshareWritten(metainfo, files, bitfield, selection?.pieces, opts.onWarning);
  const allocated = (await mapLimit(unshared.files, 16, (f, i) => (role[i] === 1 ? allocate(f) : role[i] === 2 ? createIfMissing(f) : Promise.resolve(false)))).some((changed) => changed);
  // Made here, once, when the open went well: a save never makes it again (a folder removed
  // while the storage is open stays removed: STORAGE_RESUME_FOLDER_GONE).
  const resumeAt = resumeFile === undefined ? undefined : await resumeFolderMade(resumeFile, opts.onWarning);
  // What was hashed or allocated here goes into the next resume file, even with no piece
  // committed: otherwise every reopen would rehash it (sparse zeros included).
  return new DiskPieceStore(metainfo, bitfield, corrupt as PieceIndex[], unshared.files, pool, opts, resumeAt, toCheck.length > 0 || allocated || unshared.changed, selection?.pieces);
}

/**
 * The resume file's folder, made at open; `undefined` (no resume file, said once) where the disk
 * takes no writes there: data seeded from a read-only medium is seeded, its next start hashes it
 * again. Anything else (a planted symlink: STORAGE_PATH_ESCAPE) fails the open.
 */
async function resumeFolderMade(resumeFile: string, onWarning?: (err: StorageError) => void): Promise<string | undefined> {
  try {
    await makeFolders(dirname(resumeFile));
    return resumeFile;
  } catch (err) {
    const e = toStorageError(err);
    if (e.code !== 'STORAGE_READ_ONLY') throw e;
    onWarning?.(new StorageError('STORAGE_READ_ONLY', { detail: `${e.detail ?? dirname(resumeFile)}; no resume file is kept, so the next start hashes the data again`, errno: e.errno, cause: err }));
    return undefined;
  }
}

/** Each file with other names (hard links) that will be written, replaced by a copy of its own (see `links.ts`). */
async function unshareWritten(
  metainfo: Metainfo,
  files: readonly FileOnDisk[],
  bitfield: Bitfield,
  wanted: Bitfield | undefined,
  onWarning?: (err: StorageError) => void,
): Promise<{ files: FileOnDisk[]; changed: boolean }> {
  const g = metainfo.geometry;
  const written = new Set<number>();
  for (let i = 0; i < g.pieceCount; i++) {
    if (!bitfield.has(i) && wanted?.has(i) !== false) for (const s of g.pieceSlices(i as PieceIndex)) written.add(s.fileIndex);
  }
  const replaced: { path: string; links: number }[] = [];
  const out = await mapLimit(files, 16, async (f, i) => {
    if (f.links <= 1 || !(written.has(i) || f.size < f.length)) return f;
    const r = await unshareFile(f);
    if (r.replaced > 0) replaced.push({ path: f.path, links: r.replaced });
    return r.file;
  });
  if (replaced.length > 0) onWarning?.(unsharedFilesWarning(replaced.sort((a, b) => (a.path < b.path ? -1 : 1))));
  return { files: out, changed: replaced.length > 0 };
}

class DiskPieceStore implements PieceStore {
  private readonly paths: readonly string[];
  private readonly ownsPool: boolean;
  private readonly writeMode: WriteMode;
  private readonly defaultResumeDir: boolean;
  private readonly cache: PieceCache;
  private readonly buffers: BufferPool;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly loading = new Map<number, Promise<void>>();
  /** Files written since the last resume save: they are fdatasynced before the next one. */
  private dirtyFiles = new Set<number>();
  /** The bitfield changed since the last resume save. */
  private stateDirty: boolean;
  /** The resume file on disk needs no final rewrite (none yet, or the last save was final). */
  private savedFinal = true;
  private saving: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  /** A periodic save failed and was reported; none since went through. */
  private saveFailed = false;

  constructor(
    readonly metainfo: Metainfo,
    readonly bitfield: Bitfield,
    readonly corruptPieces: readonly PieceIndex[],
    files: readonly FileOnDisk[],
    private readonly pool: DiskPool,
    opts: OpenStorageOptions,
    /** Undefined: no resume file (`resumeDir: false`). */
    private readonly resumeFile: string | undefined,
    changedOnOpen: boolean,
    /** Pieces that may be committed (a file selection's); undefined for all. */
    private readonly wanted: Bitfield | undefined,
  ) {
    this.paths = files.map((f) => f.path);
    this.ownsPool = opts.pool === undefined;
    this.writeMode = opts.writeMode ?? 'direct';
    this.defaultResumeDir = opts.resumeDir === undefined;
    this.buffers = new BufferPool(FREE_BUFFER_BYTES);
    this.cache = new PieceCache(Math.max(0, opts.pieceCacheBytes ?? DEFAULT_PIECE_CACHE_BYTES), (b) => this.buffers.give(b));
    this.stateDirty = changedOnOpen;
    const every = resumeFile === undefined ? 0 : opts.resumeIntervalMs ?? DEFAULT_RESUME_INTERVAL_MS;
    if (every > 0) {
      // A failed periodic save keeps its state dirty, so the next save (or close) retries and
      // reports. It is said once (`onWarning`), not at every tick, until a save goes through again.
      this.timer = setInterval(() => {
        this.saveResume().then(
          () => (this.saveFailed = false),
          (err: unknown) => {
            if (this.saveFailed || this.closing !== undefined) return;
            this.saveFailed = true;
            opts.onWarning?.(toStorageError(err));
          },
        );
      }, every);
      this.timer.unref();
    }
  }

  async commitPiece(index: PieceIndex, data: Uint8Array, cache = true, mode: WriteMode = this.writeMode): Promise<boolean> {
    this.checkOpen();
    const { expected, slices, fileIndexes, data: owned } = this.commitJob(index, data); // `expected` copied into the message (disk-pool.ts), or compared inline
    const length = owned.length;
    // Room in the cache now, for a piece that is to enter it (PieceCache, `reserve`).
    const unreserve = cache ? this.cache.reserve(length) : undefined;
    return this.track(async () => {
      let result: { written: boolean; data: Uint8Array };
      try {
        result = await this.pool.commit(owned, expected, slices, mode);
      } finally {
        unreserve?.();
      }
      return this.settle(index, fileIndexes, result.written, result.data, cache);
    });
  }

  async commitRun(pieces: readonly WholePiece[], cache = true, mode: WriteMode = this.writeMode): Promise<boolean[]> {
    this.checkOpen();
    const jobs = pieces.map(({ index, data }) => ({ index, ...this.commitJob(index, data) }));
    // Room in the cache now for each piece that is to enter it, as `commitPiece` makes (`reserve`).
    const unreserve = cache ? jobs.map((j) => this.cache.reserve(j.data.length)) : [];
    return this.track(async () => {
      let outcomes: RunOutcome[];
      try {
        outcomes = await this.pool.commitRun(jobs, mode);
      } finally {
        for (const u of unreserve) u();
      }
      let failure: StorageError | undefined;
      const verdicts = outcomes.map((o, i) => {
        failure ??= o.error;
        const j = jobs[i]!;
        return this.settle(j.index, j.fileIndexes, o.error === undefined && o.written, o.data, cache);
      });
      if (failure !== undefined) throw failure;
      return verdicts;
    });
  }

  /**
   * A commit's answer: a piece `written` is marked (its files dirty, its bit set) and its buffer
   * kept in the cache (`cache`) or given back; a piece not written (hash mismatch, or its write
   * failed) only gives its buffer back. Returns `written`.
   */
  private settle(index: PieceIndex, fileIndexes: readonly number[], written: boolean, data: Uint8Array, cache: boolean): boolean {
    if (!written) {
      this.buffers.give(data);
      return false;
    }
    for (const f of fileIndexes) this.dirtyFiles.add(f);
    if (this.bitfield.set(index)) this.stateDirty = true;
    if (cache) this.cache.set(index, data);
    else this.buffers.give(data);
    return true;
  }

  /** What a commit of `data` as piece `index` hands the disk: checked as `commitPiece` says. */
  private commitJob(index: PieceIndex, data: Uint8Array): RunPiece & { fileIndexes: number[] } {
    const length = this.pieceLengthOf(index);
    if (!(data instanceof Uint8Array) || data.length !== length) {
      throw new StorageError('STORAGE_BAD_LENGTH', { detail: `piece ${index} is ${length} bytes, got ${data instanceof Uint8Array ? data.length : typeof data}` });
    }
    if (this.wanted !== undefined && !this.wanted.has(index)) throw new StorageError('STORAGE_NOT_SELECTED', { detail: `piece ${index}` });
    const { slices, fileIndexes } = this.slicesOf(this.metainfo.geometry.pieceOffset(index), length);
    return { data: ownedBuffer(data), expected: this.metainfo.pieceHashes.subarray(index * 20, index * 20 + 20), slices, fileIndexes };
  }

  pieceBuffer(index: PieceIndex): Uint8Array {
    return this.buffers.take(this.pieceLengthOf(index));
  }

  /** The length of piece `index`; STORAGE_OUT_OF_RANGE when there is no such piece. */
  private pieceLengthOf(index: PieceIndex): number {
    const g = this.metainfo.geometry;
    if (!g.isPieceIndex(index)) throw new StorageError('STORAGE_OUT_OF_RANGE', { detail: `piece ${String(index)} not in [0, ${g.pieceCount})` });
    return g.pieceLengthOf(index);
  }

  async readBlock(index: PieceIndex, begin: number, length: number): Promise<Uint8Array> {
    return (await this.block(index, begin, length, false)).data;
  }

  lendBlock(index: PieceIndex, begin: number, length: number): Promise<BlockLease> {
    return this.block(index, begin, length, true);
  }

  private async block(index: PieceIndex, begin: number, length: number, lease: boolean): Promise<BlockLease> {
    const g = this.metainfo.geometry;
    this.checkOpen();
    const pieceLength = this.pieceLengthOf(index);
    if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(length) || begin < 0 || length <= 0 || begin + length > pieceLength) {
      throw new StorageError('STORAGE_OUT_OF_RANGE', { detail: `block [${begin}, ${begin + length}) of piece ${index} (${pieceLength} bytes)` });
    }
    if (!this.bitfield.has(index)) throw new StorageError('STORAGE_NOT_VERIFIED', { detail: `piece ${index}` });
    if (this.cache.fits(pieceLength)) {
      // Loaded, then taken from the cache in the same synchronous step: a piece the cache
      // dropped meanwhile (its buffer perhaps reused) is never handed out; it is loaded again.
      for (let attempt = 0; attempt < 3; attempt++) {
        const got = this.fromCache(index, begin, length, lease);
        if (got !== undefined) return got;
        await this.loadPiece(index);
      }
    }
    const data = await this.track(() => this.pool.read(this.slicesOf(g.pieceOffset(index) + begin, length).slices));
    return { data, release: NO_RELEASE };
  }

  private fromCache(index: PieceIndex, begin: number, length: number, lease: boolean): BlockLease | undefined {
    if (lease) {
      const l = this.cache.lease(index);
      return l === undefined ? undefined : { data: l.piece.subarray(begin, begin + length), release: l.release };
    }
    const piece = this.cache.get(index);
    return piece === undefined ? undefined : { data: piece.subarray(begin, begin + length), release: NO_RELEASE };
  }

  async saveResume(): Promise<void> {
    this.checkOpen();
    return this.queueSave(false);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    let failure: unknown;
    try {
      await this.queueSave(true);
    } catch (err) {
      failure = err;
    }
    await this.pool.forget(this.paths).catch(() => undefined);
    if (this.ownsPool) await this.pool.close();
    this.cache.clear();
    this.buffers.clear();
    if (failure !== undefined) throw failure;
  }

  private queueSave(final: boolean): Promise<void> {
    const next = this.saving.catch(() => undefined).then(() => this.save(final));
    this.saving = next;
    return next;
  }

  /** The fsync policy: data of new pieces reaches the disk before a resume file names them. */
  private async save(final: boolean): Promise<void> {
    // A final save is never skipped after a periodic one: only it lets the next open trust
    // files written in the last moments (see RACY_MARGIN_NS).
    if (this.resumeFile === undefined) return;
    if (!this.stateDirty && this.dirtyFiles.size === 0 && (!final || this.savedFinal)) return;
    const resumeFile = this.resumeFile;
    const savedNs = BigInt(Date.now()) * 1_000_000n;
    const bitfield = this.bitfield.clone();
    const dirty = this.dirtyFiles;
    this.dirtyFiles = new Set();
    this.stateDirty = false;
    try {
      await this.pool.sync([...dirty].map((i) => this.paths[i]!));
      const untrusted = this.filesWithCorruptPieces();
      const files = (await statFiles(this.paths)).map((f, i) => (untrusted.has(i) ? { size: f.size, mtimeNs: NEVER_TRUSTED_MTIME_NS } : f));
      await writeFileAtomic(resumeFile, encodeResume(this.metainfo.infoHash, { bitfield, files, savedNs, final }), { noSymlinkDir: this.defaultResumeDir, existingFolder: true });
      this.savedFinal = final;
    } catch (err) {
      for (const i of dirty) this.dirtyFiles.add(i);
      this.stateDirty = true;
      throw toStorageError(err, 'saving resume state');
    }
  }

  /**
   * Files that hold a corrupt piece not downloaded again yet. The resume file must not vouch for
   * them: the next open hashes them again and reports the piece again, instead of taking the
   * resume file's word and sitting at 99.9 % in silence.
   */
  private filesWithCorruptPieces(): Set<number> {
    const out = new Set<number>();
    for (const i of this.corruptPieces) {
      if (this.bitfield.has(i)) continue;
      for (const s of this.metainfo.geometry.pieceSlices(i)) out.add(s.fileIndex);
    }
    return out;
  }

  /** Reads a whole piece into a free buffer and caches it (not lent); one read for concurrent callers. */
  private loadPiece(index: PieceIndex): Promise<void> {
    let p = this.loading.get(index);
    if (p === undefined) {
      const g = this.metainfo.geometry;
      const into = this.buffers.take(g.pieceLengthOf(index));
      p = this.track(() => this.pool.read(this.slicesOf(g.pieceOffset(index), into.length).slices, into))
        .then((piece) => this.cache.set(index, piece))
        .finally(() => this.loading.delete(index));
      this.loading.set(index, p);
    }
    return p;
  }

  private slicesOf(offset: number, length: number): { slices: DiskSlice[]; fileIndexes: number[] } {
    const raw = this.metainfo.geometry.slices(offset, length);
    return {
      slices: raw.map((s) => ({ path: this.paths[s.fileIndex]!, fileOffset: s.fileOffset, length: s.length })),
      fileIndexes: raw.map((s) => s.fileIndex),
    };
  }

  private track<T>(fn: () => Promise<T>): Promise<T> {
    const p = fn();
    this.inflight.add(p);
    const done = (): void => void this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  private checkOpen(): void {
    if (this.closing !== undefined) throw new StorageError('STORAGE_CLOSED');
  }
}

/**
 * `data` as a buffer that can move to a worker: itself when it spans its whole ArrayBuffer,
 * else a copy. Transferring a view's buffer would detach bytes the caller never gave us (a
 * network read buffer, Node's Buffer pool).
 */
function ownedBuffer(data: Uint8Array): Uint8Array {
  const whole = data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  return whole ? data : data.slice();
}

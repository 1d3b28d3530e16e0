import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { setMaxListeners } from 'node:events';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { decode, encode, type BencodeDict } from '../bencode/index.js';
import type { Client } from '../engine/index.js';
import { toTorrenttpError } from '../errors/index.js';
import { createTorrent, metainfoFromInfoBytes, type HashPool, type Metainfo } from '../metainfo/index.js';
import { GatewayError } from './errors.js';
import type { GatewayLogger } from './logger.js';
import { makeFolders } from '../storage/index.js';

/**
 * A cache folder given on purpose (`serve --cache DIR`) is made and tried once at start, as nginx
 * tries its cache path: a file there, or a folder that takes no writes, is GATEWAY_CACHE_IO now,
 * not a warning per torrent later. One that takes no writes (read-only file system, no write
 * permission) but holds metainfo already, as a cache made beforehand of these very files and then
 * made read-only (its keys name inode and device: a copy made elsewhere matches nothing), is
 * used read-only: what it holds is reused, nothing new is stored (the caller warns once).
 * (The default cache in the served folder is not tried: a read-only folder is still served, its
 * torrents hashed again at each start.)
 */
export async function checkCacheDir(dir: string): Promise<'read-write' | 'read-only'> {
  const probe = join(dir, `.probe.${process.pid}.tmp`);
  try {
    await makeFolders(dir);
    await writeFile(probe, '');
    await rm(probe, { force: true });
    return 'read-write';
  } catch (err) {
    const errno = (err as { code?: unknown }).code;
    const readOnly = errno === 'EROFS' || errno === 'EACCES' || errno === 'EPERM';
    if (readOnly && (await holdsMetainfo(dir))) return 'read-only';
    // makeFolders' error names the path (`… is a file, where a folder is needed`), and so does the system's of the write.
    const e = toTorrenttpError(err);
    const why = e.detail ?? e.message;
    throw new GatewayError('GATEWAY_CACHE_IO', { detail: readOnly ? `${dir} takes no writes and holds no metainfo to reuse: ${why}` : why, cause: err });
  }
}

async function holdsMetainfo(dir: string): Promise<boolean> {
  try {
    return (await readdir(join(dir, 'meta'))).some((name) => name.endsWith('.bencode'));
  } catch {
    return false;
  }
}

/**
 * `work`'s result, or undefined as soon as `signal` aborts (`work` then runs out unwatched). Not
 * `Promise.race([work, aborted])` against one promise that lives until close: each such race
 * stays attached to it, its result included (~0.5 KB per call), so a serve grew by that for every
 * file it hashed. Here the listener goes when `work` settles.
 */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolve, reject) => {
    const stop = (): void => resolve(undefined);
    signal.addEventListener('abort', stop, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', stop);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', stop);
        reject(err);
      },
    );
  });
}

/**
 * The torrents of served files, made lazily and kept as long as the file is unchanged.
 *
 * Rules:
 * - A file is known by its identity: real path, size, mtime (ns), inode and device. A torrent
 *   belongs to one identity; a file whose identity changed is *retired* (its seed leaves the
 *   engine, its cache entry is deleted) before anything new is made, so a torrent of the old
 *   bytes is never handed out for the new ones.
 * - At most one hashing per file at a time, whoever asks; others learn it is under way.
 * - Hashing (SHA-1 pieces, then the whole-file SHA-256 for `Repr-Digest`) runs on the worker pool.
 *   Its result counts only if the file has the same identity afterwards. The torrent is ready
 *   once its pieces are hashed: the SHA-256 follows (the pool's threads go to the pieces first,
 *   so the first torrent is as quick as `torrenttp create`), and `Repr-Digest` is sent once known.
 * - Made metainfo is kept on disk under `cacheDir/meta/`, keyed by the identity and piece
 *   length, so a restart does not rehash.
 * - One engine torrent per info-hash: the same bytes under two paths (same name) share a seed.
 * - Content, not URL: a path reached through a symlink is its real path (one entry), and a hard
 *   link of a hashed file (same device, inode, size and mtime) reuses its piece hashes and
 *   SHA-256 without hashing; its info dict is rebuilt with its own name, since `name` is part
 *   of the info-hash and the torrent must equal `torrenttp create` of that path.
 */
export interface FileIdentity {
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ino: bigint;
  readonly dev: bigint;
}

export interface ReadyTorrent {
  readonly infoBytes: Uint8Array;
  readonly infoHash: string;
  /** The whole file's SHA-256; undefined until hashed (it follows the pieces). */
  readonly sha256: Uint8Array | undefined;
  readonly pieceLength: number;
}

export type TorrentState = { readonly state: 'ready'; readonly torrent: ReadyTorrent } | { readonly state: 'hashing'; readonly retryAfterSec: number };

export interface SwarmFilesOptions {
  /**
   * The served folder (a real path). Every file's path is a real path under it, and no byte
   * outside it is hashed or seeded: the hasher and the seed's storage read a file only through a
   * descriptor that leads to exactly that path, so a folder on the way swapped for a symlink
   * (someone who can write in the served tree, between serve's check and these opens) is refused,
   * not followed. The seed's storage is opened at this folder, the file under it by its relative path.
   */
  readonly root: string;
  readonly cacheDir: string;
  readonly pool: HashPool;
  readonly client: Client;
  /** Announce URL the engine's seed uses to reach the embedded tracker. */
  readonly internalAnnounce: () => string;
  /** Called whenever the set of served info-hashes changes (the tracker's allow list). */
  readonly onInfoHashes: (hashes: readonly string[]) => void;
  readonly logger: GatewayLogger;
  /** Piece length for new torrents; default `torrenttp create`'s automatic choice. */
  readonly pieceLength?: number;
  /**
   * The seed super-seeds (BEP 16, `engine/super-seed.ts`): each downloader is offered pieces no
   * other has, so N concurrent downloads cost the origin about one upload of the file, not N.
   * Default true.
   */
  readonly superSeed?: boolean;
  /**
   * The cache takes no writes (`checkCacheDir`): its metainfo is reused, none is stored, and the
   * seed keeps no resume files (it seeds whole files as they are: they would say nothing).
   */
  readonly readOnlyCache?: boolean;
  readonly now?: () => number;
}

interface Entry {
  readonly absPath: string;
  readonly identity: FileIdentity;
  ready: ReadyTorrent | undefined;
  hashing: Promise<void> | undefined;
  hashedBytes: number;
  readonly startedMs: number;
}

/** Hashing rate assumed before progress is known, for `Retry-After` (one core of SHA-1, cold cache). */
const ASSUMED_BYTES_PER_SEC = 200 * 1024 * 1024;
const CACHE_VERSION = 1;

export function identityOf(st: BigIntStats): FileIdentity {
  return { size: st.size, mtimeNs: st.mtimeNs, ino: st.ino, dev: st.dev };
}

function inodeKey(id: FileIdentity): string {
  return `${id.dev}:${id.ino}:${id.size}:${id.mtimeNs}`;
}

function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino && a.dev === b.dev;
}

export class SwarmFiles {
  private readonly entries = new Map<string, Entry>();
  /** Info-hash → paths whose ready torrent it is. */
  private readonly seedPaths = new Map<string, Set<string>>();
  private readonly seeding = new Map<string, Promise<void>>();
  /** Hashes of files ready now, by inode identity (`inodeKey`), for hard links. */
  private readonly byInode = new Map<string, { readonly pieces: Uint8Array; sha256: Uint8Array | undefined; readonly pieceLength: number; readonly paths: Set<string> }>();
  private readonly now: () => number;
  private closed = false;
  /** `resumeDir`'s answer, once. */
  private resumeFolder: Promise<string | false> | undefined;
  /**
   * Aborted by `close`: hashing still under way (the pieces, the whole-file SHA-256) is given up,
   * not waited for (~0.7 s per GiB of SHA-256), and its result is neither seeded nor cached.
   */
  private readonly closing = new AbortController();
  /** Files whose identity was re-read (stat'ed) by `check` and `checkFile`: what they cost, for tests. */
  private statted = 0;
  /** The last `check`: when it started (`now`), whether it ended, and its end. */
  private lastSweep: { readonly startedMs: number; readonly done: Promise<void>; settled: boolean } | undefined;

  constructor(private readonly opts: SwarmFilesOptions) {
    this.now = opts.now ?? Date.now;
    setMaxListeners(0, this.closing.signal); // one listener per digest under way (`unlessAborted`)
  }

  /** The ready torrent of this exact file, if any; retires a torrent of an older identity. Never starts hashing. */
  current(absPath: string, identity: FileIdentity): ReadyTorrent | undefined {
    const e = this.fresh(absPath, identity);
    return e?.ready;
  }

  /** The torrent of this file, or how long until it may be: starts hashing when nothing is under way. */
  want(absPath: string, identity: FileIdentity): TorrentState {
    let e = this.fresh(absPath, identity);
    if (e?.ready !== undefined) return { state: 'ready', torrent: e.ready };
    if (e === undefined) {
      e = { absPath, identity, ready: undefined, hashing: undefined, hashedBytes: 0, startedMs: this.now() };
      this.entries.set(absPath, e);
      const entry = e;
      entry.hashing = this.make(entry).then(
        () => {
          entry.hashing = undefined;
        },
        (err: unknown) => {
          entry.hashing = undefined;
          if (this.entries.get(absPath) === entry) this.entries.delete(absPath);
          if (!this.closed) this.opts.logger.warn({ err: toTorrenttpError(err), path: absPath }, 'making the torrent failed');
        },
      );
    }
    return { state: 'hashing', retryAfterSec: this.retryAfterSec(e) };
  }

  /** Whether the seed has (or is adding) this torrent (40 hex). */
  isSeeding(infoHash: string): boolean {
    return this.seedPaths.has(infoHash);
  }

  /** A file (absolute path) whose torrent this is, if the seed has it: the web seed of its metainfo. */
  pathOf(infoHash: string): string | undefined {
    return this.seedPaths.get(infoHash)?.values().next().value;
  }

  /** Info-hashes served now. */
  infoHashes(): string[] {
    return [...this.seedPaths.keys()];
  }

  /** Files whose torrent is made or being made, for the status page. */
  files(): { absPath: string; size: number; infoHash: string | undefined }[] {
    return [...this.entries.values()].map((e) => ({ absPath: e.absPath, size: Number(e.identity.size), infoHash: e.ready?.infoHash }));
  }

  /** Files whose identity `check` and `checkFile` have re-read so far. */
  get checkedFiles(): number {
    return this.statted;
  }

  /** Re-reads every known file's identity and retires those that changed or went away. */
  check(): Promise<void> {
    const startedMs = this.now(); // before the first stat: the sweep sees each file as it was then, or later
    const done = Promise.all([...this.entries.values()].map((e) => this.checkEntry(e))).then(() => undefined);
    const sweep = { startedMs, done, settled: false };
    const settle = (): void => {
      sweep.settled = true;
    };
    done.then(settle, settle); // runs before the reactions of those waiting for `done` (registered first)
    this.lastSweep = sweep;
    return done;
  }

  /**
   * `check`, unless the last one (the timer's or another caller's, done or under way) started less
   * than `maxAgeMs` ago: then that one. Whoever waits for it sees every file as it was at most
   * `maxAgeMs` ago, and callers in a loop cost one sweep per `maxAgeMs`, not one each. A sweep
   * older than that and still under way (a slow disk) is waited for before the next one starts:
   * sweeps do not pile up. A clock that stepped back makes the last sweep old, not young.
   */
  async recheck(maxAgeMs: number): Promise<void> {
    for (;;) {
      const last = this.lastSweep;
      const age = last === undefined ? Infinity : this.now() - last.startedMs;
      if (last !== undefined && age >= 0 && age < maxAgeMs) return last.done;
      if (last === undefined || last.settled) return this.check();
      await last.done.catch(() => undefined); // then a caller that resumed first may have started a new one: join it
    }
  }

  /** `check` of one path, if it has a torrent (made or being made). */
  async checkFile(absPath: string): Promise<void> {
    const e = this.entries.get(absPath);
    if (e !== undefined) await this.checkEntry(e);
  }

  private async checkEntry(e: Entry): Promise<void> {
    let now: FileIdentity | undefined;
    this.statted++;
    try {
      now = identityOf(await stat(e.absPath, { bigint: true }));
    } catch {
      now = undefined;
    }
    if (this.entries.get(e.absPath) === e && (now === undefined || !sameIdentity(now, e.identity))) this.retire(e);
  }

  /** Waits for hashing in flight (tests; after `close`, only for what cannot be given up: a cache write, a seed being added). */
  async settled(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.hashing));
    await Promise.all([...this.seeding.values()]);
  }

  /** Gives up hashing under way (its worker job runs out on the pool, its result unused) and waits for the rest. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    await this.settled().catch(() => {});
  }

  private fresh(absPath: string, identity: FileIdentity): Entry | undefined {
    const e = this.entries.get(absPath);
    if (e === undefined) return undefined;
    if (sameIdentity(e.identity, identity)) return e;
    this.retire(e);
    return undefined;
  }

  private retryAfterSec(e: Entry): number {
    const size = Number(e.identity.size);
    const elapsedSec = Math.max(0.001, (this.now() - e.startedMs) / 1000);
    const rate = e.hashedBytes > 0 ? e.hashedBytes / elapsedSec : ASSUMED_BYTES_PER_SEC;
    return Math.max(1, Math.ceil((size - e.hashedBytes) / rate));
  }

  private retire(e: Entry): void {
    if (this.entries.get(e.absPath) === e) this.entries.delete(e.absPath);
    const ready = e.ready;
    e.ready = undefined;
    const link = this.byInode.get(inodeKey(e.identity));
    if (link !== undefined) {
      link.paths.delete(e.absPath);
      if (link.paths.size === 0) this.byInode.delete(inodeKey(e.identity));
    }
    this.opts.logger.info({ path: e.absPath, infoHash: ready?.infoHash }, 'file changed: its torrent is retired');
    void rm(this.cachePath(e.absPath, e.identity), { force: true }).catch(() => {});
    if (ready !== undefined) this.unseed(ready.infoHash, e.absPath);
  }

  /** A ready hard link of this file (same inode, size, mtime), its hashes under this file's name. */
  private fromLink(e: Entry): ReadyTorrent | undefined {
    const link = this.byInode.get(inodeKey(e.identity));
    if (link === undefined || link.pieceLength !== (this.opts.pieceLength ?? link.pieceLength)) return undefined;
    const infoBytes = encode(new Map<string, Uint8Array | number | string>([
      ['length', Number(e.identity.size)],
      ['name', basename(e.absPath)],
      ['piece length', link.pieceLength],
      ['pieces', link.pieces],
    ]));
    const m = metainfoFromInfoBytes(infoBytes);
    return { infoBytes, infoHash: m.infoHash, sha256: link.sha256, pieceLength: link.pieceLength };
  }

  private remember(e: Entry, ready: ReadyTorrent): void {
    const key = inodeKey(e.identity);
    let link = this.byInode.get(key);
    if (link === undefined) {
      link = { pieces: metainfoFromInfoBytes(ready.infoBytes).pieceHashes, sha256: ready.sha256, pieceLength: ready.pieceLength, paths: new Set() };
      this.byInode.set(key, link);
    }
    link.paths.add(e.absPath);
  }

  private cachePath(absPath: string, id: FileIdentity): string {
    const key = createHash('sha1')
      .update(`${CACHE_VERSION}\0${absPath}\0${id.size}\0${id.mtimeNs}\0${id.ino}\0${id.dev}\0${this.opts.pieceLength ?? 'auto'}`)
      .digest('hex');
    return join(this.opts.cacheDir, 'meta', `${key}.bencode`);
  }

  private async make(e: Entry): Promise<void> {
    const cached = await this.load(e);
    const linked = cached === undefined ? this.fromLink(e) : undefined;
    const ready = cached ?? linked ?? (await this.hash(e));
    // The result counts only for the entry still current: the file may have changed meanwhile.
    if (this.entries.get(e.absPath) !== e || this.closed) return;
    if (cached === undefined && ready.sha256 !== undefined) await this.save(e, ready, ready.sha256);
    try {
      await this.seed(ready, e.absPath, e.identity);
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'GATEWAY_FILE_CHANGED' && this.entries.get(e.absPath) === e) this.retire(e);
      throw err;
    }
    if (this.entries.get(e.absPath) !== e) {
      this.unseed(ready.infoHash, e.absPath);
      return;
    }
    e.ready = ready;
    this.remember(e, ready);
    this.opts.logger.info({ path: e.absPath, infoHash: ready.infoHash, cached: cached !== undefined, hardLink: linked !== undefined }, 'torrent ready');
    if (ready.sha256 === undefined) await this.digest(e, ready);
  }

  /** The whole file's SHA-256 after its pieces: `Repr-Digest` from then on, and the cache entry. */
  private async digest(e: Entry, ready: ReadyTorrent): Promise<void> {
    const link = this.byInode.get(inodeKey(e.identity));
    let sha256 = link?.sha256;
    try {
      if (sha256 === undefined) {
        // Not waited for by `close`: a worker job cannot be stopped midway, so it is left to end on
        // its own (or with the pool) and its digest is dropped.
        sha256 = await unlessAborted(this.opts.pool.sha256File(e.absPath, Number(e.identity.size), e.identity.mtimeNs, { exact: true }), this.closing.signal);
        if (sha256 === undefined) return;
        if (!sameIdentity(identityOf(await stat(e.absPath, { bigint: true })), e.identity)) throw toTorrenttpError(new Error('file changed while it was hashed'), 'CREATE_CHANGED');
      }
    } catch (err) {
      // The torrent stays good (its pieces were checked against this identity); only the digest is missing.
      if (this.entries.get(e.absPath) === e && !this.closed) this.opts.logger.warn({ err: toTorrenttpError(err), path: e.absPath }, 'hashing the file for Repr-Digest failed');
      return;
    }
    if (this.entries.get(e.absPath) !== e || e.ready !== ready || this.closed) return;
    const done = { ...ready, sha256 };
    e.ready = done;
    if (link !== undefined) link.sha256 ??= sha256;
    await this.save(e, done, sha256);
  }

  /** The pieces of a file; its SHA-256 follows (`digest`). */
  private async hash(e: Entry): Promise<ReadyTorrent> {
    const size = Number(e.identity.size);
    const created = await createTorrent(e.absPath, {
      pool: this.opts.pool,
      creationDate: null,
      signal: this.closing.signal,
      exactPaths: true, // absPath is a real path: a folder swapped for a symlink while hashing is not followed
      ...(this.opts.pieceLength === undefined ? {} : { pieceLength: this.opts.pieceLength }),
      onProgress: (done) => {
        e.hashedBytes = done;
      },
    });
    const after = identityOf(await stat(e.absPath, { bigint: true }));
    if (!sameIdentity(after, e.identity) || created.metainfo.length !== size) {
      throw toTorrenttpError(new Error('file changed while it was hashed'), 'CREATE_CHANGED');
    }
    return { infoBytes: created.metainfo.infoBytes, infoHash: created.metainfo.infoHash, sha256: undefined, pieceLength: created.metainfo.pieceLength };
  }

  private async load(e: Entry): Promise<ReadyTorrent | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(this.cachePath(e.absPath, e.identity));
    } catch {
      return undefined;
    }
    try {
      const doc = decode(bytes) as BencodeDict;
      const infoBytes = doc.get('info') as Uint8Array;
      const sha256 = doc.get('sha256') as Uint8Array;
      const m: Metainfo = metainfoFromInfoBytes(infoBytes);
      if (m.length !== Number(e.identity.size) || sha256.length !== 32) return undefined;
      return { infoBytes, infoHash: m.infoHash, sha256, pieceLength: m.pieceLength };
    } catch (err) {
      this.opts.logger.warn({ err: toTorrenttpError(err), path: e.absPath }, 'metainfo cache entry unreadable; hashing again');
      return undefined;
    }
  }

  private async save(e: Entry, ready: ReadyTorrent, sha256: Uint8Array): Promise<void> {
    if (this.opts.readOnlyCache === true) return; // said once, at start
    const file = this.cachePath(e.absPath, e.identity);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await makeFolders(dirname(file));
      await writeFile(tmp, encode(new Map<string, Uint8Array | number | string>([
        ['info', ready.infoBytes],
        ['path', e.absPath],
        ['sha256', sha256],
        ['version', CACHE_VERSION],
      ])));
      await rename(tmp, file);
    } catch (err) {
      // The torrent is still served; only the next restart hashes again.
      this.opts.logger.warn({ err: toTorrenttpError(err, 'GATEWAY_CACHE_IO'), dir: this.opts.cacheDir }, 'cannot write the metainfo cache');
    }
  }

  /**
   * Seeds `ready` from `absPath`, whose bytes it was made of when the file had `identity`. The
   * storage seeds a file as it is (skip verify: its size alone is checked), so the identity is
   * compared here once the storage has opened: a file replaced since its hashing by another of
   * the same size (renamed over, or rewritten in place) is refused at once (GATEWAY_FILE_CHANGED,
   * the torrent removed, the entry retired), not trusted until the periodic `check`.
   */
  private async seed(ready: ReadyTorrent, absPath: string, identity: FileIdentity): Promise<void> {
    let paths = this.seedPaths.get(ready.infoHash);
    if (paths === undefined) {
      // Stored at the served folder itself, the file by its path under it: the storage resolves
      // only the served folder, and its disk threads refuse an fd that does not lead to exactly
      // root/rel (file-table.ts), so no folder on the way can be swapped for a way out, before
      // the storage opens or after. (At `dirname(absPath)` the storage would resolve that folder
      // through a symlink swapped in meanwhile, and then read outside the root.) Refused before
      // the info-hash is served: nothing else would take it back.
      const rel = relative(this.opts.root, absPath);
      if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
        throw new GatewayError('GATEWAY_FORBIDDEN', { detail: `${absPath} is not under the served folder` });
      }
      const metainfo = metainfoFromInfoBytes(ready.infoBytes, { announceList: [[this.opts.internalAnnounce()]] });
      paths = new Set();
      this.seedPaths.set(ready.infoHash, paths);
      this.opts.onInfoHashes(this.infoHashes());
      const adding = this.resumeDir()
        .then((resumeDir) => this.opts.client.add(metainfo, { path: this.opts.root, storeAs: rel, skipVerify: true, webSeeds: false, resumeDir, superSeed: this.opts.superSeed ?? true }))
        .then(() => {});
      this.seeding.set(ready.infoHash, adding);
      try {
        await adding;
        try {
          await this.sameFile(absPath, identity);
        } catch (err) {
          await this.opts.client.remove(ready.infoHash).catch(() => undefined);
          throw err;
        }
      } catch (err) {
        this.seedPaths.delete(ready.infoHash);
        this.opts.onInfoHashes(this.infoHashes());
        throw err;
      } finally {
        this.seeding.delete(ready.infoHash);
      }
    } else {
      await this.seeding.get(ready.infoHash);
    }
    paths.add(absPath);
  }

  /**
   * The seed's resume folder, made once: a storage makes its resume folder when it opens and fails
   * if it cannot, while a cache that takes no writes (the default one in a read-only served folder,
   * not tried at start) must not stop the seed. Then the seed keeps no resume files (it seeds whole
   * files as they are: they would say little), said once.
   */
  private resumeDir(): Promise<string | false> {
    if (this.opts.readOnlyCache === true) return Promise.resolve(false);
    const dir = join(this.opts.cacheDir, 'resume');
    return (this.resumeFolder ??= makeFolders(dir).then(
      () => dir,
      (err: unknown) => {
        this.opts.logger.warn({ err: toTorrenttpError(err, 'GATEWAY_CACHE_IO'), dir }, 'cannot make the seed\'s resume folder; seeding without resume files');
        return false as const;
      },
    ));
  }

  /** GATEWAY_FILE_CHANGED unless the file at `absPath` has `identity` now. */
  private async sameFile(absPath: string, identity: FileIdentity): Promise<void> {
    let now: FileIdentity | undefined;
    try {
      now = identityOf(await stat(absPath, { bigint: true }));
    } catch {
      now = undefined;
    }
    if (now === undefined || !sameIdentity(now, identity)) {
      throw new GatewayError('GATEWAY_FILE_CHANGED', { detail: `${absPath} ${now === undefined ? 'went away' : 'changed'} between its hashing and its seeding (hashed as ${inodeKey(identity)}, now ${now === undefined ? 'missing' : inodeKey(now)}): not seeded` });
    }
  }

  private unseed(infoHash: string, absPath: string): void {
    const paths = this.seedPaths.get(infoHash);
    if (paths === undefined) return;
    paths.delete(absPath);
    if (paths.size > 0) return;
    this.seedPaths.delete(infoHash);
    this.opts.onInfoHashes(this.infoHashes());
    const adding = this.seeding.get(infoHash) ?? Promise.resolve();
    void adding
      .catch(() => {})
      .then(() => this.opts.client.remove(infoHash))
      .catch((err: unknown) => this.opts.logger.warn({ err: toTorrenttpError(err), infoHash }, 'removing a retired torrent failed'));
  }
}

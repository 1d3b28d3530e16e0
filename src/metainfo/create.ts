import { encode, type Encodable } from '../bencode/index.js';
import { MetainfoError } from './errors.js';
import { HashPool } from './hash-pool.js';
import type { HashFile } from './hash-protocol.js';
import { autoPieceLength, isPowerOfTwo, MIN_PIECE_LENGTH } from './piece-length.js';
import { encodeTorrent, isTrackerUrl, isWebSeedUrl, parseTorrent, type Metainfo } from './torrent.js';
import type { Source } from './walk.js';

export interface CreateOptions {
  /** Torrent name; default the file or folder name. */
  readonly name?: string;
  /** Bytes, a power of two from 16 KiB to 1 GiB; default `autoPieceLength(total)`. */
  readonly pieceLength?: number;
  /** Tracker tiers (BEP 12): `[['udp://a'], ['http://b', 'http://c']]`. */
  readonly announceList?: readonly (readonly string[])[];
  /** Web seeds (BEP 19). */
  readonly urlList?: readonly string[];
  readonly private?: boolean;
  readonly comment?: string;
  /** `info.source`: changes the info-hash, the way private trackers tell their copies apart. */
  readonly source?: string;
  /** Default `torrenttp/<version>`. */
  readonly createdBy?: string;
  /** Seconds since the epoch; `null` leaves the date out for reproducible output. Default now. */
  readonly creationDate?: number | null;
  /** Called as pieces are hashed. */
  readonly onProgress?: (hashedBytes: number, totalBytes: number) => void;
  /** A pool to share; by default one is made for this call (one worker per core) and closed. */
  readonly pool?: HashPool;
  readonly threads?: number;
  readonly signal?: AbortSignal;
  /**
   * `path` is a real path (no symlink on it) and so is every file listed under it: each file is
   * read only through a descriptor that resolves to exactly its listed path, so a folder swapped
   * for a symlink while hashing is not followed (`CREATE_PATH_ESCAPE`). Linux only (`/proc`).
   * For `serve`, whose paths are checked real paths. Default false.
   */
  readonly exactPaths?: boolean;
}

export interface CreatedTorrent {
  readonly metainfo: Metainfo;
  /** The bencoded `.torrent`. */
  readonly torrent: Uint8Array;
}

export const CREATED_BY = 'torrenttp/0.1.0';

/**
 * Bytes per hashing job. Big enough that a job is mostly hashing (4 MiB reads from the page
 * cache take ~1 ms), small enough that progress moves and memory stays flat: each worker holds
 * one job's buffer, whatever the torrent's size.
 */
const JOB_BYTES = 4 * 1024 * 1024;

/** Creates a v1 torrent of a file or folder, hashing on worker threads. */
export async function createTorrent(path: string, opts: CreateOptions = {}): Promise<CreatedTorrent> {
  const pool = opts.pool ?? new HashPool(opts.threads === undefined ? {} : { threads: opts.threads });
  try {
    return await create(path, pool, opts);
  } finally {
    if (opts.pool === undefined) await pool.close();
  }
}

async function create(path: string, pool: HashPool, opts: CreateOptions): Promise<CreatedTorrent> {
  const source = await pool.listSource(path);
  const total = source.files.reduce((n, f) => n + f.length, 0);
  if (total === 0) throw new MetainfoError('CREATE_EMPTY', { detail: path });
  const pieceLength = opts.pieceLength ?? autoPieceLength(total);
  if (!isPowerOfTwo(pieceLength) || pieceLength < MIN_PIECE_LENGTH) {
    throw new MetainfoError('METAINFO_BAD_PIECE_LENGTH', { detail: `${pieceLength}: use a power of two from 16 KiB to 1 GiB` });
  }
  for (const u of (opts.announceList ?? []).flat()) {
    if (!isTrackerUrl(u)) throw new MetainfoError('METAINFO_BAD_URL', { detail: `tracker ${JSON.stringify(u)}` });
  }
  for (const u of opts.urlList ?? []) {
    if (!isWebSeedUrl(u)) throw new MetainfoError('METAINFO_BAD_URL', { detail: `web seed ${JSON.stringify(u)}` });
  }

  const pieces = await hashSource(source, pieceLength, total, pool, opts);

  const name = opts.name ?? source.name;
  const info: Record<string, Encodable | undefined> = {
    name,
    'piece length': pieceLength,
    pieces,
    private: opts.private === true ? 1 : undefined,
    source: opts.source,
  };
  if (source.multiFile) info['files'] = source.files.map((f) => ({ length: f.length, path: [...f.path] }));
  else info['length'] = total;
  const infoBytes = encode(info);

  const creationDate = opts.creationDate === undefined ? Math.floor(Date.now() / 1000) : opts.creationDate;
  const torrent = encodeTorrent(infoBytes, {
    announceList: opts.announceList ?? [],
    urlList: opts.urlList ?? [],
    createdBy: opts.createdBy ?? CREATED_BY,
    ...(creationDate === null ? {} : { creationDate }),
    ...(opts.comment === undefined ? {} : { comment: opts.comment }),
  });
  // Parse what we wrote: the same checks as any torrent (paths, geometry), and one code path.
  return { metainfo: parseTorrent(torrent, { strict: true }), torrent };
}

async function hashSource(source: Source, pieceLength: number, total: number, pool: HashPool, opts: CreateOptions): Promise<Uint8Array> {
  const files: HashFile[] = [];
  let offset = 0;
  for (const f of source.files) {
    if (f.length > 0) files.push({ path: f.absPath, length: f.length, offset, mtimeMs: f.mtimeMs, ...(opts.exactPaths === true ? { exact: true } : {}) });
    offset += f.length;
  }
  const pieceCount = Math.ceil(total / pieceLength);
  const perJob = Math.max(1, Math.floor(JOB_BYTES / pieceLength));
  const pieces = new Uint8Array(pieceCount * 20);
  // Two jobs queued per worker: one hashing, one ready, so no worker waits on the main thread.
  const window = pool.threads * 2;
  let next = 0;
  let firstFile = 0; // jobs are handed out in order, so the files they touch only move forward
  let hashed = 0;
  const run = async (): Promise<void> => {
    while (next < pieceCount) {
      opts.signal?.throwIfAborted();
      const first = next;
      const end = Math.min(pieceCount, first + perJob);
      next = end;
      const from = first * pieceLength;
      const to = Math.min(end * pieceLength, total);
      while (files[firstFile]!.offset + files[firstFile]!.length <= from) firstFile++;
      let lastFile = firstFile;
      while (lastFile < files.length && files[lastFile]!.offset < to) lastFile++;
      // Only the files this job reads cross to the worker: a 100,000-file folder stays cheap.
      const jobFiles = files.slice(firstFile, lastFile);
      const hashes = await pool.hashPieces({ files: jobFiles, pieceLength, totalLength: total, first, end });
      pieces.set(hashes, first * 20);
      hashed += to - from;
      opts.onProgress?.(hashed, total);
    }
  };
  await Promise.all(Array.from({ length: window }, run));
  return pieces;
}

import type { BencodeDict, BencodeValue } from '../bencode/index.js';
import { MetainfoError } from './errors.js';
import { asBytes, asDict, asInt, asList, requireField, strictText, text } from './fields.js';
import { Geometry } from './geometry.js';
import { checkPathComponent, resolveDuplicatePaths } from './paths.js';

/**
 * The v1 info dict (BEP 3): everything that decides the info-hash and what lands on disk.
 * Validation here is strict: a torrent is hostile input and its paths become file names.
 */
export interface TorrentFile {
  /**
   * Path components under the torrent's folder (multi-file), or `[name]` for a single file: where
   * the file lands on disk. It is the torrent's own path unless that path was already taken
   * (`resolveDuplicatePaths`); then `torrentPath` holds what the torrent says.
   */
  readonly path: readonly string[];
  /** The path as the torrent lists it, present only when `path` had to differ (a duplicate). */
  readonly torrentPath?: readonly string[];
  readonly length: number;
  /** Offset of the file's first byte in the torrent's byte stream. */
  readonly offset: number;
  /** BEP 47 attributes (`p` padding, `x` executable, `h` hidden, `l` symlink), if any. */
  readonly attr?: string;
}

export interface Info {
  /** Suggested file name (single file) or folder name (multi-file). */
  readonly name: string;
  readonly pieceLength: number;
  /** Concatenated 20-byte SHA-1 piece hashes. */
  readonly pieceHashes: Uint8Array;
  readonly pieceCount: number;
  readonly files: readonly TorrentFile[];
  /** True when the info dict has `files` (a folder), false for a single `length`. */
  readonly multiFile: boolean;
  /** Total bytes. */
  readonly length: number;
  /** BEP 27. */
  readonly private: boolean;
  /** `source` (a private-tracker convention, inside `info` so it changes the info-hash). */
  readonly source?: string;
  readonly geometry: Geometry;
}

/** The largest piece length we accept by default: far beyond the largest in use (16–64 MiB). */
export const MAX_PIECE_LENGTH = 1 << 30;
/**
 * The largest piece length worth a buffer when the torrent comes from an origin we merely fetch
 * through (`get`, the proxy), where plain HTTP is always there instead: 64 MiB. Each piece in
 * flight is a buffer of its length, so a hostile origin's 1 GiB pieces would cost gigabytes.
 * 64 MiB is the largest that Transmission, Deluge, uTorrent and qBittorrent all load and that
 * torrent makers offer by default at most (py3createtorrent, torf); libtorrent's own cap is
 * 512 MiB, rtorrent's 128 MiB. Pass it as `ParseOptions.maxPieceLength` / `JsonLimits.maxPieceLength`.
 */
export const MAX_FETCH_PIECE_LENGTH = 64 * 1024 * 1024;
/**
 * Limits on a torrent's file paths, which become folders and files on disk and strings in memory.
 * Every path component is also a bencode token, so the decoder's `maxTokens` (3,000,000, as
 * libtorrent) already caps them; these bound what parsing keeps and builds from them, and fail
 * before any of it is built. Each default accepts every real torrent libtorrent and Transmission
 * load (see docs/security.md).
 */
export interface PathLimits {
  /**
   * Most components in one file's path. Default 256: libtorrent refuses beyond 100
   * (`max_directory_depth`); Transmission has no limit of its own, but no file system path of
   * 4,096 bytes (Linux `PATH_MAX`) nests deeper than 2,048, and real torrents stay under 20.
   */
  readonly maxPathDepth?: number;
  /**
   * Most path components over all files. Default 2,000,000: more than a torrent within
   * libtorrent's 3,000,000 tokens holds at real depths (each file costs 7 tokens besides its
   * path), while 10,500 paths of 256 components (2.7 M, issue 18) are refused.
   */
  readonly maxPathComponents?: number;
  /**
   * Most bytes of path components over all files. Default 32 MiB: three times what fits in
   * the largest torrent file libtorrent loads (10 MB, `max_buffer_size`).
   */
  readonly maxPathBytes?: number;
}

export const PATH_LIMITS = {
  maxPathDepth: 256,
  maxPathComponents: 2_000_000,
  maxPathBytes: 32 * 1024 * 1024,
} as const;

/** Deepest file path by default (`PathLimits.maxPathDepth`). */
export const MAX_PATH_DEPTH = PATH_LIMITS.maxPathDepth;

/** `maxPieceLength`: larger pieces fail with METAINFO_PIECE_TOO_LARGE (default and at most `MAX_PIECE_LENGTH`). */
export function parseInfo(info: BencodeDict, limits: PathLimits = {}, maxPieceLength = MAX_PIECE_LENGTH): Info {
  const name = utf8Field(info, 'name', 'info.');
  checkPathComponent(name, 'info.name');

  const pieceLength = asInt(requireField(info, 'piece length', 'info.'), 'info.piece length');
  if (pieceLength <= 0 || pieceLength > MAX_PIECE_LENGTH) {
    throw new MetainfoError('METAINFO_BAD_PIECE_LENGTH', { detail: `${pieceLength} bytes` });
  }
  if (pieceLength > maxPieceLength) {
    throw new MetainfoError('METAINFO_PIECE_TOO_LARGE', { detail: `${pieceLength} bytes, more than the ${maxPieceLength} accepted here` });
  }

  const pieceHashes = asBytes(requireField(info, 'pieces', 'info.'), 'info.pieces');
  if (pieceHashes.length % 20 !== 0) {
    throw new MetainfoError('METAINFO_BAD_PIECES', { detail: `${pieceHashes.length} bytes is not a multiple of 20` });
  }

  const hasLength = info.has('length');
  const hasFiles = info.has('files');
  if (hasLength === hasFiles) {
    throw new MetainfoError(hasLength ? 'METAINFO_BAD_FIELD' : 'METAINFO_MISSING_FIELD', {
      detail: 'info must have exactly one of length (single file) and files (folder)',
    });
  }

  const files: TorrentFile[] = [];
  let offset = 0;
  const add = (path: string[], lengthValue: BencodeValue, where: string, attr: string | undefined): void => {
    const length = fileLength(lengthValue, where);
    files.push(attr === undefined ? { path, length, offset } : { path, length, offset, attr });
    offset += length;
    if (!Number.isSafeInteger(offset)) throw new MetainfoError('METAINFO_BAD_FILE_LENGTH', { detail: 'total length overflows' });
  };

  if (hasLength) {
    add([name], info.get('length')!, 'info.length', attrOf(info));
  } else {
    const list = asList(info.get('files')!, 'info.files');
    if (list.length === 0) throw new MetainfoError('METAINFO_BAD_FIELD', { detail: 'info.files is empty' });
    const maxDepth = limits.maxPathDepth ?? PATH_LIMITS.maxPathDepth;
    checkPathTotals(list, limits);
    list.forEach((entry, i) => {
      const where = `info.files[${i}]`;
      const f = asDict(entry, where);
      const path = filePath(f, where, maxDepth);
      add(path, requireField(f, 'length', `${where}.`), `${where}.length`, attrOf(f));
    });
    resolveDuplicatePaths(files.map((f) => f.path)).forEach((renamed, i) => {
      if (renamed !== undefined) files[i] = { ...files[i]!, path: renamed, torrentPath: files[i]!.path };
    });
  }

  if (offset === 0) throw new MetainfoError('METAINFO_BAD_PIECES', { detail: 'the torrent holds no data (total length 0)' });
  const geometry = new Geometry(pieceLength, files.map((f) => f.length));
  const pieceCount = pieceHashes.length / 20;
  if (pieceCount !== geometry.pieceCount) {
    throw new MetainfoError('METAINFO_BAD_PIECES', {
      detail: `${pieceCount} hashes for ${offset} bytes in pieces of ${pieceLength} (${geometry.pieceCount} expected)`,
    });
  }

  const priv = info.get('private');
  const out: { -readonly [K in keyof Info]: Info[K] } = {
    name,
    pieceLength,
    pieceHashes,
    pieceCount,
    files,
    multiFile: hasFiles,
    length: offset,
    // BEP 27: private only when the key is the integer 1.
    private: priv === 1,
    geometry,
  };
  const source = info.get('source');
  if (source instanceof Uint8Array) out.source = text(source);
  return out;
}

function fileLength(v: BencodeValue, where: string): number {
  if (typeof v === 'bigint') throw new MetainfoError('METAINFO_BAD_FILE_LENGTH', { detail: `${where} = ${v} is absurd` });
  const n = asInt(v, where);
  if (n < 0) throw new MetainfoError('METAINFO_BAD_FILE_LENGTH', { detail: `${where} = ${n} is negative` });
  return n;
}

/** The path list a file entry uses: `path.utf-8` (some creators add it when `path` is in a legacy encoding), else `path`. */
function rawPath(f: BencodeDict): BencodeValue | undefined {
  const utf8 = f.get('path.utf-8');
  return utf8 !== undefined && Array.isArray(utf8) ? utf8 : f.get('path');
}

/**
 * Counts every file's path components and bytes before any is decoded to text, so a hostile
 * torrent is refused for the price of one pass over the list. Entries of the wrong shape are
 * left to `filePath`, which names them.
 */
function checkPathTotals(files: readonly BencodeValue[], limits: PathLimits): void {
  const maxComponents = limits.maxPathComponents ?? PATH_LIMITS.maxPathComponents;
  const maxBytes = limits.maxPathBytes ?? PATH_LIMITS.maxPathBytes;
  let components = 0;
  let bytes = 0;
  for (const entry of files) {
    const parts = entry instanceof Map ? rawPath(entry) : undefined;
    if (!Array.isArray(parts)) continue;
    components += parts.length;
    if (components > maxComponents) {
      throw new MetainfoError('METAINFO_LIMIT_EXCEEDED', { detail: `more than ${maxComponents} path components (maxPathComponents)` });
    }
    for (const p of parts) if (p instanceof Uint8Array) bytes += p.length;
    if (bytes > maxBytes) throw new MetainfoError('METAINFO_LIMIT_EXCEEDED', { detail: `more than ${maxBytes} bytes of file paths (maxPathBytes)` });
  }
}

function filePath(f: BencodeDict, where: string, maxDepth: number): string[] {
  const raw = rawPath(f) ?? requireField(f, 'path', `${where}.`);
  const parts = asList(raw, `${where}.path`);
  if (parts.length === 0) throw new MetainfoError('METAINFO_BAD_PATH', { detail: `${where}.path is empty` });
  if (parts.length > maxDepth) throw new MetainfoError('METAINFO_BAD_PATH', { detail: `${where}.path is deeper than ${maxDepth} (maxPathDepth)` });
  return parts.map((p, j) => {
    const s = text(asBytes(p, `${where}.path[${j}]`));
    checkPathComponent(s, `${where}.path`);
    return s;
  });
}

function utf8Field(d: BencodeDict, key: string, prefix: string): string {
  const alt = d.get(`${key}.utf-8`);
  if (alt instanceof Uint8Array) {
    const s = strictText(alt);
    if (s !== undefined) return s;
  }
  return text(asBytes(requireField(d, key, prefix), `${prefix}${key}`));
}

function attrOf(d: BencodeDict): string | undefined {
  const a = d.get('attr');
  return a instanceof Uint8Array ? text(a) : undefined;
}

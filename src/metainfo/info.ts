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

/** The largest piece length we accept: far beyond the largest in use (16–64 MiB). */
export const MAX_PIECE_LENGTH = 1 << 30;
/** Deepest file path; real torrents stay far below, and each level is a folder we create. */
export const MAX_PATH_DEPTH = 256;

export function parseInfo(info: BencodeDict): Info {
  const name = utf8Field(info, 'name', 'info.');
  checkPathComponent(name, 'info.name');

  const pieceLength = asInt(requireField(info, 'piece length', 'info.'), 'info.piece length');
  if (pieceLength <= 0 || pieceLength > MAX_PIECE_LENGTH) {
    throw new MetainfoError('METAINFO_BAD_PIECE_LENGTH', { detail: `${pieceLength} bytes` });
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
    list.forEach((entry, i) => {
      const where = `info.files[${i}]`;
      const f = asDict(entry, where);
      const path = filePath(f, where);
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

function filePath(f: BencodeDict, where: string): string[] {
  // Prefer the `path.utf-8` variant some creators add when `path` is in a legacy encoding.
  const utf8 = f.get('path.utf-8');
  const raw = utf8 !== undefined && Array.isArray(utf8) ? utf8 : requireField(f, 'path', `${where}.`);
  const parts = asList(raw, `${where}.path`);
  if (parts.length === 0) throw new MetainfoError('METAINFO_BAD_PATH', { detail: `${where}.path is empty` });
  if (parts.length > MAX_PATH_DEPTH) throw new MetainfoError('METAINFO_BAD_PATH', { detail: `${where}.path is deeper than ${MAX_PATH_DEPTH}` });
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

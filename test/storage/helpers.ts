import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTorrent, type Metainfo, type PieceIndex } from '../../src/metainfo/index.js';
import { openStorage, type DiskPool } from '../../src/storage/index.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

export interface FileSpec {
  readonly path: readonly string[];
  readonly length: number;
}

export interface TestTorrent {
  readonly metainfo: Metainfo;
  readonly torrent: Uint8Array;
  /** The torrent's whole byte stream. */
  readonly content: Uint8Array;
  /** Where each file lands under the download folder `dir`. */
  pathOf(dir: string, fileIndex: number): string;
  /** A fresh copy of piece `i` (a whole ArrayBuffer, so commitPiece may take it). */
  piece(i: number): Uint8Array;
  /** The file's expected bytes. */
  fileData(fileIndex: number): Uint8Array;
}

/** A single-file torrent when `files` is a number (its length), else a multi-file one. */
export function makeTorrent(files: number | readonly FileSpec[], pieceLength: number, opts: { name?: string; seed?: number } = {}): TestTorrent {
  const name = opts.name ?? 'payload';
  const specs = typeof files === 'number' ? [{ path: [name], length: files }] : files;
  const total = specs.reduce((n, f) => n + f.length, 0);
  const content = bytes(total, opts.seed ?? 7);
  const info =
    typeof files === 'number'
      ? { name, 'piece length': pieceLength, pieces: piecesOf(content, pieceLength), length: files }
      : { name, 'piece length': pieceLength, pieces: piecesOf(content, pieceLength), files: specs.map((f) => ({ length: f.length, path: [...f.path] })) };
  const torrent = torrentBytes(info);
  const metainfo = parseTorrent(torrent);
  const g = metainfo.geometry;
  return {
    metainfo,
    torrent,
    content,
    pathOf: (dir, i) => (metainfo.multiFile ? join(dir, name, ...metainfo.files[i]!.path) : join(dir, name)),
    piece: (i) => content.slice(i * pieceLength, i * pieceLength + g.pieceLengthOf(i)),
    fileData: (i) => content.subarray(g.fileOffsets[i], g.fileOffsets[i]! + g.fileLengths[i]!),
  };
}

export function pieceIndex(t: TestTorrent, i: number): PieceIndex {
  return t.metainfo.geometry.pieceIndex(i);
}

export function readFile(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** Deterministic shuffle (xorshift), so a failing order can be replayed. */
export function shuffled(n: number, seed: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  let x = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Every piece of `t` committed (each verified) into `dir` by a storage that is then closed. */
export async function writeTorrent(t: TestTorrent, dir: string, pool: DiskPool): Promise<void> {
  const s = await openStorage(t.metainfo, dir, { pool });
  for (let i = 0; i < t.metainfo.pieceCount; i++) assert.ok(await s.commitPiece(pieceIndex(t, i), t.piece(i)));
  await s.close();
}

/** The torrents write-only-child.ts downloads into a folder it cannot list: a single file and a folder. */
export function writeOnlyTorrents(): TestTorrent[] {
  return [makeTorrent(9000, 4096, { name: 'one.bin' }), makeTorrent([{ path: ['sub', 'f'], length: 5000 }, { path: ['g'], length: 100 }], 4096, { name: 'tree' })];
}

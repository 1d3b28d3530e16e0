import { parseTorrent, type Metainfo } from '../../src/metainfo/index.js';
import type { Encodable } from '../../src/bencode/index.js';
import { bytes, piecesOf, torrentBytes } from './torrents.js';

/**
 * A multi-file torrent for file-selection tests, 32 KiB pieces:
 *
 *   piece   0        1        2        3        4        5 (24 KiB)
 *           |aaaaaaaa|aabbbbbb|bbbbbbbb|bbcccccc|cccccccc|cccccc|
 *
 * a.bin (file 0) 40 KiB, b.bin (file 1) 64 KiB, sub/c.bin (file 2) 80 KiB, plus an empty file
 * (file 3). Selecting a and c wants pieces 0, 1, 3, 4, 5: piece 2 is b's alone, pieces 1 and 3
 * are boundary pieces that also hold 24 KiB + 8 KiB of b.
 */
export const PIECE = 32 * 1024;
export const A = bytes(40 * 1024, 31);
export const B = bytes(64 * 1024, 32);
export const C = bytes(80 * 1024, 33);
export const ALL = Uint8Array.from(Buffer.concat([A, B, C])); // not a Buffer: its slice() must copy

export function threeFiles(): Metainfo {
  return parseTorrent(threeFilesTorrent());
}

/** The .torrent's bytes; `outer` adds keys outside `info` (`announce`). */
export function threeFilesTorrent(outer: Record<string, Encodable | undefined> = {}): Uint8Array {
  return torrentBytes(
    {
      name: 'set',
      'piece length': PIECE,
      files: [
        { length: A.length, path: ['a.bin'] },
        { length: B.length, path: ['b.bin'] },
        { length: C.length, path: ['sub', 'c.bin'] },
        { length: 0, path: ['empty'] },
      ],
      pieces: piecesOf(ALL, PIECE),
    },
    outer,
  );
}

import type { Source } from './walk.js';

/** Messages between `HashPool` and its workers. */
export interface HashFile {
  readonly path: string;
  /** Offset of the file in the torrent's byte stream. */
  readonly offset: number;
  readonly length: number;
  /** When given, the worker checks after reading that size and mtime are unchanged. */
  readonly mtimeMs?: number;
}

export type HashRequest =
  | {
      readonly id: number;
      readonly type: 'pieces';
      readonly files: readonly HashFile[];
      readonly pieceLength: number;
      readonly totalLength: number;
      /** Pieces `[first, end)`. */
      readonly first: number;
      readonly end: number;
    }
  | { readonly id: number; readonly type: 'buffer'; readonly data: Uint8Array }
  | { readonly id: number; readonly type: 'list'; readonly path: string };

export type HashResponse =
  | { readonly id: number; readonly hashes: Uint8Array }
  | { readonly id: number; readonly source: Source }
  | { readonly id: number; readonly error: { readonly code: string; readonly message: string; readonly detail?: string } };

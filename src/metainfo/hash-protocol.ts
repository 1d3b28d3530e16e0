import type { Source } from './walk.js';

/** Messages between `HashPool` and its workers. */
export interface HashFile {
  readonly path: string;
  /** Offset of the file in the torrent's byte stream. */
  readonly offset: number;
  readonly length: number;
  /** When given, the worker checks after reading that size and mtime are unchanged. */
  readonly mtimeMs?: number;
  /** `path` is a real path (no symlink on it): the file opened must resolve to exactly it (`openForHashing`). */
  readonly exact?: boolean;
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
  /** SHA-256 of a whole file (RFC 9530 `Repr-Digest`), checked against `length` and `mtimeNs` (decimal) after reading. */
  | { readonly id: number; readonly type: 'sha256-file'; readonly path: string; readonly length: number; readonly mtimeNs: string; readonly exact?: boolean }
  | { readonly id: number; readonly type: 'list'; readonly path: string };

export type HashResponse =
  | { readonly id: number; readonly hashes: Uint8Array }
  | { readonly id: number; readonly source: Source }
  /** `causeCode`: the errno code (`ENOENT`…) of a typed error's cause, which does not cross the thread itself. */
  | { readonly id: number; readonly error: { readonly code: string; readonly message: string; readonly detail?: string; readonly causeCode?: string } };

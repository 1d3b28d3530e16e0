/**
 * Messages between the cipher pool (cipher-pool.ts) and its threads (cipher-worker.ts). Bytes do
 * not travel in them: a session's two rings (SharedArrayBuffers, given at `open`) hold them, and a
 * job names regions of one, which the thread encrypts or decrypts in place. A job whose bytes did
 * not fit its ring brings a SharedArrayBuffer of its own (`spill`).
 */
import type { Rc4Position } from '../wire/index.js';

export type CipherRequest =
  | {
      readonly id: number;
      readonly type: 'open';
      readonly session: number;
      readonly encrypt: Rc4Position;
      readonly decrypt: Rc4Position;
      /** Where `decrypt` jobs' bytes are (the peer's reads). */
      readonly readRing: SharedArrayBuffer;
      /** Where `encrypt` jobs' bytes are (a flush's batches). */
      readonly writeRing: SharedArrayBuffer;
    }
  | {
      readonly id: number;
      readonly type: 'encrypt' | 'decrypt';
      readonly session: number;
      /** Regions of the ring, in stream order: `at[i]`, `length[i]` bytes (of `spill[i]` when that is set). */
      readonly at: number[];
      readonly length: number[];
      readonly spill?: (SharedArrayBuffer | undefined)[];
    }
  | { readonly id: number; readonly type: 'close'; readonly session: number };

export type CipherResponse = { readonly id: number; readonly type: 'done' } | { readonly id: number; readonly type: 'error'; readonly message: string };

const bufferFill = Buffer.prototype.fill;

/**
 * `dst.set(src, at)` at memcpy speed when either is shared memory: `TypedArray.prototype.set`
 * copies to or from a SharedArrayBuffer word by word (V8's relaxed memmove, for data races),
 * several times slower than memcpy on a link's bytes; `Buffer.prototype.fill` with a view of
 * the same length as the range copies it with one memcpy (node's C++ fill).
 */
export function copyBytes(dst: Uint8Array, src: Uint8Array, at = 0): void {
  if (src.length === 0) return;
  bufferFill.call(dst, src, at, at + src.length);
}

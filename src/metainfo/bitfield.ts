import { MetainfoError } from './errors.js';

/**
 * Which pieces a peer (or we) have, in BEP 3's layout: piece 0 is the high bit of byte 0, and
 * spare bits at the end are zero. Shared by storage, the wire codec, transports and the engine.
 */
export class Bitfield {
  readonly pieceCount: number;
  private readonly bits: Uint8Array;
  private ones = 0;

  constructor(pieceCount: number) {
    if (!Number.isSafeInteger(pieceCount) || pieceCount < 0) throw new MetainfoError('METAINFO_BAD_FIELD', { detail: `piece count ${pieceCount}` });
    this.pieceCount = pieceCount;
    this.bits = new Uint8Array(Math.ceil(pieceCount / 8));
  }

  static full(pieceCount: number): Bitfield {
    const b = new Bitfield(pieceCount);
    b.bits.fill(0xff);
    const spare = b.bits.length * 8 - pieceCount;
    if (spare > 0) b.bits[b.bits.length - 1] = (0xff << spare) & 0xff;
    b.ones = pieceCount;
    return b;
  }

  /** From the wire: exact byte length and zero spare bits, or a typed error. Copies `bytes`. */
  static fromBytes(bytes: Uint8Array, pieceCount: number): Bitfield {
    const b = new Bitfield(pieceCount);
    if (bytes.length !== b.bits.length) {
      throw new MetainfoError('METAINFO_BAD_FIELD', { detail: `bitfield of ${bytes.length} bytes for ${pieceCount} pieces` });
    }
    const spare = b.bits.length * 8 - pieceCount;
    if (spare > 0 && (bytes[bytes.length - 1]! & ((1 << spare) - 1)) !== 0) {
      throw new MetainfoError('METAINFO_BAD_FIELD', { detail: 'bitfield has spare bits set' });
    }
    b.bits.set(bytes);
    for (const byte of bytes) b.ones += POPCOUNT[byte]!;
    return b;
  }

  has(index: number): boolean {
    return index >= 0 && index < this.pieceCount && (this.bits[index >> 3]! & (0x80 >> (index & 7))) !== 0;
  }

  /**
   * The first piece in [from, to) set here and not in `except` (a bitfield of the same torrent),
   * or -1. Reads a byte (8 pieces) at a time: a scan of a sparse field, or of one whose pieces
   * `except` mostly holds, costs a pass over bytes, not a call per piece.
   */
  nextSetNotIn(except: Bitfield, from: number, to: number): number {
    const end = Math.min(to, this.pieceCount);
    let i = Math.max(0, from);
    while (i < end) {
      const b = i >> 3;
      const byte = this.bits[b]! & ~(except.bits[b] ?? 0) & (0xff >> (i & 7));
      if (byte === 0) {
        i = (b + 1) << 3;
        continue;
      }
      const found = (b << 3) + Math.clz32(byte) - 24;
      return found < end ? found : -1;
    }
    return -1;
  }

  /** Sets piece `index`; returns true when it was not set before. */
  set(index: number): boolean {
    this.check(index);
    const mask = 0x80 >> (index & 7);
    const byte = this.bits[index >> 3]!;
    if ((byte & mask) !== 0) return false;
    this.bits[index >> 3] = byte | mask;
    this.ones++;
    return true;
  }

  /** Clears piece `index`; returns true when it was set before. */
  clear(index: number): boolean {
    this.check(index);
    const mask = 0x80 >> (index & 7);
    const byte = this.bits[index >> 3]!;
    if ((byte & mask) === 0) return false;
    this.bits[index >> 3] = byte & ~mask;
    this.ones--;
    return true;
  }

  /** How many pieces are set. */
  get count(): number {
    return this.ones;
  }

  get complete(): boolean {
    return this.ones === this.pieceCount;
  }

  get empty(): boolean {
    return this.ones === 0;
  }

  /** A copy of the bytes, for a `bitfield` message or a resume file. */
  toBytes(): Uint8Array {
    return this.bits.slice();
  }

  clone(): Bitfield {
    return Bitfield.fromBytes(this.bits, this.pieceCount);
  }

  /** Indices of set pieces, ascending. */
  *[Symbol.iterator](): IterableIterator<number> {
    for (let i = 0; i < this.bits.length; i++) {
      const byte = this.bits[i]!;
      if (byte === 0) continue;
      for (let j = 0; j < 8; j++) if ((byte & (0x80 >> j)) !== 0) yield i * 8 + j;
    }
  }

  private check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) {
      throw new MetainfoError('METAINFO_PIECE_OUT_OF_RANGE', { detail: `${index} not in [0, ${this.pieceCount})` });
    }
  }
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let n = 0;
  for (let x = i; x !== 0; x >>= 1) n += x & 1;
  return n;
});

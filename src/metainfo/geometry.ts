import { MetainfoError } from './errors.js';

/**
 * All piece/block/file arithmetic lives here (rqbit's `lengths.rs`): which byte ranges of which
 * files make piece i, and which pieces touch file j. A `PieceIndex` is minted only by
 * `pieceIndex(n)`, which range-checks it, so code holding one never re-checks.
 */
export type PieceIndex = number & { readonly __brand: 'PieceIndex' };

/** BEP 3 block size: what every client requests and most refuse to exceed. */
export const BLOCK_LENGTH = 16 * 1024;

/** A run of bytes inside one file. */
export interface FileSlice {
  readonly fileIndex: number;
  /** Offset inside the file. */
  readonly fileOffset: number;
  readonly length: number;
}

export class Geometry {
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly pieceCount: number;
  readonly lastPieceLength: number;
  /** Start offset of each file in the torrent's byte stream. */
  readonly fileOffsets: readonly number[];
  readonly fileLengths: readonly number[];

  constructor(pieceLength: number, fileLengths: readonly number[]) {
    if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) {
      throw new MetainfoError('METAINFO_BAD_PIECE_LENGTH', { detail: String(pieceLength) });
    }
    const offsets: number[] = [];
    let total = 0;
    for (const len of fileLengths) {
      if (!Number.isSafeInteger(len) || len < 0) throw new MetainfoError('METAINFO_BAD_FILE_LENGTH', { detail: String(len) });
      offsets.push(total);
      total += len;
      if (!Number.isSafeInteger(total)) throw new MetainfoError('METAINFO_BAD_FILE_LENGTH', { detail: 'total length overflows' });
    }
    this.pieceLength = pieceLength;
    this.totalLength = total;
    this.fileOffsets = offsets;
    this.fileLengths = [...fileLengths];
    this.pieceCount = Math.ceil(total / pieceLength);
    this.lastPieceLength = total - (this.pieceCount - 1) * pieceLength;
  }

  /** The only way to get a `PieceIndex`. */
  pieceIndex(n: number): PieceIndex {
    if (!Number.isInteger(n) || n < 0 || n >= this.pieceCount) {
      throw new MetainfoError('METAINFO_PIECE_OUT_OF_RANGE', { detail: `${n} not in [0, ${this.pieceCount})` });
    }
    return n as PieceIndex;
  }

  isPieceIndex(n: number): n is PieceIndex {
    return Number.isInteger(n) && n >= 0 && n < this.pieceCount;
  }

  /** True when `[begin, begin + length)` is a non-empty byte range inside piece `index`. */
  isBlockRange(index: number, begin: number, length: number): boolean {
    return (
      this.isPieceIndex(index) &&
      Number.isInteger(begin) &&
      Number.isInteger(length) &&
      begin >= 0 &&
      length > 0 &&
      begin + length <= this.pieceLengthOf(index)
    );
  }

  pieceOffset(i: PieceIndex): number {
    return i * this.pieceLength;
  }

  pieceLengthOf(i: PieceIndex | number): number {
    return i === this.pieceCount - 1 ? this.lastPieceLength : this.pieceLength;
  }

  blockCount(i: PieceIndex): number {
    return Math.ceil(this.pieceLengthOf(i) / BLOCK_LENGTH);
  }

  blockLength(i: PieceIndex, block: number): number {
    return Math.min(BLOCK_LENGTH, this.pieceLengthOf(i) - block * BLOCK_LENGTH);
  }

  /** The file slices that make up `length` bytes from `offset` of the torrent; empty files never appear. */
  slices(offset: number, length: number): FileSlice[] {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.totalLength) {
      throw new MetainfoError('METAINFO_RANGE_OUT_OF_BOUNDS', { detail: `[${offset}, ${offset + length}) of ${this.totalLength}` });
    }
    const out: FileSlice[] = [];
    let f = this.fileAt(offset);
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const fileStart = this.fileOffsets[f]!;
      const fileEnd = fileStart + this.fileLengths[f]!;
      if (fileEnd > pos) {
        const n = Math.min(end, fileEnd) - pos;
        out.push({ fileIndex: f, fileOffset: pos - fileStart, length: n });
        pos += n;
      }
      f++;
    }
    return out;
  }

  pieceSlices(i: PieceIndex): FileSlice[] {
    return this.slices(this.pieceOffset(i), this.pieceLengthOf(i));
  }

  /** Pieces `[first, end)` that hold bytes of file `fileIndex`; empty for an empty file. */
  piecesOfFile(fileIndex: number): { readonly first: number; readonly end: number } {
    const start = this.fileOffsets[fileIndex];
    const len = this.fileLengths[fileIndex];
    if (start === undefined || len === undefined) {
      throw new MetainfoError('METAINFO_RANGE_OUT_OF_BOUNDS', { detail: `file ${fileIndex} of ${this.fileLengths.length}` });
    }
    if (len === 0) return { first: 0, end: 0 };
    return { first: Math.floor(start / this.pieceLength), end: Math.floor((start + len - 1) / this.pieceLength) + 1 };
  }

  /** Index of the non-empty file holding byte `offset` (binary search over the offsets). */
  fileAt(offset: number): number {
    let lo = 0;
    let hi = this.fileOffsets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.fileOffsets[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    // Several files can start at `offset` when some are empty; the loop in `slices` skips them.
    while (lo > 0 && this.fileOffsets[lo - 1] === this.fileOffsets[lo]) lo--;
    return lo;
  }
}

import type { TorrenttpError } from '../errors/index.js';
import type { Bitfield, Geometry, PieceIndex } from '../metainfo/index.js';
import { EngineError } from './errors.js';

/**
 * Readers of verified byte ranges (streaming: `torrenttp get -`, the in-order proxy). Rules:
 * - A reader yields bytes only of pieces the store verified, read back from the store, in order.
 * - While it waits at piece p, pieces p … p + window − 1 of its range carry deadlines (p first),
 *   so the picker asks for them before anything else; several readers' windows merge, the
 *   earliest deadline per piece winning. A reader that ends (done, `break`, error) drops its
 *   deadlines.
 * - A range must lie in the torrent and hold only wanted pieces (a file selection's): reading
 *   never makes an unselected piece wanted.
 */
export interface ReadOptions {
  /** First byte, default 0. */
  readonly start?: number;
  /** Last byte, inclusive (as `fs.createReadStream`); default the torrent's last byte. */
  readonly end?: number;
  /** Pieces ahead of the reader's position that get deadlines. Default 8. */
  readonly windowPieces?: number;
  /** Deadline step: piece k of the window is due k+1 steps from now. Default 1000 ms. */
  readonly pieceDeadlineMs?: number;
}

/** What readers need of their torrent. */
export interface ReaderHost {
  readonly geometry: Geometry;
  readonly have: Bitfield;
  wants(index: number): boolean;
  now(): number;
  /** Replace the piece deadlines (and request at once). */
  setDeadlines(deadlines: ReadonlyMap<number, number>): void;
  /** Bytes of a verified piece, owned by the caller. */
  readPiece(index: PieceIndex, begin: number, length: number): Promise<Uint8Array>;
}

/** Bytes `start..end`, inclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

interface Reader {
  position: number;
  readonly last: number;
  readonly window: number;
  readonly stepMs: number;
}

interface Waiter {
  resolve(): void;
  reject(e: TorrenttpError): void;
}

export const DEFAULT_READ_WINDOW_PIECES = 8;
export const DEFAULT_PIECE_DEADLINE_MS = 1000;

export class Readers {
  private readonly readers = new Set<Reader>();
  private readonly waiters = new Map<number, Waiter[]>();
  private ended: TorrenttpError | undefined;

  constructor(private readonly host: ReaderHost) {}

  get count(): number {
    return this.readers.size;
  }

  async *read(opts: ReadOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    const g = this.host.geometry;
    const { start, end, first, last, reader } = this.open(opts);
    if (reader === undefined) return; // an empty range
    this.readers.add(reader);
    try {
      for (let i = first; i <= last; i++) {
        reader.position = i;
        this.updateDeadlines();
        await this.verified(i);
        const offset = g.pieceOffset(i as PieceIndex);
        const from = Math.max(start, offset) - offset;
        const to = Math.min(end + 1, offset + g.pieceLengthOf(i)) - offset;
        yield await this.host.readPiece(i as PieceIndex, from, to - from);
      }
    } finally {
      this.readers.delete(reader);
      this.updateDeadlines();
    }
  }

  /**
   * `read` without the bytes: the byte ranges (inclusive) of `start..end`, in order, as their
   * pieces verify, each as long as the run of verified pieces at the reader's position (every
   * piece already in goes out as one range), with `read`'s deadlines. For a consumer that reads
   * the bytes itself in large reads (the proxy, from the data file): no read-back and no copy
   * per piece. While the consumer handles a range, the deadlines already stand after it.
   */
  async *verifiedRanges(opts: ReadOptions = {}): AsyncGenerator<ByteRange, void, undefined> {
    const g = this.host.geometry;
    const { start, end, first, last, reader } = this.open(opts);
    if (reader === undefined) return;
    this.readers.add(reader);
    try {
      let i = first;
      reader.position = i;
      this.updateDeadlines();
      while (i <= last) {
        await this.verified(i);
        let j = i;
        while (j < last && this.host.have.has(j + 1)) j++;
        const range = { start: Math.max(start, g.pieceOffset(i as PieceIndex)), end: Math.min(end, g.pieceOffset(j as PieceIndex) + g.pieceLengthOf(j) - 1) };
        i = j + 1;
        if (i <= last) {
          reader.position = i;
          this.updateDeadlines();
        }
        yield range;
      }
    } finally {
      this.readers.delete(reader);
      this.updateDeadlines();
    }
  }

  /** Checks a range; its reader (undefined for an empty range), not yet added. */
  private open(opts: ReadOptions): { start: number; end: number; first: number; last: number; reader: Reader | undefined } {
    const g = this.host.geometry;
    const start = opts.start ?? 0;
    const end = opts.end ?? g.totalLength - 1;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end >= g.totalLength || end < start - 1) {
      throw new EngineError('ENGINE_BAD_RANGE', { detail: `bytes ${start}-${end} of ${g.totalLength}` });
    }
    if (end < start) return { start, end, first: 0, last: -1, reader: undefined };
    const first = Math.floor(start / g.pieceLength);
    const last = Math.floor(end / g.pieceLength);
    for (let i = first; i <= last; i++) {
      if (!this.host.wants(i)) throw new EngineError('ENGINE_RANGE_NOT_SELECTED', { detail: `bytes ${start}-${end}: piece ${i}` });
    }
    if (this.ended !== undefined) throw this.ended;
    const reader: Reader = {
      position: first,
      last,
      window: Math.max(1, opts.windowPieces ?? DEFAULT_READ_WINDOW_PIECES),
      stepMs: opts.pieceDeadlineMs ?? DEFAULT_PIECE_DEADLINE_MS,
    };
    return { start, end, first, last, reader };
  }

  /** The store verified piece `index`. */
  pieceVerified(index: number): void {
    const w = this.waiters.get(index);
    if (w === undefined) return;
    this.waiters.delete(index);
    for (const x of w) x.resolve();
  }

  /** The torrent closed or failed: every reader ends with `err`. */
  end(err: TorrenttpError): void {
    this.ended ??= err;
    for (const w of this.waiters.values()) for (const x of w) x.reject(err);
    this.waiters.clear();
  }

  private verified(index: number): Promise<void> {
    if (this.host.have.has(index)) return Promise.resolve();
    if (this.ended !== undefined) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      let w = this.waiters.get(index);
      if (w === undefined) this.waiters.set(index, (w = []));
      w.push({ resolve, reject });
    });
  }

  private updateDeadlines(): void {
    const now = this.host.now();
    const d = new Map<number, number>();
    for (const r of this.readers) {
      for (let k = 0; k < r.window && r.position + k <= r.last; k++) {
        const i = r.position + k;
        const due = now + (k + 1) * r.stepMs;
        const had = d.get(i);
        if (had === undefined || due < had) d.set(i, due);
      }
    }
    this.host.setDeadlines(d);
  }
}

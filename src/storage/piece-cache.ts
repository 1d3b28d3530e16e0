/**
 * Whole verified pieces kept in memory for uploads, least recently used dropped first, bounded
 * in bytes (not entries: pieces run from 16 KiB to 16 MiB and more). Verified pieces never
 * change, so entries never go stale.
 *
 * Who may still see a piece's buffer decides whether it can be reused once dropped:
 * - `get` hands it out for good ("lent": its views may sit anywhere, for any time);
 * - `lease` hands it out until the returned release is called (a view waiting in a socket's
 *   write queue: released when written).
 * A piece dropped with no leases out and never lent goes to `onDrop`, which may reuse the
 * buffer; one dropped while leased goes there when its last lease is released. So on a leech
 * that uploads nothing every committed piece comes back, and on a seed every piece read.
 *
 * The bound covers the pieces being committed that will be `set` once written (`reserve`): room
 * is made for them when their commit starts, not when it ends, so the commit window and the
 * cache share one budget instead of adding up (each byte over it a new piece buffer whose pages
 * are faulted in).
 */
interface Entry {
  readonly piece: Uint8Array;
  lent: boolean;
  leases: number;
  dropped: boolean;
}

export class PieceCache {
  private readonly entries = new Map<number, Entry>();
  private bytes = 0;
  private reserved = 0;

  constructor(
    readonly maxBytes: number,
    private readonly onDrop: (unlent: Uint8Array) => void = () => undefined,
  ) {}

  /** Whether a piece of `length` bytes can be cached at all. */
  fits(length: number): boolean {
    return length <= this.maxBytes;
  }

  /** The piece, marked lent: the caller may keep views of it. */
  get(index: number): Uint8Array | undefined {
    const hit = this.touch(index);
    if (hit === undefined) return undefined;
    hit.lent = true;
    return hit.piece;
  }

  /** The piece and a release to call (once; more calls do nothing) when no view of it is used any more. */
  lease(index: number): { piece: Uint8Array; release: () => void } | undefined {
    const hit = this.touch(index);
    if (hit === undefined) return undefined;
    hit.leases++;
    let released = false;
    return {
      piece: hit.piece,
      release: () => {
        if (released) return;
        released = true;
        if (--hit.leases === 0 && hit.dropped && !hit.lent) this.onDrop(hit.piece);
      },
    };
  }

  /**
   * Room for a piece of `length` bytes whose commit starts now and which will be `set` when
   * written: the least recently used pieces go now (to `onDrop`, their buffers free for the next
   * pieces), as many as `set` would have pushed out then. Call the returned function (once; more
   * calls do nothing) when the commit ends, written or not, before `set`.
   */
  reserve(length: number): () => void {
    if (!this.fits(length)) return () => undefined;
    this.reserved += length;
    this.trim(undefined);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.reserved -= length;
    };
  }

  private touch(index: number): Entry | undefined {
    const hit = this.entries.get(index);
    if (hit === undefined) return undefined;
    this.entries.delete(index);
    this.entries.set(index, hit);
    return hit;
  }

  /** Caches `piece` (nobody holds views of it yet); a piece too big for the cache goes to `onDrop` at once. */
  set(index: number, piece: Uint8Array): void {
    if (!this.fits(piece.length)) {
      this.onDrop(piece);
      return;
    }
    this.delete(index);
    this.entries.set(index, { piece, lent: false, leases: 0, dropped: false });
    this.bytes += piece.length;
    this.trim(index);
  }

  /** Drops the least recently used pieces until the cached and reserved bytes fit; never `keep`, the piece just set. */
  private trim(keep: number | undefined): void {
    for (const [i, e] of this.entries) {
      if (this.bytes + this.reserved <= this.maxBytes || i === keep) break;
      this.drop(i, e);
    }
  }

  delete(index: number): void {
    const old = this.entries.get(index);
    if (old !== undefined) this.drop(index, old);
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
    this.reserved = 0;
  }

  private drop(index: number, e: Entry): void {
    this.entries.delete(index);
    this.bytes -= e.piece.length;
    e.dropped = true;
    if (!e.lent && e.leases === 0) this.onDrop(e.piece);
  }
}

/**
 * Whole verified pieces kept in memory for uploads, least recently used dropped first, bounded
 * in bytes (not entries: pieces run from 16 KiB to 16 MiB and more). Verified pieces never
 * change, so entries never go stale.
 *
 * An entry is "lent" once `get` handed it out (its views may sit in a socket's queue for a
 * while). A dropped entry that was never lent is passed to `onDrop`, which may reuse its buffer:
 * on a leech that uploads nothing, every committed piece comes back that way.
 */
interface Entry {
  readonly piece: Uint8Array;
  lent: boolean;
}

export class PieceCache {
  private readonly entries = new Map<number, Entry>();
  private bytes = 0;

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
    const hit = this.entries.get(index);
    if (hit === undefined) return undefined;
    this.entries.delete(index);
    this.entries.set(index, hit);
    hit.lent = true;
    return hit.piece;
  }

  /**
   * Caches `piece`; `lent` when the caller keeps views of it. A piece too big for the cache is
   * dropped at once (to `onDrop` unless lent).
   */
  set(index: number, piece: Uint8Array, lent = false): void {
    if (!this.fits(piece.length)) {
      if (!lent) this.onDrop(piece);
      return;
    }
    this.delete(index);
    this.entries.set(index, { piece, lent });
    this.bytes += piece.length;
    for (const [i, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
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
  }

  private drop(index: number, e: Entry): void {
    this.entries.delete(index);
    this.bytes -= e.piece.length;
    if (!e.lent) this.onDrop(e.piece);
  }
}

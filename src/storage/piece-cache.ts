/**
 * Whole verified pieces kept in memory for uploads, least recently used dropped first, bounded
 * in bytes (not entries: pieces run from 16 KiB to 16 MiB and more). Verified pieces never
 * change, so entries never go stale.
 */
export class PieceCache {
  private readonly entries = new Map<number, Uint8Array>();
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  /** Whether a piece of `length` bytes can be cached at all. */
  fits(length: number): boolean {
    return length <= this.maxBytes;
  }

  get(index: number): Uint8Array | undefined {
    const hit = this.entries.get(index);
    if (hit !== undefined) {
      this.entries.delete(index);
      this.entries.set(index, hit);
    }
    return hit;
  }

  set(index: number, piece: Uint8Array): void {
    if (!this.fits(piece.length)) return;
    this.delete(index);
    this.entries.set(index, piece);
    this.bytes += piece.length;
    for (const [i, p] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(i);
      this.bytes -= p.length;
    }
  }

  delete(index: number): void {
    const old = this.entries.get(index);
    if (old === undefined) return;
    this.entries.delete(index);
    this.bytes -= old.length;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

/**
 * An open-addressing hash index from a 32-bit hash to a small non-negative integer, in one
 * `Int32Array`: no object, string or box per entry, so a lookup touches one or two cache lines.
 * Linear probing at a load of at most 1/2, and backward-shift deletion (no tombstones), so probe
 * runs stay short however many entries come and go.
 *
 * The table does not know keys: a caller walks the cells whose hash matches (`start`, `next`,
 * `hashAt`, `valueAt`) and checks its own record for the key. Hashes must come from a keyed hash
 * (see `memory-store.ts`), so that nobody can choose keys that pile up on one run.
 */
export class ProbeTable {
  /** Cell `p` is `cells[2p]` (hash) and `cells[2p + 1]` (value + 1; 0 marks an empty cell). */
  cells: Int32Array;
  mask: number;
  size = 0;

  /** `capacity`: cells, a power of two. */
  constructor(capacity = 4) {
    this.cells = new Int32Array(2 * capacity);
    this.mask = capacity - 1;
  }

  /** The cell a hash's probe run starts at. */
  start(hash: number): number {
    return hash & this.mask;
  }

  next(p: number): number {
    return (p + 1) & this.mask;
  }

  /** The cell's value, or -1 for an empty cell (the end of a probe run). */
  valueAt(p: number): number {
    return this.cells[2 * p + 1]! - 1;
  }

  hashAt(p: number): number {
    return this.cells[2 * p]!;
  }

  setValueAt(p: number, value: number): void {
    this.cells[2 * p + 1] = value + 1;
  }

  /** Adds an entry (the caller has checked that its key is absent). */
  insert(hash: number, value: number): void {
    if (2 * (this.size + 1) > this.mask + 1) this.grow();
    this.place(hash, value);
    this.size++;
  }

  /** The cell holding `value` under `hash`; -1 if none does. */
  positionOf(hash: number, value: number): number {
    const c = this.cells;
    for (let p = hash & this.mask; ; p = (p + 1) & this.mask) {
      const v = c[2 * p + 1]!;
      if (v === 0) return -1;
      if (v === value + 1 && c[2 * p] === hash) return p;
    }
  }

  /** Empties cell `p` and shifts later members of its run back, so no run has a hole. */
  removeAt(p: number): void {
    const c = this.cells;
    const mask = this.mask;
    let hole = p;
    for (let q = (p + 1) & mask; c[2 * q + 1] !== 0; q = (q + 1) & mask) {
      const home = c[2 * q]! & mask;
      // Move q into the hole unless q's home lies cyclically in (hole, q].
      const stays = hole <= q ? hole < home && home <= q : hole < home || home <= q;
      if (!stays) {
        c[2 * hole] = c[2 * q]!;
        c[2 * hole + 1] = c[2 * q + 1]!;
        hole = q;
      }
    }
    c[2 * hole] = 0;
    c[2 * hole + 1] = 0;
    this.size--;
  }

  /** Bytes held. */
  get byteLength(): number {
    return this.cells.byteLength;
  }

  private place(hash: number, value: number): void {
    const c = this.cells;
    let p = hash & this.mask;
    while (c[2 * p + 1] !== 0) p = (p + 1) & this.mask;
    c[2 * p] = hash;
    c[2 * p + 1] = value + 1;
  }

  private grow(): void {
    const old = this.cells;
    this.cells = new Int32Array(old.length * 2);
    this.mask = old.length - 1;
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.place(old[i]!, old[i + 1]! - 1);
  }
}

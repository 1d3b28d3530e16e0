/**
 * Open-addressing hash indexes from a 32-bit hash to a small non-negative integer, kept in an
 * `Int32Array`: no object, string or box per entry, so a lookup touches one or two cache lines.
 * Linear probing at a load of at most 1/2, and backward-shift deletion (no tombstones), so probe
 * runs stay short however many entries come and go.
 *
 * A table is `2 × cells` int32s from `base` in some array (cell `p`: hash at `base + 2p`, value + 1
 * at `base + 2p + 1`, 0 marking an empty cell); `mask` is cells − 1, cells a power of two. The
 * functions work on a table anywhere (the memory store keeps one inside each torrent's buffer);
 * `ProbeTable` is one in an array of its own.
 *
 * The table does not know keys: a caller walks the cells whose hash matches and checks its own
 * record for the key. Hashes must come from a keyed hash (see `memory-store.ts`), so that nobody
 * can choose keys that pile up on one run.
 */

/** Stores `value` under `hash` in the first free cell of its run (the caller has checked that
 *  the key is absent and that the table has room). */
export function probePlace(a: Int32Array, base: number, mask: number, hash: number, value: number): void {
  let p = hash & mask;
  while (a[base + 2 * p + 1] !== 0) p = (p + 1) & mask;
  a[base + 2 * p] = hash;
  a[base + 2 * p + 1] = value + 1;
}

/** The cell holding `value` under `hash`; -1 if none does. */
export function probePositionOf(a: Int32Array, base: number, mask: number, hash: number, value: number): number {
  for (let p = hash & mask; ; p = (p + 1) & mask) {
    const v = a[base + 2 * p + 1]!;
    if (v === 0) return -1;
    if (v === value + 1 && a[base + 2 * p] === hash) return p;
  }
}

/** Empties cell `p` and shifts later members of its run back, so no run has a hole. */
export function probeRemoveAt(a: Int32Array, base: number, mask: number, p: number): void {
  let hole = p;
  for (let q = (p + 1) & mask; a[base + 2 * q + 1] !== 0; q = (q + 1) & mask) {
    const home = a[base + 2 * q]! & mask;
    // Move q into the hole unless q's home lies cyclically in (hole, q].
    const stays = hole <= q ? hole < home && home <= q : hole < home || home <= q;
    if (!stays) {
      a[base + 2 * hole] = a[base + 2 * q]!;
      a[base + 2 * hole + 1] = a[base + 2 * q + 1]!;
      hole = q;
    }
  }
  a[base + 2 * hole] = 0;
  a[base + 2 * hole + 1] = 0;
}

/** Re-places every entry of the table at `from` into the (empty, larger) table at `to`. */
export function probeRehash(from: Int32Array, fromBase: number, fromMask: number, to: Int32Array, toBase: number, toMask: number): void {
  for (let p = 0; p <= fromMask; p++) {
    const v = from[fromBase + 2 * p + 1]!;
    if (v !== 0) probePlace(to, toBase, toMask, from[fromBase + 2 * p]!, v - 1);
  }
}

/** A table in an array of its own, growing as it fills. */
export class ProbeTable {
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

  /** Adds an entry (the caller has checked that its key is absent). */
  insert(hash: number, value: number): void {
    if (2 * (this.size + 1) > this.mask + 1) {
      const old = this.cells;
      const oldMask = this.mask;
      this.cells = new Int32Array(old.length * 2);
      this.mask = 2 * oldMask + 1;
      probeRehash(old, 0, oldMask, this.cells, 0, this.mask);
    }
    probePlace(this.cells, 0, this.mask, hash, value);
    this.size++;
  }

  positionOf(hash: number, value: number): number {
    return probePositionOf(this.cells, 0, this.mask, hash, value);
  }

  removeAt(p: number): void {
    probeRemoveAt(this.cells, 0, this.mask, p);
    this.size--;
  }
}

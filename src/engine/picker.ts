import { BLOCK_LENGTH, type Bitfield, type Geometry, type PieceIndex } from '../metainfo/index.js';
import type { BlockRequest } from '../transport/index.js';

/**
 * Piece picker: which blocks to ask a peer for. Pure state; randomness is injected.
 *
 * Order (libtorrent's, see piece_picker.hpp):
 * 0. Pieces with a deadline (a reader streaming from byte X wants pieces X.. first; libtorrent's
 *    `set_piece_deadline` / time-critical pieces): earliest deadline first, ties by index,
 *    whether in progress or new, before anything below. Several readers' deadlines merge
 *    (the earliest per piece wins).
 * 1. Blocks of pieces already in progress, oldest first, so pieces complete and can be
 *    verified and shared; this is also what lets several peers fill one piece.
 * 2. A new piece: the rarest among the peer's pieces we lack (random among equals), except
 *    that the first few pieces are picked at random, so we soon have something to trade;
 *    in sequential mode, strictly the lowest index (streaming).
 * 3. Endgame, once every missing block is requested: blocks already requested from another
 *    peer (at most `maxDuplicates` requests per block); the engine cancels the others when one
 *    arrives. Only peers that do not prefer runs get duplicates: a web seed's or HTTP peer's
 *    duplicate is a whole HTTP request per block, usually thrown away.
 * Peers that prefer runs (web seeds, HTTP peers: one HTTP request per run) get contiguous
 * blocks: a new piece whole, and from a half-done piece its longest run of free blocks (not
 * the free blocks scattered around other peers' requests). A run that ends at a piece's last
 * block goes on into the next piece when that one is free to start, in place of a rarest-first
 * pick, so a run can span pieces (libtorrent's `prefer_contiguous_blocks`).
 * Only `wanted` pieces (those holding bytes of selected files) are ever started; the others
 * count neither as missing (endgame) nor as a reason to be interested in a peer.
 *
 * Invariants: `requested[b]` counts outstanding requests of a block; a received block is never
 * requested again; `unrequested` is the number of missing blocks with no request, so endgame is
 * `unrequested === 0 && missing > 0`.
 */
export interface PickerOptions {
  readonly sequential?: boolean;
  readonly rng?: () => number;
  /** Pieces picked at random before rarest-first applies. Default 4 (libtorrent's initial random pieces). */
  readonly randomFirstPieces?: number;
  /** Requests per block in endgame. Default 2. */
  readonly maxDuplicates?: number;
  /** Pieces to download (a file selection's); default all. */
  readonly wanted?: Bitfield;
}

interface Partial {
  readonly index: PieceIndex;
  readonly blocks: number;
  readonly received: Uint8Array;
  readonly requested: Uint8Array;
  receivedCount: number;
  /** Blocks neither received nor requested: 0 means nothing here to take (this piece's share of `unrequested`). */
  free: number;
}

export class PiecePicker {
  readonly availability: Uint32Array;
  sequential: boolean;
  private readonly partials = new Map<number, Partial>();
  /** Wanted pieces with a deadline, earliest first (`setDeadlines`). */
  private urgent: number[] = [];
  private readonly rng: () => number;
  private readonly randomFirst: number;
  private readonly maxDuplicates: number;
  private readonly wanted: Bitfield | undefined;
  /** Wanted pieces not verified yet. */
  private missingPieces = 0;
  private unrequested = 0;
  private missingBlocks = 0;

  constructor(
    private readonly geometry: Geometry,
    private readonly have: Bitfield,
    opts: PickerOptions = {},
  ) {
    this.availability = new Uint32Array(geometry.pieceCount);
    this.sequential = opts.sequential ?? false;
    this.rng = opts.rng ?? Math.random;
    this.randomFirst = opts.randomFirstPieces ?? 4;
    this.maxDuplicates = opts.maxDuplicates ?? 2;
    this.wanted = opts.wanted?.complete === true ? undefined : opts.wanted;
    for (let i = 0; i < geometry.pieceCount; i++) {
      if (!have.has(i) && this.wants(i)) {
        this.missingBlocks += geometry.blockCount(i as PieceIndex);
        this.missingPieces++;
      }
    }
    this.unrequested = this.missingBlocks;
  }

  // ── availability ──────────────────────────────────────────────────────────────────────
  addBitfield(b: Bitfield): void {
    for (const i of b) this.availability[i]!++;
  }

  removeBitfield(b: Bitfield): void {
    for (const i of b) if (this.availability[i]! > 0) this.availability[i]!--;
  }

  addHave(index: number): void {
    this.availability[index]!++;
  }

  removeHave(index: number): void {
    if (this.availability[index]! > 0) this.availability[index]!--;
  }

  // ── priorities ────────────────────────────────────────────────────────────────────────
  /**
   * Replaces every piece deadline (piece → ms on the owner's clock). Pieces already verified or
   * not wanted are ignored: a deadline never makes an unselected piece wanted.
   */
  setDeadlines(deadlines: ReadonlyMap<number, number>): void {
    this.urgent = [...deadlines.entries()]
      .filter(([i]) => i >= 0 && i < this.geometry.pieceCount && this.wants(i) && !this.have.has(i))
      .sort((a, b) => a[1] - b[1] || a[0] - b[0])
      .map(([i]) => i);
  }

  /** Pieces that have a deadline and are still missing, earliest first. */
  get deadlinePieces(): readonly number[] {
    return this.urgent.filter((i) => !this.have.has(i));
  }

  // ── state ─────────────────────────────────────────────────────────────────────────────
  get endgame(): boolean {
    // Both tests run on every call, not the second only once nothing is unrequested: V8 compiles
    // this into pick, fill and the block handler, and an operation it never saw run there is a
    // deopt of all three (and a recompile) at the start of every endgame.
    const missing = this.missingBlocks > 0;
    return this.unrequested === 0 && missing;
  }

  get inProgress(): number {
    return this.partials.size;
  }

  /**
   * True when `peer` has a wanted piece we lack. Asked of every interested peer on every verified
   * piece: a byte-wise scan (`nextSetNotIn`) of what it has and we lack, not a call per piece it
   * has (in a crowd of partial peers that was most of the pieces, again and again).
   */
  interestedIn(peer: Bitfield): boolean {
    const missing = this.missingPieces > 0; // always, as in `endgame`: the first seed's call is no deopt
    if (peer.complete) return missing;
    const n = peer.pieceCount;
    for (let i = peer.nextSetNotIn(this.have, 0, n); i >= 0; i = peer.nextSetNotIn(this.have, i + 1, n)) if (this.wants(i)) return true;
    return false;
  }

  /** Whether piece `index` is to be downloaded (it holds bytes of a selected file). */
  wants(index: number): boolean {
    return this.wanted === undefined || this.wanted.has(index);
  }

  /** Wanted pieces not verified yet: 0 means the download (of the selection) is complete. */
  get missing(): number {
    return this.missingPieces;
  }

  /**
   * Up to `max` blocks to request from a peer holding `peer`. `isOutstanding(index, block)`
   * says whether this peer already has that block requested (endgame must not ask twice).
   * `locked`: pieces not to ask this peer for (it sent blocks of a failed copy; libtorrent's
   * `lock_piece`), as if it lacked them.
   */
  pick(
    peer: Bitfield,
    max: number,
    prefersRuns: boolean,
    isOutstanding: (index: number, block: number) => boolean,
    locked?: ReadonlySet<number>,
  ): BlockRequest[] {
    const out: BlockRequest[] = [];
    if (max <= 0) return out;
    if (locked !== undefined && locked.size > 0) peer = withoutPieces(peer, locked);
    // Run-preferring peers: the piece whose last block ends `out` (its run may go on into the next piece), else -1.
    let runEnd = -1;
    for (const i of this.urgent) {
      if (out.length >= max) return out;
      if (this.have.has(i) || !peer.has(i)) continue;
      const p = this.partials.get(i) ?? this.start(i as PieceIndex);
      runEnd = this.take(p, out, max, prefersRuns) ?? runEnd;
    }
    // Pieces in progress, all requested, are skipped by their count: a deep pipeline keeps dozens
    // of them, and looking through each one's blocks on every pick was most of the picker's time.
    for (const p of this.partials.values()) {
      if (out.length >= max) return out;
      if (p.free === 0 || !peer.has(p.index)) continue;
      runEnd = this.take(p, out, max, prefersRuns) ?? runEnd;
    }
    while (out.length < max) {
      const next = runEnd + 1;
      const index = prefersRuns && runEnd >= 0 && next < this.geometry.pieceCount && this.startable(peer, next) ? (next as PieceIndex) : this.choosePiece(peer);
      if (index === undefined) break;
      runEnd = this.take(this.start(index), out, max, prefersRuns) ?? runEnd;
    }
    // Endgame duplicates go only to peers that take single blocks (wire peers): a run-preferring
    // peer pays one HTTP request per block, and the answer is usually thrown away when the wire
    // copy arrives first (the origin's excess upload). It still gets every free block above, and
    // a block whose request fails, times out or is cancelled is free again (`release`), so a
    // torrent whose only source is a web seed completes.
    if (out.length < max && !prefersRuns && this.endgame) {
      // The caller records this call's requests only after it returns: skip them here too.
      const taken = new Set(out.map((r) => `${r.index}:${r.begin}`));
      for (const p of this.partials.values()) {
        if (!peer.has(p.index)) continue;
        for (let b = 0; b < p.blocks && out.length < max; b++) {
          if (p.received[b] === 0 && p.requested[b]! < this.maxDuplicates && !isOutstanding(p.index, b) && !taken.has(`${p.index}:${b * BLOCK_LENGTH}`)) {
            p.requested[b]!++;
            out.push(this.req(p, b));
          }
        }
        if (out.length >= max) break;
      }
    }
    return out;
  }

  /** A request that ended without data (rejected, timed out, peer gone). */
  release(index: number, begin: number): void {
    const p = this.partials.get(index);
    if (p === undefined) return;
    const b = begin / BLOCK_LENGTH;
    if (p.requested[b]! > 0) {
      p.requested[b]!--;
      if (p.requested[b] === 0 && p.received[b] === 0) {
        this.unrequested++;
        p.free++;
      }
    }
  }

  /** A block arrived: true when it is new (copy it), false for a duplicate (endgame) or a piece we don't want. */
  receive(index: number, begin: number): boolean {
    const p = this.partials.get(index);
    if (p === undefined) return false;
    const b = begin / BLOCK_LENGTH;
    const requested = p.requested[b]! > 0;
    if (requested) p.requested[b]!--;
    if (p.received[b] !== 0) return false;
    if (!requested) {
      // A block nobody had asked for any more (released, then it came after all): it leaves the free ones.
      this.unrequested--;
      p.free--;
    }
    p.received[b] = 1;
    p.receivedCount++;
    this.missingBlocks--;
    return true;
  }

  /** All blocks of `index` are in. */
  isComplete(index: number): boolean {
    const p = this.partials.get(index);
    return p !== undefined && p.receivedCount === p.blocks;
  }

  /** The piece passed its hash check and is stored. */
  verified(index: number): void {
    if (this.partials.delete(index)) this.missingPieces--;
  }

  /**
   * A wanted piece that was missing and never started here (no block picked) came whole from
   * elsewhere and is verified and stored: it leaves the missing counts as if its blocks had come
   * one by one (`Downloader.commitWhole`). False, changing nothing, when the piece was started.
   */
  adopt(index: number): boolean {
    if (this.partials.has(index) || !this.wants(index)) return false;
    const blocks = this.geometry.blockCount(index as PieceIndex);
    this.missingPieces--;
    this.missingBlocks -= blocks;
    this.unrequested -= blocks;
    return true;
  }

  /** The piece failed its hash check: every block is wanted again. */
  failed(index: number): void {
    const p = this.partials.get(index);
    if (p === undefined) return;
    this.partials.delete(index);
    this.missingBlocks += p.blocks;
    // Blocks still requested (endgame duplicates) are released as they come back.
    let outstanding = 0;
    for (const r of p.requested) if (r > 0) outstanding++;
    this.unrequested += p.blocks - outstanding;
    if (outstanding > 0) {
      // Keep a fresh partial so the stragglers' releases land somewhere.
      const fresh = this.start(p.index);
      fresh.requested.set(p.requested);
      fresh.free = p.blocks - outstanding;
    }
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────
  private start(index: PieceIndex): Partial {
    const blocks = this.geometry.blockCount(index);
    const p: Partial = { index, blocks, received: new Uint8Array(blocks), requested: new Uint8Array(blocks), receivedCount: 0, free: blocks };
    this.partials.set(index, p);
    return p;
  }

  /**
   * Free blocks of `p` into `out`: in block order up to `max` in all; for a run-preferring peer
   * its longest run of free blocks (the first of equals), a piece with nothing received whole
   * even past `max`. Returns `p.index` when what was taken ends at the piece's last block (a
   * run-preferring peer's run may go on into the next piece), -1 when it does not, undefined
   * when nothing was taken (the run so far still ends where it did).
   */
  private take(p: Partial, out: BlockRequest[], max: number, prefersRuns: boolean): number | undefined {
    if (!prefersRuns) {
      this.takeFree(p, out, max);
      return -1;
    }
    let start = 0;
    let length = 0;
    for (let b = 0; b < p.blocks; ) {
      if (p.received[b] !== 0 || p.requested[b] !== 0) {
        b++;
        continue;
      }
      let e = b;
      while (e < p.blocks && p.received[e] === 0 && p.requested[e] === 0) e++;
      if (e - b > length) {
        start = b;
        length = e - b;
      }
      b = e;
    }
    if (length === 0) return undefined;
    const end = p.receivedCount === 0 ? start + length : Math.min(start + length, start + Math.max(0, max - out.length));
    for (let b = start; b < end; b++) {
      p.requested[b] = 1;
      this.unrequested--;
      p.free--;
      out.push(this.req(p, b));
    }
    return end === p.blocks ? p.index : -1;
  }

  private takeFree(p: Partial, out: BlockRequest[], max: number): void {
    for (let b = 0; b < p.blocks && p.free > 0 && out.length < max; b++) {
      if (p.received[b] === 0 && p.requested[b] === 0) {
        p.requested[b] = 1;
        this.unrequested--;
        p.free--;
        out.push(this.req(p, b));
      }
    }
  }

  /** Piece `i` may be started for a peer holding `peer`: it has it, we want it and lack it, nobody started it. */
  private startable(peer: Bitfield, i: number): boolean {
    return peer.has(i) && !this.have.has(i) && !this.partials.has(i) && this.wants(i);
  }

  private req(p: Partial, b: number): BlockRequest {
    return { index: p.index, begin: b * BLOCK_LENGTH, length: this.geometry.blockLength(p.index, b) };
  }

  /**
   * Rarest first, ties broken by where a scan from a random piece meets them first. The scan
   * stops at a piece only this peer has (availability 1 is the floor, it holds the piece): with
   * one seed, or any piece that is unique to the peer, a pick costs O(1) instead of a pass over
   * every piece. (A reservoir-sampled tie over the whole torrent made each new piece O(n), so
   * O(n²) for a download, and drew a random number per tie.)
   */
  private choosePiece(peer: Bitfield): PieceIndex | undefined {
    const n = this.geometry.pieceCount;
    // Pieces the peer has and we lack, a byte of the bitfields at a time (`fill` runs on every
    // block, and a peer that holds few pieces we lack, a super-seed's, made it a pass over every
    // piece each time: a quarter of a 256 MiB download's main-thread CPU).
    const next = (i: number, to: number): number => {
      for (let j = peer.nextSetNotIn(this.have, i, to); j >= 0; j = peer.nextSetNotIn(this.have, j + 1, to)) {
        if (!this.partials.has(j) && this.wants(j)) return j;
      }
      return -1;
    };
    if (this.sequential) {
      const i = next(0, n);
      return i < 0 ? undefined : (i as PieceIndex);
    }
    const random = this.have.count + this.partials.size < this.randomFirst;
    const from = Math.min(n - 1, Math.floor(this.rng() * n));
    let best = -1;
    let bestAvail = Infinity;
    // From `from` to the end, then from 0 to `from`: ties go to the first met.
    for (const [lo, hi] of [
      [from, n],
      [0, from],
    ] as const) {
      for (let i = next(lo, hi); i >= 0; i = next(i + 1, hi)) {
        if (random) return i as PieceIndex;
        const a = this.availability[i]!;
        if (a < bestAvail) {
          bestAvail = a;
          best = i;
          if (a <= 1) return i as PieceIndex;
        }
      }
    }
    return best < 0 ? undefined : (best as PieceIndex);
  }
}

/** `b` without `pieces`: a copy, made only for a peer with locked pieces (rare). */
function withoutPieces(b: Bitfield, pieces: ReadonlySet<number>): Bitfield {
  const c = b.clone();
  for (const i of pieces) c.clear(i);
  return c;
}

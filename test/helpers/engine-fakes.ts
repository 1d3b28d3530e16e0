import { createHash } from 'node:crypto';
import { Bitfield, type Metainfo, type PieceIndex } from '../../src/metainfo/index.js';
import type { TorrenttpError } from '../../src/errors/index.js';
import type { BlockRequest, PeerEvent, PeerKind, PeerLink, PeerSocketAddress } from '../../src/transport/index.js';
import type { TorrentStore } from '../../src/engine/index.js';

/** An in-memory store that verifies pieces like the real one. */
export class MemoryStore implements TorrentStore {
  readonly bitfield: Bitfield;
  readonly data: Uint8Array;
  commits = 0;
  /** The `cache` argument of each commit, in order. */
  readonly cacheFlags: (boolean | undefined)[] = [];
  failWith: Error | undefined;

  constructor(readonly metainfo: Metainfo, source?: Uint8Array) {
    this.data = new Uint8Array(metainfo.length);
    this.bitfield = new Bitfield(metainfo.pieceCount);
    if (source !== undefined) {
      this.data.set(source);
      for (let i = 0; i < metainfo.pieceCount; i++) this.bitfield.set(i);
    }
  }

  async commitPiece(index: PieceIndex, data: Uint8Array, cache?: boolean): Promise<boolean> {
    this.cacheFlags.push(cache);
    await new Promise((r) => setImmediate(r));
    if (this.failWith !== undefined) throw this.failWith;
    this.commits++;
    const want = this.metainfo.pieceHashes.subarray(index * 20, index * 20 + 20);
    const got = createHash('sha1').update(data).digest();
    if (!got.equals(want)) return false;
    this.data.set(data, index * this.metainfo.pieceLength);
    this.bitfield.set(index);
    return true;
  }

  async readBlock(index: PieceIndex, begin: number, length: number): Promise<Uint8Array> {
    const at = index * this.metainfo.pieceLength + begin;
    return this.data.subarray(at, at + length);
  }

  async saveResume(): Promise<void> {}
  async close(): Promise<void> {}
}

export interface FakeLinkOptions {
  kind?: PeerKind;
  id?: string;
  /** Which pieces it has; default all. */
  has?: (index: number) => boolean;
  /** Corrupt blocks of these pieces. */
  corrupt?: (index: number) => boolean;
  queueDepth?: number;
  /** Starts choking us. */
  choking?: boolean;
  /** Holds requests: they end only by `deliver`, `timeOut`, `chokeUs` or close. */
  stall?: boolean;
  /** Sends nothing at all at first (no `bitfield`, no `unchoke`): a peer that only shook hands. */
  silent?: boolean;
  /** The peer id of its handshake (a wire peer's); default none. */
  peerId?: Uint8Array;
  /** Its socket address (says who dialled); default none. */
  address?: PeerSocketAddress;
}

/**
 * A peer that serves blocks of `source` and records what it was asked. It keeps every
 * `PeerLink` rule (test/helpers/peer-link-conformance.ts checks it like the real links):
 * - Events are delivered in order and never from inside a `PeerLink` method: what a method
 *   causes is queued and delivered in a microtask. Test controls (`emit`, `deliver`, `have`,
 *   `chokeUs`, `timeOut`, `drop`) are called from outside, so they deliver at once (after
 *   anything still queued), which lets a test step the engine deterministically.
 * - `request` never throws: a request while it chokes us, outside the torrent, or for a block
 *   already outstanding ends as `rejected` carrying that very request.
 * - Every accepted request ends exactly once: `block`, `rejected` (choke, time-out) or `closed`;
 *   `cancel` ends one silently.
 * - `bitfield` is updated before `have` is emitted; at most one `bitfield` event, first.
 * - After `closed`, no more events and methods are no-ops; `sendBlock`'s `done` runs once.
 */
export class FakeLink implements PeerLink {
  readonly kind: PeerKind;
  readonly id: string;
  readonly bitfield: Bitfield;
  readonly canDownload = true;
  readonly canUpload: boolean;
  readonly prefersRuns: boolean;
  readonly peerId: Uint8Array | undefined;
  readonly address: PeerSocketAddress | undefined;
  readonly pollsHaves = false;
  desiredQueueDepth: number;
  peerChoking: boolean;
  /** Every `request` call, in order (including those it rejected). */
  readonly requests: BlockRequest[] = [];
  readonly cancels: BlockRequest[] = [];
  readonly sent: { req: BlockRequest; data: Uint8Array }[] = [];
  readonly haves: number[] = [];
  /** The haves announced with `now` (the peer waits for them). */
  readonly havesNow: number[] = [];
  amChoking = true;
  /** Blocks given to `sendBlock` wait (a wire link's send queue) until `dropBlocks`, instead of being written. */
  holdBlocks = false;
  private readonly held: (((written: boolean) => void) | undefined)[] = [];
  /** Every `setChoking` call, in order. */
  readonly chokings: boolean[] = [];
  amInterested = false;
  closed = false;
  closeReason: unknown;
  /** Accepted requests not yet ended, in request order, by absolute block offset. */
  private readonly outstanding = new Map<number, BlockRequest>();
  private queue: PeerEvent[] = [];
  private flushScheduled = false;
  private ended = false;
  private readonly stall: boolean;

  constructor(
    private readonly source: Uint8Array,
    private readonly metainfo: Metainfo,
    private readonly onEvent: (e: PeerEvent) => void,
    private readonly opts: FakeLinkOptions = {},
  ) {
    this.kind = opts.kind ?? 'wire';
    this.id = opts.id ?? `fake-${Math.random().toString(36).slice(2)}`;
    this.prefersRuns = this.kind !== 'wire';
    this.peerId = opts.peerId;
    this.address = opts.address;
    this.canUpload = this.kind !== 'webseed';
    this.desiredQueueDepth = opts.queueDepth ?? 16;
    this.peerChoking = opts.choking ?? false;
    this.stall = opts.stall ?? false;
    this.bitfield = new Bitfield(metainfo.pieceCount);
    for (let i = 0; i < metainfo.pieceCount; i++) if (opts.has?.(i) ?? true) this.bitfield.set(i);
    if (opts.silent === true) this.peerChoking = true;
    else {
      this.later({ type: 'bitfield', bitfield: this.bitfield });
      if (!this.peerChoking) this.later({ type: 'unchoke' });
    }
  }

  /** Requests accepted and not yet answered, oldest first. */
  get pending(): BlockRequest[] {
    return [...this.outstanding.values()];
  }

  // ── test controls: called from outside the link's methods, so they deliver at once ──────
  /** Delivers `e` now (after anything still queued). */
  emit(e: PeerEvent): void {
    this.flush();
    this.deliver1(e);
  }

  /** Answers up to `n` held requests, oldest first. */
  deliver(n = Infinity): void {
    this.flush();
    for (const [k, req] of [...this.outstanding]) {
      if (n-- <= 0 || this.closed) return;
      this.outstanding.delete(k);
      this.deliver1({ type: 'block', req, data: this.blockOf(req) });
    }
  }

  /** The peer gets piece `index`: its bitfield first, then `have`. */
  have(index: number): void {
    this.bitfield.set(index);
    this.emit({ type: 'have', index: index as PieceIndex });
  }

  /** Chokes us: a `choke`, then every outstanding request `rejected` (BEP 3, like the wire link). */
  chokeUs(): void {
    if (this.closed) return;
    this.peerChoking = true;
    this.emit({ type: 'choke' });
    this.rejectOutstanding();
  }

  unchokeUs(): void {
    if (this.closed) return;
    this.peerChoking = false;
    this.emit({ type: 'unchoke' });
  }

  /** Every outstanding request timed out, as the wire link does it: snubbed (depth 1), then `rejected`. */
  timeOut(): void {
    if (this.closed) return;
    this.desiredQueueDepth = 1;
    this.flush();
    this.rejectOutstanding();
  }

  /** The remote goes away: `closed` with `reason`. */
  drop(reason?: TorrenttpError): void {
    if (this.closed) return;
    this.closed = true;
    this.dropBlocks();
    this.outstanding.clear();
    this.flush();
    this.deliver1(reason === undefined ? { type: 'closed' } : { type: 'closed', reason });
  }

  // ── PeerLink ───────────────────────────────────────────────────────────────────────────
  request(req: BlockRequest): void {
    if (this.closed) return;
    this.requests.push(req);
    const k = this.key(req);
    if (this.peerChoking || !this.metainfo.geometry.isBlockRange(req.index, req.begin, req.length) || this.outstanding.has(k)) {
      this.later({ type: 'rejected', req });
      return;
    }
    this.outstanding.set(k, req);
    if (this.stall) return;
    setImmediate(() => {
      if (this.closed || this.outstanding.get(k) !== req) return;
      this.outstanding.delete(k);
      this.emit({ type: 'block', req, data: this.blockOf(req) });
    });
  }

  cancel(req: BlockRequest): void {
    if (this.closed) return;
    this.cancels.push(req);
    const k = this.key(req);
    if (this.outstanding.get(k)?.length === req.length) this.outstanding.delete(k);
  }

  setChoking(choking: boolean): void {
    if (this.closed) return;
    this.amChoking = choking;
    this.chokings.push(choking);
  }
  setInterested(interested: boolean): void {
    if (!this.closed) this.amInterested = interested;
  }
  announceHave(index: PieceIndex, now = false): void {
    if (this.closed) return;
    this.haves.push(index);
    if (now) this.havesNow.push(index);
  }
  sendBlock(req: BlockRequest, data: Uint8Array, done?: (written: boolean) => void): void {
    if (this.closed) {
      done?.(false);
      return;
    }
    if (this.holdBlocks) {
      this.held.push(done);
      return;
    }
    this.sent.push({ req, data: data.slice() });
    done?.(true);
  }

  /** Drops the blocks `holdBlocks` kept, as our choke drops the ones a wire link had queued. */
  dropBlocks(): void {
    for (const done of this.held.splice(0)) done?.(false);
  }
  close(reason?: TorrenttpError): void {
    if (this.closed) return;
    this.closeReason = reason;
    this.closed = true;
    this.dropBlocks();
    this.outstanding.clear();
    this.later(reason === undefined ? { type: 'closed' } : { type: 'closed', reason });
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────
  private key(req: BlockRequest): number {
    return req.index * this.metainfo.pieceLength + req.begin;
  }

  private blockOf(req: BlockRequest): Uint8Array {
    const at = req.index * this.metainfo.pieceLength + req.begin;
    const data = this.source.subarray(at, at + req.length);
    return this.opts.corrupt?.(req.index) === true ? data.map((b) => b ^ 0xff) : data;
  }

  private rejectOutstanding(): void {
    const reqs = [...this.outstanding.values()];
    this.outstanding.clear();
    for (const req of reqs) this.deliver1({ type: 'rejected', req });
  }

  /** Queues an event caused by a `PeerLink` method: delivered in a microtask, never re-entrantly. */
  private later(e: PeerEvent): void {
    if (this.ended) return;
    if (e.type === 'closed') this.ended = true;
    this.queue.push(e);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    while (this.queue.length > 0) this.onEvent(this.queue.shift()!);
  }

  private deliver1(e: PeerEvent): void {
    this.flush(); // what is queued came first
    if (this.ended) return;
    if (e.type === 'closed') this.ended = true;
    this.onEvent(e);
  }
}

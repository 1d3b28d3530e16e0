import { createHash } from 'node:crypto';
import { Bitfield, type Metainfo, type PieceIndex } from '../../src/metainfo/index.js';
import type { BlockRequest, PeerEvent, PeerKind, PeerLink } from '../../src/transport/index.js';
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
  /** Never answers requests. */
  stall?: boolean;
}

/** A peer that serves blocks of `source` asynchronously and records what it was asked. */
export class FakeLink implements PeerLink {
  readonly kind: PeerKind;
  readonly id: string;
  readonly bitfield: Bitfield;
  readonly canDownload = true;
  readonly canUpload: boolean;
  readonly prefersRuns: boolean;
  readonly pollsHaves = false;
  desiredQueueDepth: number;
  peerChoking: boolean;
  readonly requests: BlockRequest[] = [];
  readonly cancels: BlockRequest[] = [];
  readonly sent: { req: BlockRequest; data: Uint8Array }[] = [];
  readonly haves: number[] = [];
  amChoking = true;
  amInterested = false;
  closed = false;
  closeReason: unknown;
  private readonly outstanding = new Set<string>();

  constructor(
    private readonly source: Uint8Array,
    private readonly metainfo: Metainfo,
    private readonly onEvent: (e: PeerEvent) => void,
    private readonly opts: FakeLinkOptions = {},
  ) {
    this.kind = opts.kind ?? 'wire';
    this.id = opts.id ?? `fake-${Math.random().toString(36).slice(2)}`;
    this.prefersRuns = this.kind !== 'wire';
    this.canUpload = this.kind !== 'webseed';
    this.desiredQueueDepth = opts.queueDepth ?? 16;
    this.peerChoking = opts.choking ?? false;
    this.bitfield = new Bitfield(metainfo.pieceCount);
    for (let i = 0; i < metainfo.pieceCount; i++) if (opts.has?.(i) ?? true) this.bitfield.set(i);
    queueMicrotask(() => {
      this.emit({ type: 'bitfield', bitfield: this.bitfield });
      if (!this.peerChoking) this.emit({ type: 'unchoke' });
    });
  }

  emit(e: PeerEvent): void {
    if (!this.closed) this.onEvent(e);
  }

  request(req: BlockRequest): void {
    if (this.closed) return;
    this.requests.push(req);
    if (this.opts.stall === true) return;
    const k = `${req.index}:${req.begin}`;
    this.outstanding.add(k);
    setImmediate(() => {
      if (this.closed || !this.outstanding.delete(k)) return;
      const at = req.index * this.metainfo.pieceLength + req.begin;
      let data = this.source.subarray(at, at + req.length);
      if (this.opts.corrupt?.(req.index) === true) data = data.map((b) => b ^ 0xff);
      this.emit({ type: 'block', req, data });
    });
  }

  cancel(req: BlockRequest): void {
    this.cancels.push(req);
    this.outstanding.delete(`${req.index}:${req.begin}`);
  }

  /** Choke us: outstanding requests are rejected, as the contract says. */
  chokeUs(): void {
    this.peerChoking = true;
    this.emit({ type: 'choke' });
    for (const k of [...this.outstanding]) {
      this.outstanding.delete(k);
      const [index, begin] = k.split(':').map(Number) as [number, number];
      this.emit({ type: 'rejected', req: { index: index as PieceIndex, begin, length: 0 } });
    }
  }

  unchokeUs(): void {
    this.peerChoking = false;
    this.emit({ type: 'unchoke' });
  }

  setChoking(choking: boolean): void {
    this.amChoking = choking;
  }
  setInterested(interested: boolean): void {
    this.amInterested = interested;
  }
  announceHave(index: PieceIndex): void {
    this.haves.push(index);
  }
  sendBlock(req: BlockRequest, data: Uint8Array): void {
    this.sent.push({ req, data: data.slice() });
  }
  close(reason?: unknown): void {
    if (this.closed) return;
    this.closeReason = reason;
    queueMicrotask(() => this.onEvent({ type: 'closed' }));
    this.closed = true;
  }
}

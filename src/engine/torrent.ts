import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { toTorrenttpError, type TorrenttpError } from '../errors/index.js';
import { Bitfield, BLOCK_LENGTH, FileSelection, type Metainfo, type PieceIndex } from '../metainfo/index.js';
import type { BlockRequest, PeerEvent, PeerLink } from '../transport/index.js';
import { choke, CHOKE_ROUND_MS, type ChokeState } from './choker.js';
import { EngineError } from './errors.js';
import { PiecePicker } from './picker.js';
import { RateMeter, TokenBucket } from './rate.js';
import { Readers, type ReadOptions } from './reader.js';

/**
 * One torrent's swarm state. Rules (more in STATE.md):
 * - Peers are reached only through `PeerLink`; wire peers, web seeds and HTTP peers are
 *   scheduled by the same picker and choker.
 * - Only pieces the store verified count: `have` is the store's bitfield and is set by it.
 * - Every outstanding request is in exactly one peer's `outstanding` and counted once in the
 *   picker; it leaves both when its block, rejection or the peer's close arrives.
 * - No timers: the owner calls `tick(now)` (the Client does, every 250 ms).
 */

/** What the engine needs from storage (`src/storage` implements it). */
export interface TorrentStore {
  readonly bitfield: Bitfield;
  /**
   * Verify and write a whole piece; false on hash mismatch. `data` may be transferred. `cache`:
   * keep it in memory for uploads (the engine says so while some peer is interested in us).
   */
  commitPiece(index: PieceIndex, data: Uint8Array, cache?: boolean): Promise<boolean>;
  /** A buffer to fill with piece `index` for `commitPiece` (stale bytes); default a new one. */
  pieceBuffer?(index: PieceIndex): Uint8Array;
  readBlock(index: PieceIndex, begin: number, length: number): Promise<Uint8Array>;
  /** `readBlock` with a `release` to call once the block is sent or dropped, so its memory can be reused. */
  lendBlock?(index: PieceIndex, begin: number, length: number): Promise<{ readonly data: Uint8Array; readonly release: () => void }>;
  saveResume(): Promise<void>;
  close(): Promise<void>;
}

export interface TorrentOptions {
  /** Strict in-order picking, for streaming. */
  readonly sequential?: boolean;
  /**
   * Files to download, 0-based indexes in torrent order; default all. Only pieces holding bytes
   * of these files are requested, and the torrent is complete (`done`) once those are verified.
   * Give the store the same selection (`openStorage`'s `selectedFiles`).
   */
  readonly selectedFiles?: readonly number[];
  /** Peers we upload to at once (BEP 3 clients use 4). */
  readonly uploadSlots?: number;
  /** Connections for this torrent. Default 50. */
  readonly maxPeers?: number;
  /**
   * Banning after bad data, with libtorrent-style trust points: a verified piece gives each
   * peer that sent blocks of it +1, a failed piece −4 to a sole sender and −1 to each of
   * several (an honest peer sharing a piece with a liar must not pay for it). A peer at or below
   * −2 × this is banned: with the default 3, a liar goes after two pieces of its own. Default 3.
   */
  readonly banAfterHashFailures?: number;
  /**
   * Bytes of whole pieces handed to storage and not yet written. At or above this no new
   * requests go out until commits finish: when hashing and disk are slower than the network,
   * memory stays at this instead of growing with the download (a 1 GiB loopback download held
   * 238 pieces of 1 MiB in flight without it). libtorrent's `max_queued_disk_bytes` is the same
   * idea (default 1 MiB there). Default 8 MiB: with pieces written directly to the device a
   * commit takes about a millisecond, and a 1 GiB loopback download ran as fast as with 32 MiB
   * with 25 MB less peak RSS.
   */
  readonly maxCommitBytes?: number;
  /** Shared limiters (the Client's global ones) plus this torrent's own. */
  readonly uploadLimiters?: readonly TokenBucket[];
  readonly downloadLimiters?: readonly TokenBucket[];
  readonly rng?: () => number;
  readonly now?: () => number;
}

export interface TorrentStats {
  readonly infoHash: string;
  readonly name: string;
  /** Bytes to download: the selected files' (the whole torrent's without a selection). */
  readonly length: number;
  /** Verified bytes of the selected files. */
  readonly verifiedBytes: number;
  /** The whole torrent's bytes, selected or not. */
  readonly totalLength: number;
  /** Files selected, of `fileCount`. */
  readonly selectedFiles: number;
  readonly fileCount: number;
  /** 0..1 of verified bytes. */
  readonly progress: number;
  /** Payload bytes received and sent in this session. */
  readonly downloaded: number;
  readonly uploaded: number;
  readonly downloadRate: number;
  readonly uploadRate: number;
  readonly peers: number;
  readonly peersByKind: Readonly<Record<PeerLink['kind'], number>>;
  /** Seconds to completion at the current rate; undefined when unknown or done. */
  readonly etaSec: number | undefined;
  readonly done: boolean;
}

export interface TorrentEvents {
  progress: [TorrentStats];
  piece: [PieceIndex];
  done: [];
  peer: [PeerLink];
  peerClosed: [PeerLink, TorrenttpError | undefined];
  hashFailed: [PieceIndex];
  banned: [string];
  /** Something failed that costs the torrent nothing now (a resume save after completion: close() saves again). */
  warning: [string, TorrenttpError];
  error: [TorrenttpError];
}

/** Bytes lent for one peer: written without a copy, then `release`d exactly once (written or dropped). */
export interface UploadLease {
  readonly ok: true;
  readonly data: Uint8Array;
  release(): void;
}

/**
 * Why no bytes now. `choked`: not unchoked (yet), `retryAfterMs` until the next choking round;
 * `rateLimited`: an upload limit is spent, `retryAfterMs` until it refills; `notHeld`: the piece
 * is not verified here; `outOfRange`: not a byte range of one piece; `closed`: the torrent is
 * closed or the link is not (or no longer) one of its peers. An HTTP server answers 429/503 with
 * `Retry-After` for the first two, 404 and 416 for the next two.
 */
export interface UploadRefusal {
  readonly ok: false;
  readonly reason: 'choked' | 'rateLimited' | 'notHeld' | 'outOfRange' | 'closed';
  readonly retryAfterMs: number | undefined;
}

export type UploadAnswer = UploadLease | UploadRefusal;

const NO_RELEASE = (): void => undefined;

interface Upload {
  readonly req: BlockRequest;
  cancelled: boolean;
}

interface PeerState {
  link: PeerLink | undefined;
  readonly pending: PeerEvent[];
  /** Outstanding requests, keyed `index * 65536 + block`. */
  readonly outstanding: Map<number, BlockRequest>;
  readonly down: RateMeter;
  readonly up: RateMeter;
  /**
   * The pieces counted in the picker's availability for this peer: our own copy, so a later
   * `bitfield` replaces exactly this and closing subtracts exactly this (peer-link.ts's rule).
   */
  counted: Bitfield | undefined;
  amChoking: boolean;
  amInterested: boolean;
  peerInterested: boolean;
  trust: number;
  readonly uploads: Upload[];
  /** Uploads whose disk read is under way: a cancel must reach them too. */
  readonly reading: Set<Upload>;
  closed: boolean;
}

/** A handle for a connection being set up: events are queued until `attach`. */
export interface PeerSlot {
  readonly onEvent: (e: PeerEvent) => void;
  attach(link: PeerLink): void;
  abandon(): void;
}

const MAX_BLOCKS_PER_PIECE = 65536; // 1 GiB pieces / 16 KiB
export const DEFAULT_MAX_COMMIT_BYTES = 8 * 1024 * 1024;
/** Disk reads in flight per peer for uploads: enough to keep a fast peer fed from the piece cache. */
const MAX_READS_PER_PEER = 32;
/** Requests from one peer we queue before ignoring more (the link also bounds them). */
const MAX_UPLOAD_QUEUE = 512;

/** Trust a peer can bank, so a long good record does not license a run of bad pieces. */
const MAX_TRUST = 8;

const refusal = (reason: UploadRefusal['reason'], retryAfterMs: number | undefined): UploadRefusal => ({ ok: false, reason, retryAfterMs });

const key = (index: number, begin: number) => index * MAX_BLOCKS_PER_PIECE + begin / BLOCK_LENGTH;

export class Torrent extends EventEmitter<TorrentEvents> {
  readonly metainfo: Metainfo;
  readonly infoHash: string;
  /** Resolves when every wanted piece is verified; rejects on a fatal storage error. */
  readonly done: Promise<void>;
  /** The files to download (all of them without a selection). */
  readonly selection: FileSelection;

  private readonly store: TorrentStore;
  private readonly picker: PiecePicker;
  private readonly readers: Readers;
  private readonly peers = new Map<PeerState, true>();
  /** Attached peers by their link: how a server side names the peer it asks for (`lease`). */
  private readonly byLink = new Map<PeerLink, PeerState>();
  private readonly bans = new Set<string>();
  private readonly buffers = new Map<number, { buf: Uint8Array; contributors: Set<PeerState> }>();
  private committingBytes = 0;
  /** Verified bytes of selected files (`stats().verifiedBytes`), kept as pieces verify. */
  private verifiedSelectedBytes = 0;
  private readonly down: RateMeter = new RateMeter();
  private readonly up: RateMeter = new RateMeter();
  private readonly opts: Required<Pick<TorrentOptions, 'uploadSlots' | 'maxPeers' | 'banAfterHashFailures' | 'maxCommitBytes'>>;
  private readonly uploadLimiters: readonly TokenBucket[];
  private readonly downloadLimiters: readonly TokenBucket[];
  private readonly rng: () => number;
  private readonly now: () => number;
  private chokeState: ChokeState = { optimistic: undefined, optimisticSinceMs: 0 };
  private lastChokeMs = -Infinity;
  private closedFlag = false;
  private fatal: TorrenttpError | undefined;
  private resolveDone!: () => void;
  private rejectDone!: (e: TorrenttpError) => void;

  constructor(metainfo: Metainfo, store: TorrentStore, opts: TorrentOptions = {}) {
    super();
    this.metainfo = metainfo;
    this.infoHash = metainfo.infoHash;
    this.store = store;
    this.rng = opts.rng ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.opts = {
      uploadSlots: opts.uploadSlots ?? 4,
      maxPeers: opts.maxPeers ?? 50,
      banAfterHashFailures: opts.banAfterHashFailures ?? 3,
      maxCommitBytes: opts.maxCommitBytes ?? DEFAULT_MAX_COMMIT_BYTES,
    };
    this.uploadLimiters = opts.uploadLimiters ?? [];
    this.downloadLimiters = opts.downloadLimiters ?? [];
    const g = metainfo.geometry;
    this.selection = opts.selectedFiles === undefined ? FileSelection.all(g) : new FileSelection(g, opts.selectedFiles);
    for (const i of store.bitfield) this.verifiedSelectedBytes += this.selection.everything ? g.pieceLengthOf(i) : this.selection.selectedBytesOf(i);
    this.picker = new PiecePicker(g, store.bitfield, {
      rng: this.rng,
      wanted: this.selection.pieces,
      ...(opts.sequential === undefined ? {} : { sequential: opts.sequential }),
    });
    this.readers = new Readers({
      geometry: g,
      have: store.bitfield,
      wants: (i) => this.picker.wants(i),
      now: this.now,
      setDeadlines: (d) => {
        this.picker.setDeadlines(d);
        this.fillAll();
      },
      // A copy: the store's view may be reused once its cache drops the piece, and a stream
      // consumer may hold a chunk long after that.
      readPiece: async (i, begin, length) => (await this.store.readBlock(i, begin, length)).slice(),
    });
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => undefined); // observed through `error` too; never an unhandled rejection
    if (this.complete) this.resolveDone();
  }

  get have(): Bitfield {
    return this.store.bitfield;
  }

  /** Every wanted piece is verified (every piece, without a file selection). */
  get complete(): boolean {
    return this.picker.missing === 0;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get sequential(): boolean {
    return this.picker.sequential;
  }

  set sequential(on: boolean) {
    this.picker.sequential = on;
  }

  /**
   * Verified bytes `start`…`end` (inclusive) in order, as they arrive: the pieces just ahead of
   * the reader's position are requested first, with deadlines (reader.ts). Several readers may
   * run at once. Throws `ENGINE_BAD_RANGE` / `ENGINE_RANGE_NOT_SELECTED` for a range it cannot
   * give, and ends with the torrent's error when it fails or closes.
   */
  read(opts: ReadOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    return this.readers.read(opts);
  }

  /** `read` as a byte stream (for `torrenttp get -`, an HTTP response). */
  createReadStream(opts: ReadOptions = {}): Readable {
    return Readable.from(this.read(opts), { objectMode: false });
  }

  /** Whether a connection to `id` (host:port or URL) may be added now. */
  accepts(id: string): boolean {
    return !this.closedFlag && !this.bans.has(id) && this.peers.size < this.opts.maxPeers && ![...this.peers.keys()].some((p) => p.link?.id === id);
  }

  isBanned(id: string): boolean {
    return this.bans.has(id);
  }

  /** Connected peers that have piece `index`, as counted for rarest-first. */
  availability(index: PieceIndex): number {
    return this.picker.availability[index] ?? 0;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  /** Reserve a place for a connection being set up; its events queue until `attach`. */
  newPeerSlot(): PeerSlot {
    const peer: PeerState = {
      link: undefined,
      pending: [],
      outstanding: new Map(),
      down: new RateMeter(),
      up: new RateMeter(),
      counted: undefined,
      amChoking: true,
      amInterested: false,
      peerInterested: false,
      trust: 0,
      uploads: [],
      reading: new Set(),
      closed: false,
    };
    this.peers.set(peer, true);
    return {
      onEvent: (e) => {
        if (peer.link === undefined) peer.pending.push(e);
        else this.onPeerEvent(peer, e);
      },
      attach: (link) => {
        peer.link = link;
        if (this.closedFlag || this.bans.has(link.id)) {
          peer.closed = true;
          this.peers.delete(peer);
          link.close(this.closedFlag ? new EngineError('ENGINE_CLOSED') : new EngineError('ENGINE_PEER_BANNED', { detail: link.id }));
          return;
        }
        this.byLink.set(link, peer);
        this.emit('peer', link);
        for (const e of peer.pending.splice(0)) this.onPeerEvent(peer, e);
      },
      abandon: () => {
        this.peers.delete(peer);
      },
    };
  }

  /** Adds a link that already exists (web seeds, tests): events must come through `slot.onEvent`. */
  addPeer(create: (onEvent: (e: PeerEvent) => void) => PeerLink): PeerLink {
    const slot = this.newPeerSlot();
    const link = create(slot.onEvent);
    slot.attach(link);
    return link;
  }

  /** Periodic work: choking rounds, rate-limited queues, progress. */
  tick(): void {
    if (this.closedFlag) return;
    const now = this.now();
    if (now - this.lastChokeMs >= CHOKE_ROUND_MS) this.rechoke(now);
    for (const p of this.peers.keys()) {
      this.serveUploads(p);
      this.fill(p);
    }
    this.emit('progress', this.stats());
  }

  stats(): TorrentStats {
    const now = this.now();
    const verifiedBytes = this.verifiedSelectedBytes;
    const length = this.selection.length;
    const downloadRate = this.down.rate(now);
    const byKind = { wire: 0, webseed: 0, http: 0 };
    for (const p of this.peers.keys()) if (p.link !== undefined && !p.closed) byKind[p.link.kind]++;
    const left = length - verifiedBytes;
    return {
      infoHash: this.infoHash,
      name: this.metainfo.name,
      length,
      verifiedBytes,
      totalLength: this.metainfo.length,
      selectedFiles: this.selection.files.length,
      fileCount: this.metainfo.files.length,
      progress: length === 0 ? 1 : verifiedBytes / length,
      downloaded: this.down.totalBytes,
      uploaded: this.up.totalBytes,
      downloadRate,
      uploadRate: this.up.rate(now),
      peers: byKind.wire + byKind.webseed + byKind.http,
      peersByKind: byKind,
      etaSec: left === 0 || downloadRate <= 0 ? undefined : left / downloadRate,
      done: this.complete,
    };
  }

  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.readers.end(this.fatal ?? new EngineError('ENGINE_CLOSED'));
    for (const p of [...this.peers.keys()]) p.link?.close(new EngineError('ENGINE_CLOSED'));
    this.peers.clear();
    this.byLink.clear();
    await this.store.close();
    if (!this.complete && this.fatal === undefined) this.rejectDone(new EngineError('ENGINE_CLOSED'));
  }

  // ── peer events ─────────────────────────────────────────────────────────────────────────
  private onPeerEvent(peer: PeerState, e: PeerEvent): void {
    if (peer.closed || this.closedFlag) return;
    const link = peer.link!;
    switch (e.type) {
      case 'bitfield':
        this.countBitfield(peer, e.bitfield);
        if (this.complete && !this.wantsFromUs(link)) {
          link.close(); // nothing to trade either way (two seeds, or a seed and a web seed)
          return;
        }
        this.updateInterest(peer);
        this.fill(peer);
        return;
      case 'have':
        this.countHave(peer, e.index);
        if (!peer.amInterested) this.updateInterest(peer);
        this.fill(peer);
        return;
      case 'unchoke':
        this.fill(peer);
        return;
      case 'choke':
        return; // the link rejects what was outstanding
      case 'interested':
        peer.peerInterested = true;
        if (link.canUpload && peer.amChoking && this.unchokedCount() < this.opts.uploadSlots) this.setChoking(peer, false);
        return;
      case 'notInterested':
        peer.peerInterested = false;
        if (!peer.amChoking) this.setChoking(peer, true);
        return;
      case 'block':
        this.onBlock(peer, e.req, e.data);
        return;
      case 'rejected': {
        if (peer.outstanding.delete(key(e.req.index, e.req.begin))) {
          this.picker.release(e.req.index, e.req.begin);
          this.fillAll();
        }
        return;
      }
      case 'request':
        this.onRequest(peer, e.req);
        return;
      case 'cancel':
        for (const u of [...peer.uploads, ...peer.reading]) {
          if (u.req.index === e.req.index && u.req.begin === e.req.begin) u.cancelled = true;
        }
        return;
      case 'bytes':
        return; // payload is counted from blocks, which the engine sees anyway
      case 'closed':
        this.removePeer(peer, e.reason);
        return;
    }
  }

  /** A `bitfield` replaces what was counted for the peer: the difference goes to the picker. */
  private countBitfield(peer: PeerState, b: Bitfield): void {
    const before = peer.counted;
    if (before === undefined) {
      this.picker.addBitfield(b);
    } else {
      for (const i of before) if (!b.has(i)) this.picker.removeHave(i);
      for (const i of b) if (!before.has(i)) this.picker.addHave(i);
    }
    peer.counted = b.clone();
  }

  private countHave(peer: PeerState, index: PieceIndex): void {
    peer.counted ??= new Bitfield(this.metainfo.pieceCount);
    if (peer.counted.set(index)) this.picker.addHave(index);
  }

  /** The peer may still want pieces from us: it can ask for uploads and lacks some. */
  private wantsFromUs(link: PeerLink): boolean {
    return link.canUpload && !link.bitfield.complete;
  }

  private onBlock(peer: PeerState, req: BlockRequest, data: Uint8Array): void {
    const k = key(req.index, req.begin);
    if (!peer.outstanding.delete(k)) return; // unrequested or already cancelled: the link should not deliver it
    const now = this.now();
    peer.down.add(data.length, now);
    this.down.add(data.length, now);
    for (const l of this.downloadLimiters) l.take(data.length, now);
    if (this.picker.receive(req.index, req.begin)) {
      let entry = this.buffers.get(req.index);
      if (entry === undefined) {
        const buf = this.store.pieceBuffer?.(req.index) ?? new Uint8Array(this.metainfo.geometry.pieceLengthOf(req.index));
        entry = { buf, contributors: new Set() };
        this.buffers.set(req.index, entry);
      }
      entry.buf.set(data, req.begin); // the one copy of a block: out of the socket's buffer
      entry.contributors.add(peer);
      if (this.picker.endgame) this.cancelDuplicates(peer, req, k);
      if (this.picker.isComplete(req.index)) void this.commit(req.index);
    }
    this.fill(peer);
  }

  private cancelDuplicates(except: PeerState, req: BlockRequest, k: number): void {
    for (const other of this.peers.keys()) {
      if (other === except || !other.outstanding.delete(k)) continue;
      other.link?.cancel(req);
      this.picker.release(req.index, req.begin);
    }
  }

  private async commit(index: PieceIndex): Promise<void> {
    const entry = this.buffers.get(index);
    if (entry === undefined) return;
    this.buffers.delete(index); // taken out first: a piece is committed at most once
    const bytes = entry.buf.length;
    this.committingBytes += bytes;
    let ok: boolean;
    try {
      // A piece just downloaded is worth keeping in memory only if some peer may ask for it soon.
      // A pure leech (peers that want nothing from us) recycles the buffer instead: 16 MB less.
      ok = await this.store.commitPiece(index, entry.buf, this.anyPeerInterested());
    } catch (err) {
      this.fail(toTorrenttpError(err));
      return;
    } finally {
      this.committingBytes -= bytes;
    }
    if (this.closedFlag) return;
    if (!ok) {
      this.picker.failed(index);
      this.emit('hashFailed', index);
      const penalty = entry.contributors.size === 1 ? 4 : 1;
      for (const p of entry.contributors) {
        p.trust -= penalty;
        if (p.link !== undefined && !p.closed && p.trust <= -2 * this.opts.banAfterHashFailures) this.ban(p);
      }
      this.fillAll();
      return;
    }
    this.picker.verified(index);
    this.verifiedSelectedBytes += this.selection.everything ? this.metainfo.geometry.pieceLengthOf(index) : this.selection.selectedBytesOf(index);
    for (const p of entry.contributors) p.trust = Math.min(p.trust + 1, MAX_TRUST);
    this.emit('piece', index);
    this.readers.pieceVerified(index);
    for (const p of this.peers.keys()) {
      if (p.closed || p.link === undefined) continue;
      p.link.announceHave(index);
      if (p.amInterested) this.updateInterest(p);
    }
    if (this.complete) this.onComplete();
    else this.fillAll(); // requests may have waited for this commit (maxCommitBytes)
  }

  private anyPeerInterested(): boolean {
    for (const p of this.peers.keys()) if (p.peerInterested && !p.closed) return true;
    return false;
  }

  private onComplete(): void {
    this.resolveDone();
    this.emit('done');
    this.emit('progress', this.stats());
    for (const p of [...this.peers.keys()]) {
      const link = p.link;
      if (link === undefined) continue;
      // Seeds and web seeds have nothing more for us, and we nothing for them.
      if (!this.wantsFromUs(link)) link.close();
    }
    // Every piece is verified and on disk: a failed save here fails nothing (close() saves again).
    void this.store.saveResume().catch((err: unknown) => {
      const e = toTorrenttpError(err);
      this.emit('warning', `saving resume state on completion: ${e.message}`, e);
    });
  }

  private fail(err: TorrenttpError): void {
    if (this.fatal !== undefined) return;
    this.fatal = err;
    this.readers.end(err);
    this.emit('error', err);
    this.rejectDone(err);
    void this.close().catch(() => undefined);
  }

  private ban(peer: PeerState): void {
    const id = peer.link!.id;
    this.bans.add(id);
    this.emit('banned', id);
    peer.link!.close(new EngineError('ENGINE_PEER_BANNED', { detail: id }));
  }

  private removePeer(peer: PeerState, reason: TorrenttpError | undefined): void {
    if (peer.closed) return;
    peer.closed = true;
    this.peers.delete(peer);
    if (peer.link !== undefined) this.byLink.delete(peer.link);
    if (peer.counted !== undefined) this.picker.removeBitfield(peer.counted);
    for (const r of peer.outstanding.values()) this.picker.release(r.index, r.begin);
    peer.outstanding.clear();
    peer.uploads.length = 0;
    if (peer.link !== undefined) this.emit('peerClosed', peer.link, reason);
    if (!peer.amChoking) this.rechoke(this.now());
    this.fillAll();
  }

  // ── downloading ─────────────────────────────────────────────────────────────────────────
  private updateInterest(peer: PeerState): void {
    const link = peer.link!;
    const want = link.canDownload && !this.complete && this.picker.interestedIn(link.bitfield);
    if (want !== peer.amInterested) {
      peer.amInterested = want;
      link.setInterested(want);
    }
  }

  private fillAll(): void {
    for (const p of this.peers.keys()) this.fill(p);
  }

  private fill(peer: PeerState): void {
    const link = peer.link;
    if (link === undefined || peer.closed || this.closedFlag || this.complete) return;
    if (!peer.amInterested || link.peerChoking) return; // amInterested implies canDownload
    if (this.committingBytes >= this.opts.maxCommitBytes) return; // storage is behind: commit() resumes us
    const now = this.now();
    let want = link.desiredQueueDepth - peer.outstanding.size;
    if (this.downloadLimiters.length > 0) {
      if (this.downloadLimiters.some((l) => l.waitMs(now) > 0)) return;
      // Under a limit, keep at most half a second's worth of the rate in flight across all
      // peers: a deep pipeline would otherwise overshoot the limit by megabytes.
      const rate = Math.min(...this.downloadLimiters.map((l) => l.rate));
      const cap = Math.max(2, Math.floor((rate * 0.5) / BLOCK_LENGTH));
      let inFlight = 0;
      for (const p of this.peers.keys()) inFlight += p.outstanding.size;
      want = Math.min(want, cap - inFlight);
    }
    // Refill in batches (a quarter of the pipe, at most 16 blocks): one socket write then carries
    // many requests instead of one per block received.
    if (peer.outstanding.size > 0 && want < Math.min(16, Math.max(1, Math.floor(link.desiredQueueDepth / 4)))) return;
    if (want <= 0) return;
    const reqs = this.picker.pick(link.bitfield, want, link.prefersRuns, (i, b) => peer.outstanding.has(i * MAX_BLOCKS_PER_PIECE + b));
    for (const r of reqs) {
      peer.outstanding.set(key(r.index, r.begin), r);
      link.request(r);
    }
  }

  // ── uploading ───────────────────────────────────────────────────────────────────────────
  /**
   * Bytes `[begin, begin + length)` of piece `index` for the peer behind `link`, pulled by
   * whatever serves that peer: the wire link's `request` events come here, and so will an HTTP
   * peer server answering `GET …/pieces/N` or a web server answering a range. The choker, the
   * upload limits (global, then this torrent's) and the upload stats apply to all of them
   * alike. A lease must be released once its bytes are written or dropped. A storage failure
   * is fatal for the torrent (`error`) and rejects the promise with it.
   */
  lease(link: PeerLink, req: BlockRequest): Promise<UploadAnswer> {
    const peer = this.byLink.get(link);
    if (peer === undefined) return Promise.resolve(refusal('closed', undefined));
    const g = this.grant(peer, req);
    if (!(g instanceof Promise)) return Promise.resolve(g);
    return g.then((a) => {
      if (a.ok) this.countUpload(peer, a.data.length);
      return a;
    });
  }

  /** Upload stats: bytes handed to the peer's writer (a lease taken, a block sent). */
  private countUpload(peer: PeerState, bytes: number): void {
    const t = this.now();
    peer.up.add(bytes, t);
    this.up.add(bytes, t);
  }

  /** The one gate for uploads: a refusal now, or the read under way (which may still be refused: choked meanwhile). */
  private grant(peer: PeerState, req: BlockRequest): UploadRefusal | Promise<UploadAnswer> {
    if (peer.closed || this.closedFlag) return refusal('closed', undefined);
    const now = this.now();
    if (peer.amChoking) return refusal('choked', Math.max(0, this.lastChokeMs + CHOKE_ROUND_MS - now));
    const g = this.metainfo.geometry;
    const { index, begin, length } = req;
    if (!Number.isSafeInteger(index) || index < 0 || index >= g.pieceCount || !Number.isSafeInteger(begin) || !Number.isSafeInteger(length)) return refusal('outOfRange', undefined);
    if (begin < 0 || length <= 0 || begin + length > g.pieceLengthOf(index)) return refusal('outOfRange', undefined);
    if (!this.have.has(index)) return refusal('notHeld', undefined);
    let waitMs = 0;
    for (const l of this.uploadLimiters) waitMs = Math.max(waitMs, l.waitMs(now));
    if (waitMs > 0) return refusal('rateLimited', waitMs);
    for (const l of this.uploadLimiters) l.take(length, now);
    const read = this.store.lendBlock?.(index, begin, length) ?? this.store.readBlock(index, begin, length).then((data) => ({ data, release: NO_RELEASE }));
    return read.then(
      ({ data, release }): UploadAnswer => {
        if (peer.closed || peer.amChoking) {
          release();
          return refusal(peer.closed ? 'closed' : 'choked', peer.closed ? undefined : Math.max(0, this.lastChokeMs + CHOKE_ROUND_MS - this.now()));
        }
        return { ok: true, data, release };
      },
      (err: unknown) => {
        const e = toTorrenttpError(err);
        this.fail(e);
        throw e;
      },
    );
  }

  private onRequest(peer: PeerState, req: BlockRequest): void {
    if (peer.amChoking) return; // BEP 3: requests while choked are dropped
    if (peer.uploads.length >= MAX_UPLOAD_QUEUE) return;
    peer.uploads.push({ req, cancelled: false });
    this.serveUploads(peer);
  }

  /** Wire-style uploads: the peer's queued `request`s go through `grant` and out by `sendBlock`. */
  private serveUploads(peer: PeerState): void {
    const link = peer.link;
    if (link === undefined) return;
    while (peer.uploads.length > 0 && peer.reading.size < MAX_READS_PER_PEER) {
      const u = peer.uploads[0]!;
      if (u.cancelled) {
        peer.uploads.shift();
        continue;
      }
      const g = this.grant(peer, u.req);
      if (!(g instanceof Promise)) {
        if (g.reason === 'rateLimited') return; // kept at the head; tick() resumes
        peer.uploads.shift(); // choked, not held, out of range: dropped (BEP 3)
        continue;
      }
      peer.uploads.shift();
      peer.reading.add(u);
      g.then(
        (a) => {
          peer.reading.delete(u);
          if (!a.ok) return;
          if (u.cancelled) {
            a.release();
            return;
          }
          link.sendBlock(u.req, a.data, a.release);
          this.countUpload(peer, a.data.length);
          this.serveUploads(peer);
        },
        () => peer.reading.delete(u), // fatal: grant failed the torrent
      );
    }
  }

  // ── choking ─────────────────────────────────────────────────────────────────────────────
  private unchokedCount(): number {
    let n = 0;
    for (const p of this.peers.keys()) if (!p.amChoking) n++;
    return n;
  }

  private rechoke(now: number): void {
    this.lastChokeMs = now;
    // Every peer we can upload to competes, whatever carries it (wire, HTTP peer server side).
    const uploaders = [...this.peers.keys()].filter((p) => p.link?.canUpload === true && !p.closed);
    const decision = choke(
      uploaders.map((p) => ({ id: p.link!.id, interested: p.peerInterested, downloadRate: p.down.rate(now), uploadRate: p.up.rate(now) })),
      this.complete,
      this.opts.uploadSlots,
      this.chokeState,
      now,
      this.rng,
    );
    this.chokeState = decision;
    for (const p of uploaders) this.setChoking(p, !decision.unchoked.has(p.link!.id));
  }

  private setChoking(peer: PeerState, choking: boolean): void {
    if (peer.amChoking === choking) return;
    peer.amChoking = choking;
    if (choking) {
      // BEP 3: choking discards the peer's pending requests.
      for (const u of peer.reading) u.cancelled = true;
      peer.uploads.length = 0;
    }
    peer.link?.setChoking(choking);
  }
}

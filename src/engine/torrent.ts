import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { toTorrenttpError, type TorrenttpError } from '../errors/index.js';
import { FileSelection, type Bitfield, type Metainfo, type PieceIndex } from '../metainfo/index.js';
import type { BlockRequest, PeerEvent, PeerLink } from '../transport/index.js';
import { ChokeRound } from './choke-round.js';
import { Downloader } from './downloader.js';
import { EngineError } from './errors.js';
import { duplicateVictim, hasEveryPiece, PEER_EVICTION_DEFAULTS, PeerSet, type PeerSource, type PeerState } from './peer-set.js';
import { PeerExchange } from './pex.js';
import { PiecePicker } from './picker.js';
import { Readers, type ByteRange, type ReadOptions } from './reader.js';
import { DEFAULT_MAX_COMMIT_BYTES, type PeerSlot, type TorrentEvents, type TorrentOptions, type TorrentStats, type TorrentStore } from './torrent-api.js';
import { refusal, Uploader, type UploadAnswer } from './uploader.js';
import type { TokenBucket } from './rate.js';
import type { WholePiece, WriteMode } from '../storage/index.js';
import { SuperSeed } from './super-seed.js';

/**
 * One torrent's swarm state: the front that owns the parts and routes peer events to them.
 * Rules (more in STATE.md):
 * - Peers are reached only through `PeerLink`, by capability, never by kind: wire peers, web
 *   seeds and HTTP peers share one picker (`downloader.ts`), one choker (`choke-round.ts`) and
 *   one upload gate (`uploader.ts`); `peer-set.ts` admits them and counts their pieces.
 * - Only pieces the store verified count: `have` is the store's bitfield and is set by it.
 * - No timers: the owner calls `tick()` (the Client does, every 250 ms).
 * - A storage error is fatal (`error`, `done` rejects); a bad peer costs only its own link.
 */
export class Torrent extends EventEmitter<TorrentEvents> {
  readonly metainfo: Metainfo;
  readonly infoHash: string;
  /** Resolves when every wanted piece is verified; rejects on a fatal storage error. */
  readonly done: Promise<void>;
  /** The files to download (all of them without a selection). */
  readonly selection: FileSelection;

  private readonly store: TorrentStore;
  private readonly picker: PiecePicker;
  private readonly peers: PeerSet;
  private readonly downloader: Downloader;
  private readonly uploader: Uploader;
  private readonly choker: ChokeRound;
  private readonly readers: Readers;
  private readonly superSeed: SuperSeed | undefined;
  private readonly pex: PeerExchange | undefined;
  /** Pieces verified while downloads were held, not yet told to the peers (`downloadsHeld`). */
  private heldHaves: PieceIndex[] = [];
  /** Verified bytes of selected files (`stats().verifiedBytes`), kept as pieces verify. */
  private verifiedSelectedBytes = 0;
  private readonly now: () => number;
  /** Ours: never a duplicate of another peer's. */
  private readonly ownPeerId: Uint8Array | undefined;
  private closedFlag = false;
  private closing: Promise<void> | undefined;
  private fatal: TorrenttpError | undefined;
  private resolveDone!: () => void;
  private rejectDone!: (e: TorrenttpError) => void;

  constructor(metainfo: Metainfo, store: TorrentStore, opts: TorrentOptions = {}) {
    super();
    this.metainfo = metainfo;
    this.infoHash = metainfo.infoHash;
    this.store = store;
    const rng = opts.rng ?? Math.random;
    const now = (this.now = opts.now ?? Date.now);
    this.ownPeerId = opts.peerId;
    const closed = () => this.closedFlag;
    const fail = (err: TorrenttpError) => this.fail(err);
    const g = metainfo.geometry;
    this.selection = opts.selectedFiles === undefined ? FileSelection.all(g) : new FileSelection(g, opts.selectedFiles);
    for (const i of store.bitfield) this.verifiedSelectedBytes += this.selectedBytesOf(i);
    this.picker = new PiecePicker(g, store.bitfield, {
      rng,
      wanted: this.selection.pieces,
      ...(opts.sequential === undefined ? {} : { sequential: opts.sequential }),
    });
    this.peers = new PeerSet(
      this.picker,
      metainfo.pieceCount,
      opts.maxPeers ?? 50,
      opts.peerEviction === false ? false : { ...PEER_EVICTION_DEFAULTS, ...opts.peerEviction },
    );
    const baseSlots = opts.uploadSlots ?? 4;
    this.choker = new ChokeRound(
      this.peers,
      () => (this.superSeeding ? this.superSeed!.slots(baseSlots, this.interestedLeechers(), uploadLimit(opts.uploadLimiters)) : baseSlots),
      rng,
      now,
      (p) => this.superSeeding && this.superSeed!.idle(p),
      () => this.superSeeding,
    );
    this.downloader = new Downloader(
      g,
      store,
      this.picker,
      this.peers,
      {
        maxCommitBytes: opts.maxCommitBytes ?? DEFAULT_MAX_COMMIT_BYTES,
        banAfterHashFailures: opts.banAfterHashFailures ?? 3,
        limiters: opts.downloadLimiters ?? [],
      },
      { now, closed, fail, verified: (i, from) => this.onVerified(i, from), hashFailed: (i) => this.emit('hashFailed', i), ban: (p) => this.ban(p) },
    );
    this.uploader = new Uploader(g, store.bitfield, store, opts.uploadLimiters ?? [], { now, closed, fail, nextChokeInMs: (t) => this.choker.nextInMs(t) });
    this.readers = new Readers({
      geometry: g,
      have: store.bitfield,
      wants: (i) => this.picker.wants(i),
      now,
      setDeadlines: (d) => {
        this.picker.setDeadlines(d);
        this.downloader.fillAll();
      },
      // A copy: the store's view may be reused once its cache drops the piece, and a stream
      // consumer may hold a chunk long after that.
      readPiece: async (i, begin, length) => (await this.store.readBlock(i, begin, length)).slice(),
    });
    const ss = opts.superSeed ?? false;
    this.superSeed = ss === false ? undefined : new SuperSeed(metainfo.pieceCount, metainfo.pieceLength, (i) => this.picker.availability[i] ?? 0, () => this.peers, ss === true ? {} : ss);
    // BEP 27: a private torrent learns peers from its trackers only.
    this.pex = opts.pex === false || metainfo.private ? undefined : new PeerExchange(opts.pex === true || opts.pex === undefined ? {} : opts.pex);
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

  /** Super-seeding now (asked for, and complete): links send no bitfield, pieces are offered one `have` at a time. */
  get superSeeding(): boolean {
    return this.superSeed !== undefined && this.complete;
  }

  /** Pieces offered to the peer on `link` and not yet passed on (super-seeding; tests and stats). */
  superSeedOffers(link: PeerLink): PieceIndex[] {
    const peer = this.peers.of(link);
    return peer === undefined || this.superSeed === undefined ? [] : this.superSeed.offersOf(peer);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** BEP 11 peer exchange is on (not turned off, not a private torrent): wire links should offer ut_pex. */
  get exchangesPeers(): boolean {
    return this.pex !== undefined;
  }

  /**
   * Held, no request goes out to any peer (links still connect and upload), and the pieces
   * verified meanwhile are told to the peers (`have`) only at the release: the owner brings
   * them itself with `commitWhole` (`torrenttp get` streaming the origin's bytes while nobody
   * else downloads). Set at once after `Client.add`, before a peer can be asked; releasing it
   * asks the peers for the rest at once.
   */
  get downloadsHeld(): boolean {
    return this.downloader.held;
  }

  set downloadsHeld(on: boolean) {
    this.downloader.held = on;
    if (on) return;
    // The `have`s held back meanwhile, each peer's at once (one write).
    const held = this.heldHaves;
    this.heldHaves = [];
    for (const p of this.peers) if (!p.closed && p.link !== undefined) for (const i of held) p.link.announceHave(i);
    this.downloader.fillAll();
  }

  /** A buffer for piece `index` to fill and give to `commitWhole` (reused memory; stale bytes). */
  pieceBuffer(index: PieceIndex): Uint8Array {
    return this.store.pieceBuffer?.(index) ?? new Uint8Array(this.metainfo.geometry.pieceLengthOf(index));
  }

  /**
   * A whole piece the owner fetched itself while downloads are held: verified (SHA-1) and stored
   * like one from a peer (`piece` event, `have` to the peers, completion), its bytes counted as
   * `kind`'s. False when it failed its hash (`hashFailed`; it stays missing for the peers), was
   * not missing, or downloads are not held. `data` may be transferred: do not use it after.
   * `mode`: how it is written (`WriteMode`), when not the store's own way.
   */
  commitWhole(index: PieceIndex, data: Uint8Array, kind: PeerLink['kind'] = 'webseed', mode?: WriteMode): Promise<boolean> {
    return this.downloader.commitWhole(index, data, kind, mode);
  }

  /**
   * `commitWhole` for several whole pieces the owner has in hand together (a stream's run of
   * consecutive pieces): one storage job for them (one disk thread message, their writes
   * gathered), one verdict per piece, in order. A piece that fails its hash is false and stays
   * missing (`hashFailed`), never told to a reader; the others are unaffected. `data` of each may
   * be transferred: do not use it after.
   */
  commitRun(pieces: readonly WholePiece[], kind: PeerLink['kind'] = 'webseed', mode?: WriteMode): Promise<boolean[]> {
    return this.downloader.commitRun(pieces, kind, mode);
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

  /**
   * `read` without the bytes (reader.ts `verifiedRanges`): the verified byte ranges of the range,
   * in order, as long as the pieces already in allow, with the same deadlines; the caller reads
   * the bytes from the torrent's files itself. Same errors as `read`.
   */
  verifiedRanges(opts: ReadOptions = {}): AsyncGenerator<ByteRange, void, undefined> {
    return this.readers.verifiedRanges(opts);
  }

  /** `read` as a byte stream (for `torrenttp get -`, an HTTP response). */
  createReadStream(opts: ReadOptions = {}): Readable {
    return Readable.from(this.read(opts), { objectMode: false });
  }

  /**
   * Bytes `[begin, begin + length)` of piece `index` for the peer behind `link` (added with
   * `addPeer`/`newPeerSlot`), pulled by whatever serves it: an HTTP peer server answering
   * `GET …/pieces/N`, a web server answering a range. Wire `request` events take the same gate
   * (uploader.ts): the choker, the upload limits and the stats apply to all. Release the lease
   * once its bytes are written or dropped. A storage failure rejects, and is fatal (`error`).
   */
  lease(link: PeerLink, req: BlockRequest): Promise<UploadAnswer> {
    const peer = this.peers.of(link);
    if (peer === undefined) return Promise.resolve(refusal('closed', undefined));
    peer.spoke = true;
    if (!peer.amChoking) {
      peer.lastUsefulMs = peer.lastRequestMs = this.now();
      this.choker.requested(peer);
    }
    return this.uploader.lease(peer, req);
  }

  /**
   * Whether a connection to `id` (host:port or URL) may be added now: not when a link reaches
   * that peer already, either way (peer-set.ts); `peerId`, when known (an announce), counts too.
   * Nor, while we are complete, to a seed that left (nothing to trade).
   */
  accepts(id: string, peerId?: Uint8Array): boolean {
    return !this.closedFlag && !(this.complete && this.peers.isSeed(id)) && this.peers.accepts(id, peerId);
  }

  /**
   * An incoming connection from `id` asks in: whether it may be added now. When the torrent is
   * full, a silent or idle peer (`TorrentOptions.peerEviction`) is closed with
   * `ENGINE_PEER_EVICTED` to make room, so idle connections cannot lock real peers out.
   */
  admit(id: string): boolean {
    if (this.closedFlag) return false;
    const now = this.now();
    if (!this.peers.acceptsEvicting(id, now)) return false;
    const victim = this.peers.evictable(now);
    if (victim !== undefined) this.leave(victim, new EngineError('ENGINE_PEER_EVICTED', { detail: victim.link!.id }));
    return true;
  }

  isBanned(id: string): boolean {
    return this.peers.isBanned(id);
  }

  /** Connected peers that have piece `index`, as counted for rarest-first. */
  availability(index: PieceIndex): number {
    return this.picker.availability[index] ?? 0;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  /** Reserve a place for a connection being set up (to a peer found through `source`); its events queue until `attach`. */
  newPeerSlot(source: PeerSource = 'given'): PeerSlot {
    const peer = this.peers.create(this.now(), source);
    return {
      source,
      onEvent: (e) => {
        if (peer.link === undefined) peer.pending.push(e);
        else this.onPeerEvent(peer, e);
      },
      attach: (link) => {
        this.peers.attach(peer, link);
        if (this.closedFlag || this.peers.isBanned(link.id)) {
          this.peers.drop(peer);
          link.close(this.closedFlag ? new EngineError('ENGINE_CLOSED') : new EngineError('ENGINE_PEER_BANNED', { detail: link.id }));
          return;
        }
        this.emit('peer', link);
        const twin = this.peers.duplicate(peer, this.ownPeerId);
        if (twin !== undefined) {
          // A second connection to a connected peer: one of the two goes (peer-set.ts).
          const victim = duplicateVictim(this.ownPeerId, twin, peer);
          const kept = victim === peer ? twin : peer;
          this.peers.alias(victim.link!.id, kept);
          this.leave(victim, new EngineError('ENGINE_DUPLICATE_PEER', { detail: `${victim.link!.id} (kept ${kept.link!.id})` }));
          if (victim === peer) return;
        }
        for (const e of peer.pending.splice(0)) this.onPeerEvent(peer, e);
        if (this.superSeeding && !peer.closed) this.superSeed!.fill(this.now());
      },
      abandon: () => this.peers.drop(peer),
    };
  }

  /** Adds a link that already exists (web seeds, tests): events must come through `slot.onEvent`. */
  addPeer(create: (onEvent: (e: PeerEvent) => void) => PeerLink, source: PeerSource = 'given'): PeerLink {
    const slot = this.newPeerSlot(source);
    const link = create(slot.onEvent);
    slot.attach(link);
    return link;
  }

  /** Periodic work: choking rounds, rate-limited queues, progress. */
  tick(): void {
    if (this.closedFlag) return;
    const now = this.now();
    // Offers first: a super-seed's released offers make peers worth a slot again before slots are given.
    if (this.superSeeding) this.superSeed!.fill(now);
    this.choker.snub(now);
    if (this.choker.due(now)) this.choker.run(now, this.complete);
    if (this.superSeeding) this.superSeed!.fill(now); // the newly unchoked get their whole offer
    this.pex?.tick(now, this.peers);
    for (const p of this.peers) {
      this.uploader.serve(p);
      this.downloader.fill(p);
    }
    this.emit('progress', this.stats());
  }

  /** Payload bytes uploaded so far (`stats().uploaded` without the rest of `stats`: a status answer reads it for every torrent). */
  get uploadedBytes(): number {
    return this.uploader.up.totalBytes;
  }

  stats(): TorrentStats {
    const now = this.now();
    const verifiedBytes = this.verifiedSelectedBytes;
    const length = this.selection.length;
    const downloadRate = this.downloader.down.rate(now);
    const byKind = { wire: 0, webseed: 0, http: 0 };
    const bySource: Record<PeerSource, number> = { tracker: 0, dht: 0, pex: 0, given: 0, incoming: 0 };
    for (const p of this.peers) {
      if (p.link === undefined || p.closed) continue;
      byKind[p.link.kind]++;
      bySource[p.source]++;
    }
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
      downloaded: this.downloader.down.totalBytes,
      wasted: this.downloader.wasted,
      uploaded: this.uploader.up.totalBytes,
      downloadRate,
      uploadRate: this.uploader.up.rate(now),
      peers: byKind.wire + byKind.webseed + byKind.http,
      peersByKind: byKind,
      peersBySource: bySource,
      pex: this.pex?.stats,
      downloadedByKind: { ...this.downloader.downByKind },
      etaSec: left === 0 || downloadRate <= 0 ? undefined : left / downloadRate,
      done: this.complete,
    };
  }

  /** Closes peers and storage; every call resolves (or rejects) with the one close, once it ended. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closedFlag = true;
    this.readers.end(this.fatal ?? new EngineError('ENGINE_CLOSED'));
    for (const p of this.peers.clear()) p.link?.close(new EngineError('ENGINE_CLOSED'));
    try {
      await this.store.close();
    } finally {
      if (!this.complete && this.fatal === undefined) this.rejectDone(new EngineError('ENGINE_CLOSED'));
    }
  }

  private onPeerEvent(peer: PeerState, e: PeerEvent): void {
    if (peer.closed || this.closedFlag) return;
    const link = peer.link!;
    if (e.type !== 'bytes') peer.spoke = true;
    switch (e.type) {
      case 'bitfield':
        this.peers.countBitfield(peer, e.bitfield);
        if (this.complete && !wantsFromUs(link)) {
          link.close(); // nothing to trade either way (two seeds, or a seed and a web seed)
          return;
        }
        if (this.superSeeding) this.superSeed!.seenAll(peer, e.bitfield as Iterable<number> as Iterable<PieceIndex>, this.now());
        this.downloader.updateInterest(peer);
        this.downloader.fill(peer);
        return;
      case 'have':
        this.peers.countHave(peer, e.index);
        if (this.superSeeding) this.superSeed!.seen(peer, e.index, this.now());
        if (!peer.amInterested) this.downloader.updateInterest(peer);
        this.downloader.fill(peer);
        return;
      case 'unchoke':
        this.downloader.fill(peer);
        return;
      case 'choke':
        return; // the link rejects what was outstanding
      case 'interested':
        this.choker.interested(peer);
        if (this.superSeeding) this.superSeed!.fill(this.now()); // unchoked now: its full offer
        return;
      case 'notInterested':
        this.choker.notInterested(peer);
        return;
      case 'block':
        peer.lastUsefulMs = this.now();
        this.downloader.block(peer, e.req, e.data);
        return;
      case 'rejected':
        this.downloader.rejected(peer, e.req);
        return;
      case 'request':
        if (!peer.amChoking) {
          peer.lastUsefulMs = peer.lastRequestMs = this.now();
          this.choker.requested(peer);
        }
        this.uploader.request(peer, e.req);
        return;
      case 'cancel':
        this.uploader.cancel(peer, e.req);
        return;
      case 'bytes':
        return; // payload is counted from blocks, which the engine sees anyway
      case 'peers': {
        if (this.pex === undefined) return; // not offered: a link does not emit it; never honoured for a private torrent
        const v = this.pex.received(peer, e.message, this.now());
        if (v.kind === 'flood') this.leave(peer, new EngineError('ENGINE_PEX_FLOOD', { detail: `${link.id}: ${v.ignored} ut_pex messages too soon after the last one` }));
        else if (v.kind === 'honoured' && v.addresses.length > 0) this.emit('discovered', v.addresses, link);
        return;
      }
      case 'closed':
        this.leave(peer, e.reason);
        return;
    }
  }

  /** The peer is gone (it closed, or we evict it: then its link is closed too, and its `closed` event finds it gone). */
  private leave(peer: PeerState, reason: TorrenttpError | undefined): void {
    const link = peer.link!;
    if (!this.peers.remove(peer)) return;
    // Complete, it is a seed if it holds every piece, also those we sent it that it never announced.
    if (this.complete && (!wantsFromUs(link) || hasEveryPiece(peer))) this.peers.noteSeed(link);
    this.superSeed?.remove(peer);
    this.pex?.remove(peer);
    link.close(reason);
    if (reason !== undefined && BAN_ON_CLOSE.has(reason.code)) {
      this.peers.ban(link.id);
      this.emit('banned', link.id);
    }
    this.emit('peerClosed', link, reason);
    if (!peer.amChoking) this.choker.run(this.now(), this.complete);
    this.downloader.fillAll();
  }

  /** Peers that may ask us for uploads, lack pieces and said `interested`. */
  private interestedLeechers(): number {
    let n = 0;
    for (const p of this.peers) if (!p.closed && p.peerInterested && p.link?.canUpload === true && !p.link.bitfield.complete) n++;
    return n;
  }

  private selectedBytesOf(index: number): number {
    return this.selection.everything ? this.metainfo.geometry.pieceLengthOf(index) : this.selection.selectedBytesOf(index);
  }

  private onVerified(index: PieceIndex, from?: ReadonlySet<PeerState>): void {
    this.verifiedSelectedBytes += this.selectedBytesOf(index);
    this.emit('piece', index);
    this.readers.pieceVerified(index);
    // Held (a lone get streaming the origin), the `have`s wait for the release: a write per piece
    // to a seed that has it was a tenth of the get's CPU.
    const tell = !this.downloader.held;
    if (!tell) this.heldHaves.push(index);
    for (const p of this.peers) {
      if (p.closed || p.link === undefined) continue;
      // At once to the peers that sent it (a super-seed reveals its next piece on that have: held
      // 100 ms, a download from serve's seed alone ran at 36 MB/s); the others' may wait for company.
      if (tell) p.link.announceHave(index, from?.has(p) === true);
      if (p.amInterested) this.downloader.updateInterest(p);
    }
    if (this.complete) this.onComplete();
  }

  private onComplete(): void {
    this.resolveDone();
    this.emit('done');
    this.emit('progress', this.stats());
    // Seeds and web seeds have nothing more for us, and we nothing for them.
    for (const p of [...this.peers]) if (p.link !== undefined && !wantsFromUs(p.link)) p.link.close();
    // Every piece is verified and on disk: a failed save here fails nothing (close() saves again).
    void this.store.saveResume().catch((err: unknown) => {
      const e = toTorrenttpError(err);
      this.emit('warning', `saving resume state on completion: ${e.message}`, e);
    });
  }

  /**
   * A fatal error: the torrent closes (peers, storage) whoever listens. `done` rejects with it; the
   * `error` event goes only to listeners, since an `error` no one listens to would throw here,
   * out of a disk job's callback, before anything was closed.
   */
  private fail(err: TorrenttpError): void {
    if (this.fatal !== undefined) return;
    this.fatal = err;
    this.readers.end(err);
    this.rejectDone(err);
    void this.close().catch(() => undefined);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /**
   * A peer whose pieces failed their hash (downloader.ts's trust): banned, closed, and a `warning`
   * that names it (a web seed's URL, a wire peer's address), so normal output says who lied.
   */
  private ban(peer: PeerState): void {
    const id = peer.link!.id;
    // Its pieces committed before the ban's close arrives (a web seed's runs) fail one by one: banned once.
    if (this.peers.isBanned(id)) return;
    const err = new EngineError('ENGINE_PEER_BANNED', { detail: id });
    this.peers.ban(id);
    this.emit('banned', id);
    this.emit('warning', err.message, err);
    peer.link!.close(err);
  }
}

/**
 * A link closed for one of these misbehaved on purpose or is broken beyond use (no honest peer
 * sends them): its id is banned for the torrent's life, as a hash failure bans, so it is not
 * dialled or admitted again.
 */
const BAN_ON_CLOSE: ReadonlySet<string> = new Set(['TRANSPORT_BLOCK_MISMATCH', 'TRANSPORT_BAD_BLOCK_OFFSET', 'TRANSPORT_UNREQUESTED_BLOCKS', 'TRANSPORT_CHOKE_STORM']);

/** The tightest upload limit (bytes/s), if any. */
function uploadLimit(limiters: readonly TokenBucket[] | undefined): number | undefined {
  let min: number | undefined;
  for (const l of limiters ?? []) min = Math.min(min ?? Infinity, l.rate);
  return min;
}

/** The peer may still want pieces from us: it can ask for uploads and lacks some. */
function wantsFromUs(link: PeerLink): boolean {
  return link.canUpload && !link.bitfield.complete;
}

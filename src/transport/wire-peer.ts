/**
 * A BEP 3 peer over TCP, as a `PeerLink`. The rules it keeps, beyond peer-link.ts's:
 *
 * Receiving (our requests)
 * - `request` while the peer chokes us, twice for one block, or outside the torrent → `rejected`.
 * - `choke` from the peer: `choke` event, then every outstanding request `rejected` (BEP 3: a
 *   choke discards all pending requests; a client that keeps them waits forever on some peers).
 * - `piece`: delivered once if outstanding with that length; not outstanding (never asked,
 *   cancelled, timed out, or already delivered) → ignored and counted; same block but another
 *   length → close with TRANSPORT_BLOCK_MISMATCH; a block off a 16 KiB boundary (it overlaps
 *   blocks we ask for; we never ask for such a one) → close with TRANSPORT_BAD_BLOCK_OFFSET.
 * - Unrequested blocks are forgiven one per request we gave up on (cancelled, timed out, dropped
 *   by a choke: its block may have been on the way); past that, more than
 *   MAX_UNSOLICITED_BLOCKS of them (1 MiB of junk) → close with TRANSPORT_UNREQUESTED_BLOCKS.
 * - More than MAX_CHOKES_PER_WINDOW chokes from the peer within CHOKE_WINDOW_MS, each while we are
 *   interested → close with TRANSPORT_CHOKE_STORM (a real choker decides every 10 s; a storm only
 *   makes us churn requests). Chokes while we are not interested are not counted.
 * - The peer's BEP 10 handshake caps the queue depth at its `reqq`: a peer that closes or drops
 *   requests past its limit (torrenttp itself closes) never sees more than it allows.
 * - A request older than `requestTimeoutMs` → `rejected`, a `cancel` goes out, and the peer is
 *   `snubbed` (desired depth 1) until its next block.
 * - `cancel(req)` ends the request silently: no event follows, a late block is ignored.
 * - Runs: to a peer whose BEP 10 handshake names `torrenttp_max_request` (another torrenttp link),
 *   the block requests queued in one turn that continue each other go out as one `request` of up
 *   to that many bytes (at most MAX_RUN_REQUEST_BYTES); it answers with one `piece` message for
 *   the run, which our decoder hands out as 16 KiB pieces, each ending its block's request, and
 *   its `reject` of the run rejects each block. A block of a run is not cancelled alone (a
 *   cancel of one block matches no request at the peer): the run is, with one `cancel` of the
 *   run, once each of its blocks is cancelled or timed out (endgame: received from another peer)
 *   and none has arrived; a run partly cancelled still comes, its blocks forgiven as late.
 *
 * BEP 6 (fast extension, when both handshakes set its bit)
 * - `haveAll`/`haveNone` stand for a bitfield. `allowedFast i` lets us request piece i while
 *   choked (`allowedFast`, at most MAX_ALLOWED_FAST pieces). A choke rejects at once every
 *   outstanding request outside those pieces; the peer's `reject` for one still outstanding
 *   rejects it at once (no wait for the request timeout).
 * - Serving, every request we will not answer gets a `reject`: while we choke them, for a piece
 *   we lack, on their `cancel`, and each one queued when we choke them.
 *
 * Serving (their requests)
 * - Their `request` while we choke them is ignored (BEP 3); otherwise a `request` event. More
 *   than `maxPeerRequests` unanswered → close with TRANSPORT_TOO_MANY_REQUESTS. So are more than
 *   `maxPeerRequests` refused ones (while choked, for a piece we lack) since we last unchoked
 *   them: an honest peer stops asking at our choke, so only its requests in flight arrive
 *   (at most `maxPeerRequests`); a flood of them, each answered by a reject, is closed instead
 *   of filling our send buffer (libtorrent's `max_rejects`).
 * - `sendBlock` for a request they still want queues the block (no copy); their `cancel` drops
 *   it if unsent and becomes a `cancel` event. Choking them drops everything they asked for.
 * - A request of theirs may be a run of up to MAX_RUN_REQUEST_BYTES (our BEP 10 handshake offers
 *   it): one `request` event; its block goes out as one `piece` message when their handshake
 *   offered runs of that size, else as 16 KiB `piece` messages, views of it. It counts as its
 *   16 KiB blocks against `maxPeerRequests` (the blocks unanswered, not the requests): a peer
 *   asking in runs holds no more bytes of ours than one asking block by block.
 * - Blocks are written while the socket holds less than `sendBufferBytes`, then not until
 *   'drain' (libtorrent's `send_buffer_watermark`): a peer that stops reading costs at most
 *   that plus its queued requests.
 *
 * BEP 11 (peer exchange), when the torrent offers it (`WireTorrent.pex`, read when the link is
 * made) and the peer's BEP 10 handshake names `ut_pex`: `exchangesPeers` turns true, `sendPeers`
 * goes out on the peer's id, and messages on ours become `peers` events; a malformed one (not a
 * dict, a list of the wrong length, past `PEX_LIMITS`) closes the link with WIRE_BAD_EXTENSION, as
 * libtorrent disconnects on `invalid_pex_message`. Without the offer such messages are ignored.
 * `address` is the peer's IP with the port it listens on: the one we dialled, else its `p`.
 *
 * Writing: what one turn queued goes out in one corked write; an `announceHave` alone waits up to
 * HAVE_DELAY_MS for the next write to the peer (one shared timer for every link), unless `now`
 * (the peer sent us that piece, or a super-seed's reveal: both sides wait for those).
 *
 * Housekeeping, on one timer per link: request timeouts, queue-depth sampling, batched `bytes`
 * events, a keep-alive after `keepAliveMs` without sending, and a close after `idleTimeoutMs`
 * without receiving. Any decoder error (a lying bitfield or have, an oversized message) closes
 * the link with that `WireError` as the reason.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { TorrenttpError, toTorrenttpError } from '../errors/index.js';
import { Bitfield, BLOCK_LENGTH, type Geometry, type Metainfo, type PieceIndex } from '../metainfo/index.js';
import {
  decodeExtendedHandshake,
  decodeFastMessage,
  decodePexMessage,
  encodeExtended,
  encodePexMessage,
  encodeFastMessage,
  WireError,
  type FastMessage,
  encodeMessages,
  encodePieceHeader,
  EXTENDED_MESSAGE_ID,
  type Handshake,
  type WireDecoder,
  type WireMessage,
  UT_METADATA,
  UT_PEX,
  type PexMessage,
} from '../wire/index.js';
import { TransportError } from './errors.js';
import { MetadataServer, OUR_UT_METADATA_ID, OUR_UT_PEX_ID } from './extensions.js';
import { EventQueue } from './event-queue.js';
import { hostPort } from './peer-address.js';
import type { SocketChunks } from './socket-chunks.js';
import { SealBatch, type LinkEncryption, type Rc4Link } from './mse-stream.js';
import type { BlockRequest, PeerEventHandler, PeerLink, PeerSocketAddress } from './peer-link.js';
import { RequestPipeline } from './pipeline.js';
import { MAX_RUN_REQUEST_BYTES, WIRE_PEER_DEFAULTS } from './wire-lazy.js';

/** What a wire link needs of a torrent. `bitfield` is ours and live: sent after the handshake. */
export interface WireTorrent {
  readonly infoHash: Uint8Array;
  readonly metainfo: Metainfo;
  readonly bitfield: Bitfield;
  /** Super-seeding now (BEP 16): no bitfield after the handshake; the engine sends `have`s. Read at each handshake. */
  readonly superSeeding?: boolean;
  /** Offer BEP 11 peer exchange (never for a private torrent, BEP 27). Default false. */
  readonly pex?: boolean;
}

export interface WirePeerOptions {
  /** Our 20-byte peer id. */
  readonly peerId: Uint8Array;
  readonly onEvent: PeerEventHandler;
  /** Send a keep-alive after this long without sending. Default 2 min (BEP 3: "generally … every two minutes"). */
  readonly keepAliveMs?: number;
  /** Close after this long without receiving. Default 5 min: two missed keep-alives and then some. */
  readonly idleTimeoutMs?: number;
  /** A request unanswered this long is rejected and snubs the peer. Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Cap on the adaptive queue depth. Default 500 (libtorrent `max_out_request_queue`). */
  readonly maxQueueDepth?: number;
  /** Queue depth before the first rate measurement. Default 16. */
  readonly initialQueueDepth?: number;
  /** Seconds of download the queue should hold, in ms. Default 1000. */
  readonly queueTimeMs?: number;
  /** Unanswered requests a peer may queue with us. Default 256 (libtorrent allows 500–2000; a block each). */
  readonly maxPeerRequests?: number;
  /** Stop writing blocks while the socket holds this much. Default 512 KiB (libtorrent `send_buffer_watermark`: 500 KiB). */
  readonly sendBufferBytes?: number;
  /** Our listen port, told to peers in the BEP 10 handshake (`p`). */
  readonly listenPort?: number;
  /** We dialled the peer (set by `connectWirePeer`): the address we reached it at is where it listens. */
  readonly dialled?: boolean;
}

export { WIRE_PEER_DEFAULTS };

/** Blocks we never asked for (beyond those we gave up on) that a peer may send before it is closed. */
export const MAX_UNSOLICITED_BLOCKS = 64;
/** Chokes a peer may send within CHOKE_WINDOW_MS: real chokers decide every 10 s (30 s optimistic). */
export const MAX_CHOKES_PER_WINDOW = 10;
export const CHOKE_WINDOW_MS = 10_000;

/** Allowed-fast pieces kept per peer: BEP 6 suggests sets of 10; more than this is a peer padding it. */
export const MAX_ALLOWED_FAST = 64;

/** Counters for logs and tests. */
export interface WirePeerStats {
  /** `piece` messages we had not asked for (or no longer wanted): ignored. */
  readonly unrequestedBlocks: number;
  /** BEP 6 `reject`s of requests still outstanding: each freed at once. */
  readonly rejectedByPeer: number;
  /** Their requests dropped because we choke them or lack the piece. */
  readonly ignoredRequests: number;
  /** Blocks queued by `sendBlock` and not yet handed to the socket. */
  readonly queuedUploads: number;
  /** Bytes the socket holds, not yet sent. */
  readonly socketBufferedBytes: number;
  /** Smoothed download rate from this peer, bytes per second. */
  readonly downloadRate: number;
}

/** A `PeerLink` that is a wire peer, with the BEP 3 state the engine may log. */
export interface WirePeerLink extends PeerLink {
  readonly kind: 'wire';
  readonly amChoking: boolean;
  readonly amInterested: boolean;
  readonly peerInterested: boolean;
  /** A request timed out and no block came since. */
  readonly snubbed: boolean;
  /** The peer's handshake: its peer id and reserved bytes. */
  readonly handshake: Handshake;
  /** 'none': plain BEP 3; 'rc4' or 'plaintext': an MSE handshake came first, then that stream (mse-stream.ts). */
  readonly encryption: 'none' | 'rc4' | 'plaintext';
  stats(): WirePeerStats;
}

interface Upload {
  readonly req: BlockRequest;
  data: Uint8Array | undefined;
  /** `sendBlock`'s `done`, until it is called. */
  done: ((written: boolean) => void) | undefined;
}

/**
 * `chunk` as a plain `Uint8Array` (a view of the same memory, no copy). An accepted socket's
 * chunks are `Buffer`s, a dialled one's (and a cipher thread's) plain `Uint8Array`s: fed both, the
 * decoder, the link and the engine's block path saw two maps at every byte access, and V8 threw
 * their optimized code away each time the second one first came by (a link accepted mid-download)
 * and compiled it again. One kind of chunk keeps every `block` view, and that code, monomorphic.
 */
export function plainBytes(chunk: Uint8Array): Uint8Array {
  return chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * How long a `have` may wait for company before it is written. A downloader verifies a piece
 * every few tens of milliseconds and tells every peer: written at once, that was one write per
 * peer per piece (20,000 of a get's 23,500 socket writes in a 20-get swarm of 256 KiB pieces),
 * each a syscall here and a wake-up, a read and a decode at the peer, for 9 bytes. Held this long
 * (or until anything else goes to that peer: a request, a block, a choke), they go out together.
 * A peer learns of a piece at most this much later; everything else is written at once, and so
 * is a have the peer waits for (`announceHave(index, true)`).
 * 500 ms, not 100: at full speed a 100 ms batch already held several haves, but a get that
 * receives slowly (a capped or loaded origin: ~8 pieces/s) wrote each have alone, one write per
 * peer per piece again, and each woke the peer: in a 20-get swarm fed at 2 MB/s, 52 ms of CPU per
 * get per second at 100 ms, 43 ms at 500 (docs/serve.md, "A get's CPU while it waits").
 */
export const HAVE_DELAY_MS = 500;

/**
 * Links whose outbox holds only `have`s, flushed together by one timer (not a timer per link):
 * they wait at most `HAVE_DELAY_MS`.
 */
class DelayedFlushes {
  private readonly due = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  add(flush: () => void): void {
    this.due.add(flush);
    if (this.timer !== undefined) return;
    this.timer = setTimeout(this.run, HAVE_DELAY_MS);
    this.timer.unref(); // a have nobody waits for keeps no process alive
  }

  delete(flush: () => void): void {
    this.due.delete(flush);
  }

  private readonly run = (): void => {
    this.timer = undefined;
    const flushes = [...this.due];
    this.due.clear();
    for (const f of flushes) f();
  };
}

const delayedFlushes = new DelayedFlushes();

/**
 * The outbox with each request that continues the previous request (same piece, next byte, the
 * previous one whole blocks) folded into it, up to `maxBytes` a request. The engine asks in
 * blocks, in block order, and a turn's requests are mostly one piece's next blocks.
 */
function runRequests(outbox: readonly WireMessage[], maxBytes: number, onRun: (index: number, begin: number, length: number) => void): WireMessage[] {
  const out: WireMessage[] = [];
  let last = -1;
  let folded = false;
  const ran = (): void => {
    const prev = out[last];
    if (folded && prev?.type === 'request') onRun(prev.index, prev.begin, prev.length);
    folded = false;
  };
  for (const m of outbox) {
    if (m.type !== 'request') {
      if (m.type === 'cancel') {
        ran();
        last = -1; // a request after a cancel stays after it
      }
      out.push(m);
      continue;
    }
    const prev = last < 0 ? undefined : out[last];
    if (prev?.type === 'request' && prev.index === m.index && prev.begin + prev.length === m.begin && prev.length % BLOCK_LENGTH === 0 && prev.length + m.length <= maxBytes) {
      out[last] = { type: 'request', index: m.index, begin: prev.begin, length: prev.length + m.length };
      folded = true;
      continue;
    }
    ran();
    last = out.length;
    out.push(m);
  }
  ran();
  return out;
}

/** A request of ours that folded several block requests (`runRequests`): its blocks still outstanding and not cancelled, and whether one arrived. */
interface SentRun {
  readonly index: number;
  readonly begin: number;
  readonly length: number;
  open: number;
  arrived: boolean;
}

/** A request's 16 KiB blocks (a run has several). */
const blocksOf = (req: BlockRequest): number => Math.ceil(req.length / BLOCK_LENGTH);

/** Forgets an upload's block, telling its owner once. */
function drop(u: Upload): void {
  u.data = undefined;
  const done = u.done;
  u.done = undefined;
  done?.(false);
}

export class WirePeer implements WirePeerLink {
  readonly kind = 'wire' as const;
  readonly canDownload = true;
  readonly canUpload = true;
  readonly prefersRuns = false;
  readonly pollsHaves = false;
  readonly id: string;
  peerChoking = true;
  amChoking = true;
  peerInterested = false;
  amInterested = false;

  private peerBitfield: Bitfield;
  /** A `bitfield` or `have` event went out: later bitfields arrive as haves. */
  private piecesAnnounced = false;
  private readonly events: EventQueue;
  private readonly geometry: Geometry;
  private readonly pipeline: RequestPipeline;
  private readonly o: Required<Omit<WirePeerOptions, 'peerId' | 'onEvent' | 'listenPort' | 'dialled'>>;
  /** BEP 10 state: the peer's id for ut_metadata, and our metadata server for it (BEP 9). */
  private peerUtMetadataId: number | undefined;
  private metadataServer: MetadataServer | undefined;
  /** BEP 11: we offered ut_pex; the peer's id for it; its BEP 10 `p`. */
  private readonly offersPex: boolean;
  private peerUtPexId: number | undefined;
  private peerListenPort: number | undefined;
  /**
   * The largest run the peer takes (its BEP 10 `torrenttp_max_request`, at most ours, in whole
   * blocks; 16 KiB when it names none): adjacent block requests queued in one turn go out as one
   * request of up to this many bytes, and a run it asks for goes back as one `piece` message.
   */
  private peerMaxRequest = BLOCK_LENGTH;
  private readonly remoteIp: string;
  private readonly remotePort: number;
  private readonly dialled: boolean;
  /** Their requests we have not answered, by block offset. */
  private readonly theirRequests = new Map<number, Upload>();
  /** The blocks (16 KiB, a run counts each of its own) of `theirRequests`: at most `maxPeerRequests`. */
  private theirRequestBlocks = 0;
  private uploads: Upload[] = [];
  private uploadHead = 0;
  private outbox: WireMessage[] = [];
  private flushScheduled = false;
  /** The outbox holds `have`s only, waiting in `delayedFlushes`. */
  private havesWaiting = false;
  /** `delayedFlushes`' turn: the `have`s that waited go now (unless a flush took them meanwhile). */
  private readonly flushHaves = (): void => {
    if (this.havesWaiting) this.flush();
  };
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private lastReceive: number;
  private lastSend: number;
  private downloaded = 0;
  private uploaded = 0;
  private counters = { unrequestedBlocks: 0, ignoredRequests: 0, rejectedByPeer: 0 };
  /** Their requests refused (choked, a piece we lack) since we last unchoked them. */
  private refusedRequests = 0;
  /** Our requests given up on (cancel, timeout, their choke) whose blocks may still arrive; unrequested blocks beyond, counted. */
  private lateBlocksForgiven = 0;
  /** Our runs in flight, by the pipeline key of each of their blocks still outstanding (`cancelOurs`). */
  private readonly runs = new Map<number, SentRun>();
  private unsolicitedBlocks = 0;
  /**
   * Their chokes in the current window, which began at `chokeWindowStart`: −∞ until the first
   * counted choke opens one. Not 0: a field that starts as an integer and later holds
   * `performance.now()`'s fractions changes every link's hidden class at the first choke
   * (mid-download, in a super-seed's swarm), and V8 drops the optimized code of the whole block
   * path that had seen the old one. (0 also made the first window start at process start.)
   */
  private chokeWindowStart = -Infinity;
  private chokesInWindow = 0;
  /** BEP 6 on both sides. */
  readonly fast: boolean;
  readonly encryption: 'none' | 'rc4' | 'plaintext';
  /** The peer speaks MSE (the connection began with its handshake): BEP 11's `added.f` 0x01. */
  get encrypted(): boolean {
    return this.encryption !== 'none';
  }
  private allowedFastSet: Set<number> | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly chunks: SocketChunks,
    private readonly decoder: WireDecoder,
    private readonly torrent: WireTorrent,
    opts: WirePeerOptions,
    readonly handshake: Handshake,
    fast = false,
    encryption: LinkEncryption = 'none',
    /** RC4: every byte we write goes through it (and `chunks` is it too: the reads come decrypted from the cipher thread). */
    private readonly rc4?: Rc4Link,
  ) {
    this.fast = fast;
    this.encryption = encryption;
    if (rc4 !== undefined) {
      // Encrypted bytes went to the socket: blocks that waited for that room may follow.
      rc4.onSealed = () => {
        if (this.uploadHead < this.uploads.length) this.scheduleFlush();
      };
    }
    this.id = hostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0); // `[v6]:port`, as the engine's dial queue writes it
    const ip = socket.remoteAddress ?? '?';
    this.remoteIp = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
    this.remotePort = socket.remotePort ?? 0;
    this.dialled = opts.dialled === true;
    this.offersPex = torrent.pex === true;
    this.events = new EventQueue(opts.onEvent);
    this.geometry = torrent.metainfo.geometry;
    this.peerBitfield = new Bitfield(this.geometry.pieceCount);
    this.o = {
      keepAliveMs: opts.keepAliveMs ?? WIRE_PEER_DEFAULTS.keepAliveMs,
      idleTimeoutMs: opts.idleTimeoutMs ?? WIRE_PEER_DEFAULTS.idleTimeoutMs,
      requestTimeoutMs: opts.requestTimeoutMs ?? WIRE_PEER_DEFAULTS.requestTimeoutMs,
      maxQueueDepth: opts.maxQueueDepth ?? WIRE_PEER_DEFAULTS.maxQueueDepth,
      initialQueueDepth: opts.initialQueueDepth ?? WIRE_PEER_DEFAULTS.initialQueueDepth,
      queueTimeMs: opts.queueTimeMs ?? WIRE_PEER_DEFAULTS.queueTimeMs,
      maxPeerRequests: opts.maxPeerRequests ?? WIRE_PEER_DEFAULTS.maxPeerRequests,
      sendBufferBytes: opts.sendBufferBytes ?? WIRE_PEER_DEFAULTS.sendBufferBytes,
    };
    const now = performance.now();
    this.lastReceive = now;
    this.lastSend = now;
    this.pipeline = new RequestPipeline(
      {
        pieceLength: this.geometry.pieceLength,
        initialDepth: Math.min(this.o.initialQueueDepth, this.o.maxQueueDepth),
        maxDepth: this.o.maxQueueDepth,
        queueTimeMs: this.o.queueTimeMs,
        requestTimeoutMs: this.o.requestTimeoutMs,
      },
      now,
    );
    // Listening from the start: an error between the handshake and `start` must not go unheard.
    socket.on('error', (err) => this.close(new TransportError('TRANSPORT_SOCKET_ERROR', { detail: `${this.id}: ${err.message}`, cause: err })));
    socket.on('close', () => this.close(new TransportError('TRANSPORT_PEER_CLOSED', { detail: this.id })));
  }

  get bitfield(): Bitfield {
    return this.peerBitfield;
  }

  get desiredQueueDepth(): number {
    return this.pipeline.desiredDepth;
  }

  get allowedFast(): ReadonlySet<number> | undefined {
    return this.allowedFastSet;
  }

  get snubbed(): boolean {
    return this.pipeline.snubbed;
  }

  /** The remote's peer id, from its handshake. */
  get peerId(): Uint8Array {
    return this.handshake.peerId;
  }

  get address(): PeerSocketAddress {
    const listenPort = this.dialled ? this.remotePort : this.peerListenPort;
    return { ip: this.remoteIp, listenPort, dialled: this.dialled };
  }

  get exchangesPeers(): boolean {
    return this.offersPex && this.peerUtPexId !== undefined;
  }

  sendPeers(m: PexMessage): void {
    if (this.closed || !this.offersPex || this.peerUtPexId === undefined) return;
    this.send(encodeExtended(this.peerUtPexId, encodePexMessage(m)));
  }

  stats(): WirePeerStats {
    return {
      ...this.counters,
      queuedUploads: this.uploads.length - this.uploadHead,
      socketBufferedBytes: this.socket.writableLength,
      downloadRate: this.pipeline.rate,
    };
  }

  /**
   * Starts reading; `first` are messages decoded with the handshake. Called by connect/accept
   * after the caller holds the link, so no event precedes the link itself.
   */
  start(first: readonly WireMessage[]): void {
    if (this.closed) return;
    const s = this.socket;
    s.on('drain', () => this.flush());
    const tickMs = Math.max(5, Math.min(1000, this.o.requestTimeoutMs / 4, this.o.keepAliveMs / 4, this.o.idleTimeoutMs / 4));
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
    this.onMessages(first);
    // After `first`: bytes read since the handshake (none while paused, but held if any) follow it.
    this.chunks.setHandler((chunk) => this.onData(chunk));
    if (!this.closed) s.resume();
  }

  request(req: BlockRequest): void {
    if (this.closed) return;
    const choked = this.peerChoking && this.allowedFastSet?.has(req.index) !== true;
    if (choked || !this.validRequest(req) || !this.pipeline.add(req, performance.now())) {
      this.events.emit({ type: 'rejected', req });
      return;
    }
    this.send({ type: 'request', index: req.index, begin: req.begin, length: req.length });
  }

  cancel(req: BlockRequest): void {
    if (this.closed) return;
    if (this.pipeline.remove(req) !== undefined) this.cancelOurs(req);
  }

  /**
   * A request of ours given up on (cancelled, timed out; out of the pipeline already): its
   * `cancel`, or, for a block of a run, the run's once none of its blocks is wanted any more
   * and none arrived (an arrived one means the peer is sending the run's message).
   */
  private cancelOurs(req: BlockRequest): void {
    this.lateBlocksForgiven++;
    const k = this.pipeline.key(req.index, req.begin);
    const run = this.runs.size === 0 ? undefined : this.runs.get(k);
    if (run === undefined) {
      this.send({ type: 'cancel', index: req.index, begin: req.begin, length: req.length });
      return;
    }
    this.runs.delete(k);
    if (--run.open === 0 && !run.arrived) this.send({ type: 'cancel', index: run.index, begin: run.begin, length: run.length });
  }

  /** A request of ours (just sent) that folded several blocks: each still outstanding is noted for `cancelOurs`. */
  private readonly noteRun = (index: number, begin: number, length: number): void => {
    const run: SentRun = { index, begin, length, open: 0, arrived: false };
    for (let b = begin; b < begin + length; b += BLOCK_LENGTH) {
      const k = this.pipeline.key(index, b);
      if (!this.pipeline.has({ index: index as PieceIndex, begin: b, length: Math.min(BLOCK_LENGTH, begin + length - b) })) continue;
      this.runs.set(k, run);
      run.open++;
    }
  };

  /** Our request for the block at `index`/`begin` ended (its block arrived, or it was rejected): out of its run, if any. */
  private endRun(index: number, begin: number, arrived: boolean): void {
    if (this.runs.size === 0) return;
    const k = this.pipeline.key(index, begin);
    const run = this.runs.get(k);
    if (run === undefined) return;
    this.runs.delete(k);
    run.open--;
    if (arrived) run.arrived = true;
  }

  setChoking(choking: boolean): void {
    if (this.closed || choking === this.amChoking) return;
    this.amChoking = choking;
    if (!choking) this.refusedRequests = 0;
    this.send({ type: choking ? 'choke' : 'unchoke' });
    if (choking) {
      // BEP 3: choking discards their requests, queued blocks included; BEP 6 says so with a reject each, after the choke.
      for (const u of this.theirRequests.values()) {
        drop(u);
        this.rejectTheirs(u.req);
      }
      this.theirRequests.clear();
      this.theirRequestBlocks = 0;
    }
  }

  setInterested(interested: boolean): void {
    if (this.closed || interested === this.amInterested) return;
    this.amInterested = interested;
    this.send({ type: interested ? 'interested' : 'notInterested' });
  }

  announceHave(index: PieceIndex, now = false): void {
    if (this.closed) return;
    if (now) {
      this.send({ type: 'have', index }); // with whatever haves wait, in this turn's write
      return;
    }
    this.outbox.push({ type: 'have', index });
    // Not a flush of its own: it goes with the next write to this peer, at most HAVE_DELAY_MS on.
    if (!this.flushScheduled && !this.havesWaiting) {
      this.havesWaiting = true;
      delayedFlushes.add(this.flushHaves);
    }
  }

  sendBlock(req: BlockRequest, data: Uint8Array, done?: (written: boolean) => void): void {
    if (this.closed) {
      done?.(false);
      return;
    }
    const k = this.pipeline.key(req.index, req.begin);
    const u = this.theirRequests.get(k);
    // Cancelled, choked or never asked: drop silently, the peer no longer wants it.
    if (u === undefined || u.data !== undefined || u.req.length !== req.length || data.length !== req.length) {
      done?.(false);
      return;
    }
    u.data = data;
    u.done = done;
    this.uploads.push(u);
    this.scheduleFlush();
  }

  close(reason?: TorrenttpError): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.havesWaiting) {
      this.havesWaiting = false;
      delayedFlushes.delete(this.flushHaves);
    }
    this.emitBytes();
    this.pipeline.drain();
    for (const u of this.theirRequests.values()) drop(u);
    for (let i = this.uploadHead; i < this.uploads.length; i++) drop(this.uploads[i]!);
    this.theirRequests.clear();
    this.theirRequestBlocks = 0;
    this.uploads = [];
    this.rc4?.close();
    this.socket.destroy(); // blocks already handed to the socket: their write callbacks end them
    this.events.emit(reason === undefined ? { type: 'closed' } : { type: 'closed', reason });
  }

  private validRequest(req: BlockRequest): boolean {
    return this.geometry.isBlockRange(req.index, req.begin, req.length);
  }

  private onData(chunk: Uint8Array): void {
    if (this.closed) return;
    this.lastReceive = performance.now();
    let messages: WireMessage[];
    try {
      messages = this.decoder.push(plainBytes(chunk));
    } catch (err) {
      this.close(toTorrenttpError(err));
      return;
    }
    this.onMessages(messages);
    // Now, not in a microtask: `block` events are views of the chunk, which may be a read buffer
    // that the next read overwrites (see SocketChunks). The engine copies them as it handles them.
    this.events.deliverNow();
  }

  private onMessages(messages: readonly WireMessage[]): void {
    for (const m of messages) {
      if (this.closed) return;
      this.onMessage(m);
    }
  }

  /** Counts a choke in the current window; true when it was one too many (the link is closed). */
  private countChokeStorm(): boolean {
    const now = performance.now();
    if (now - this.chokeWindowStart >= CHOKE_WINDOW_MS) {
      this.chokeWindowStart = now;
      this.chokesInWindow = 0;
    }
    if (++this.chokesInWindow <= MAX_CHOKES_PER_WINDOW) return false;
    this.close(new TransportError('TRANSPORT_CHOKE_STORM', { detail: `${this.id}: more than ${MAX_CHOKES_PER_WINDOW} chokes in ${CHOKE_WINDOW_MS / 1000} s while we were interested` }));
    return true;
  }

  private onMessage(m: WireMessage): void {
    switch (m.type) {
      case 'choke': {
        if (this.peerChoking) return;
        // A choke while we are not interested costs us no requests (and often answers our own
        // `not interested`, as a super-seed's does between offers): only those while interested count.
        if (this.amInterested && this.countChokeStorm()) return;
        this.peerChoking = true;
        this.events.emit({ type: 'choke' });
        // BEP 6: requests in allowed-fast pieces survive a choke; they end in a block or a reject.
        const allowed = this.fast ? this.allowedFastSet : undefined;
        const rejected = allowed === undefined ? this.pipeline.drain() : this.pipeline.drain((r) => allowed.has(r.index));
        this.lateBlocksForgiven += rejected.length;
        for (const req of rejected) {
          this.endRun(req.index, req.begin, false);
          this.events.emit({ type: 'rejected', req });
        }
        return;
      }
      case 'unchoke':
        if (!this.peerChoking) return;
        this.peerChoking = false;
        this.events.emit({ type: 'unchoke' });
        return;
      case 'interested':
      case 'notInterested': {
        const interested = m.type === 'interested';
        if (interested === this.peerInterested) return;
        this.peerInterested = interested;
        this.events.emit({ type: m.type });
        return;
      }
      case 'have': {
        // The decoder range-checked the index against the torrent; a repeat is not news.
        this.piecesAnnounced = true;
        if (this.peerBitfield.set(m.index)) this.events.emit({ type: 'have', index: m.index as PieceIndex });
        return;
      }
      case 'bitfield': {
        let got: Bitfield;
        try {
          got = Bitfield.fromBytes(m.bitfield, this.geometry.pieceCount);
        } catch (err) {
          this.close(toTorrenttpError(err));
          return;
        }
        this.onBitfield(got);
        return;
      }
      case 'piece':
        this.onPiece(m.index, m.begin, m.block);
        return;
      case 'request':
        this.onTheirRequest({ index: m.index as PieceIndex, begin: m.begin, length: m.length });
        return;
      case 'cancel': {
        const k = this.pipeline.key(m.index, m.begin);
        const u = this.theirRequests.get(k);
        if (u === undefined || u.req.length !== m.length) return;
        this.theirRequests.delete(k);
        this.theirRequestBlocks -= blocksOf(u.req);
        drop(u); // an unsent upload is skipped by flush
        this.rejectTheirs(u.req); // BEP 6: a cancelled request ends in a piece or a reject
        this.events.emit({ type: 'cancel', req: u.req });
        return;
      }
      case 'unknown':
        if (m.id === EXTENDED_MESSAGE_ID) this.onExtended(m.payload);
        else if (this.fast) this.onFast(m.id, m.payload);
        return;
      default:
        // keepAlive, port: nothing to do.
        return;
    }
  }

  /**
   * BEP 10: the handshake caps our queue at its `reqq` and names the peer's ut_metadata and ut_pex
   * ids; messages on our ut_metadata id are BEP 9 requests for our info dict, on our ut_pex id
   * (when offered) BEP 11 peer lists. Other ids: not ours, ignored.
   */
  private onExtended(payload: Uint8Array): void {
    try {
      const h = decodeExtendedHandshake(payload);
      if (h !== undefined) {
        if (h.reqq !== undefined) this.pipeline.limitDepth(h.reqq);
        if (h.maxRequest !== undefined) this.peerMaxRequest = Math.max(BLOCK_LENGTH, Math.floor(Math.min(h.maxRequest, MAX_RUN_REQUEST_BYTES) / BLOCK_LENGTH) * BLOCK_LENGTH);
        this.peerUtMetadataId = h.m.get(UT_METADATA);
        this.peerUtPexId = h.m.get(UT_PEX);
        if (h.p !== undefined) this.peerListenPort = h.p;
        return;
      }
      if (payload[0] === OUR_UT_PEX_ID && this.offersPex) {
        this.events.emit({ type: 'peers', message: decodePexMessage(payload.subarray(1)) }); // throws WIRE_BAD_EXTENSION: the link closes
        return;
      }
      if (payload[0] === OUR_UT_METADATA_ID) {
        this.metadataServer ??= new MetadataServer(this.torrent.metainfo.infoBytes);
        const reply = this.metadataServer.answer(payload.subarray(1), this.peerUtMetadataId);
        if (reply !== undefined) this.send(reply);
      }
    } catch (err) {
      this.close(toTorrenttpError(err));
    }
  }

  private onBitfield(got: Bitfield): void {
    // The engine counts this object's pieces once, at the first `bitfield` event, and keeps
    // it: so never swap it, and announce anything after that event as haves. (aria2 sends a
    // bitfield after its first haves, and later instead of bursts of haves.) Pieces missing
    // from a later bitfield stay: a peer does not lose pieces.
    if (!this.piecesAnnounced) {
      for (const i of got) this.peerBitfield.set(i);
      this.piecesAnnounced = true;
      this.events.emit({ type: 'bitfield', bitfield: this.peerBitfield });
      return;
    }
    for (const i of got) if (this.peerBitfield.set(i)) this.events.emit({ type: 'have', index: i as PieceIndex });
  }

  /** BEP 6 messages (ids 13–17); without the extension they are unknown ids and ignored. */
  private onFast(id: number, payload: Uint8Array): void {
    let m: FastMessage | undefined;
    try {
      m = decodeFastMessage(id, payload);
      if (m === undefined) return;
      if ((m.type === 'suggest' || m.type === 'allowedFast' || m.type === 'reject') && m.index >= this.geometry.pieceCount) {
        throw new WireError('WIRE_OUT_OF_RANGE', { detail: `${m.type} of piece ${m.index}, torrent has ${this.geometry.pieceCount}`, messageId: id });
      }
    } catch (err) {
      this.close(toTorrenttpError(err));
      return;
    }
    switch (m.type) {
      case 'haveAll':
      case 'haveNone': {
        const got = m.type === 'haveAll' ? Bitfield.full(this.geometry.pieceCount) : new Bitfield(this.geometry.pieceCount);
        this.onBitfield(got);
        return;
      }
      case 'allowedFast':
        this.allowedFastSet ??= new Set();
        if (this.allowedFastSet.size < MAX_ALLOWED_FAST) this.allowedFastSet.add(m.index);
        return;
      case 'reject': {
        // A run we asked for in one request is rejected in one: each of its blocks still outstanding.
        // No longer than the runs we ask of this peer: a longer one matches no request of ours (a
        // 4 GiB reject must not be 262,144 lookups, nor end requests we never put in one run).
        const end = m.begin + m.length;
        const step = m.length > BLOCK_LENGTH && m.length <= this.peerMaxRequest && m.begin % BLOCK_LENGTH === 0 ? BLOCK_LENGTH : m.length;
        for (let begin = m.begin; begin < end; begin += step) {
          const req = this.pipeline.remove({ index: m.index as PieceIndex, begin, length: Math.min(step, end - begin) });
          if (req === undefined) continue; // not outstanding (already rejected by the choke, or answered)
          this.endRun(req.index, req.begin, false);
          this.counters.rejectedByPeer++;
          this.events.emit({ type: 'rejected', req });
        }
        return;
      }
      case 'suggest':
        return; // the picker has its own order
    }
  }

  /** BEP 6 `reject` for a request of theirs we will not answer (nothing without the extension). */
  private rejectTheirs(req: BlockRequest): void {
    if (this.fast) this.send(encodeFastMessage({ type: 'reject', index: req.index, begin: req.begin, length: req.length }));
  }

  private onPiece(index: number, begin: number, block: Uint8Array): void {
    if (begin % BLOCK_LENGTH !== 0) {
      this.close(new TransportError('TRANSPORT_BAD_BLOCK_OFFSET', { detail: `${this.id}: piece ${index} begin ${begin}` }));
      return;
    }
    const { verdict, req } = this.pipeline.onBlock(index, begin, block.length);
    if (verdict === 'unrequested') {
      this.counters.unrequestedBlocks++;
      if (this.lateBlocksForgiven > 0) this.lateBlocksForgiven--;
      else if (++this.unsolicitedBlocks > MAX_UNSOLICITED_BLOCKS) {
        this.close(new TransportError('TRANSPORT_UNREQUESTED_BLOCKS', { detail: `${this.id}: more than ${MAX_UNSOLICITED_BLOCKS} blocks we never asked for` }));
      }
      return;
    }
    if (verdict === 'wrongLength') {
      this.close(
        new TransportError('TRANSPORT_BLOCK_MISMATCH', {
          detail: `piece ${index} begin ${begin}: ${block.length} bytes, requested ${req!.length}`,
        }),
      );
      return;
    }
    this.downloaded += block.length;
    this.endRun(index, begin, true);
    this.events.emit({ type: 'block', req: req!, data: block });
  }

  private onTheirRequest(req: BlockRequest): void {
    if (this.amChoking || !this.torrent.bitfield.has(req.index)) {
      this.counters.ignoredRequests++;
      if (++this.refusedRequests > this.o.maxPeerRequests) {
        this.close(new TransportError('TRANSPORT_TOO_MANY_REQUESTS', { detail: `more than ${this.o.maxPeerRequests} refused (choked, or a piece we lack)` }));
        return;
      }
      this.rejectTheirs(req);
      return;
    }
    const k = this.pipeline.key(req.index, req.begin);
    if (this.theirRequests.has(k)) return; // a duplicate: one answer is enough
    // Counted in blocks: a run asks for as much as its blocks asked one by one.
    const blocks = blocksOf(req);
    if (this.theirRequestBlocks + blocks > this.o.maxPeerRequests) {
      this.close(new TransportError('TRANSPORT_TOO_MANY_REQUESTS', { detail: `more than ${this.o.maxPeerRequests} blocks` }));
      return;
    }
    this.theirRequestBlocks += blocks;
    this.theirRequests.set(k, { req, data: undefined, done: undefined });
    this.events.emit({ type: 'request', req });
  }

  private send(m: WireMessage): void {
    this.outbox.push(m);
    this.scheduleFlush();
  }

  /** Batches every message and block queued in this turn into one corked write (one writev). */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.havesWaiting) {
      this.havesWaiting = false;
      delayedFlushes.delete(this.flushHaves);
    }
    if (this.closed) return;
    const s = this.socket;
    let wrote = false;
    s.cork();
    // RC4: everything below goes to the cipher thread in 64 KiB batches (SealBatch), not a job per part;
    // bytes there count against the send buffer as if on the socket.
    // A plaintext MSE session (crypto_select 0x01, aria2's choice when offered both) is written as plain.
    const rc4 = this.rc4;
    const seal = rc4 === undefined ? undefined : new SealBatch(rc4);
    const sealing = rc4 === undefined ? 0 : rc4.sealing;
    if (this.outbox.length > 0) {
      const bytes = encodeMessages(this.peerMaxRequest > BLOCK_LENGTH ? runRequests(this.outbox, this.peerMaxRequest, this.noteRun) : this.outbox);
      if (seal === undefined) s.write(bytes);
      else seal.add(bytes);
      this.outbox = [];
      wrote = true;
    }
    while (this.uploadHead < this.uploads.length && s.writableLength + sealing + (seal === undefined ? 0 : seal.pending) < this.o.sendBufferBytes) {
      const u = this.uploads[this.uploadHead++]!;
      const data = u.data;
      if (data === undefined) continue; // cancelled or choked after sendBlock
      const k = this.pipeline.key(u.req.index, u.req.begin);
      if (this.theirRequests.get(k) === u) {
        this.theirRequests.delete(k);
        this.theirRequestBlocks -= blocksOf(u.req);
      }
      const done = u.done;
      u.data = undefined;
      u.done = undefined;
      // A run goes out as one `piece` message to a peer that takes runs (its decoder hands it
      // out in blocks), else as its 16 KiB blocks, each a `piece` message.
      const step = data.length <= this.peerMaxRequest ? data.length : BLOCK_LENGTH;
      for (let off = 0; off < data.length; off += step) {
        const n = Math.min(step, data.length - off);
        const header = encodePieceHeader(u.req.index, u.req.begin + off, n);
        const block = n === data.length ? data : data.subarray(off, off + n);
        if (seal === undefined) {
          s.write(header);
          // A view, not a copy: the writable wraps it as a Buffer over the same memory. Its callback
          // runs once the bytes are in the kernel (or the socket is destroyed): then `data` is free.
          if (off + n < data.length) s.write(block);
          else s.write(block, done === undefined ? undefined : (err) => done(err === undefined || err === null));
        } else {
          // Copied into the batch, which moves to the cipher thread.
          seal.add(header);
          seal.add(block);
        }
      }
      if (seal !== undefined) done?.(true); // copied: `data` is free at once
      this.uploaded += data.length;
      wrote = true;
    }
    seal?.end();
    if (this.uploadHead === this.uploads.length) {
      this.uploads = [];
      this.uploadHead = 0;
    } else if (this.uploadHead > 1024) {
      this.uploads = this.uploads.slice(this.uploadHead);
      this.uploadHead = 0;
    }
    s.uncork();
    if (wrote) this.lastSend = performance.now();
    // Blocks left over wait for 'drain' (the socket is past its high-water mark, write() said false).
  }

  private tick(): void {
    if (this.closed) return;
    const now = performance.now();
    if (now - this.lastReceive >= this.o.idleTimeoutMs) {
      this.close(new TransportError('TRANSPORT_IDLE_TIMEOUT', { detail: `${Math.round(now - this.lastReceive)} ms` }));
      return;
    }
    for (const req of this.pipeline.expire(now)) {
      this.cancelOurs(req);
      this.events.emit({ type: 'rejected', req });
    }
    this.pipeline.sample(now);
    this.emitBytes();
    if (now - this.lastSend >= this.o.keepAliveMs) this.send({ type: 'keepAlive' });
  }

  private emitBytes(): void {
    if (this.downloaded === 0 && this.uploaded === 0) return;
    this.events.emit({ type: 'bytes', downloaded: this.downloaded, uploaded: this.uploaded });
    this.downloaded = 0;
    this.uploaded = 0;
  }
}

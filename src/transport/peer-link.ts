import type { TorrenttpError } from '../errors/index.js';
import type { Bitfield, PieceIndex } from '../metainfo/index.js';
import type { PexMessage } from '../wire/lite.js';

/**
 * The one peer interface of the engine (STYLE.md "One peer interface"). A TCP wire peer, a
 * BEP 19 web seed and a TorrentTTP HTTP peer all implement it; the picker, the choker and the
 * rate accounting never know which kind they talk to, and never downcast.
 *
 * Rules every implementation keeps:
 * - Events are delivered through the `onEvent` handler given at creation, in order, never
 *   re-entrantly from inside a method call (queue them with `queueMicrotask` if needed).
 * - `request` never throws: a request the link cannot serve ends as a `rejected` event.
 * - Every accepted request ends exactly once: `block`, `rejected`, or the link's `closed`.
 * - After `closed`, no more events, and methods are no-ops.
 * - `block.data` may be a view of a network buffer: the engine copies it into the piece
 *   buffer before the next turn of the event loop and keeps no reference.
 *
 * The peer's pieces (`bitfield` and `have` events), one rule for every kind:
 * - `link.bitfield` is the peer's piece set, updated by the link before it emits the event.
 * - `have i` adds piece i. A later `bitfield` *replaces* the set: an HTTP peer that re-polls its
 *   have-set (`pollsHaves`) may send a whole bitfield at every poll, and a wire peer (aria2)
 *   may send one after its first haves. The engine keeps its own copy of what it counted for
 *   the peer's availability, so a repeated piece is never counted twice, a piece missing from a
 *   new bitfield is uncounted, and closing the link subtracts exactly what was counted.
 *
 * The engine never branches on `kind`: it reads the capabilities (`canDownload`, `canUpload`,
 * `prefersRuns`, `pollsHaves`). `kind` is for stats and logs.
 */
export interface BlockRequest {
  readonly index: PieceIndex;
  readonly begin: number;
  readonly length: number;
}

export type PeerKind = 'wire' | 'webseed' | 'http';

export type PeerEvent =
  /** The peer's pieces are known (wire bitfield; a web seed has everything at once). */
  | { readonly type: 'bitfield'; readonly bitfield: Bitfield }
  | { readonly type: 'have'; readonly index: PieceIndex }
  /**
   * The peer will not serve us; `retryAfterMs` from HTTP 429/503 `Retry-After`. Outstanding requests are rejected separately.
   * `reason`: an HTTP link that backs off after a failure says which (the user should hear why a web seed gives nothing).
   */
  | { readonly type: 'choke'; readonly retryAfterMs?: number; readonly reason?: TorrenttpError }
  | { readonly type: 'unchoke' }
  | { readonly type: 'interested' }
  | { readonly type: 'notInterested' }
  | { readonly type: 'block'; readonly req: BlockRequest; readonly data: Uint8Array }
  /** A request that will not be answered (choked, cancelled by the peer, HTTP error…). */
  | { readonly type: 'rejected'; readonly req: BlockRequest }
  /**
   * The peer asks us for a block (links that push requests: the wire). An HTTP server side asks
   * `Torrent.lease` directly instead; both pass the same choke and limit checks.
   */
  | { readonly type: 'request'; readonly req: BlockRequest }
  | { readonly type: 'cancel'; readonly req: BlockRequest }
  /** Bytes moved, for rate accounting (payload only). */
  | { readonly type: 'bytes'; readonly downloaded: number; readonly uploaded: number }
  /**
   * The peer told us of other peers (BEP 11 `ut_pex`), as decoded: only a link that
   * `exchangesPeers` emits it. What to believe of it (how often, how many, which addresses) is
   * the engine's to decide.
   */
  | { readonly type: 'peers'; readonly message: PexMessage }
  | { readonly type: 'closed'; readonly reason?: TorrenttpError };

/** Where a peer connected over a socket is (BEP 11 needs it); links over HTTP have none. */
export interface PeerSocketAddress {
  /** The peer's IP: dotted IPv4 (an IPv4-mapped IPv6 address is folded) or IPv6. */
  readonly ip: string;
  /**
   * The port it accepts connections on, when we know it: the one we dialled, or what an
   * incoming peer named in its BEP 10 handshake (`p`). Undefined for an incoming peer that did not say.
   */
  readonly listenPort: number | undefined;
  /** We dialled it: its `listenPort` is proven to accept connections. */
  readonly dialled: boolean;
}

export type PeerEventHandler = (event: PeerEvent) => void;

export interface PeerLink {
  /** For stats and logs only: the engine decides on the capabilities below. */
  readonly kind: PeerKind;
  /** We can download from the peer: it serves `request`s (every kind so far). */
  readonly canDownload: boolean;
  /**
   * We can upload to the peer: it may ask us for blocks, so it is ranked by the choker and kept
   * after our download completes while it lacks pieces. False for a web seed (a plain server).
   */
  readonly canUpload: boolean;
  /** `host:port` for wire peers, the URL for HTTP kinds: stable, for logs and bans. */
  readonly id: string;
  /** What the peer has; kept up to date by the link before it emits `have`/`bitfield`. */
  readonly bitfield: Bitfield;
  /** Web seeds and HTTP peers: contiguous runs of blocks make fewer, larger requests. */
  readonly prefersRuns: boolean;
  /** The link learns the peer's pieces by polling (an HTTP peer's have-set), so it may send a whole `bitfield` again. */
  readonly pollsHaves: boolean;
  /** Requests the link wants outstanding at once to fill its pipe (adaptive for wire peers). */
  readonly desiredQueueDepth: number;
  /** True while the peer chokes us. */
  readonly peerChoking: boolean;
  /**
   * Optional: pieces we may request even while the peer chokes us (BEP 6 allowed-fast). A link
   * that has none leaves it undefined; `request` of such a piece while choked is then served.
   */
  readonly allowedFast?: ReadonlySet<number>;
  /** Optional: the peer's socket address (wire links), read for peer exchange. */
  readonly address?: PeerSocketAddress;
  /**
   * Optional: the peer id the remote sent in its handshake (wire links; 20 bytes). The engine
   * keeps one connection per peer id (two peers that dial each other end with two). Links
   * without a handshake (web seeds, HTTP peers) leave it undefined.
   */
  readonly peerId?: Uint8Array;
  /** Optional: the connection is encrypted (BEP 11's `added.f` 0x01); undefined when not known. */
  readonly encrypted?: boolean;
  /**
   * Optional: both sides offered BEP 11 peer exchange, so `sendPeers` reaches the peer and
   * `peers` events may come. It may turn true some time after the link is added (when the peer's
   * extension handshake arrives); links without peer exchange leave it undefined.
   */
  readonly exchangesPeers?: boolean;

  request(req: BlockRequest): void;
  cancel(req: BlockRequest): void;
  /** Our choke/interest state towards the peer (wire messages); a link without such messages ignores them. */
  setChoking(choking: boolean): void;
  setInterested(interested: boolean): void;
  /**
   * Tell the peer we have a new piece (wire `have`). A link may hold it a moment to send it with
   * other bytes, unless `now`: the peer is waiting for it (it sent us that piece, and a
   * super-seed reveals its next piece on that `have`; or we are the super-seed revealing one).
   */
  announceHave(index: PieceIndex, now?: boolean): void;
  /**
   * Send a block the peer requested through a `request` event. `data` is written without a copy. `done`, when
   * given, is called exactly once when the link no longer uses `data`: `written` true once it went
   * to the socket, false when dropped (cancelled, choked, closed), or at once by links that do not upload.
   */
  sendBlock(req: BlockRequest, data: Uint8Array, done?: (written: boolean) => void): void;
  /** Optional: a BEP 11 message to the peer (at most `PEX_LIMITS.maxSend` added and dropped); a no-op unless `exchangesPeers`. */
  sendPeers?(m: PexMessage): void;
  close(reason?: TorrenttpError): void;
}

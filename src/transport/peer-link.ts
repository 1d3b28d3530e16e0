import type { TorrenttpError } from '../errors/index.js';
import type { Bitfield, PieceIndex } from '../metainfo/index.js';

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
  /** The peer asks us for a block (wire peers only). */
  | { readonly type: 'request'; readonly req: BlockRequest }
  | { readonly type: 'cancel'; readonly req: BlockRequest }
  /** Bytes moved, for rate accounting (payload only). */
  | { readonly type: 'bytes'; readonly downloaded: number; readonly uploaded: number }
  | { readonly type: 'closed'; readonly reason?: TorrenttpError };

export type PeerEventHandler = (event: PeerEvent) => void;

export interface PeerLink {
  readonly kind: PeerKind;
  /** `host:port` for wire peers, the URL for HTTP kinds: stable, for logs and bans. */
  readonly id: string;
  /** What the peer has; kept up to date by the link before it emits `have`/`bitfield`. */
  readonly bitfield: Bitfield;
  /** Web seeds and HTTP peers: contiguous runs of blocks make fewer, larger requests. */
  readonly prefersRuns: boolean;
  /** Requests the link wants outstanding at once to fill its pipe (adaptive for wire peers). */
  readonly desiredQueueDepth: number;
  /** True while the peer chokes us. */
  readonly peerChoking: boolean;

  request(req: BlockRequest): void;
  cancel(req: BlockRequest): void;
  /** Wire peers: our choke/interest state towards the peer; no-ops for HTTP kinds. */
  setChoking(choking: boolean): void;
  setInterested(interested: boolean): void;
  /** Tell the peer we have a new piece (wire `have`). */
  announceHave(index: PieceIndex): void;
  /**
   * Send a block the peer requested (wire peers). `data` is written without a copy. `done`, when
   * given, is called exactly once when the link no longer uses `data`: written to the socket,
   * dropped (cancelled, choked, closed), or at once by links that do not upload.
   */
  sendBlock(req: BlockRequest, data: Uint8Array, done?: () => void): void;
  close(reason?: TorrenttpError): void;
}

import { toTorrenttpError, type TorrenttpError } from '../errors/index.js';
import { Bitfield, BLOCK_LENGTH, type Geometry, type PieceIndex } from '../metainfo/index.js';
import type { BlockRequest } from '../transport/index.js';
import type { PeerState } from './peer-set.js';
import { RateMeter, type TokenBucket } from './rate.js';
import type { TorrentStore } from './torrent-api.js';

/**
 * Uploads, pull-style: whatever serves a peer asks `grant` for bytes of one piece, and gets a
 * lease or a refusal. Rules:
 * - `grant` is the only way bytes leave: the wire link's `request` events (queued here, sent with
 *   `sendBlock`), and `Torrent.lease` for an HTTP server side (TorrentTTP `GET …/pieces/N`, the
 *   transparent web server) all pass the same checks: not choked, a range of one verified piece,
 *   the upload limits (global, then this torrent's; a block may put a bucket into debt).
 * - A lease is zero-copy (`store.lendBlock`) and released exactly once, when its bytes are
 *   written or dropped. A peer choked or gone while its read was under way gets a refusal, and
 *   the lease is released here.
 * - Stats count bytes handed over: a lease taken, a block given to `sendBlock`.
 * - A storage failure is fatal for the torrent.
 */

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

export interface UploaderHost {
  readonly now: () => number;
  readonly closed: () => boolean;
  /** Until the next choking round. */
  readonly nextChokeInMs: (now: number) => number;
  readonly fail: (err: TorrenttpError) => void;
}

/** Disk reads in flight per peer for uploads: enough to keep a fast peer fed from the piece cache. */
const MAX_READS_PER_PEER = 32;
/** Requests from one peer we queue before ignoring more (the link also bounds them). */
const MAX_UPLOAD_QUEUE = 512;

const NO_RELEASE = (): void => undefined;

export const refusal = (reason: UploadRefusal['reason'], retryAfterMs: number | undefined): UploadRefusal => ({ ok: false, reason, retryAfterMs });

export class Uploader {
  readonly up = new RateMeter();

  constructor(
    private readonly geometry: Geometry,
    private readonly have: Bitfield,
    private readonly store: TorrentStore,
    private readonly limiters: readonly TokenBucket[],
    private readonly host: UploaderHost,
  ) {}

  /** A server side's pull (`Torrent.lease`). */
  lease(peer: PeerState, req: BlockRequest): Promise<UploadAnswer> {
    const g = this.grant(peer, req);
    if (!(g instanceof Promise)) return Promise.resolve(g);
    return g.then((a) => {
      if (a.ok) this.count(peer, a.data.length);
      return a;
    });
  }

  /** A wire `request`: queued, then read and sent in order. */
  request(peer: PeerState, req: BlockRequest): void {
    if (peer.amChoking) return; // BEP 3: requests while choked are dropped
    if (peer.uploads.length >= MAX_UPLOAD_QUEUE) return;
    peer.uploads.push({ req, cancelled: false });
    this.serve(peer);
  }

  cancel(peer: PeerState, req: BlockRequest): void {
    for (const u of [...peer.uploads, ...peer.reading]) {
      if (u.req.index === req.index && u.req.begin === req.begin) u.cancelled = true;
    }
  }

  /** Moves the peer's queued requests through `grant` and out by `sendBlock`; tick() resumes a rate-limited queue. */
  serve(peer: PeerState): void {
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
        if (g.reason === 'rateLimited') return; // kept at the head
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
          link.sendBlock(u.req, a.data, (written) => {
            a.release();
            // Only a block that went out: one our choke dropped from the link's queue, and never asked again, the peer lacks.
            if (written) this.noteSent(peer, u.req);
          });
          this.count(peer, a.data.length);
          this.serve(peer);
        },
        () => peer.reading.delete(u), // fatal: grant failed the torrent
      );
    }
  }

  /** The one gate: a refusal now, or the read under way (refused still if the peer is choked or gone meanwhile). */
  private grant(peer: PeerState, req: BlockRequest): UploadRefusal | Promise<UploadAnswer> {
    if (peer.closed || this.host.closed()) return refusal('closed', undefined);
    const now = this.host.now();
    if (peer.amChoking) return refusal('choked', this.host.nextChokeInMs(now));
    const g = this.geometry;
    const { index, begin, length } = req;
    if (!Number.isSafeInteger(index) || index < 0 || index >= g.pieceCount || !Number.isSafeInteger(begin) || !Number.isSafeInteger(length)) {
      return refusal('outOfRange', undefined);
    }
    if (begin < 0 || length <= 0 || begin + length > g.pieceLengthOf(index)) return refusal('outOfRange', undefined);
    if (!this.have.has(index)) return refusal('notHeld', undefined);
    let waitMs = 0;
    for (const l of this.limiters) waitMs = Math.max(waitMs, l.waitMs(now));
    if (waitMs > 0) return refusal('rateLimited', waitMs);
    for (const l of this.limiters) l.take(length, now);
    const read = this.store.lendBlock?.(index, begin, length) ?? this.store.readBlock(index, begin, length).then((data) => ({ data, release: NO_RELEASE }));
    return read.then(
      ({ data, release }): UploadAnswer => {
        if (peer.closed || peer.amChoking) {
          release();
          return peer.closed ? refusal('closed', undefined) : refusal('choked', this.host.nextChokeInMs(this.host.now()));
        }
        return { ok: true, data, release };
      },
      (err: unknown) => {
        const e = toTorrenttpError(err);
        this.host.fail(e);
        throw e;
      },
    );
  }

  /** `PeerState.sent`: the pieces it got from us whole, though it may never say so (`hasEveryPiece`). By block: one sent twice counts once. */
  private noteSent(peer: PeerState, req: BlockRequest): void {
    const sent = (peer.sent ??= { whole: new Bitfield(this.geometry.pieceCount), partial: new Map() });
    if (sent.whole.has(req.index)) return;
    const n = this.geometry.blockCount(req.index as PieceIndex);
    let blocks = sent.partial.get(req.index);
    if (blocks === undefined) sent.partial.set(req.index, (blocks = new Bitfield(n)));
    // A run (a request longer than a block) is each of its blocks.
    const end = Math.min(n, Math.ceil((req.begin + req.length) / BLOCK_LENGTH));
    for (let b = Math.floor(req.begin / BLOCK_LENGTH); b < end; b++) blocks.set(b);
    if (!blocks.complete) return;
    sent.partial.delete(req.index);
    sent.whole.set(req.index);
  }

  private count(peer: PeerState, bytes: number): void {
    const t = this.host.now();
    peer.up.add(bytes, t);
    this.up.add(bytes, t);
  }
}

/**
 * Fetching a torrent's info dict from peers (BEP 9), as state: which peers offered it, which
 * 16 KiB pieces are asked of whom, which are in. No sockets and no timers: the owner
 * (`magnet.ts`) feeds it peer events and `now`, sends the requests it names, and hashes nothing
 * itself: `complete` verifies the dict against the info-hash before anyone sees a byte of it.
 *
 * Rules:
 * - The metadata size is the first size a peer offers; a peer offering another size waits aside
 *   (it may be right and the first one lying: if the dict fails its hash, the size is forgotten
 *   and the next offer sets it). A size above `maxMetadataBytes` costs that peer alone.
 * - A piece is asked of one peer at a time; each peer has at most `maxRequestsPerPeer`
 *   outstanding. Once every missing piece is asked, a piece may be asked of a second peer
 *   (endgame), so one slow peer does not hold the dict up.
 * - A `reject`, a timeout or a close frees the piece for others. A peer that rejected is not
 *   asked again (BEP 9: it will not have it later either, in practice).
 * - Each piece remembers who sent it. When the assembled dict fails its hash, every piece is
 *   dropped and every sender is returned as suspect (the owner closes them), since one bad
 *   piece spoils the hash and it cannot say which.
 */
import { infoHashOf, type InfoHash } from '../metainfo/index.js';
import { METADATA_PIECE_BYTES, metadataPieceCount, metadataPieceLength } from '../wire/lite.js';

export const METADATA_FETCH_DEFAULTS = {
  /**
   * 8 MiB: a dict that large lists 400,000 pieces (8 TB at 20 MiB pieces). libtorrent refuses
   * metadata over 4 MiB by default (`max_metadata_size`), Transmission over 8 MiB
   * (`METADATA_MAX_SIZE`).
   */
  maxMetadataBytes: 8 * 1024 * 1024,
  /** Pieces asked of one peer at once. libtorrent keeps up to 2 outstanding per peer. */
  maxRequestsPerPeer: 2,
  /** A piece unanswered this long is asked of someone else. */
  requestTimeoutMs: 10_000,
} as const;

export interface MetadataFetchOptions {
  readonly maxMetadataBytes?: number;
  readonly maxRequestsPerPeer?: number;
  readonly requestTimeoutMs?: number;
}

export type OfferVerdict = 'accepted' | 'tooLarge' | 'otherSize';

export type DataVerdict =
  | { readonly type: 'more' }
  | { readonly type: 'ignored' }
  | { readonly type: 'complete'; readonly infoBytes: Uint8Array }
  | { readonly type: 'hashMismatch'; readonly suspects: readonly string[] };

interface FetchPeer {
  readonly size: number;
  readonly asked: Map<number, number>; // piece → sentAt
  rejected: boolean;
}

export class MetadataFetch {
  private readonly o: Required<MetadataFetchOptions>;
  private size: number | undefined;
  private pieces: (Uint8Array | undefined)[] = [];
  private senders: (string | undefined)[] = [];
  private received = 0;
  private readonly peers = new Map<string, FetchPeer>();
  /** Peer count per piece asked: 0 or absent = not asked. */
  private inFlight = new Map<number, number>();

  constructor(
    private readonly infoHash: InfoHash,
    opts: MetadataFetchOptions = {},
  ) {
    this.o = {
      maxMetadataBytes: opts.maxMetadataBytes ?? METADATA_FETCH_DEFAULTS.maxMetadataBytes,
      maxRequestsPerPeer: opts.maxRequestsPerPeer ?? METADATA_FETCH_DEFAULTS.maxRequestsPerPeer,
      requestTimeoutMs: opts.requestTimeoutMs ?? METADATA_FETCH_DEFAULTS.requestTimeoutMs,
    };
  }

  /** The size being fetched, once a peer offered one. */
  get metadataSize(): number | undefined {
    return this.size;
  }

  get receivedBytes(): number {
    return this.received;
  }

  /** Peers that offered the size being fetched and have not rejected. */
  get usefulPeers(): number {
    let n = 0;
    for (const p of this.peers.values()) if (p.size === this.size && !p.rejected) n++;
    return n;
  }

  get maxMetadataBytes(): number {
    return this.o.maxMetadataBytes;
  }

  /** A peer's `metadata_size` arrived (its `ready`). */
  offer(peer: string, size: number): OfferVerdict {
    if (size > this.o.maxMetadataBytes || size < 1) return 'tooLarge';
    this.peers.set(peer, { size, asked: new Map(), rejected: false });
    if (this.size === undefined) this.start(size);
    return size === this.size ? 'accepted' : 'otherSize';
  }

  /** Pieces to ask of `peer` now (and marks them asked). */
  nextRequests(peer: string, now: number): number[] {
    const p = this.peers.get(peer);
    if (p === undefined || p.rejected || p.size !== this.size) return []; // no size yet: p.size differs too
    const out: number[] = [];
    const room = this.o.maxRequestsPerPeer - p.asked.size;
    // First pieces nobody is asked for; then (endgame) the least-asked missing ones.
    for (const endgame of [false, true]) {
      for (let i = 0; i < this.pieces.length && out.length < room; i++) {
        if (this.pieces[i] !== undefined || p.asked.has(i)) continue;
        const n = this.inFlight.get(i) ?? 0;
        if (endgame ? n > 1 : n > 0) continue;
        out.push(i);
        p.asked.set(i, now);
        this.inFlight.set(i, n + 1);
      }
    }
    return out;
  }

  /** A piece from `peer`; `data`'s length was checked against the size by the transport. */
  onData(peer: string, piece: number, data: Uint8Array): DataVerdict {
    const p = this.peers.get(peer);
    if (p === undefined || !p.asked.has(piece) || p.size !== this.size) return { type: 'ignored' };
    this.unask(p, piece);
    if (this.pieces[piece] !== undefined) return { type: 'more' }; // endgame: someone was faster
    if (data.length !== metadataPieceLength(this.size, piece)) return { type: 'ignored' };
    this.pieces[piece] = data;
    this.senders[piece] = peer;
    this.received += data.length;
    if (this.received < this.size) return { type: 'more' };
    const infoBytes = new Uint8Array(this.size);
    this.pieces.forEach((d, i) => infoBytes.set(d!, i * METADATA_PIECE_BYTES));
    if (infoHashOf(infoBytes) === this.infoHash) return { type: 'complete', infoBytes };
    const suspects = [...new Set(this.senders.filter((s): s is string => s !== undefined))];
    for (const s of suspects) this.removePeer(s);
    // Start over at the size the next remaining peer offers (the liar may have set the old one).
    this.size = undefined;
    this.reset(0);
    for (const other of this.peers.values()) other.asked.clear();
    const next = this.peers.values().next();
    if (next.done !== true) this.start(next.value.size);
    return { type: 'hashMismatch', suspects };
  }

  /** The peer will not send `piece`: never ask it again. */
  onReject(peer: string, piece: number): void {
    const p = this.peers.get(peer);
    if (p === undefined || !p.asked.has(piece)) return;
    this.unask(p, piece);
    p.rejected = true;
  }

  removePeer(peer: string): void {
    const p = this.peers.get(peer);
    if (p === undefined) return;
    for (const piece of [...p.asked.keys()]) this.unask(p, piece);
    this.peers.delete(peer);
  }

  /** Requests older than the timeout are freed; returns the peers that had one, to be asked again or dropped. */
  expire(now: number): string[] {
    const late: string[] = [];
    for (const [id, p] of this.peers) {
      for (const [piece, at] of p.asked) {
        if (now - at < this.o.requestTimeoutMs) continue;
        this.unask(p, piece);
        if (!late.includes(id)) late.push(id);
      }
    }
    return late;
  }

  /** True when nobody who offered the current size can still give anything. */
  get allRejected(): boolean {
    if (this.peers.size === 0) return false;
    for (const p of this.peers.values()) if (!p.rejected) return false;
    return true;
  }

  private start(size: number): void {
    this.size = size;
    this.reset(metadataPieceCount(size));
  }

  private reset(pieces: number): void {
    this.pieces = new Array<Uint8Array | undefined>(pieces).fill(undefined);
    this.senders = new Array<string | undefined>(pieces).fill(undefined);
    this.received = 0;
    this.inFlight = new Map();
  }

  private unask(p: FetchPeer, piece: number): void {
    if (!p.asked.delete(piece)) return;
    const n = (this.inFlight.get(piece) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(piece);
    else this.inFlight.set(piece, n);
  }
}

import { Bitfield, BLOCK_LENGTH, type PieceIndex } from '../metainfo/index.js';
import type { BlockRequest, PeerEvent, PeerLink } from '../transport/index.js';
import type { PiecePicker } from './picker.js';
import { RateMeter } from './rate.js';

/**
 * The torrent's peers: admission, bans, and what each peer adds to the picker's availability.
 * Rules:
 * - A peer is in the set from its slot's creation (`create`) until `remove`; `byLink` holds the
 *   attached ones, so a server side can name its peer by link (`Torrent.lease`).
 * - Availability (peer-link.ts's bitfield-then-haves rule): `counted` is our copy of what this
 *   peer added. A `have` adds a piece once; a `bitfield` replaces `counted` and moves the picker
 *   by the difference; `remove` subtracts exactly `counted`.
 * - `remove` also releases every outstanding request to the picker, once.
 */
export interface Upload {
  readonly req: BlockRequest;
  cancelled: boolean;
}

export interface PeerState {
  link: PeerLink | undefined;
  readonly pending: PeerEvent[];
  /** Outstanding requests, keyed by `blockKey`. */
  readonly outstanding: Map<number, BlockRequest>;
  readonly down: RateMeter;
  readonly up: RateMeter;
  /** The pieces counted in the picker's availability for this peer (see above). */
  counted: Bitfield | undefined;
  amChoking: boolean;
  amInterested: boolean;
  peerInterested: boolean;
  /** Trust points from verified (+) and failed (−) pieces it sent blocks of (downloader.ts). */
  trust: number;
  /** Its `request`s not yet read from storage (uploader.ts). */
  readonly uploads: Upload[];
  /** Uploads whose disk read is under way: a cancel must reach them too. */
  readonly reading: Set<Upload>;
  closed: boolean;
}

const MAX_BLOCKS_PER_PIECE = 65536; // 1 GiB pieces / 16 KiB

export const blockKey = (index: number, begin: number): number => index * MAX_BLOCKS_PER_PIECE + begin / BLOCK_LENGTH;

export class PeerSet {
  private readonly peers = new Set<PeerState>();
  private readonly byLink = new Map<PeerLink, PeerState>();
  private readonly bans = new Set<string>();

  constructor(
    private readonly picker: PiecePicker,
    private readonly pieceCount: number,
    private readonly maxPeers: number,
  ) {}

  get size(): number {
    return this.peers.size;
  }

  [Symbol.iterator](): IterableIterator<PeerState> {
    return this.peers.values();
  }

  /** Whether a connection to `id` (host:port or URL) may be added now. */
  accepts(id: string): boolean {
    if (this.bans.has(id) || this.peers.size >= this.maxPeers) return false;
    for (const p of this.peers) if (p.link?.id === id) return false;
    return true;
  }

  isBanned(id: string): boolean {
    return this.bans.has(id);
  }

  ban(id: string): void {
    this.bans.add(id);
  }

  create(): PeerState {
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
    this.peers.add(peer);
    return peer;
  }

  attach(peer: PeerState, link: PeerLink): void {
    peer.link = link;
    this.byLink.set(link, peer);
  }

  /** A slot given up before its link existed, or a link refused at attach: it counted nothing. */
  drop(peer: PeerState): void {
    peer.closed = true;
    this.peers.delete(peer);
    if (peer.link !== undefined) this.byLink.delete(peer.link);
  }

  of(link: PeerLink): PeerState | undefined {
    return this.byLink.get(link);
  }

  /** The peer left: its availability and outstanding requests go back to the picker. False if already gone. */
  remove(peer: PeerState): boolean {
    if (peer.closed) return false;
    this.drop(peer);
    if (peer.counted !== undefined) this.picker.removeBitfield(peer.counted);
    for (const r of peer.outstanding.values()) this.picker.release(r.index, r.begin);
    peer.outstanding.clear();
    peer.uploads.length = 0;
    return true;
  }

  /** Every peer gone at once (the torrent closes); returns them. */
  clear(): PeerState[] {
    const all = [...this.peers];
    this.peers.clear();
    this.byLink.clear();
    return all;
  }

  /** A `bitfield` replaces what was counted for the peer: the difference goes to the picker. */
  countBitfield(peer: PeerState, b: Bitfield): void {
    const before = peer.counted;
    if (before === undefined) {
      this.picker.addBitfield(b);
    } else {
      for (const i of before) if (!b.has(i)) this.picker.removeHave(i);
      for (const i of b) if (!before.has(i)) this.picker.addHave(i);
    }
    peer.counted = b.clone();
  }

  countHave(peer: PeerState, index: PieceIndex): void {
    peer.counted ??= new Bitfield(this.pieceCount);
    if (peer.counted.set(index)) this.picker.addHave(index);
  }

  anyInterested(): boolean {
    for (const p of this.peers) if (p.peerInterested && !p.closed) return true;
    return false;
  }

  /** Requests outstanding across all peers. */
  outstanding(): number {
    let n = 0;
    for (const p of this.peers) n += p.outstanding.size;
    return n;
  }
}

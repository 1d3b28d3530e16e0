import { Bitfield, BLOCK_LENGTH, type PieceIndex } from '../metainfo/index.js';
import { hostPort, parseHostPort, type BlockRequest, type PeerEvent, type PeerLink } from '../transport/index.js';
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
 * - Eviction (libtorrent's connection-limit eviction): when the set is full, an incoming peer may
 *   take the place of one that is *silent* (no message but keep-alives `silentMs` after it
 *   joined) or *idle* (no block to us, no request of us for `idleMs`); silent ones go first, then
 *   the one idle longest. A peer exchanging data is never evicted, so a full set of busy peers
 *   still refuses newcomers.
 * - One connection per peer (`duplicate`): two links from one IP naming the same peer id in
 *   their handshakes (two peers that dial each other) are one too many; `Torrent` closes one (`duplicateVictim`)
 *   and the closed one's id stays refused (`accepts`) while the kept one lives, so it is not
 *   dialled again at the next announce. Our own peer id is never a duplicate of anyone.
 * - Nor is a peer dialled that is connected already (`accepts`): an address is refused when a link
 *   has it as its id (we dialled it) or as its IP and advertised listen port (it dialled us), or,
 *   given the id the peer announced, when a link from that IP names that id.
 * - A complete torrent remembers the seeds that left (`noteSeed`): `Torrent.accepts` refuses them
 *   while it stays complete, so a given peer's redial or a tracker's list does not reconnect two
 *   seeds only to close them again.
 */
export interface Upload {
  readonly req: BlockRequest;
  cancelled: boolean;
}

/**
 * How we came to know a peer (stats only): a tracker, the DHT, peer exchange (BEP 11), given by
 * the user or the torrent (`--peer`, a magnet's `x.pe`, a web seed), or it connected to us.
 */
export type PeerSource = 'tracker' | 'dht' | 'pex' | 'given' | 'incoming';

export interface PeerState {
  link: PeerLink | undefined;
  readonly source: PeerSource;
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
  /** When its slot was made (ms). */
  readonly joinedMs: number;
  /** It sent a message (keep-alives and handshakes do not count): not silent. */
  spoke: boolean;
  /** The last block it sent us or request it made of us (ms); `joinedMs` until then. */
  lastUsefulMs: number;
  /** When we last unchoked it (ms; −∞ never): a newcomer has never been unchoked. */
  unchokedMs: number;
  /** The last request it made of us (ms; −∞ never). */
  lastRequestMs: number;
  /** Unchoked and asked nothing within `UPLOAD_SNUB_MS` (choke-round.ts): it gets no slot but the optimistic one. */
  uploadSnubbed: boolean;
  /** What we uploaded to it, by piece (uploader.ts): blocks its link wrote, not those dropped; undefined until the first. */
  sent: SentPieces | undefined;
}

/**
 * Pieces we sent a peer: whole ones, and the bytes of those under way. A peer may leave holding
 * pieces it never announced: Transmission batches its `have`s and closes the connection to a
 * seed as soon as it is one itself, before the last of them go out. By block, not by bytes: a
 * block sent twice (a re-request after a choke dropped it, or after a failed hash) counts once,
 * so those do not make a peer that still lacks a block a seed.
 */
export interface SentPieces {
  readonly whole: Bitfield;
  /** The blocks sent of pieces not yet sent whole, a bit per block of the piece. */
  readonly partial: Map<number, Bitfield>;
}

/** Whether `peer` has every piece: by its bitfield and `have`s, or with the pieces we sent it whole. */
export function hasEveryPiece(peer: PeerState): boolean {
  const has = peer.link?.bitfield;
  if (has === undefined) return false;
  if (has.complete) return true;
  const sent = peer.sent?.whole;
  if (sent === undefined || has.count + sent.count < has.pieceCount) return false;
  for (let i = 0; i < has.pieceCount; i++) if (!has.has(i) && !sent.has(i)) return false;
  return true;
}

/** Thresholds of eviction (`TorrentOptions.peerEviction`). */
export interface PeerEviction {
  /** A peer that said nothing this long after joining may be evicted. Default 10 s. */
  readonly silentMs: number;
  /** A peer that exchanged no data (blocks, requests) this long may be evicted. Default 60 s. */
  readonly idleMs: number;
}

/**
 * libtorrent disconnects a peer that sends no handshake or bitfield within `handshake_timeout`
 * (10 s) and, at the connection limit, the least useful peer for a newcomer. Ten seconds is
 * plenty for any client's first message (aria2 and Transmission send theirs at once); sixty
 * seconds without a byte either way is six choking rounds and two optimistic rotations.
 */
export const PEER_EVICTION_DEFAULTS: PeerEviction = { silentMs: 10_000, idleMs: 60_000 };

const MAX_BLOCKS_PER_PIECE = 65536; // 1 GiB pieces / 16 KiB
/** Seeds' addresses remembered by a complete torrent (`noteSeed`). */
const MAX_SEEDS_REMEMBERED = 1000;

export const blockKey = (index: number, begin: number): number => index * MAX_BLOCKS_PER_PIECE + begin / BLOCK_LENGTH;

export class PeerSet {
  private readonly peers = new Set<PeerState>();
  private readonly byLink = new Map<PeerLink, PeerState>();
  private readonly bans = new Set<string>();
  /** Ids of links closed as duplicates → the peer kept in their place (refused while it lives). */
  private readonly aliases = new Map<string, PeerState>();
  /** Addresses of peers that left as seeds while we were complete (`noteSeed`). */
  private readonly seeds = new Set<string>();

  constructor(
    private readonly picker: PiecePicker,
    private readonly pieceCount: number,
    private readonly maxPeers: number,
    private readonly eviction: PeerEviction | false = PEER_EVICTION_DEFAULTS,
  ) {}

  get size(): number {
    return this.peers.size;
  }

  [Symbol.iterator](): IterableIterator<PeerState> {
    return this.peers.values();
  }

  /**
   * Whether a connection to `id` (host:port or URL) may be added now: not to a peer we already
   * have a link to (`reaches`), in either direction. `peerId`: the id it is known by (an
   * announce), matched like a duplicate (same IP, same id).
   */
  accepts(id: string, peerId?: Uint8Array): boolean {
    if (this.bans.has(id) || this.peers.size >= this.maxPeers || this.aliased(id)) return false;
    return !this.reaches(id, peerId);
  }

  /**
   * A link to the peer listening at `id`, whichever side dialled: one with that id (we dialled
   * it), or one from that IP that advertised that listen port (BEP 10 `p`: it dialled us) or, given
   * `peerId`, named that peer id in its handshake. Dialling it again would only make a duplicate.
   */
  private reaches(id: string, peerId: Uint8Array | undefined): boolean {
    const hp = parseHostPort(id);
    for (const p of this.peers) {
      const link = p.link;
      if (link === undefined) continue;
      if (link.id === id) return true;
      const a = link.address;
      if (hp === undefined || a === undefined || a.ip !== hp.host) continue;
      if (a.listenPort === hp.port || (peerId !== undefined && link.peerId !== undefined && sameBytes(link.peerId, peerId))) return true;
    }
    return false;
  }

  /** `id` was closed as a duplicate of a peer still connected. */
  private aliased(id: string): boolean {
    const kept = this.aliases.get(id);
    if (kept === undefined) return false;
    if (!kept.closed) return true;
    this.aliases.delete(id);
    return false;
  }

  /**
   * Another connected peer whose link names the same peer id as `peer`'s, from the same IP, if
   * any. Links without one (web seeds, HTTP peers) have no duplicates, and neither has a link
   * naming `own` (ours: a connection to ourselves is not a second connection to someone else).
   * The IP must match too (as libtorrent keys its peers by address): a peer id is no secret (a
   * tracker may list it), and a stranger naming a connected peer's id must not get that peer's
   * connection closed.
   */
  duplicate(peer: PeerState, own: Uint8Array | undefined): PeerState | undefined {
    const link = peer.link;
    const id = link?.peerId;
    if (link === undefined || id === undefined || (own !== undefined && sameBytes(id, own))) return undefined;
    for (const p of this.peers) {
      if (p === peer || p.closed || p.link?.peerId === undefined) continue;
      if (p.link.address?.ip === link.address?.ip && sameBytes(p.link.peerId, id)) return p;
    }
    return undefined;
  }

  /**
   * A peer that left complete (a seed) while we were complete too: its link id and, when known,
   * its listen address. Bounded (the oldest is forgotten first).
   */
  noteSeed(link: PeerLink): void {
    const a = link.address;
    for (const id of [link.id, ...(a?.listenPort === undefined ? [] : [hostPort(a.ip, a.listenPort)])]) {
      this.seeds.delete(id);
      this.seeds.add(id);
      if (this.seeds.size > MAX_SEEDS_REMEMBERED) this.seeds.delete(this.seeds.values().next().value!);
    }
  }

  /** `id` left as a seed (`noteSeed`): nothing to trade with it while we are complete. */
  isSeed(id: string): boolean {
    return this.seeds.has(id);
  }

  /** `closed`, a duplicate of `kept`, is gone: its id is refused while `kept` is connected. */
  alias(closed: string, kept: PeerState): void {
    this.aliases.set(closed, kept);
  }

  /**
   * The peer an incoming `id` may replace when the set is full: undefined when there is room
   * (no one needs to go) or when no one may go. Silent peers first (joined earliest), then the
   * one idle longest; ties by id.
   */
  evictable(now: number): PeerState | undefined {
    if (this.eviction === false || this.peers.size < this.maxPeers) return undefined;
    const { silentMs, idleMs } = this.eviction;
    let best: PeerState | undefined;
    let bestRank = Infinity;
    for (const p of this.peers) {
      // A peer we owe blocks to is in use; one holding our requests without answering is not.
      if (p.closed || p.link === undefined || p.uploads.length > 0 || p.reading.size > 0) continue;
      // Rank: silent peers by join time (below any idle rank), idle ones by their last use.
      const rank = !p.spoke && now - p.joinedMs >= silentMs ? p.joinedMs - 1e15 : now - p.lastUsefulMs >= idleMs ? p.lastUsefulMs : Infinity;
      if (rank < bestRank || (rank === bestRank && best !== undefined && p.link.id < best.link!.id)) {
        best = p;
        bestRank = rank;
      }
    }
    return bestRank === Infinity ? undefined : best;
  }

  /** `accepts`, counting the place an eviction would free. */
  acceptsEvicting(id: string, now: number): boolean {
    if (this.bans.has(id) || this.aliased(id)) return false;
    for (const p of this.peers) if (p.link?.id === id) return false;
    return this.peers.size < this.maxPeers || this.evictable(now) !== undefined;
  }

  isBanned(id: string): boolean {
    return this.bans.has(id);
  }

  ban(id: string): void {
    this.bans.add(id);
  }

  create(now: number, source: PeerSource = 'given'): PeerState {
    const peer: PeerState = {
      link: undefined,
      source,
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
      joinedMs: now,
      spoke: false,
      lastUsefulMs: now,
      unchokedMs: -Infinity,
      lastRequestMs: -Infinity,
      uploadSnubbed: false,
      sent: undefined,
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
    this.aliases.clear();
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

/**
 * Of two connections to the same peer, `older` and `newer`, the one to close. Both ends must
 * close the same TCP connection, so when one was dialled by us and the other by the peer, the
 * connection initiated by the peer with the lower peer id is kept: each end compares the same
 * two ids and sees the same connection as dialled by the same side. (libtorrent makes the same
 * choice on listen ports; peer ids are what both ends know from the handshake, also on one
 * host.) Two connections in the same direction, equal ids or a link that does not say who
 * dialled: the newer goes.
 */
export function duplicateVictim(own: Uint8Array | undefined, older: PeerState, newer: PeerState): PeerState {
  const a = older.link?.address?.dialled;
  const b = newer.link?.address?.dialled;
  const theirs = newer.link?.peerId;
  if (own === undefined || theirs === undefined || a === undefined || b === undefined || a === b) return newer;
  const order = compareBytes(own, theirs);
  if (order === 0) return newer;
  // We have the lower id: keep the one we dialled; else keep the one they dialled.
  const keepDialled = order < 0;
  return a === keepDialled ? newer : older;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return compareBytes(a, b) === 0;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

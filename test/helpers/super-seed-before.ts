/**
 * `SuperSeed` (src/engine/super-seed.ts) as it was at 04872eb, before its top-ups looked only at
 * the peers a `have` concerns: every top-up then re-read every peer, and a `have` scanned every
 * peer's offers. Kept unchanged, apart from its name and imports, as the model the faster one
 * must match offer for offer (test/engine/super-seed-topup.test.ts). Not for use elsewhere.
 */
import type { Bitfield, PieceIndex } from '../../src/metainfo/index.js';
import type { PeerState } from '../../src/engine/peer-set.js';
import type { SuperSeedOptions } from '../../src/engine/super-seed.js';

interface Offer {
  readonly index: PieceIndex;
  readonly atMs: number;
}

/** 4 MiB: a loopback or LAN peer's bandwidth-delay product with a piece's hash and write on top. */
const DEFAULT_OFFER_BYTES = 4 * 1024 * 1024;
const DEFAULT_RELEASE_AFTER_MS = 5000;
/** 16 leechers fetching fresh pieces at once: past that, a loopback or LAN origin's upload is the limit, not the slots. */
const DEFAULT_SUPER_SEED_SLOTS = 16;
/** Any offer not downloaded is released after this many `releaseAfterMs`, however busy its peer. */
const HOARD_RELEASE_FACTOR = 12;

export class SuperSeedBefore {
  private readonly offers = new Map<PeerState, Offer[]>();
  /** Times each piece was offered to anyone, for spreading offers. */
  private readonly offered: Uint32Array;
  /** Connected peers each piece was ever offered to (they may still fetch it, even once released). */
  private readonly offeredLive: Uint32Array;
  /** Every piece offered to each connected peer, for `offeredLive`. */
  private readonly everOffered = new Map<PeerState, PieceIndex[]>();
  private cursor = 0;
  /** When each peer last told us of a piece it gained (`seen`), or joined: a peer that gains nothing is not fed by the swarm. */
  private readonly lastGain = new Map<PeerState, number>();
  /**
   * Peers that were ever interested in us. A leecher offered a piece it lacks is interested
   * within a round trip; a peer connected for `releaseAfterMs` that never was (`bystander`) has
   * no use for our pieces: another seed that hides its bitfield (a second `serve` of the same
   * file: its super-seed sends none, and reveals pieces one `have` at a time, which the wire
   * link may fold into a first `bitfield` event). An offer is never held for such a peer to be given the piece (`releasable`): two
   * `serve --redis` origins, each holding every offer 5 s for the other, fed a get 8 MiB per 5 s.
   */
  private readonly wanted = new Set<PeerState>();
  /**
   * Peers that told us of a piece by `have`. A bystander that does reveals pieces one at a time,
   * as a super-seed does to every peer (offers, which the downloaders do not see): its pieces are
   * no copies the swarm can trade, and `hidden` takes them out of `availability`. A bystander
   * that showed its pieces in one bitfield is a partial seed (a selective download, done): it
   * shows them to every peer and uploads them, so they count, as every peer's do in libtorrent's
   * super-seeding (`get_piece_to_super_seed` counts each peer's `has_piece`).
   */
  private readonly revealed = new Set<PeerState>();
  /** Copies of each piece held by revealing bystanders (`hiding`); allocated at the first one. */
  private hidden: Uint32Array | undefined;
  /** The revealing bystanders counted in `hidden`, each with the pieces counted for it. */
  private readonly hiding = new Map<PeerState, Bitfield>();
  /** Pieces offered to no connected peer (`offeredLive` 0): none means no fresh piece, without a scan of every piece. */
  private unofferedLive: number;
  private readonly perPeer: number;
  private readonly releaseAfterMs: number;
  private readonly maxSlots: number;

  constructor(
    private readonly pieceCount: number,
    private readonly pieceLength: number,
    private readonly availability: (index: PieceIndex) => number,
    private readonly peers: () => Iterable<PeerState>,
    opts: SuperSeedOptions = {},
  ) {
    this.offered = new Uint32Array(pieceCount);
    this.offeredLive = new Uint32Array(pieceCount);
    this.unofferedLive = pieceCount;
    this.perPeer = Math.max(1, Math.floor((opts.offerBytes ?? DEFAULT_OFFER_BYTES) / pieceLength));
    this.releaseAfterMs = opts.releaseAfterMs ?? DEFAULT_RELEASE_AFTER_MS;
    this.maxSlots = opts.maxSlots ?? DEFAULT_SUPER_SEED_SLOTS;
  }

  /**
   * Upload slots with `interested` leechers: one each, at least `base`, at most `maxSlots`, and
   * with an upload limit (bytes/s) only as many as can each fetch a whole offer within `releaseAfterMs`.
   */
  slots(base: number, interested: number, uploadLimit: number | undefined): number {
    let cap = this.maxSlots;
    if (uploadLimit !== undefined) cap = Math.min(cap, Math.floor((uploadLimit * this.releaseAfterMs) / 1000 / (this.perPeer * this.pieceLength)));
    return Math.max(base, Math.min(interested, cap));
  }

  /** `peer` holds every piece offered to it: it has nothing to ask of us until an offer is settled. */
  idle(peer: PeerState): boolean {
    const bits = peer.link?.bitfield;
    return bits !== undefined && (this.offers.get(peer) ?? []).every((o) => bits.has(o.index));
  }

  /** Pieces offered to `peer` and not yet released (tests, stats). */
  offersOf(peer: PeerState): PieceIndex[] {
    return (this.offers.get(peer) ?? []).map((o) => o.index);
  }

  /** `peer` said it has `index` (a `have`, or a piece of its bitfield): release offers it settles, then top up. */
  seen(peer: PeerState, index: PieceIndex, now: number): void {
    // Only `peer` and the peers whose offer it settles can get a new offer from this: topping up
    // every peer on every `have` cost the origin seconds of CPU with ten downloaders.
    this.lastGain.set(peer, now);
    this.revealed.add(peer);
    this.hide(peer, index);
    const touched = new Set([peer]);
    for (const [other, list] of this.offers) {
      if (other === peer || !list.some((o) => o.index === index)) continue;
      this.offers.set(other, list.filter((o) => o.index !== index));
      touched.add(other);
    }
    this.fill(now, touched);
  }

  /** `peer`'s bitfield: each of its pieces as `seen`, one top-up. */
  seenAll(peer: PeerState, indexes: Iterable<PieceIndex>, now: number): void {
    const have = new Set(indexes);
    const touched = new Set([peer]);
    if (have.size > 0) {
      this.lastGain.set(peer, now);
      for (const i of have) this.hide(peer, i);
      for (const [other, list] of this.offers) {
        if (other === peer) continue;
        const kept = list.filter((o) => !have.has(o.index));
        if (kept.length === list.length) continue;
        this.offers.set(other, kept);
        touched.add(other);
      }
    }
    this.fill(now, touched);
  }

  /** A peer left: its offers go, and pieces only it was offered are fresh again if nobody has them. */
  remove(peer: PeerState): void {
    this.offers.delete(peer);
    this.lastGain.delete(peer);
    this.wanted.delete(peer);
    this.revealed.delete(peer);
    this.unhide(peer);
    for (const i of this.everOffered.get(peer) ?? []) if (--this.offeredLive[i]! === 0) this.unofferedLive++;
    this.everOffered.delete(peer);
  }

  /** Releases offers that no longer need to wait and tops up every peer (or those in `only`): on arrivals, haves and ticks. */
  fill(now: number, only?: ReadonlySet<PeerState>): void {
    const peers = [...this.peers()].filter((p) => p.link !== undefined && !p.closed && p.link.canUpload && !p.link.bitfield.complete);
    // Every `interested` is followed by a fill (Torrent), so no downloader's interest goes unseen.
    for (const p of peers) if (p.peerInterested) this.wanted.add(p);
    // Per fill, not per piece looked at: `choose` was O(pieces x bystanders) a call (16,384
    // pieces and 200 bystanders: seconds a tick).
    const downloaders: PeerState[] = [];
    for (const p of peers) {
      const bystander = this.bystander(p, now);
      if (!bystander) downloaders.push(p);
      if (bystander && this.revealed.has(p)) {
        if (!this.hiding.has(p)) this.startHiding(p);
      } else this.unhide(p);
    }
    for (const p of peers) {
      if (only !== undefined && !only.has(p)) continue;
      if (!this.lastGain.has(p)) this.lastGain.set(p, now);
      const list = (this.offers.get(p) ?? []).filter((o) => !this.releasable(p, o, downloaders, now));
      this.offers.set(p, list);
      // A peer we choke cannot fetch its offers: one piece makes it interested (so the choker
      // ranks it); the rest waits for its unchoke, instead of sitting idle in a queue while the
      // swarm lacks those pieces.
      const cap = p.amChoking ? 1 : this.perPeer;
      while (list.length < cap) {
        const index = this.choose(p, list.length > 0, now);
        if (index === undefined) break;
        list.push({ index, atMs: now });
        this.offered[index]!++;
        if (this.offeredLive[index]!++ === 0) this.unofferedLive--;
        const ever = this.everOffered.get(p);
        if (ever === undefined) this.everOffered.set(p, [index]);
        else ever.push(index);
        p.link!.announceHave(index, true); // a reveal: the peer waits for it
      }
      this.offers.set(p, list);
    }
  }

  /** `p` (a revealing bystander) starts to count in `hidden`: its pieces now. */
  private startHiding(p: PeerState): void {
    const bits = p.link!.bitfield.clone();
    const hidden = (this.hidden ??= new Uint32Array(this.pieceCount));
    for (const i of bits) hidden[i]!++;
    this.hiding.set(p, bits);
  }

  /** A piece `p` told us of: one more hidden copy if `p` is hiding. */
  private hide(p: PeerState, index: PieceIndex): void {
    const bits = this.hiding.get(p);
    if (bits !== undefined && bits.set(index)) this.hidden![index]!++;
  }

  /** `p` left, or is a downloader or no longer hides (it got interested): its copies count again. */
  private unhide(p: PeerState): void {
    const bits = this.hiding.get(p);
    if (bits === undefined) return;
    for (const i of bits) this.hidden![i]!--;
    this.hiding.delete(p);
  }

  private releasable(p: PeerState, o: Offer, downloaders: readonly PeerState[], now: number): boolean {
    if (!p.link!.bitfield.has(o.index)) {
      // Not downloaded yet: still its job while it works on its offers. A slow peer that is still
      // asking us for blocks is fetching them (giving the piece to another now would upload it
      // twice); a choked one cannot ask. Only an unchoked peer that asked nothing for
      // `releaseAfterMs` (a hoarder, or one that left its offers) loses them early, and any
      // offer goes after `HOARD_RELEASE_FACTOR` times that, so no peer can stall the swarm for ever.
      if (now - o.atMs >= HOARD_RELEASE_FACTOR * this.releaseAfterMs) return true;
      return !p.amChoking && now - Math.max(o.atMs, p.unchokedMs, p.lastRequestMs) >= this.releaseAfterMs;
    }
    if (now - o.atMs >= this.releaseAfterMs) return true;
    // It has the piece: waiting makes sense only while another downloader could still take it
    // from it (`p` itself never lacks it; a peer never interested in us downloads nothing).
    return !downloaders.some((q) => !q.link!.bitfield.has(o.index));
  }

  /** `q` never showed interest in us in `releaseAfterMs` connected: no downloader (`wanted`). */
  private bystander(q: PeerState, now: number): boolean {
    return !this.wanted.has(q) && now - q.joinedMs >= this.releaseAfterMs;
  }

  /**
   * The next offer for `p`: a fresh piece (no connected peer has it or was ever offered it: only
   * we can give it, and nobody may be fetching it), never-offered ones first. With `onlyFresh`
   * false (`p` holds no offer) and none fresh: a piece no connected peer has and none holds an
   * offer of (its offerees left, or their offers were released), the least offered first; and
   * only for a peer the swarm does not feed (`starved`), a piece others have, least available first.
   */
  private choose(p: PeerState, onlyFresh: boolean, now: number): PieceIndex | undefined {
    if (onlyFresh && this.unofferedLive === 0) return undefined;
    const bits = p.link!.bitfield;
    const starved = !onlyFresh && now - this.lastGain.get(p)! >= this.releaseAfterMs; // `fill` set it
    let pending: Set<number> | undefined;
    if (!onlyFresh) {
      pending = new Set();
      // A bystander fetches none of its offers: they hold nothing back.
      for (const [q, list] of this.offers) if (!this.bystander(q, now)) for (const o of list) pending.add(o.index);
    }
    const hidden = this.hidden;
    let best: PieceIndex | undefined;
    let bestKey = Infinity;
    for (let k = 0; k < this.pieceCount; k++) {
      const i = ((this.cursor + k) % this.pieceCount) as PieceIndex;
      // Pieces `p` holds offers of are not fresh (offered to it), and with `onlyFresh` false it holds none.
      if (bits.has(i)) continue;
      // What a revealing bystander says it has (another super-seed's reveals) is no copy the swarm can trade.
      const available = hidden === undefined ? this.availability(i) : Math.max(0, this.availability(i) - hidden[i]!);
      const fresh = available === 0 && this.offeredLive[i] === 0;
      if (onlyFresh && !fresh) continue;
      // Someone is fetching it from us (an offer not released), or peers have it and `p` trades.
      if (!fresh && (pending!.has(i) || (available > 0 && !starved))) continue;
      // Availability is at most the peer count, offers at most a few per peer and piece.
      const key = (fresh ? 0 : available === 0 ? 1e12 : 2e12) + this.offered[i]! * 1e6 + available;
      if (key < bestKey) {
        bestKey = key;
        best = i;
        if (key === 0) break;
      }
    }
    if (best !== undefined) this.cursor = (best + 1) % this.pieceCount;
    return best;
  }
}

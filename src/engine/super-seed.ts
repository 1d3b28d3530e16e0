import type { Bitfield, PieceIndex } from '../metainfo/index.js';
import type { PeerState } from './peer-set.js';

/**
 * Super-seeding (BEP 16), for an origin that wants N downloaders to cost it about one upload of
 * the file instead of N: the seed hides its bitfield and offers each peer, one `have` at a time,
 * pieces that nobody else has been offered or has yet, so every byte it sends is a byte the
 * swarm did not have. Rules:
 * - Active only while the torrent is complete (a seed) and only towards peers that may ask us
 *   for uploads (`canUpload`): the owner calls `offer` when a peer arrives or tells us its pieces.
 * - A peer holds at most `offerBytes` of offered pieces it has not passed on (at least one piece;
 *   BEP 16 says one, which leaves a fast peer idle for a round trip and a hash per piece), and
 *   one while we choke it. An offer to peer P
 *   of piece i is *released* (P may get another) when another peer says it has i (P, or the
 *   swarm, passed it on: BEP 16's rule), or when no other connected downloader (not a
 *   `bystander`, such as another seed hiding its bitfield) lacks i (a lone downloader, or
 *   everyone has it: waiting would only stall). Time releases it too: a piece P
 *   has, after `releaseAfterMs`; a piece P has not downloaded yet, only once P (unchoked) asked
 *   us for nothing for `releaseAfterMs` (a slow peer that still asks is fetching its offers, and
 *   giving them to another would upload them twice), or after `HOARD_RELEASE_FACTOR` times that
 *   (a peer that hoards pieces must not stall the swarm for ever).
 * - A new offer is a *fresh* piece (held by no connected peer, and offered to no connected peer,
 *   a revealing bystander's pieces not counted: `revealed`,
 *   which may still fetch it even after its offer was released), never-offered ones first, from
 *   a rotating start, so no two peers are offered the same piece. A piece whose holders all left is
 *   fresh again: only we can give it, and the last downloaders of a swarm whose finished peers
 *   go away would otherwise get it one piece per round trip. A peer holding no offer at all and
 *   finding no fresh piece gets one piece no connected peer has and no peer holds an offer of
 *   (its offerees' offers were released), the least offered first. A piece the swarm already
 *   has costs the origin a second upload: it is offered only to a peer holding no offer that
 *   gained no piece for `releaseAfterMs` (the swarm does not feed it), least available first.
 * - Upload slots (`slots`): one per interested leecher, at least the torrent's usual number and at
 *   most `maxSlots`, and under an upload limit no more than can each take a whole offer within
 *   `releaseAfterMs` (a slower offer times out and is offered again: a second upload). Offers
 *   are distinct pieces, so more slots send nothing twice: they only let more leechers start
 *   trading at once. A peer holding every piece offered to it has nothing to ask (`idle`) and
 *   gives its slot to a waiting one (choke-round.ts) until the swarm settles an offer.
 * - Cost: a top-up (`seen`, `seenAll`) serves the peer it names and the peers whose offers it
 *   settles (found by piece, `holders`), against what the last full `fill` found of every peer
 *   (`Survey`): which may be served, which are downloaders. That holds while each peer changes
 *   only by what it tells us, so the owner calls `fill` (every peer) after a link attaches or a
 *   peer says `interested` (Torrent does); a named peer that changed otherwise (it turned
 *   complete, it is new, it is interested unseen), a peer removed, a clock that reaches a peer's
 *   bystander time or goes back, each make a top-up look at every peer first, as all used to.
 *   A scan of every piece that found nothing to offer is not repeated until what it read can
 *   have changed (`noFresh`, `noUnheld`). Offers are the same as with a look at everything each
 *   time (test/engine/super-seed-topup.test.ts).
 * Pure: pieces, peers and the clock come from the owner; sending is `announceHave` on the link.
 */
export interface SuperSeedOptions {
  /** Bytes of offered pieces a peer may hold unreleased at once (at least one piece). */
  readonly offerBytes?: number;
  /** An offer not seen elsewhere after this long is released anyway. */
  readonly releaseAfterMs?: number;
  /** Most upload slots while super-seeding (`slots`). */
  readonly maxSlots?: number;
}

interface Offer {
  readonly index: PieceIndex;
  readonly atMs: number;
}

/** What a full `fill` found of every peer, which a top-up reuses (`fresh`). */
interface Survey {
  /** The peers a top-up may serve (`servable`), each with its place in `peers()`: top-ups go in that order. */
  readonly place: Map<PeerState, number>;
  readonly order: readonly PeerState[];
  /** Those of them not bystanders at `atMs`. */
  readonly downloaders: readonly PeerState[];
  readonly atMs: number;
  /** The earliest `joinedMs` of those neither bystanders nor `wanted`: at that plus `releaseAfterMs` one turns bystander. */
  readonly firstToTurnMs: number;
}

/** 4 MiB: a loopback or LAN peer's bandwidth-delay product with a piece's hash and write on top. */
export const DEFAULT_OFFER_BYTES = 4 * 1024 * 1024;
export const DEFAULT_RELEASE_AFTER_MS = 5000;
/** 16 leechers fetching fresh pieces at once: past that, a loopback or LAN origin's upload is the limit, not the slots. */
export const DEFAULT_SUPER_SEED_SLOTS = 16;
/** Any offer not downloaded is released after this many `releaseAfterMs`, however busy its peer. */
const HOARD_RELEASE_FACTOR = 12;

export class SuperSeed {
  private readonly offers = new Map<PeerState, Offer[]>();
  /** The peers holding an offer of each piece (those in `offers`): a `have` settles them without a look at every peer. */
  private readonly holders = new Map<PieceIndex, Set<PeerState>>();
  /** The last full look at every peer; undefined when a peer left since. */
  private survey: Survey | undefined;
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
  /**
   * What a scan of every piece found none of, for any peer, and none can have turned into since:
   * `noFresh`, a fresh piece; `noUnheld`, a piece nobody has and nobody fetches (none fresh
   * either), all a peer holding no offer and fed by the swarm may get. A piece turns so only when
   * its copies fall (a peer leaves: `remove`; a bitfield that replaces one: `seenAll`; a bystander
   * starts to hide its copies: `startHiding`), when its last offeree leaves (`remove`) or an offer
   * of it goes (`unhold`, for `noUnheld`), or with who is a bystander (`look`, which every full
   * fill does: `availability` may have fallen otherwise). Without them, each `have` in a swarm
   * whose unoffered pieces peers already hold (partial seeds) scanned every piece for none.
   */
  private noFresh = false;
  private noUnheld = false;
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
    for (const other of [...(this.holders.get(index) ?? [])]) {
      if (other === peer) continue;
      this.withdraw(other, index);
      touched.add(other);
    }
    this.fill(now, touched);
  }

  /** `peer`'s bitfield: each of its pieces as `seen`, one top-up. */
  seenAll(peer: PeerState, indexes: Iterable<PieceIndex>, now: number): void {
    this.mayTurnFresh();
    const have = new Set(indexes);
    const touched = new Set([peer]);
    if (have.size > 0) {
      this.lastGain.set(peer, now);
      for (const i of have) {
        this.hide(peer, i);
        for (const other of [...(this.holders.get(i) ?? [])]) {
          if (other === peer) continue;
          this.withdraw(other, i);
          touched.add(other);
        }
      }
    }
    this.fill(now, touched);
  }

  /** A peer left: its offers go, and pieces only it was offered are fresh again if nobody has them. */
  remove(peer: PeerState): void {
    for (const o of this.offers.get(peer) ?? []) this.unhold(peer, o.index);
    this.offers.delete(peer);
    this.survey = undefined;
    this.mayTurnFresh();
    this.lastGain.delete(peer);
    this.wanted.delete(peer);
    this.revealed.delete(peer);
    this.unhide(peer);
    for (const i of this.everOffered.get(peer) ?? []) if (--this.offeredLive[i]! === 0) this.unofferedLive++;
    this.everOffered.delete(peer);
  }

  /** Releases offers that no longer need to wait and tops up every peer (or those in `only`): on arrivals, haves and ticks. */
  fill(now: number, only?: ReadonlySet<PeerState>): void {
    let peers: readonly PeerState[];
    if (only === undefined || !this.fresh(now, only)) {
      this.look(now);
      peers = this.survey!.order;
      if (only !== undefined) peers = peers.filter((p) => only.has(p));
    } else {
      // In `peers()` order, as a look would serve them: each takes the next fresh piece after the last offer.
      const place = this.survey!.place;
      const named = [...only].filter((p) => place.has(p));
      if (named.length > 1) named.sort((a, b) => place.get(a)! - place.get(b)!);
      // Of the hiding rule's inputs only `revealed` can have changed since the look, and only for a peer named here.
      for (const p of named) this.sortHiding(p, now);
      peers = named;
    }
    const downloaders = this.survey!.downloaders;
    for (const p of peers) {
      if (!this.lastGain.has(p)) this.lastGain.set(p, now);
      const list = (this.offers.get(p) ?? []).filter((o) => {
        if (!this.releasable(p, o, downloaders, now)) return true;
        this.unhold(p, o.index);
        return false;
      });
      this.offers.set(p, list);
      // A peer we choke cannot fetch its offers: one piece makes it interested (so the choker
      // ranks it); the rest waits for its unchoke, instead of sitting idle in a queue while the
      // swarm lacks those pieces.
      const cap = p.amChoking ? 1 : this.perPeer;
      while (list.length < cap) {
        const index = this.choose(p, list.length > 0, now);
        if (index === undefined) break;
        list.push({ index, atMs: now });
        this.hold(p, index);
        this.offered[index]!++;
        if (this.offeredLive[index]!++ === 0) this.unofferedLive--;
        const ever = this.everOffered.get(p);
        if (ever === undefined) this.everOffered.set(p, [index]);
        else ever.push(index);
        p.link!.announceHave(index, true); // a reveal: the peer waits for it
      }
    }
  }

  /** A peer a top-up may serve: connected, may ask us for uploads, lacks a piece. */
  private servable(p: PeerState): boolean {
    return p.link !== undefined && !p.closed && p.link.canUpload && !p.link.bitfield.complete;
  }

  /**
   * Every peer, once: who may be served, who is interested (`wanted`), who is a downloader, who
   * hides its pieces. A full `fill` does it, and a top-up whose survey is not `fresh`.
   */
  private look(now: number): void {
    this.mayTurnFresh();
    const order = [...this.peers()].filter((p) => this.servable(p));
    // Every `interested` is followed by a fill (Torrent), so no downloader's interest goes unseen.
    for (const p of order) if (p.peerInterested) this.wanted.add(p);
    // Per look, not per piece looked at: `choose` was O(pieces x bystanders) a call (16,384
    // pieces and 200 bystanders: seconds a tick).
    const downloaders: PeerState[] = [];
    const place = new Map<PeerState, number>();
    let firstToTurnMs = Infinity;
    for (const p of order) {
      place.set(p, place.size);
      if (!this.bystander(p, now)) {
        downloaders.push(p);
        if (!this.wanted.has(p)) firstToTurnMs = Math.min(firstToTurnMs, p.joinedMs);
      }
      this.sortHiding(p, now);
    }
    this.survey = { place, order, downloaders, atMs: now, firstToTurnMs };
  }

  /**
   * Whether the last look still tells who may be served and who is a downloader, as a look now
   * would, for a top-up of `only`: peers change only by what they tell us (the rules above), so
   * only a named peer, a peer removed, and the clock can make it stale.
   */
  private fresh(now: number, only: ReadonlySet<PeerState>): boolean {
    const s = this.survey;
    // `bystander` is `now - joinedMs >= releaseAfterMs`: the earliest joined turns first, and a clock gone back may turn one back.
    if (s === undefined || now < s.atMs || now - s.firstToTurnMs >= this.releaseAfterMs) return false;
    for (const p of only) {
      const surveyed = s.place.has(p);
      if (this.servable(p) !== surveyed) return false; // new, complete, closed
      if (surveyed && p.peerInterested && !this.wanted.has(p)) return false;
    }
    return true;
  }

  /** A bystander that told us of pieces by `have` hides them (`hidden`); any other peer's count. */
  private sortHiding(p: PeerState, now: number): void {
    if (this.bystander(p, now) && this.revealed.has(p)) {
      if (!this.hiding.has(p)) this.startHiding(p);
    } else this.unhide(p);
  }

  /** `p` holds an offer of `index` no more: another peer said it has it. */
  private withdraw(p: PeerState, index: PieceIndex): void {
    this.offers.set(p, this.offers.get(p)!.filter((o) => o.index !== index));
    this.unhold(p, index);
  }

  private hold(p: PeerState, index: PieceIndex): void {
    const set = this.holders.get(index);
    if (set === undefined) this.holders.set(index, new Set([p]));
    else set.add(p);
  }

  private unhold(p: PeerState, index: PieceIndex): void {
    const set = this.holders.get(index);
    if (set === undefined) return;
    set.delete(p);
    if (set.size === 0) this.holders.delete(index);
    // Even with holders left: if they are bystanders, nobody fetches the piece now (`pending`).
    this.noUnheld = false;
  }

  private mayTurnFresh(): void {
    this.noFresh = false;
    this.noUnheld = false;
  }

  /** `p` (a revealing bystander) starts to count in `hidden`: its pieces now. */
  private startHiding(p: PeerState): void {
    const bits = p.link!.bitfield.clone();
    const hidden = (this.hidden ??= new Uint32Array(this.pieceCount));
    for (const i of bits) hidden[i]!++;
    if (bits.count > 0) this.mayTurnFresh();
    this.hiding.set(p, bits);
  }

  /** A piece `p` told us of: one more hidden copy if `p` is hiding. */
  private hide(p: PeerState, index: PieceIndex): void {
    const bits = this.hiding.get(p);
    // No piece turns fresh by it: the `have` that hides this copy added it to `availability`.
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
    const starved = !onlyFresh && now - this.lastGain.get(p)! >= this.releaseAfterMs; // `fill` set it
    if (onlyFresh ? this.unofferedLive === 0 || this.noFresh : !starved && this.noUnheld) return undefined;
    const bits = p.link!.bitfield;
    let best: PieceIndex | undefined;
    let bestKey = Infinity;
    /** A piece `p` has is one it could take, had it not (`noFresh`, `noUnheld`: for any peer). */
    let anyOwn = false;
    for (let k = 0; k < this.pieceCount; k++) {
      const i = ((this.cursor + k) % this.pieceCount) as PieceIndex;
      // Pieces `p` holds offers of are not fresh (offered to it), and with `onlyFresh` false it holds none.
      if (bits.has(i)) {
        // `p`'s own copy may count for none (a revealer's).
        if (!anyOwn) anyOwn = onlyFresh ? this.offeredLive[i] === 0 && this.available(i) === 0 : this.available(i) === 0 && !this.pending(i, now);
        continue;
      }
      const available = this.available(i);
      const fresh = available === 0 && this.offeredLive[i] === 0;
      if (onlyFresh && !fresh) continue;
      // Someone is fetching it from us (an offer not released), or peers have it and `p` trades.
      if (!fresh && ((available > 0 && !starved) || this.pending(i, now))) continue;
      // Availability is at most the peer count, offers at most a few per peer and piece.
      const key = (fresh ? 0 : available === 0 ? 1e12 : 2e12) + this.offered[i]! * 1e6 + available;
      if (key < bestKey) {
        bestKey = key;
        best = i;
        if (key === 0) break;
      }
    }
    if (best !== undefined) this.cursor = (best + 1) % this.pieceCount;
    else if (!anyOwn && onlyFresh) this.noFresh = true;
    else if (!anyOwn && !starved) this.noFresh = this.noUnheld = true;
    return best;
  }

  /** Copies of `index` the swarm can trade: what a revealing bystander says it has (another super-seed's reveals) is none. */
  private available(index: PieceIndex): number {
    const hidden = this.hidden;
    return hidden === undefined ? this.availability(index) : Math.max(0, this.availability(index) - hidden[index]!);
  }

  /** Someone may be fetching `index` from us: a peer holds an offer of it (a bystander fetches none of its offers: they hold nothing back). */
  private pending(index: PieceIndex, now: number): boolean {
    const set = this.holders.get(index);
    if (set !== undefined) for (const q of set) if (!this.bystander(q, now)) return true;
    return false;
  }
}

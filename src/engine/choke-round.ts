import { choke, CHOKE_ROUND_MS, longestWaiting, UPLOAD_SNUB_MS, type ChokeCandidate, type ChokeState } from './choker.js';
import type { PeerSet, PeerState } from './peer-set.js';

/**
 * Who we upload to, applied to the peers. Rules:
 * - Every peer we can upload to (`link.canUpload`) competes, whatever carries it; `choker.ts`
 *   decides, every `CHOKE_ROUND_MS`, from each peer's rates.
 * - An interested peer is unchoked at once while a slot is free; a peer that loses interest is
 *   choked at once.
 * - Upload snubbing (`snub`, on every tick): a peer unchoked `UPLOAD_SNUB_MS` ago that has asked
 *   for nothing since (no request in that time, none queued or being read) is choked and marked
 *   `uploadSnubbed`, and its slot goes at once to a waiting peer (newcomers first). Its next
 *   request while unchoked clears the mark. So slots go to peers that use them: ten peers that
 *   only say `interested` used to hold every slot, and a real downloader got nothing for a minute.
 * - A slot that frees (a peer lost interest, left, or was snubbed) goes at once to a waiting peer,
 *   not at the next round: a seed whose peers each want a little (super-seeding offers a few
 *   pieces at a time) would otherwise idle its slots while others wait.
 * - The number of slots may change (`slots` is asked each time): a super-seed scales it with
 *   the leechers waiting (torrent.ts).
 * - `interestFollowsOffers` (super-seeding: we hand out pieces a few at a time, so a peer says
 *   `not interested` after each offer and `interested` at the next): a peer that loses interest
 *   is choked at once only when a peer waits for its slot; otherwise the choking round decides.
 * - `nothingToAsk` (super-seeding: the peer holds every piece offered to it) marks an unchoked
 *   peer that cannot use its slot through no fault of its own: it gives the slot up at once to a
 *   waiting peer, and is never marked snubbed (which would keep it from the next free slot once
 *   it has something to fetch again).
 * - Choking a peer discards its queued and in-flight uploads (BEP 3): the link drops its queue,
 *   and the uploader refuses what is still being read.
 */
export class ChokeRound {
  private state: ChokeState = { optimistic: undefined, optimisticSinceMs: 0 };
  private lastMs = -Infinity;

  constructor(
    private readonly peers: PeerSet,
    private readonly slots: () => number,
    private readonly rng: () => number,
    private readonly now: () => number,
    private readonly nothingToAsk: (peer: PeerState) => boolean = () => false,
    private readonly interestFollowsOffers: () => boolean = () => false,
  ) {}

  /** A round is due at `now`. */
  due(now: number): boolean {
    return now - this.lastMs >= CHOKE_ROUND_MS;
  }

  /** Until the next round, when a choked peer may be unchoked (0 when one is due). */
  nextInMs(now: number): number {
    return Math.max(0, this.lastMs + CHOKE_ROUND_MS - now);
  }

  run(now: number, seeding: boolean): void {
    this.lastMs = now;
    const uploaders = this.uploaders();
    const decision = choke(
      uploaders.map((p) => this.candidate(p, now)),
      seeding,
      this.slots(),
      this.state,
      now,
      this.rng,
    );
    this.state = decision;
    for (const p of uploaders) this.setChoking(p, !decision.unchoked.has(p.link!.id), now);
  }

  /**
   * Chokes unchoked peers that asked for nothing within `UPLOAD_SNUB_MS`, and, while others wait,
   * those with nothing to ask; then gives free slots away.
   */
  snub(now: number): void {
    let waiting: boolean | undefined;
    for (const p of this.peers) {
      if (p.amChoking || p.closed || p.link?.canUpload !== true) continue;
      if (p.uploads.length > 0 || p.reading.size > 0) continue; // still being served
      if (this.nothingToAsk(p)) {
        waiting ??= this.waiting().length > 0;
        if (waiting) this.setChoking(p, true, now); // not snubbed: it will have something to ask
        continue;
      }
      if (now - Math.max(p.unchokedMs, p.lastRequestMs) < UPLOAD_SNUB_MS) continue;
      p.uploadSnubbed = true;
      this.setChoking(p, true, now);
    }
    this.fillFree(now);
  }

  /** The peer asked for bytes while unchoked: it uses its slot. */
  requested(peer: PeerState): void {
    peer.uploadSnubbed = false;
  }

  interested(peer: PeerState): void {
    peer.peerInterested = true;
    if (peer.link?.canUpload === true && peer.amChoking && !peer.uploadSnubbed && !this.nothingToAsk(peer) && this.unchokedCount() < this.slots()) {
      this.setChoking(peer, false, this.now());
    }
  }

  notInterested(peer: PeerState): void {
    peer.peerInterested = false;
    if (peer.amChoking) return;
    // Its interest follows our offers: this is the pause between two of them (our next `have`
    // may be on the wire already). Choking it now only to unchoke it a round trip later costs
    // its pipeline every offer, and more than 10 chokes in 10 s make a peer close us as a choke
    // storm: a lone fast downloader then lost its seed. It keeps the slot unless someone waits.
    if (this.interestFollowsOffers() && this.waiting().length === 0) return;
    const now = this.now();
    this.setChoking(peer, true, now);
    this.fillFree(now);
  }

  /**
   * Free slots go to waiting peers that are not snubbed, those unchoked longest ago (newcomers)
   * first, at random among equals. When the optimistic peer lost its slot, the first of them
   * takes its place (and its 30 s), so the optimistic slot turns over as fast as peers waste it.
   */
  private fillFree(now: number): void {
    while (this.unchokedCount() < this.slots()) {
      const waiting = this.waiting();
      const pool = longestWaiting(waiting.map((p) => ({ ...this.candidate(p, now), peer: p })));
      if (pool.length === 0) return;
      const next = pool[Math.floor(this.rng() * pool.length)]!.peer;
      const optimistic = this.state.optimistic;
      if (optimistic === undefined || !this.uploaders().some((p) => p.link!.id === optimistic && !p.amChoking)) {
        this.state = { optimistic: next.link!.id, optimisticSinceMs: now };
      }
      this.setChoking(next, false, now);
    }
  }

  /** Choked peers that want a slot and may have one. */
  private waiting(): PeerState[] {
    return this.uploaders().filter((p) => p.amChoking && p.peerInterested && !p.uploadSnubbed && !this.nothingToAsk(p));
  }

  private uploaders(): PeerState[] {
    return [...this.peers].filter((p) => p.link?.canUpload === true && !p.closed);
  }

  private candidate(p: PeerState, now: number): ChokeCandidate {
    return {
      id: p.link!.id,
      interested: p.peerInterested && !this.nothingToAsk(p),
      downloadRate: p.down.rate(now),
      uploadRate: p.up.rate(now),
      snubbed: p.uploadSnubbed,
      lastUnchokedMs: p.unchokedMs,
    };
  }

  private unchokedCount(): number {
    let n = 0;
    for (const p of this.peers) if (!p.amChoking) n++;
    return n;
  }

  private setChoking(peer: PeerState, choking: boolean, now: number): void {
    if (peer.amChoking === choking) return;
    peer.amChoking = choking;
    if (choking) {
      // BEP 3: choking discards the peer's pending requests.
      for (const u of peer.reading) u.cancelled = true;
      peer.uploads.length = 0;
    } else {
      peer.unchokedMs = now;
    }
    peer.link?.setChoking(choking);
  }
}

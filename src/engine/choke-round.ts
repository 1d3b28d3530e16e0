import { choke, CHOKE_ROUND_MS, type ChokeState } from './choker.js';
import type { PeerSet, PeerState } from './peer-set.js';

/**
 * Who we upload to, applied to the peers. Rules:
 * - Every peer we can upload to (`link.canUpload`) competes, whatever carries it; `choker.ts`
 *   decides, every `CHOKE_ROUND_MS`, from each peer's rates.
 * - An interested peer is unchoked at once while a slot is free; a peer that loses interest is
 *   choked at once.
 * - Choking a peer discards its queued and in-flight uploads (BEP 3): the link drops its queue,
 *   and the uploader refuses what is still being read.
 */
export class ChokeRound {
  private state: ChokeState = { optimistic: undefined, optimisticSinceMs: 0 };
  private lastMs = -Infinity;

  constructor(
    private readonly peers: PeerSet,
    private readonly slots: number,
    private readonly rng: () => number,
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
    const uploaders = [...this.peers].filter((p) => p.link?.canUpload === true && !p.closed);
    const decision = choke(
      uploaders.map((p) => ({ id: p.link!.id, interested: p.peerInterested, downloadRate: p.down.rate(now), uploadRate: p.up.rate(now) })),
      seeding,
      this.slots,
      this.state,
      now,
      this.rng,
    );
    this.state = decision;
    for (const p of uploaders) this.setChoking(p, !decision.unchoked.has(p.link!.id));
  }

  interested(peer: PeerState): void {
    peer.peerInterested = true;
    if (peer.link?.canUpload === true && peer.amChoking && this.unchokedCount() < this.slots) this.setChoking(peer, false);
  }

  notInterested(peer: PeerState): void {
    peer.peerInterested = false;
    if (!peer.amChoking) this.setChoking(peer, true);
  }

  private unchokedCount(): number {
    let n = 0;
    for (const p of this.peers) if (!p.amChoking) n++;
    return n;
  }

  private setChoking(peer: PeerState, choking: boolean): void {
    if (peer.amChoking === choking) return;
    peer.amChoking = choking;
    if (choking) {
      // BEP 3: choking discards the peer's pending requests.
      for (const u of peer.reading) u.cancelled = true;
      peer.uploads.length = 0;
    }
    peer.link?.setChoking(choking);
  }
}

/**
 * Choker: which peers we upload to. A pure function of a snapshot, `now` and an injected rng.
 *
 * BEP 3 / libtorrent's classic algorithm: every round (10 s) unchoke the `slots − 1` interested
 * peers that serve us best (tit-for-tat: download rate from them while leeching; while seeding,
 * upload rate to them, which favours peers that can take data fast) and one *optimistic*
 * unchoke, a random choked interested peer, kept for three rounds (30 s) so newcomers get a
 * chance to prove themselves. Ties break by id, so the result is deterministic for a given rng.
 *
 * Upload snubbing (choke-round.ts): a peer we unchoked that asks for nothing within
 * `UPLOAD_SNUB_MS` is `snubbed`: it gets no regular slot and no free one, only the optimistic
 * slot when no other peer is waiting for it. The optimistic pick goes to the peers unchoked
 * longest ago (never, for newcomers: libtorrent likewise favours peers that waited longest), at
 * random among them, so a swarm of interested-but-silent peers cannot keep a real downloader
 * from its turn: each of them holds the slot only `UPLOAD_SNUB_MS`.
 */
export interface ChokeCandidate {
  readonly id: string;
  readonly interested: boolean;
  /** Bytes/s we receive from the peer. */
  readonly downloadRate: number;
  /** Bytes/s we send to the peer. */
  readonly uploadRate: number;
  /** It was unchoked and asked for nothing: no slot but a last-resort optimistic one. */
  readonly snubbed?: boolean;
  /** When we last unchoked it (ms); undefined or −∞ for never. */
  readonly lastUnchokedMs?: number;
}

export interface ChokeState {
  readonly optimistic: string | undefined;
  /** When the optimistic unchoke was chosen (ms). */
  readonly optimisticSinceMs: number;
}

export interface ChokeDecision extends ChokeState {
  readonly unchoked: ReadonlySet<string>;
}

export const CHOKE_ROUND_MS = 10_000;
export const OPTIMISTIC_ROTATE_MS = 30_000;
/**
 * An unchoked peer that asks for nothing this long is choked and its slot given to another.
 * Any client that wants data requests within a round trip of our unchoke; libtorrent chokes a peer
 * that has not requested for a while too. Five seconds is half a choking round.
 */
export const UPLOAD_SNUB_MS = 5000;

export function choke(
  peers: readonly ChokeCandidate[],
  seeding: boolean,
  slots: number,
  state: ChokeState,
  nowMs: number,
  rng: () => number,
): ChokeDecision {
  const interested = peers.filter((p) => p.interested);
  const score = (p: ChokeCandidate) => (seeding ? p.uploadRate : p.downloadRate);
  const ranked = interested.filter((p) => p.snubbed !== true).sort((a, b) => score(b) - score(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const regular = ranked.slice(0, Math.max(0, slots - 1));
  const unchoked = new Set(regular.map((p) => p.id));

  let optimistic = state.optimistic;
  let since = state.optimisticSinceMs;
  const stillValid =
    optimistic !== undefined &&
    nowMs - since < OPTIMISTIC_ROTATE_MS &&
    interested.some((p) => p.id === optimistic && p.snubbed !== true) &&
    !unchoked.has(optimistic);
  if (!stillValid) {
    const choked = interested.filter((p) => !unchoked.has(p.id));
    const fresh = choked.filter((p) => p.snubbed !== true);
    const pool = longestWaiting(fresh.length > 0 ? fresh : choked);
    optimistic = pool.length === 0 ? undefined : pool[Math.floor(rng() * pool.length)]!.id;
    since = nowMs;
  }
  if (optimistic !== undefined) unchoked.add(optimistic);
  // No slot is left free while an unsnubbed peer waits: with fewer of them than `slots − 1` every
  // one has a regular slot, and otherwise one of those left over is the optimistic unchoke.
  return { unchoked, optimistic, optimisticSinceMs: since };
}

/** The peers unchoked longest ago (newcomers, never unchoked, first), in input order. */
export function longestWaiting<T extends ChokeCandidate>(peers: readonly T[]): T[] {
  let oldest = Infinity;
  for (const p of peers) oldest = Math.min(oldest, p.lastUnchokedMs ?? -Infinity);
  return peers.filter((p) => (p.lastUnchokedMs ?? -Infinity) === oldest);
}

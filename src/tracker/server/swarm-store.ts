import type { AnnounceEvent } from '../announce-types.js';
import type { ScrapeEntry } from '../http-scrape.js';
import type { ParsedIp } from '../ip.js';

/**
 * Where swarms live. The server owns protocol, addresses, access lists and clocks; a store owns
 * peers and counters. Every method is async so a shared store (Redis, to scale out across
 * processes) can implement the same contract; the in-memory store answers at once.
 *
 * A peer is identified within its torrent by peer id *and* address: a client that changes port
 * becomes a new entry and its old one expires, and nobody can stop another peer by copying its
 * peer id alone.
 */

/** Which peer lists a reply needs. */
export type ReplyShape =
  /** Compact IPv4 peers only: UDP over IPv4. */
  | 'compact4'
  /** Compact IPv6 peers only: UDP over IPv6. */
  | 'compact6'
  /** Both compact lists (`peers` and BEP 7 `peers6`): HTTP compact. */
  | 'compact'
  /** Peer records with ids and URLs: HTTP dictionary replies and JSON. */
  | 'list';

export interface SwarmAnnounce {
  /** 20 bytes. */
  readonly infoHash: Uint8Array;
  /** 20 bytes. */
  readonly peerId: Uint8Array;
  /** The peer's address as the server decided it (source address, or a trusted `ip`). */
  readonly ip: ParsedIp;
  /** Wire port; 0 for a TorrentTTP peer that only has a `url`. */
  readonly port: number;
  /** TorrentTTP peer URL. */
  readonly url?: string;
  /** 0 makes the peer a seeder. */
  readonly left: number;
  readonly event?: AnnounceEvent;
  /** Peers wanted, already capped by the server; per family for `compact`. */
  readonly numwant: number;
  readonly reply: ReplyShape;
  /** The server's clock; expiry counts from it. */
  readonly nowMs: number;
}

export interface SwarmPeer {
  readonly peerId: Uint8Array;
  readonly ip: string;
  /** 0 when the peer has only a `url`. */
  readonly port: number;
  readonly url?: string;
}

export interface SwarmAnnounceResult {
  /** Seeders, after this announce. */
  readonly complete: number;
  /** Leechers, after this announce. */
  readonly incomplete: number;
  /** Concatenated 6-byte peers (for `compact4` and `compact`), never including the announcer. */
  readonly peers4: Uint8Array;
  /** Concatenated 18-byte peers (for `compact6` and `compact`). */
  readonly peers6: Uint8Array;
  /** For `list` replies. */
  readonly peers: readonly SwarmPeer[];
}

export interface SwarmAnnounceCounts {
  readonly complete: number;
  readonly incomplete: number;
  /** Bytes of compact peers written. */
  readonly peerBytes: number;
}

export interface SwarmStats {
  readonly torrents: number;
  readonly peers: number;
  readonly seeders: number;
  readonly leechers: number;
  /** `event=completed` announces counted over the torrents still held. */
  readonly completed: number;
}

export interface SwarmStore {
  /** Records the peer (or removes it on `stopped`) and samples others for the reply.
   *  May throw `TrackerError('TRACKER_FULL')`. */
  announce(a: SwarmAnnounce): Promise<SwarmAnnounceResult>;
  /** One entry per hash asked for, zeros for unknown torrents, in request order. */
  scrape(infoHashes: readonly Uint8Array[]): Promise<ScrapeEntry[]>;
  /** Every torrent held, up to `limit`. */
  fullScrape(limit: number): Promise<ScrapeEntry[]>;
  stats(): Promise<SwarmStats>;
  /** Drops peers not heard from since `nowMs − peer timeout`, and empty torrents; returns peers dropped. */
  expire(nowMs: number): Promise<number>;
  close(): Promise<void>;
  /** Optional fast path (the memory store has it): `announce` without a promise, for the UDP
   *  loop where a promise per packet is measurable. Same result and errors as `announce`. */
  announceNow?(a: SwarmAnnounce): SwarmAnnounceResult;
  /** Optional fastest path (the memory store has it), for UDP: `announceNow` for a `compact4` or
   *  `compact6` reply that writes the compact peers straight into `out` from byte `at` instead of
   *  allocating a list (so `out` needs room for `numwant` entries of the reply's family), and
   *  returns the counts and the peer bytes written. `a.infoHash` and `a.peerId` are lent for the
   *  call only (the UDP server refills them for the next packet): copy what you keep. */
  announceInto?(a: SwarmAnnounce, out: Uint8Array, at: number): SwarmAnnounceCounts;
  /**
   * Optional (the memory store has it): a number that changes whenever a count `scrape` answers
   * may have changed (a peer added, stopped, expired, turned seeder or leecher, `completed`
   * counted), and not on a re-announce that changes none. A reader that remembers it with a
   * scrape read just after knows the scrape still holds while it is the same (serve's status
   * page). A store whose counts other processes change (Redis) has none: ask it.
   */
  version?(): number;
  /** A store shared by several trackers gives them one UDP connection-id secret, so a BEP 15
   *  `connect` answered by one tracker is honoured by the next (behind a load balancer). */
  sharedSecret?(): Promise<Uint8Array>;
}

import type { PeerAddr } from './krpc.js';

/**
 * Peers announced to us (announce_peer), per info-hash, bounded and expiring: at most
 * `maxTorrents` info-hashes (the oldest announced is dropped first) and `maxPeersPerTorrent`
 * each (the stalest first), every entry forgotten `ttlMs` after its last announce (30 min:
 * clients re-announce every 15). Bounded so that an announce flood costs a fixed amount of memory.
 */
export interface PeerStoreOptions {
  /** Default 2,000 (libtorrent's `max_torrents`). */
  readonly maxTorrents?: number;
  /** Default 100 (libtorrent's `max_peers`… per torrent, 500; we answer with 50 at most anyway). */
  readonly maxPeersPerTorrent?: number;
  /** Default 30 minutes. */
  readonly ttlMs?: number;
}

export class PeerStore {
  private readonly torrents = new Map<string, Map<string, { peer: PeerAddr; at: number }>>();
  private readonly maxTorrents: number;
  private readonly maxPeers: number;
  private readonly ttlMs: number;

  constructor(opts: PeerStoreOptions = {}) {
    this.maxTorrents = opts.maxTorrents ?? 2000;
    this.maxPeers = opts.maxPeersPerTorrent ?? 100;
    this.ttlMs = opts.ttlMs ?? 30 * 60_000;
  }

  add(infoHashHex: string, peer: PeerAddr, nowMs: number): void {
    let peers = this.torrents.get(infoHashHex);
    if (peers === undefined) {
      if (this.torrents.size >= this.maxTorrents) this.torrents.delete(this.torrents.keys().next().value!);
      peers = new Map();
    } else this.torrents.delete(infoHashHex); // re-insert: newest at the end
    this.torrents.set(infoHashHex, peers);
    const key = `${peer.ip}:${peer.port}`;
    peers.delete(key);
    peers.set(key, { peer, at: nowMs });
    if (peers.size > this.maxPeers) peers.delete(peers.keys().next().value!);
  }

  /** Up to `max` live peers, newest first. */
  get(infoHashHex: string, nowMs: number, max = 50): PeerAddr[] {
    const peers = this.torrents.get(infoHashHex);
    if (peers === undefined) return [];
    for (const [key, e] of peers) {
      if (nowMs - e.at < this.ttlMs) break; // oldest first: the rest are newer
      peers.delete(key);
    }
    if (peers.size === 0) this.torrents.delete(infoHashHex);
    return [...peers.values()].reverse().slice(0, max).map((e) => e.peer);
  }

  get torrentCount(): number {
    return this.torrents.size;
  }

  peerCount(infoHashHex: string): number {
    return this.torrents.get(infoHashHex)?.size ?? 0;
  }
}

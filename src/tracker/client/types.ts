import type { AnnounceRequest } from '../announce-types.js';
import { TrackerError } from '../errors.js';
import type { PeerAddress } from '../ip.js';

/**
 * A peer a tracker names: a wire address, or a TorrentTTP peer's torrent URL (only JSON announces
 * can carry one, docs/torrenttp.md §10). A JSON entry with both is given as its address: one
 * protocol per peer (§14), and the wire has less overhead.
 */
export type PeerRef = PeerAddress | { readonly url: string };

export function isUrlRef(p: PeerRef): p is { readonly url: string } {
  return 'url' in p;
}

/** What any tracker client brings back from an announce, whatever the protocol: BEP 3 and UDP give addresses only. */
export interface AnnounceResult<P extends PeerRef = PeerRef> {
  readonly peers: readonly P[];
  readonly intervalSec: number;
  readonly minIntervalSec?: number;
  readonly seeders?: number;
  readonly leechers?: number;
  readonly warning?: string;
  /** BEP 3 `tracker id`, to echo in later announces to the same tracker. */
  readonly trackerId?: Uint8Array;
}

export interface ScrapeResult {
  readonly infoHash: Uint8Array;
  readonly seeders: number;
  readonly completed: number;
  readonly leechers: number;
}

export interface TrackerRequestOptions {
  /** Whole-request bound. HTTP default 20 s; UDP uses the BEP 15 schedule below. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** One tracker URL's client; the announcer keeps one per URL. */
export interface TrackerClient {
  readonly url: string;
  announce(req: AnnounceRequest, opts?: TrackerRequestOptions): Promise<AnnounceResult<PeerRef>>;
  scrape(infoHashes: readonly Uint8Array[], opts?: TrackerRequestOptions): Promise<ScrapeResult[]>;
}

/**
 * A UDP tracker URL's host and port (BEP 15: `udp://host:port`, the port required); throws
 * TRACKER_UNSUPPORTED_URL for any other. Here, not in udp-client.ts, so that the announcer can
 * skip such a URL without loading the UDP client.
 */
export function udpTrackerAddress(url: string): { readonly host: string; readonly port: number } {
  const u = new URL(url);
  if (u.protocol !== 'udp:' || u.port === '') throw new TrackerError('TRACKER_UNSUPPORTED_URL', { detail: url });
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}

import type { AnnounceRequest } from '../announce-types.js';
import type { PeerAddress } from '../ip.js';

/** What any tracker client brings back from an announce, whatever the protocol. */
export interface AnnounceResult {
  readonly peers: readonly PeerAddress[];
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
  announce(req: AnnounceRequest, opts?: TrackerRequestOptions): Promise<AnnounceResult>;
  scrape(infoHashes: readonly Uint8Array[], opts?: TrackerRequestOptions): Promise<ScrapeResult[]>;
}

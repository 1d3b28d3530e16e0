import { relative, sep } from 'node:path';
import type { Client, Torrent } from '../engine/index.js';
import { fromHex } from '../metainfo/index.js';
import type { ScrapeEntry } from '../tracker/index.js';

/**
 * What `torrenttp serve` has sent, and how: the counters behind `/.torrenttp/status.json`.
 *
 * - Plain HTTP: body bytes of files (`200` and `206`), counted when the socket has taken them
 *   (the write callback), so a client that hangs up mid-body is not counted for the rest.
 *   Split by whether the file is eligible for a torrent; per file for eligible files only (the
 *   ones a swarm could have carried), at most `maxFiles` of them.
 * - As a peer: payload bytes the engine's seed uploaded (piece blocks, BEP 3), per info-hash,
 *   including torrents retired since (their last count is kept).
 * - Counters live in this process: with several servers behind a load balancer each shows its
 *   own bytes, while seeds and leechers (from the tracker's store) are the shared swarm's.
 */
export const STATUS_DOC_VERSION = 1;
/**
 * How old an identity sweep (`SwarmFiles.check`: a stat of every file with a torrent) a status
 * document may rely on. A sweep of 10,000 files took 0.2-0.7 s of CPU (docs/serve.md), so a
 * document makes one only when none younger than this exists: an open status page (it asks
 * every second), several, or a client asking in a loop cost at most one sweep per 5 s, serve's
 * own check interval, and while serve's timer runs its sweeps serve them. A file changed or
 * deleted on disk is then shown with its old swarm for at most this long, and not at all once a
 * request for it found it changed or gone (that request retires its torrent). At 1 s the page,
 * whose polls come a little over a second apart, would still make a sweep at each poll.
 */
export const STATUS_CHECK_MAX_AGE_MS = 5000;
/** Eligible files with a per-file plain-HTTP count; more only add to the totals. */
export const DEFAULT_MAX_STATUS_FILES = 10_000;

export interface StatusFile {
  /** Path below the served folder, `/`-separated, starting with `/` (not URL-encoded). */
  readonly path: string;
  readonly size: number | null;
  /** `ready` (has a torrent), `hashing`, or `plain` (served plainly, no torrent asked for yet). */
  readonly state: 'ready' | 'hashing' | 'plain';
  readonly infoHash: string | null;
  readonly plainBytes: number;
  /** Range responses to clients that asked for the torrent: the server as the swarm's web seed (BEP 19). */
  readonly webSeedBytes: number;
}

export interface StatusSwarm {
  readonly infoHash: string;
  readonly paths: readonly string[];
  /** From the tracker's store (shared with other servers under `--redis`); this server's seed counts. Null when the store did not answer. */
  readonly seeds: number | null;
  readonly leechers: number | null;
  /** `event=completed` announces the store has counted. */
  readonly completed: number | null;
  /** Peers connected to this server's seed now. */
  readonly peers: number;
  /** Payload bytes this server's seed uploaded. */
  readonly peerBytes: number;
  readonly peerBytesPerSec: number;
}

export interface StatusDocument {
  readonly version: typeof STATUS_DOC_VERSION;
  /** Server clock, ms since the epoch, when this document was made. */
  readonly time: number;
  readonly startedAt: number;
  readonly tracker: { readonly store: 'memory' | 'redis'; readonly error: string | null };
  readonly totals: {
    readonly plainBytes: number;
    readonly plainEligibleBytes: number;
    readonly plainIneligibleBytes: number;
    readonly plainResponses: number;
    readonly peerBytes: number;
    /**
     * Body bytes of `Range` responses to requests whose `Accept` prefers the torrent (they would
     * have got it without the `Range`): swarm members using the file's URL as their web seed, as
     * `torrenttp get` does when it is alone and aria2 does when given the header. Not in `plainBytes`.
     */
    readonly webSeedBytes: number;
  };
  readonly files: readonly StatusFile[];
  readonly swarms: readonly StatusSwarm[];
}

export interface StatusSources {
  readonly root: string;
  /**
   * Re-reads the identity of the files with a torrent and retires those that changed or went
   * away, or relies on such a sweep made less than STATUS_CHECK_MAX_AGE_MS ago (`SwarmFiles.recheck`;
   * serve's timer sweeps every 5 s), so that the document lists a deleted file as `ready`, or its
   * swarm, for at most that long.
   */
  readonly check?: () => Promise<void>;
  /** Files with a torrent made or being made. */
  readonly files: () => readonly { absPath: string; size: number; infoHash: string | undefined }[];
  /** Info-hashes served now. */
  readonly infoHashes: () => readonly string[];
  readonly scrape: (infoHashes: readonly Uint8Array[]) => Promise<ScrapeEntry[]>;
  readonly store: 'memory' | 'redis';
}

interface PlainFile {
  bytes: number;
  webSeedBytes: number;
  size: number;
}

export class ServeStatus {
  private readonly startedAt: number;
  private plainEligible = 0;
  private plainIneligible = 0;
  private plainResponses = 0;
  private webSeed = 0;
  private readonly plainByFile = new Map<string, PlainFile>();
  /** Engine torrents seen (live ones and removed ones not yet folded into `retiredBytes`). */
  private readonly torrents = new Map<Torrent, string>();
  /** Uploads of removed torrents, by info-hash. */
  private readonly retiredBytes = new Map<string, number>();
  private client: Client | undefined;
  private inFlight: Promise<StatusDocument> | undefined;

  constructor(
    private readonly opts: { readonly now?: () => number; readonly maxFiles?: number } = {},
  ) {
    this.startedAt = this.now();
  }

  /** Follows every torrent the seed's engine adds. */
  watch(client: Client): void {
    this.client = client;
    client.on('torrent', (t) => this.torrents.set(t, t.infoHash));
  }

  /** A plain file response is about to send its body. */
  plainResponse(): void {
    this.plainResponses++;
  }

  /** Body bytes of `absPath` read into a plain response; `webSeed`: a range for a client that asked for the torrent (see `webSeedBytes`). */
  countPlain(absPath: string, size: number, eligible: boolean, bytes: number, webSeed = false): void {
    if (!eligible) {
      this.plainIneligible += bytes;
      return;
    }
    if (webSeed) this.webSeed += bytes;
    else this.plainEligible += bytes;
    let f = this.plainByFile.get(absPath);
    if (f === undefined) {
      if (this.plainByFile.size >= (this.opts.maxFiles ?? DEFAULT_MAX_STATUS_FILES)) return;
      f = { bytes: 0, webSeedBytes: 0, size };
      this.plainByFile.set(absPath, f);
    }
    if (webSeed) f.webSeedBytes += bytes;
    else f.bytes += bytes;
    f.size = size;
  }

  /** The status document; concurrent callers share one. */
  snapshot(src: StatusSources): Promise<StatusDocument> {
    this.inFlight ??= this.make(src).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private async make(src: StatusSources): Promise<StatusDocument> {
    await src.check?.().catch(() => undefined); // the timer's check logs its failures; the page shows what is known
    const up = this.uploads();
    const hashes = [...src.infoHashes()].sort();
    let scraped: ScrapeEntry[] | undefined;
    let trackerError: string | null = null;
    try {
      scraped = hashes.length === 0 ? [] : await src.scrape(hashes.map((h) => fromHex(h) ?? new Uint8Array(20)));
    } catch (err) {
      trackerError = err instanceof Error ? err.message : String(err);
    }
    const rel = (absPath: string): string => `/${relative(src.root, absPath).split(sep).join('/')}`;

    const files = new Map<string, StatusFile>();
    for (const [absPath, f] of this.plainByFile) files.set(absPath, { path: rel(absPath), size: f.size, state: 'plain', infoHash: null, plainBytes: f.bytes, webSeedBytes: f.webSeedBytes });
    const pathsOf = new Map<string, string[]>();
    for (const f of src.files()) {
      const known = files.get(f.absPath);
      const entry = { path: rel(f.absPath), size: f.size, state: f.infoHash === undefined ? ('hashing' as const) : ('ready' as const), infoHash: f.infoHash ?? null, plainBytes: known?.plainBytes ?? 0, webSeedBytes: known?.webSeedBytes ?? 0 };
      files.set(f.absPath, entry);
      if (f.infoHash !== undefined) pathsOf.set(f.infoHash, [...(pathsOf.get(f.infoHash) ?? []), entry.path]);
    }

    const swarms: StatusSwarm[] = hashes.map((infoHash, i) => {
      const s = scraped?.[i];
      const live = up.live.get(infoHash);
      return {
        infoHash,
        paths: (pathsOf.get(infoHash) ?? []).sort(),
        seeds: s?.complete ?? null,
        leechers: s?.incomplete ?? null,
        completed: s?.downloaded ?? null,
        peers: live?.peers ?? 0,
        peerBytes: (live?.uploaded ?? 0) + (this.retiredBytes.get(infoHash) ?? 0),
        peerBytesPerSec: Math.round(live?.uploadRate ?? 0),
      };
    });

    return {
      version: STATUS_DOC_VERSION,
      time: this.now(),
      startedAt: this.startedAt,
      tracker: { store: src.store, error: trackerError },
      totals: {
        plainBytes: this.plainEligible + this.plainIneligible,
        plainEligibleBytes: this.plainEligible,
        plainIneligibleBytes: this.plainIneligible,
        plainResponses: this.plainResponses,
        peerBytes: up.total,
        webSeedBytes: this.webSeed,
      },
      files: [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
      swarms,
    };
  }

  /** Live torrents' uploads now; removed torrents are folded into `retiredBytes` for good. */
  private uploads(): { live: Map<string, { uploaded: number; uploadRate: number; peers: number }>; total: number } {
    const live = new Map<string, { uploaded: number; uploadRate: number; peers: number }>();
    for (const [t, infoHash] of this.torrents) {
      const s = t.stats();
      if (this.client?.get(infoHash) === t) {
        live.set(infoHash, { uploaded: s.uploaded, uploadRate: s.uploadRate, peers: s.peersByKind.wire + s.peersByKind.http });
      } else {
        this.retiredBytes.set(infoHash, (this.retiredBytes.get(infoHash) ?? 0) + s.uploaded);
        this.torrents.delete(t);
      }
    }
    let total = 0;
    for (const v of this.retiredBytes.values()) total += v;
    for (const v of live.values()) total += v.uploaded;
    return { live, total };
  }
}

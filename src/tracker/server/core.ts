import { keyFromBytes } from '../../bencode/index.js';
import type { AnnounceRequest } from '../announce-types.js';
import { TrackerError } from '../errors.js';
import type { ScrapeEntry } from '../http-scrape.js';
import { formatIp, parseIpNormalized, type ParsedIp } from '../ip.js';
import { infoHashKeys } from './access-list.js';
import { EmbeddedPeerReplies, type EmbeddedPeer } from './embedded-peer.js';
import { MemorySwarmStore } from './memory-store.js';
import { RateCounter } from './rate.js';
import type { ReplyShape, SwarmAnnounce, SwarmAnnounceResult, SwarmStats, SwarmStore } from './swarm-store.js';

/**
 * What the tracker decides, whatever the transport: access lists, which address a peer has, how
 * many peers it gets, counters. No sockets here; `http-endpoints.ts` and `udp-endpoint.ts` call
 * in with parsed requests and the source address.
 */

/** The subset of pino the tracker logs through (pino's `(obj, msg)` call shape). */
export interface TrackerLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};
export const silentLogger: TrackerLogger = { debug: noop, info: noop, warn: noop, error: noop };

export type TrackerProtocol = 'http' | 'udp' | 'json';

export interface TrackerPolicyOptions {
  /** Announce interval. Default 1800 s (opentracker's, and what most trackers send). */
  readonly intervalSec?: number;
  /** Default half the interval. */
  readonly minIntervalSec?: number;
  /** Peers per reply when the client does not say. Default 50 (BEP 3's "typically 50"). */
  readonly defaultNumwant?: number;
  /** Cap on peers per reply (per family for HTTP compact). Default 200 (libtorrent's default ask). */
  readonly maxPeersPerReply?: number;
  /** Honour a client's `ip` parameter / UDP IP field. Default false: anyone could point a swarm at a victim. */
  readonly trustIp?: boolean;
  /** Info-hashes (bytes or 40 hex) admitted in private mode. */
  readonly allow?: Iterable<Uint8Array | string>;
  /** Info-hashes always refused. */
  readonly deny?: Iterable<Uint8Array | string>;
  /** Admit only hashes on the allow list (an empty one if none is given). Also disables full scrape. */
  readonly privateMode?: boolean;
  /** Answer `/scrape` without info_hash with every torrent. Default false. */
  readonly fullScrape?: boolean;
  /** Most torrents in a full scrape reply. Default 100,000 (about 5 MB bencoded). */
  readonly maxFullScrape?: number;
  /** A peer in this process (an embedded tracker's seed), listed at the address each announcer reached us on (`embedded-peer.ts`). */
  readonly embeddedPeer?: EmbeddedPeer;
}

export const POLICY_DEFAULTS = {
  intervalSec: 1800,
  defaultNumwant: 50,
  maxPeersPerReply: 200,
  maxFullScrape: 100_000,
} as const;

export class TrackerCore {
  readonly intervalSec: number;
  readonly minIntervalSec: number;
  private readonly defaultNumwant: number;
  private readonly maxPeersPerReply: number;
  private readonly trustIp: boolean;
  private readonly privateMode: boolean;
  private readonly fullScrapeEnabled: boolean;
  private readonly maxFullScrape: number;
  private allow: ReadonlySet<string>;
  private deny: ReadonlySet<string>;
  private readonly embedded: EmbeddedPeerReplies | undefined;
  readonly announces = { http: new RateCounter(), udp: new RateCounter(), json: new RateCounter() };
  readonly scrapes = { http: new RateCounter(), udp: new RateCounter(), json: new RateCounter() };
  readonly startedMs: number;

  constructor(
    opts: TrackerPolicyOptions,
    readonly store: SwarmStore = new MemorySwarmStore(),
    readonly now: () => number = Date.now,
    readonly logger: TrackerLogger = silentLogger,
  ) {
    this.intervalSec = opts.intervalSec ?? POLICY_DEFAULTS.intervalSec;
    this.minIntervalSec = opts.minIntervalSec ?? Math.max(1, Math.floor(this.intervalSec / 2));
    this.defaultNumwant = opts.defaultNumwant ?? POLICY_DEFAULTS.defaultNumwant;
    this.maxPeersPerReply = opts.maxPeersPerReply ?? POLICY_DEFAULTS.maxPeersPerReply;
    this.trustIp = opts.trustIp ?? false;
    this.privateMode = opts.privateMode ?? false;
    this.fullScrapeEnabled = (opts.fullScrape ?? false) && !this.privateMode;
    this.maxFullScrape = opts.maxFullScrape ?? POLICY_DEFAULTS.maxFullScrape;
    this.allow = infoHashKeys(opts.allow ?? []);
    this.deny = infoHashKeys(opts.deny ?? []);
    this.embedded = opts.embeddedPeer === undefined ? undefined : new EmbeddedPeerReplies(opts.embeddedPeer);
    this.startedMs = now();
  }

  /** Replaces the lists (e.g. on SIGHUP); `undefined` keeps a list as it is. */
  setAccessLists(lists: { readonly allow?: Iterable<Uint8Array | string>; readonly deny?: Iterable<Uint8Array | string> }): void {
    if (lists.allow !== undefined) this.allow = infoHashKeys(lists.allow);
    if (lists.deny !== undefined) this.deny = infoHashKeys(lists.deny);
  }

  admits(infoHash: Uint8Array): boolean {
    if (!this.privateMode && this.deny.size === 0) return true;
    const k = keyFromBytes(infoHash);
    if (this.deny.has(k)) return false;
    return !this.privateMode || this.allow.has(k);
  }

  async announce(
    req: AnnounceRequest,
    source: ParsedIp,
    protocol: TrackerProtocol,
    reply: ReplyShape,
    url?: string,
    local?: ParsedIp,
  ): Promise<SwarmAnnounceResult> {
    const a = this.prepare(req, source, protocol, reply, url);
    return this.finish(a, await this.store.announce(a), local);
  }

  /** Whether announces of this torrent need `finish` (the embedded peer has it). */
  embeds(infoHash: Uint8Array): boolean {
    return this.embedded?.peer.portFor(infoHash) !== undefined;
  }

  /**
   * The store's answer to `a` as the announcer gets it: with the embedded peer (if it has the
   * torrent) at `local`, the address the announcer reached this tracker on (undefined: unknown,
   * the store's answer as it is). Also reports the announce to the embedded peer.
   */
  finish(a: SwarmAnnounce, res: SwarmAnnounceResult, local: ParsedIp | undefined): SwarmAnnounceResult {
    const e = this.embedded;
    const port = e?.peer.portFor(a.infoHash);
    if (e === undefined || port === undefined) return res;
    const isSelf = e.noteSource(a.peerId, a.ip);
    if (!isSelf && a.port !== 0) e.peer.announced?.(a.infoHash, { ip: formatIp(a.ip.bytes), port: a.port, peerId: a.peerId, left: a.left, event: a.event });
    if (local === undefined) return res;
    return e.rewrite(res, port, local, a.reply, a.event === 'stopped' ? 0 : a.numwant, isSelf, a.infoHash);
  }

  /**
   * Policy for one announce (access lists, address, numwant, counters) as the store's input.
   * Throws `TrackerError`. Split from `announce` so the UDP path can call a store's synchronous
   * `announceNow` without a promise per packet. `nowMs`: a clock reading the caller already took
   * for this request (UDP reads it once per packet, for the connection id too).
   */
  prepare(req: AnnounceRequest, source: ParsedIp, protocol: TrackerProtocol, reply: ReplyShape, url?: string, nowMs: number = this.now()): SwarmAnnounce {
    this.announces[protocol].add(nowMs);
    if (!this.admits(req.infoHash)) throw new TrackerError('TRACKER_TORRENT_NOT_ALLOWED');
    let ip = source;
    if (this.trustIp && req.ip !== undefined) {
      const claimed = parseIpNormalized(req.ip);
      if (claimed === undefined) throw new TrackerError('TRACKER_BAD_IP', { detail: req.ip });
      ip = claimed;
    }
    const numwant = Math.min(req.numwant ?? this.defaultNumwant, this.maxPeersPerReply);
    // Every key always present, in one order: one object shape for the store's property loads.
    return { infoHash: req.infoHash, peerId: req.peerId, ip, port: req.port, url, left: req.left, event: req.event, numwant, reply, nowMs };
  }

  /** Torrents not admitted read as empty: a scrape does not reveal the deny list. */
  async scrape(infoHashes: readonly Uint8Array[], protocol: TrackerProtocol): Promise<ScrapeEntry[]> {
    this.scrapes[protocol].add(this.now());
    const entries = await this.store.scrape(infoHashes);
    return entries.map((e) => (this.admits(e.infoHash) ? e : { infoHash: e.infoHash, complete: 0, downloaded: 0, incomplete: 0 }));
  }

  async fullScrape(): Promise<ScrapeEntry[]> {
    this.scrapes.http.add(this.now());
    if (!this.fullScrapeEnabled) throw new TrackerError('TRACKER_FULL_SCRAPE_DISABLED');
    const entries = await this.store.fullScrape(this.maxFullScrape);
    return entries.filter((e) => this.admits(e.infoHash));
  }

  expire(): Promise<number> {
    return this.store.expire(this.now());
  }

  async stats(): Promise<TrackerStats> {
    const nowMs = this.now();
    const swarm = await this.store.stats();
    const rates = (c: Record<TrackerProtocol, RateCounter>): Record<TrackerProtocol, number> => ({
      http: c.http.perSecond(nowMs),
      udp: c.udp.perSecond(nowMs),
      json: c.json.perSecond(nowMs),
    });
    const totals = (c: Record<TrackerProtocol, RateCounter>): Record<TrackerProtocol, number> => ({
      http: c.http.total,
      udp: c.udp.total,
      json: c.json.total,
    });
    const mem = process.memoryUsage();
    return {
      ...swarm,
      announcesPerSec: rates(this.announces),
      scrapesPerSec: rates(this.scrapes),
      announcesTotal: totals(this.announces),
      scrapesTotal: totals(this.scrapes),
      memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal },
      uptimeSec: Math.floor((nowMs - this.startedMs) / 1000),
    };
  }
}

export interface TrackerStats extends SwarmStats {
  readonly announcesPerSec: Readonly<Record<TrackerProtocol, number>>;
  readonly scrapesPerSec: Readonly<Record<TrackerProtocol, number>>;
  readonly announcesTotal: Readonly<Record<TrackerProtocol, number>>;
  readonly scrapesTotal: Readonly<Record<TrackerProtocol, number>>;
  readonly memory: { readonly rssBytes: number; readonly heapUsedBytes: number; readonly heapTotalBytes: number };
  readonly uptimeSec: number;
}

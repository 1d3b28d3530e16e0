import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { clip, type TorrenttpError, toTorrenttpError } from '../../errors/index.js';
import type { AnnounceEvent, AnnounceRequest } from '../announce-types.js';
import { TrackerError } from '../errors.js';
import { peerUrlAllowed } from './address-scope.js';
import { HttpTrackerClient, type HttpTrackerOptions } from './http-client.js';
import { JsonTrackerClient } from './json-client.js';
import { isUrlRef, udpTrackerAddress, type AnnounceResult, type PeerRef, type ScrapeResult, type TrackerClient, type TrackerRequestOptions } from './types.js';
import type { UdpTrackerOptions } from './udp-client.js';

/**
 * Announces one torrent to its trackers (BEP 12 tiers) and reports the peers they return.
 *
 * - Tiers are tried in order; within a tier, trackers in order, and one that answers moves to
 *   the front of its tier (BEP 12). Each tier is shuffled once at start, as BEP 12 asks.
 * - `started` on the first announce, `completed` once when the download ends, `stopped` on
 *   `stop()` (best effort, short timeout). In between: every `interval` (at least `min interval`),
 *   and sooner when the engine wants peers (`wantPeers`), but never before `min interval`.
 * - `completed` goes out as soon as the announce in flight (if any) ends, and `stop()` sends it
 *   first when it has not reached a tracker yet: a download that exits the moment it finishes
 *   is counted too. A `completed` already on its way is let finish (within the stop timeout)
 *   rather than aborted, so that a tracker counts it once.
 * - Each announce to one tracker is bounded: `timeoutMs` (60 s, aria2's `--bt-tracker-timeout`),
 *   and `firstTimeoutMs` (15 s) for a tracker that has not answered yet, so that a dead tracker
 *   delays the next tracker or tier by 15 s at most. UDP retransmits on BEP 15's schedule
 *   (15 s, 30 s, …) within that bound: without it a tracker that never answers would be given up
 *   after BEP 15's full schedule, about two hours, and the tiers after it never tried. The tiers
 *   stay sequential (BEP 12, and libtorrent's and aria2's default): later tiers are backups.
 * - When every tier fails, retry with back-off: 5 s doubling to 30 min (libtorrent's
 *   tracker_backoff); failures are reported, never thrown.
 * - Loopback and unspecified addresses from a tracker that is not itself on loopback are
 *   dropped, so a hostile tracker cannot point us at local services (PEERS.md).
 */
export interface AnnouncerOptions {
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  /** Our listening port. */
  readonly port: number;
  /** Current counters for each announce. */
  readonly stats: () => { readonly uploaded: number; readonly downloaded: number; readonly left: number };
  readonly numwant?: number;
  readonly http?: HttpTrackerOptions;
  /**
   * Announce to http(s) trackers in JSON (TorrentTTP, docs/torrenttp.md §10) where they have a
   * JSON side, falling back to BEP 3: the replies may name TorrentTTP peers by URL. Default false.
   */
  readonly jsonAnnounce?: boolean;
  /** Our TorrentTTP torrent URL, announced in JSON announces (when we run a peer server). */
  readonly peerUrl?: string;
  readonly udp?: UdpTrackerOptions;
  /** Keep loopback peers from any tracker (tests, local swarms). */
  readonly allowLoopbackPeers?: boolean;
  /** Bound on one announce to one tracker. Default 60 s (aria2's `--bt-tracker-timeout`). */
  readonly timeoutMs?: number;
  /**
   * Bound on an announce to a tracker that has not answered yet in this session. Default 15 s:
   * one BEP 15 attempt, libtorrent's order of magnitude (tracker_completion_timeout 30 s,
   * tracker_receive_timeout 10 s), so that a dead first tier does not hold up the next one.
   */
  readonly firstTimeoutMs?: number;
  /** Back-off bounds, for tests. */
  readonly minRetryMs?: number;
  readonly maxRetryMs?: number;
  readonly rng?: () => number;
}

export interface AnnouncerEvents {
  /** Addresses and, from JSON announces, TorrentTTP torrent URLs. */
  peers: [readonly PeerRef[], string];
  announced: [AnnounceResult, string];
  warning: [string, string];
  /** A tracker (or, as 'all trackers', a whole round) failed: routine, never thrown. */
  failure: [TorrenttpError, string];
}

const DEFAULT_INTERVAL_SEC = 1800;
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_FIRST_TIMEOUT_MS = 15_000;

export class Announcer extends EventEmitter<AnnouncerEvents> {
  private readonly tiers: TrackerClient[][];
  /** URLs of the announce list that no client here speaks (ws:, garbage): reported once at start. */
  private readonly unsupported: string[] = [];
  private readonly trackerIds = new Map<string, Uint8Array>();
  /** Trackers whose refused peer URL was already warned about (at most 64). */
  private readonly refusedFrom = new Set<string>();
  /** URLs of the trackers that answered at least once: they get the longer `timeoutMs`. */
  private readonly answered = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private completedSent = false;
  private pendingEvent: AnnounceEvent | undefined;
  private inFlight: Promise<void> | undefined;
  private inFlightEvent: AnnounceEvent | undefined;
  /** Aborts the announce in flight, so `stop()` never waits out BEP 15's retransmission schedule. */
  private readonly abort = new AbortController();
  private intervalMs = DEFAULT_INTERVAL_SEC * 1000;
  private minIntervalMs = 0;
  private lastAnnounceMs = -Infinity;
  private failures = 0;

  constructor(
    announceList: readonly (readonly string[])[],
    private readonly opts: AnnouncerOptions,
  ) {
    super();
    const rng = opts.rng ?? Math.random;
    this.tiers = announceList
      .map((tier) =>
        shuffle([...tier], rng)
          .map((url) => {
            const client = makeClient(url, opts);
            if (client === undefined) this.unsupported.push(url);
            return client;
          })
          .filter((c): c is TrackerClient => c !== undefined),
      )
      .filter((t) => t.length > 0);
  }

  get hasTrackers(): boolean {
    return this.tiers.length > 0;
  }

  start(): void {
    if (this.started || this.stopped) return;
    for (const url of this.unsupported.splice(0)) this.emit('failure', new TrackerError('TRACKER_UNSUPPORTED_URL', { detail: url }), url);
    if (!this.hasTrackers) return;
    this.started = true;
    this.pendingEvent = 'started';
    this.schedule(0);
  }

  /** The download finished: tell the trackers now (once). */
  completed(): void {
    if (this.completedSent || !this.started || this.stopped) return;
    this.completedSent = true;
    this.pendingEvent = 'completed';
    if (this.inFlight === undefined) this.schedule(0); // else `run` sends it when the one in flight ends
  }

  /** Ask for more peers soon, within the tracker's minimum interval. */
  wantPeers(): void {
    // A `completed` waiting to go is due sooner than this would schedule it.
    if (!this.started || this.stopped || this.inFlight !== undefined || this.pendingEvent === 'completed') return;
    this.schedule(Math.max(0, this.lastAnnounceMs + this.minIntervalMs - Date.now()));
  }

  /** Sends `stopped` (bounded by `timeoutMs`) and stops announcing. */
  async stop(timeoutMs = 3000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.inFlight !== undefined && this.inFlightEvent === 'completed') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.inFlight.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.abort.abort();
    await this.inFlight?.catch(() => undefined);
    if (!this.started) return;
    // Not sent, or it failed: a failed `run` put it back in `pendingEvent`.
    if (this.pendingEvent === 'completed') await this.announceOnce('completed', timeoutMs, undefined).catch(() => undefined);
    await this.announceOnce('stopped', timeoutMs, undefined).catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), delayMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.stopped || this.inFlight !== undefined) return;
    const event = this.pendingEvent;
    this.pendingEvent = undefined;
    this.inFlightEvent = event;
    // `inFlight` is cleared in the same turn as the next announce is scheduled: a `completed()`
    // in between must see either the announce still in flight (and be scheduled here) or none.
    const ended = (): void => {
      this.inFlight = undefined;
      this.inFlightEvent = undefined;
    };
    this.inFlight = this.announceOnce(event, undefined, this.abort.signal).then(
      () => {
        ended();
        this.failures = 0;
        // An event that came up meanwhile (`completed`) goes now, not an interval later.
        this.schedule(this.pendingEvent === undefined ? Math.max(this.intervalMs, this.minIntervalMs) : 0);
      },
      (err: unknown) => {
        ended();
        if (event !== undefined && this.pendingEvent === undefined) this.pendingEvent = event; // resend it next time
        this.failures++;
        const min = this.opts.minRetryMs ?? 5000;
        const max = this.opts.maxRetryMs ?? 30 * 60_000;
        this.schedule(Math.min(max, min * 2 ** (this.failures - 1)));
        this.emit('failure', toTorrenttpError(err), 'all trackers');
      },
    );
    await this.inFlight;
  }

  /** One announce, BEP 12 style: the first tracker that answers, tier by tier. */
  private async announceOnce(event: AnnounceEvent | undefined, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    let last: TorrenttpError | undefined;
    for (const tier of this.tiers) {
      for (let i = 0; i < tier.length; i++) {
        const client = tier[i]!;
        try {
          if (signal?.aborted === true) throw new TrackerError('TRACKER_TIMEOUT', { detail: 'stopped' });
          const bound = this.answered.has(client.url) ? (this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) : (this.opts.firstTimeoutMs ?? DEFAULT_FIRST_TIMEOUT_MS);
          const result = await client.announce(this.request(event, client.url), {
            timeoutMs: Math.min(timeoutMs ?? Infinity, bound),
            ...(signal === undefined ? {} : { signal }),
          });
          this.answered.add(client.url);
          tier.splice(i, 1);
          tier.unshift(client); // BEP 12: a tracker that answers moves to the front of its tier
          this.accept(result, client.url);
          return;
        } catch (err) {
          last = toTorrenttpError(err);
          this.emit('failure', last, client.url);
        }
      }
    }
    throw last ?? new TrackerError('TRACKER_UNREACHABLE', { detail: 'no tracker answered' });
  }

  private request(event: AnnounceEvent | undefined, url: string): AnnounceRequest {
    const s = this.opts.stats();
    const trackerId = this.trackerIds.get(url);
    return {
      infoHash: this.opts.infoHash,
      peerId: this.opts.peerId,
      port: this.opts.port,
      uploaded: s.uploaded,
      downloaded: s.downloaded,
      left: s.left,
      numwant: event === 'stopped' ? 0 : (this.opts.numwant ?? 50),
      ...(event === undefined ? {} : { event }),
      ...(trackerId === undefined ? {} : { trackerId }),
    };
  }

  private accept(r: AnnounceResult, url: string): void {
    this.lastAnnounceMs = Date.now();
    this.intervalMs = Math.max(r.intervalSec, 1) * 1000;
    this.minIntervalMs = (r.minIntervalSec ?? 0) * 1000;
    if (r.trackerId !== undefined) this.trackerIds.set(url, r.trackerId);
    if (r.warning !== undefined) this.emit('warning', clip(r.warning), url); // a stranger's text: cut, its controls escaped
    this.emit('announced', r, url);
    const fromLoopback = isLoopback(new URL(url).hostname.replace(/^\[|\]$/g, ''));
    const allowLocal = this.opts.allowLoopbackPeers === true || fromLoopback;
    let refused: string | undefined;
    const peers = r.peers.filter((p) => {
      if (!isUrlRef(p)) return p.port > 0 && (allowLocal || !isLocal(p.ip));
      if (p.url === this.opts.peerUrl) return false; // ourselves
      let host: string;
      try {
        host = new URL(p.url).hostname.replace(/^\[|\]$/g, '');
      } catch {
        return false;
      }
      // Loopback where allowed (above); else an internal address only from a tracker on one, and
      // link-local only from a link-local one (address-scope.ts): a peer URL is a request the
      // client will make (SSRF).
      if (allowLocal && isLocal(host)) return true;
      if (peerUrlAllowed(p.url, url)) return true;
      refused ??= p.url;
      return false;
    });
    if (refused !== undefined && !this.refusedFrom.has(url) && this.refusedFrom.size < 64) {
      this.refusedFrom.add(url);
      this.emit('warning', `refused peer URL ${clip(refused, 200)}: an internal address this tracker may not name (SSRF)`, url);
    }
    if (peers.length > 0) this.emit('peers', peers, url);
  }
}

function makeClient(url: string, opts: AnnouncerOptions): TrackerClient | undefined {
  try {
    const scheme = new URL(url).protocol;
    if (scheme === 'udp:') {
      udpTrackerAddress(url); // one that the UDP client would refuse is skipped now
      return new LazyUdpClient(url, opts.udp);
    }
    if ((scheme === 'http:' || scheme === 'https:') && opts.jsonAnnounce === true) {
      return new JsonTrackerClient(url, { ...opts.http, ...(opts.peerUrl === undefined ? {} : { peerUrl: opts.peerUrl }) });
    }
    if (scheme === 'http:' || scheme === 'https:') return new HttpTrackerClient(url, opts.http);
  } catch {
    // an unparseable URL is skipped like an unsupported scheme (ws: trackers are WebTorrent's)
  }
  return undefined;
}

/**
 * A UDP tracker's client (BEP 15), loaded at its first announce or scrape: a torrent lists
 * `serve`'s UDP tracker in a tier after its HTTP one, and a download whose HTTP tracker answers
 * never compiles the UDP codecs and client (two modules, ~5 ms of a `get`'s start-up CPU).
 */
class LazyUdpClient implements TrackerClient {
  private client: Promise<TrackerClient> | undefined;

  constructor(
    readonly url: string,
    private readonly opts: UdpTrackerOptions | undefined,
  ) {}

  async announce(req: AnnounceRequest, opts?: TrackerRequestOptions): Promise<AnnounceResult<PeerRef>> {
    return (await this.load()).announce(req, opts);
  }

  async scrape(infoHashes: readonly Uint8Array[], opts?: TrackerRequestOptions): Promise<ScrapeResult[]> {
    return (await this.load()).scrape(infoHashes, opts);
  }

  private load(): Promise<TrackerClient> {
    this.client ??= import('./udp-client.js').then((m) => new m.UdpTrackerClient(this.url, this.opts));
    return this.client;
  }
}

function shuffle<T>(xs: T[], rng: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host.startsWith('::ffff:127.');
}

function isLocal(ip: string): boolean {
  return isLoopback(ip) || ip === '0.0.0.0' || ip === '::';
}

import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { toTorrenttpError, type TorrenttpError } from '../../errors/index.js';
import type { AnnounceEvent, AnnounceRequest } from '../announce-types.js';
import { TrackerError } from '../errors.js';
import type { PeerAddress } from '../ip.js';
import { HttpTrackerClient, type HttpTrackerOptions } from './http-client.js';
import type { AnnounceResult, TrackerClient } from './types.js';
import { UdpTrackerClient, type UdpTrackerOptions } from './udp-client.js';

/**
 * Announces one torrent to its trackers (BEP 12 tiers) and reports the peers they return.
 *
 * - Tiers are tried in order; within a tier, trackers in order, and one that answers moves to
 *   the front of its tier (BEP 12). Each tier is shuffled once at start, as BEP 12 asks.
 * - `started` on the first announce, `completed` once when the download ends, `stopped` on
 *   `stop()` (best effort, short timeout). In between: every `interval` (at least `min interval`),
 *   and sooner when the engine wants peers (`wantPeers`), but never before `min interval`.
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
  readonly udp?: UdpTrackerOptions;
  /** Keep loopback peers from any tracker (tests, local swarms). */
  readonly allowLoopbackPeers?: boolean;
  /** Back-off bounds, for tests. */
  readonly minRetryMs?: number;
  readonly maxRetryMs?: number;
  readonly rng?: () => number;
}

export interface AnnouncerEvents {
  peers: [readonly PeerAddress[], string];
  announced: [AnnounceResult, string];
  warning: [string, string];
  /** A tracker (or, as 'all trackers', a whole round) failed: routine, never thrown. */
  failure: [TorrenttpError, string];
}

const DEFAULT_INTERVAL_SEC = 1800;

export class Announcer extends EventEmitter<AnnouncerEvents> {
  private readonly tiers: TrackerClient[][];
  /** URLs of the announce list that no client here speaks (ws:, garbage): reported once at start. */
  private readonly unsupported: string[] = [];
  private readonly trackerIds = new Map<string, Uint8Array>();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private completedSent = false;
  private pendingEvent: AnnounceEvent | undefined;
  private inFlight: Promise<void> | undefined;
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
    this.schedule(0);
  }

  /** Ask for more peers soon, within the tracker's minimum interval. */
  wantPeers(): void {
    if (!this.started || this.stopped || this.inFlight !== undefined) return;
    this.schedule(Math.max(0, this.lastAnnounceMs + this.minIntervalMs - Date.now()));
  }

  /** Sends `stopped` (bounded by `timeoutMs`) and stops announcing. */
  async stop(timeoutMs = 3000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.inFlight?.catch(() => undefined);
    if (!this.started) return;
    await this.announceOnce('stopped', timeoutMs, undefined).catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), delayMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.stopped || this.inFlight !== undefined) return;
    const event = this.pendingEvent;
    this.pendingEvent = undefined;
    this.inFlight = this.announceOnce(event, undefined, this.abort.signal)
      .then(() => {
        this.failures = 0;
        this.schedule(Math.max(this.intervalMs, this.minIntervalMs));
      })
      .catch((err: unknown) => {
        if (event !== undefined && this.pendingEvent === undefined) this.pendingEvent = event; // resend it next time
        this.failures++;
        const min = this.opts.minRetryMs ?? 5000;
        const max = this.opts.maxRetryMs ?? 30 * 60_000;
        this.schedule(Math.min(max, min * 2 ** (this.failures - 1)));
        this.emit('failure', toTorrenttpError(err), 'all trackers');
      })
      .finally(() => {
        this.inFlight = undefined;
      });
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
          const result = await client.announce(this.request(event, client.url), {
            ...(timeoutMs === undefined ? {} : { timeoutMs }),
            ...(signal === undefined ? {} : { signal }),
          });
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
    if (r.warning !== undefined) this.emit('warning', r.warning, url);
    this.emit('announced', r, url);
    const fromLoopback = isLoopback(new URL(url).hostname.replace(/^\[|\]$/g, ''));
    const peers = r.peers.filter((p) => p.port > 0 && (this.opts.allowLoopbackPeers === true || fromLoopback || !isLocal(p.ip)));
    if (peers.length > 0) this.emit('peers', peers, url);
  }
}

function makeClient(url: string, opts: AnnouncerOptions): TrackerClient | undefined {
  try {
    const scheme = new URL(url).protocol;
    if (scheme === 'udp:') return new UdpTrackerClient(url, opts.udp);
    if (scheme === 'http:' || scheme === 'https:') return new HttpTrackerClient(url, opts.http);
  } catch {
    // an unparseable URL is skipped like an unsupported scheme (ws: trackers are WebTorrent's)
  }
  return undefined;
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

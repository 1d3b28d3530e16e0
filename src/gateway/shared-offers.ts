import { closeRedisClient, connectRedisClient, TrackerError, type RedisClient } from '../tracker/index.js';

/**
 * The info-hashes served by every `torrenttp serve` sharing one Redis (`--redis`), so that each
 * one's embedded tracker admits the files of all: behind a load balancer, the server that hands
 * out a torrent is often not the one that gets its announces, and a private tracker that knew
 * only its own torrents would refuse them.
 *
 * One sorted set, `<prefix>serve:offered`: member = info-hash (hex), score = the time (ms) until
 * which the server that wrote it vouches for it. Each server re-vouches for its own every sync
 * (default every second, and at once when its set changes), drops entries past their time, and
 * reads the rest. A server that stops or dies is forgotten `ttlMs` later; a torrent retired by
 * its file changing is removed at once (and comes back only if another server still serves it).
 * Clocks of the servers should agree within a fraction of `ttlMs`.
 */
export interface SharedOffersOptions {
  readonly url: string;
  /** Same default as the Redis swarm store, so one setting separates deployments. */
  readonly prefix?: string;
  /** How long one sync vouches for a hash. Default 30 s. */
  readonly ttlMs?: number;
  readonly onError?: (err: unknown) => void;
}

export const SHARED_OFFERS_DEFAULTS = { prefix: 'ttp:', ttlMs: 30_000 } as const;

export class SharedOffers {
  private readonly key: string;
  private readonly ttlMs: number;

  private constructor(
    private readonly client: RedisClient,
    opts: SharedOffersOptions,
  ) {
    this.key = `${opts.prefix ?? SHARED_OFFERS_DEFAULTS.prefix}serve:offered`;
    this.ttlMs = opts.ttlMs ?? SHARED_OFFERS_DEFAULTS.ttlMs;
  }

  /** Connects (giving up after a few tries at start, reconnecting for ever once up, as the swarm store does). */
  static async connect(opts: SharedOffersOptions): Promise<SharedOffers> {
    return new SharedOffers(await connectRedisClient(opts.url, opts.onError), opts);
  }

  /** Vouches for `own` until `nowMs + ttlMs`, withdraws `gone`, and returns every server's hashes. One round trip. */
  async sync(own: readonly string[], gone: readonly string[], nowMs: number): Promise<string[]> {
    const m = this.client.multi();
    if (gone.length > 0) m.zRem(this.key, [...gone]);
    if (own.length > 0) m.zAdd(this.key, own.map((value) => ({ score: nowMs + this.ttlMs, value })));
    m.zRemRangeByScore(this.key, '-inf', nowMs);
    m.pExpire(this.key, 2 * this.ttlMs);
    m.zRangeByScore(this.key, nowMs, '+inf');
    let replies: unknown[];
    try {
      replies = await m.exec();
    } catch (cause) {
      throw new TrackerError('TRACKER_STORE_UNAVAILABLE', { detail: 'shared offers', cause });
    }
    const all = replies[replies.length - 1];
    return Array.isArray(all) ? all.map(String) : [];
  }

  close(): Promise<void> {
    return closeRedisClient(this.client);
  }
}

/**
 * What the embedded tracker admits in private mode: this server's info-hashes, plus, with shared
 * offers, every other server's. `set` applies this server's at once (so its seed and its own
 * torrents are never refused) and syncs with Redis in the background; a timer keeps syncing.
 * A failed sync keeps the last known list (a Redis outage does not refuse known torrents).
 */
export class Admission {
  private own: readonly string[] = [];
  private others: readonly string[] = [];
  private readonly withdrawn = new Set<string>();
  private syncing: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly opts: {
      readonly apply: (allow: readonly string[]) => void;
      readonly offers?: SharedOffers;
      readonly everyMs?: number;
      readonly now: () => number;
      readonly onError: (err: unknown) => void;
    },
  ) {}

  /** This server's info-hashes now. */
  set(own: readonly string[]): void {
    for (const h of this.own) if (!own.includes(h)) this.withdrawn.add(h);
    for (const h of own) this.withdrawn.delete(h);
    this.own = [...own];
    this.applyAll();
    this.sync();
  }

  /** Starts syncing every `everyMs` (default 1000) when offers are shared. */
  start(): void {
    if (this.opts.offers === undefined) return;
    this.timer = setInterval(() => this.sync(), this.opts.everyMs ?? 1000);
    this.timer.unref();
    this.sync();
  }

  /** Waits for a sync in flight (tests). */
  async settled(): Promise<void> {
    while (this.syncing !== undefined) await this.syncing;
  }

  /** Stops syncing. The hashes this server vouched for expire by themselves (another server may still serve them). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.opts.offers?.close(); // first: it drops a sync stuck on a Redis that is down
    await this.settled();
  }

  private applyAll(): void {
    this.opts.apply([...new Set([...this.own, ...this.others])]);
  }

  private sync(): void {
    const offers = this.opts.offers;
    if (offers === undefined || this.closed) return;
    if (this.syncing !== undefined) {
      this.again = true;
      return;
    }
    const gone = [...this.withdrawn];
    this.syncing = offers
      .sync(this.own, gone, this.opts.now())
      .then(
        (all) => {
          for (const h of gone) this.withdrawn.delete(h);
          this.others = all;
          this.applyAll();
        },
        (err: unknown) => this.opts.onError(err),
      )
      .finally(() => {
        this.syncing = undefined;
        if (this.again) {
          this.again = false;
          this.sync();
        }
      });
  }
}

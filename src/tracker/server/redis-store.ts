import { randomBytes } from 'node:crypto';
import type { createClient } from 'redis';
import { toTorrenttpError } from '../../errors/index.js';
import { toHex } from '../../metainfo/index.js';
import { TrackerError } from '../errors.js';
import type { ScrapeEntry } from '../http-scrape.js';
import { formatIp } from '../ip.js';
import { ANNOUNCE_LUA, EXPIRE_LUA, SCRAPE_LUA, TOTALS_LUA } from './redis-scripts.js';
import type { SwarmAnnounce, SwarmAnnounceResult, SwarmPeer, SwarmStats, SwarmStore } from './swarm-store.js';

/**
 * A `SwarmStore` in Redis, so several tracker processes (on one or many machines, behind a load
 * balancer) serve the same swarms. Layout and scripts: `redis-scripts.ts`; costs: docs/tracker.md.
 *
 * - One round trip per announce: one `EVALSHA` that trims expired peers, records the announcer,
 *   refreshes key TTLs, counts and samples (`ZRANDMEMBER`, at most numwant + 1 per list).
 * - Expiry: peers are scored by last-seen time and trimmed with `ZREMRANGEBYSCORE` at every
 *   announce to their torrent; torrents nobody announced to for a peer timeout are dropped by
 *   `expire()` (and by key TTLs, as a backstop if no tracker sweeps).
 * - The trackers sharing a store also share the UDP connection-id secret (`sharedSecret()`), so
 *   a BEP 15 connect answered by one tracker is honoured by another.
 * - One Redis primary: the global torrent index and the sweep scripts touch keys of many
 *   torrents, which Redis Cluster would refuse across slots.
 */
export interface RedisSwarmStoreOptions {
  /** `redis://[user:pass@]host:port[/db]`. */
  readonly url: string;
  /** Key prefix, so trackers of different deployments can share a Redis. Default `ttp:`. */
  readonly prefix?: string;
  /** Default 3,600,000 ms, as the memory store. */
  readonly peerTimeoutMs?: number;
  /** Default 100,000, as the memory store. */
  readonly maxPeersPerTorrent?: number;
  /** Reports client errors (reconnects happen by themselves). */
  readonly onError?: (err: unknown) => void;
}

export const REDIS_STORE_DEFAULTS = {
  prefix: 'ttp:',
  peerTimeoutMs: 3_600_000,
  maxPeersPerTorrent: 100_000,
  /** Torrents per sweep / stats script call: keeps each call short, since Redis runs one at a time. */
  batch: 1000,
  /** Keys live this long past the peer timeout, so `expire()` usually finds them to count. */
  ttlSlackMs: 60_000,
} as const;

const EMPTY: Uint8Array = new Uint8Array(0);
const ID_BYTES = 20;
/**
 * Blob strings as Buffers: members and compact lists are binary. (36, `$`, is RESP's blob string
 * type: `RESP_TYPES.BLOB_STRING`, spelled out so that `redis` loads only when a store connects;
 * loading it costs every process ~90 ms and ~20 MB, and most never use Redis.)
 */
const BINARY = { typeMapping: { [36 as const]: Buffer } } as const;

type Reply = number | Buffer | null | Reply[];

function torrentKeyBase(prefix: string, infoHash: Uint8Array): string {
  return `${prefix}{${toHex(infoHash)}}:`;
}

function memberOf(a: SwarmAnnounce): Buffer {
  const ip = a.ip.bytes;
  const m = Buffer.allocUnsafe(ID_BYTES + ip.length + 2);
  m.set(a.peerId, 0);
  m.set(ip, ID_BYTES);
  m.writeUInt16BE(a.port, ID_BYTES + ip.length);
  return m;
}

function peerOfMember(m: Buffer, url: Buffer): SwarmPeer {
  const peerId = new Uint8Array(m.subarray(0, ID_BYTES));
  const ip = formatIp(new Uint8Array(m.subarray(ID_BYTES, m.length - 2)));
  const p = { peerId, ip, port: m.readUInt16BE(m.length - 2) };
  return url.length === 0 ? p : { ...p, url: url.toString('utf8') };
}

const num = (r: Reply | undefined): number => (typeof r === 'number' ? r : 0);
const bytes = (r: Reply | undefined): Buffer => (Buffer.isBuffer(r) ? r : Buffer.alloc(0));

export type RedisClient = ReturnType<typeof createClient>;

export class RedisSwarmStore implements SwarmStore {
  private readonly prefix: string;
  private readonly peerTimeoutMs: number;
  private readonly maxPeersPerTorrent: number;
  private readonly sha = new Map<string, string>();

  private constructor(private readonly client: RedisClient, opts: RedisSwarmStoreOptions) {
    this.prefix = opts.prefix ?? REDIS_STORE_DEFAULTS.prefix;
    this.peerTimeoutMs = opts.peerTimeoutMs ?? REDIS_STORE_DEFAULTS.peerTimeoutMs;
    this.maxPeersPerTorrent = opts.maxPeersPerTorrent ?? REDIS_STORE_DEFAULTS.maxPeersPerTorrent;
  }

  /** Connects and loads the scripts; throws `TRACKER_STORE_UNAVAILABLE` if Redis does not answer. */
  static async connect(opts: RedisSwarmStoreOptions): Promise<RedisSwarmStore> {
    const { RESP_TYPES } = await import('redis');
    if (RESP_TYPES.BLOB_STRING !== 36) throw new TrackerError('TRACKER_STORE_UNAVAILABLE', { detail: 'unexpected redis client (RESP blob string type)' });
    const client = await connectRedisClient(opts.url, opts.onError);
    try {
      const store = new RedisSwarmStore(client, opts);
      for (const script of [ANNOUNCE_LUA, SCRAPE_LUA, EXPIRE_LUA, TOTALS_LUA]) {
        store.sha.set(script, String(await client.sendCommand(['SCRIPT', 'LOAD', script])));
      }
      return store;
    } catch (err) {
      if (client.isOpen) client.destroy();
      throw unavailable(opts.url, err);
    }
  }

  /** EVALSHA, falling back to EVAL once if Redis lost its script cache (restart, SCRIPT FLUSH). */
  private async run(script: string, keys: readonly (string | Buffer)[], args: readonly (string | Buffer)[]): Promise<Reply> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      try {
        return await this.client.sendCommand<Reply>(['EVALSHA', this.sha.get(script)!, ...tail], BINARY);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return await this.client.sendCommand<Reply>(['EVAL', script, ...tail], BINARY);
      }
    } catch (err) {
      if (err instanceof Error && /\bTRACKER_FULL\b/.test(err.message)) throw new TrackerError('TRACKER_FULL', { detail: `${this.maxPeersPerTorrent} peers in this torrent` });
      const e = toTorrenttpError(err);
      if (e.code !== 'INTERNAL') throw e;
      throw new TrackerError('TRACKER_STORE_UNAVAILABLE', { cause: err });
    }
  }

  async announce(a: SwarmAnnounce): Promise<SwarmAnnounceResult> {
    const b = torrentKeyBase(this.prefix, a.infoHash);
    const keys = [`${b}4`, `${b}6`, `${b}u`, `${b}s`, `${b}w`, `${b}d`, `${this.prefix}torrents`];
    const bucket = a.port === 0 ? '3' : a.ip.family === 4 ? '1' : '2';
    const shape = a.reply === 'compact4' ? '4' : a.reply === 'compact6' ? '6' : a.reply === 'compact' ? 'c' : 'l';
    const r = await this.run(ANNOUNCE_LUA, keys, [
      memberOf(a), bucket, a.left === 0 ? '1' : '0', a.event ?? '', String(a.nowMs), String(a.nowMs - this.peerTimeoutMs),
      String(this.peerTimeoutMs + REDIS_STORE_DEFAULTS.ttlSlackMs), String(a.numwant), shape, a.url ?? '', Buffer.from(a.infoHash),
      String(this.maxPeersPerTorrent),
    ]);
    const out = Array.isArray(r) ? r : [];
    const peers: SwarmPeer[] = [];
    for (let i = 4; i + 1 < out.length; i += 2) peers.push(peerOfMember(bytes(out[i]), bytes(out[i + 1])));
    const p4 = bytes(out[2]);
    const p6 = bytes(out[3]);
    return {
      complete: num(out[0]),
      incomplete: num(out[1]),
      peers4: p4.length === 0 ? EMPTY : p4,
      peers6: p6.length === 0 ? EMPTY : p6,
      peers,
    };
  }

  async scrape(infoHashes: readonly Uint8Array[]): Promise<ScrapeEntry[]> {
    if (infoHashes.length === 0) return [];
    const r = await this.run(SCRAPE_LUA, [], infoHashes.map((h) => torrentKeyBase(this.prefix, h)));
    const out = Array.isArray(r) ? r : [];
    return infoHashes.map((infoHash, i) => {
      const seeders = num(out[3 * i]);
      return { infoHash, complete: seeders, downloaded: num(out[3 * i + 2]), incomplete: num(out[3 * i + 1]) - seeders };
    });
  }

  async fullScrape(limit: number): Promise<ScrapeEntry[]> {
    const entries: ScrapeEntry[] = [];
    for (let start = 0; entries.length < limit; start += REDIS_STORE_DEFAULTS.batch) {
      const stop = Math.min(start + REDIS_STORE_DEFAULTS.batch, limit) - 1;
      const r = await this.run(TOTALS_LUA, [], [this.prefix, String(start), String(stop), '1']);
      const out = Array.isArray(r) ? r : [];
      for (let i = 4; i + 3 < out.length; i += 4) {
        const seeders = num(out[i + 1]);
        entries.push({ infoHash: new Uint8Array(bytes(out[i])), complete: seeders, downloaded: num(out[i + 3]), incomplete: num(out[i + 2]) - seeders });
      }
      if (num(out[0]) < stop - start + 1) break;
    }
    return entries;
  }

  /** Walks the whole index in batches: O(torrents) work in Redis, meant for `/stats`, not hot paths. */
  async stats(): Promise<SwarmStats> {
    let torrents = 0;
    let peers = 0;
    let seeders = 0;
    let completed = 0;
    for (let start = 0; ; start += REDIS_STORE_DEFAULTS.batch) {
      const r = await this.run(TOTALS_LUA, [], [this.prefix, String(start), String(start + REDIS_STORE_DEFAULTS.batch - 1), '0']);
      const out = Array.isArray(r) ? r : [];
      const n = num(out[0]);
      torrents += n;
      peers += num(out[1]);
      seeders += num(out[2]);
      completed += num(out[3]);
      if (n < REDIS_STORE_DEFAULTS.batch) break;
    }
    return { torrents, peers, seeders, leechers: peers - seeders, completed };
  }

  async expire(nowMs: number): Promise<number> {
    let dropped = 0;
    for (;;) {
      const r = await this.run(EXPIRE_LUA, [], [this.prefix, String(nowMs - this.peerTimeoutMs), String(REDIS_STORE_DEFAULTS.batch)]);
      const out = Array.isArray(r) ? r : [];
      dropped += num(out[0]);
      if (num(out[1]) < REDIS_STORE_DEFAULTS.batch) return dropped;
    }
  }

  /**
   * The UDP connection-id secret every tracker on this store uses: the first to ask creates it
   * (`SET NX`), so ids issued by one tracker verify on another.
   */
  async sharedSecret(): Promise<Uint8Array> {
    const key = `${this.prefix}connection-id-secret`;
    try {
      await this.client.sendCommand(['SET', key, randomBytes(32), 'NX']);
      const s = await this.client.sendCommand<Reply>(['GET', key], BINARY);
      return new Uint8Array(bytes(s));
    } catch (err) {
      throw new TrackerError('TRACKER_STORE_UNAVAILABLE', { cause: err });
    }
  }

  async close(): Promise<void> {
    await closeRedisClient(this.client);
  }
}

/**
 * A client connected to `url`. Once up it reconnects for ever (its callers fail with
 * `TRACKER_STORE_UNAVAILABLE` meanwhile); at start it gives up after a few tries, so a wrong URL
 * fails the start instead of hanging it. Throws `TRACKER_STORE_UNAVAILABLE` naming the URL
 * (credentials redacted) and why.
 */
export async function connectRedisClient(url: string, onError?: (err: unknown) => void): Promise<RedisClient> {
  let connected = false;
  const { createClient } = await import('redis');
  const client = createClient({
    url,
    socket: {
      connectTimeout: 5000,
      reconnectStrategy: (retries: number, cause: Error) => (connected ? Math.min(100 * 2 ** retries, 2000) : retries < 2 ? 100 : cause),
    },
  });
  client.on('error', (err: unknown) => onError?.(err));
  try {
    await client.connect();
    connected = true;
    return client;
  } catch (err) {
    if (client.isOpen) client.destroy();
    throw unavailable(url, err);
  }
}

function unavailable(url: string, err: unknown): TrackerError {
  const why = err instanceof Error && err.message !== '' ? ` (${err.message})` : '';
  return new TrackerError('TRACKER_STORE_UNAVAILABLE', { detail: `${redactUrl(url)}${why}`, cause: err });
}

/** How long `close` lets replies in flight arrive before dropping them. */
const REDIS_CLOSE_GRACE_MS = 2000;

/**
 * Closes a client without hanging: `close()` waits for the replies of commands in flight, which
 * never come while Redis is down and the client is reconnecting, so a process asked to stop
 * would not. Not connected now: drop them at once; connected: give them a grace period.
 */
export async function closeRedisClient(client: { readonly isOpen: boolean; readonly isReady: boolean; close(): Promise<unknown>; destroy(): unknown }): Promise<void> {
  if (!client.isOpen) return;
  if (!client.isReady) {
    client.destroy();
    return;
  }
  const timer = setTimeout(() => {
    if (client.isOpen) client.destroy();
  }, REDIS_CLOSE_GRACE_MS);
  try {
    await client.close();
  } catch {
    // Destroyed meanwhile: the commands in flight were dropped, which is what closing means here.
  } finally {
    clearTimeout(timer);
  }
}

/** The URL without its password, for error details and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable Redis URL>';
  }
}

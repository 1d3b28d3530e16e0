import { createSocket, type Socket } from 'node:dgram';
import { lookup, type LookupOneOptions } from 'node:dns';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { TrackerError } from '../errors.js';
import { formatIp, parseIp, parseIpNormalized, type ParsedIp } from '../ip.js';
import { MAX_UDP_REQUEST_BYTES } from '../udp.js';
import { ConnectionIds } from './connection-id.js';
import { TrackerCore, silentLogger, type TrackerLogger, type TrackerPolicyOptions, type TrackerStats } from './core.js';
import { httpHandler, type HttpLimits } from './http-endpoints.js';
import { MemorySwarmStore } from './memory-store.js';
import type { SwarmStore } from './swarm-store.js';
import { UdpBatchSocket, udpBatchAvailable, type BatchSource } from './udp-batch.js';
import { udpHandler, udpRequests } from './udp-endpoint.js';
import type { UdpRequestLimits } from '../udp.js';

/**
 * One tracker on one port number: HTTP (TCP) and BEP 15 (UDP) share it, as opentracker does, so
 * `http://host:6969/announce` and `udp://host:6969` are the same tracker. With port 0 the OS
 * picks the TCP port and UDP binds the same number (retrying with a new pick if that UDP port is
 * taken).
 */
export interface TrackerServerOptions extends TrackerPolicyOptions {
  /** Default 0.0.0.0. `::` listens on IPv6 and (dual stack) IPv4. */
  readonly host?: string;
  /** Default 6969; 0 picks a free one. */
  readonly port?: number;
  /** Default: a `MemorySwarmStore` whose peer timeout is twice the interval. */
  readonly store?: SwarmStore;
  /** Clock for expiry, connection ids and rates. Default `Date.now`. */
  readonly now?: () => number;
  readonly logger?: TrackerLogger;
  /** Key for connection ids. Default: the store's `sharedSecret()` if it has one, else 32 random bytes per start. */
  readonly connectionIdSecret?: Uint8Array;
  /** How often peers are expired, in real time. Default a tenth of the interval, between 1 s and 60 s. */
  readonly sweepEverySec?: number;
  readonly limits?: { readonly http?: HttpLimits; readonly udp?: UdpRequestLimits };
  /**
   * UDP through the batched socket (`udp-batch.ts`: recvmmsg/sendmmsg, Linux, built at install)
   * when it is available and `host` is an address. Default true; false always uses `node:dgram`.
   */
  readonly udpBatch?: boolean;
  /** An HTTP client must send a request's head within this, else `408` (slowloris). Default 15 s. */
  readonly headersTimeoutMs?: number;
}

export interface TrackerAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * `dgram`'s address lookup for sends. Replies go to the source address of a request, always an IP
 * literal, yet Node's default lookup (`dns.lookup`) answers even a literal a tick later: a
 * `nextTick` and a closure per datagram, about a tenth of a small reply's cost. This one answers a
 * literal at once and hands anything else to `dns.lookup`.
 */
const literalLookup = (hostname: string, options: LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void => {
  const family = isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else lookup(hostname, options, callback);
};

/** How long `close()` lets in-flight HTTP requests finish before cutting connections. */
const CLOSE_GRACE_MS = 2000;
const BIND_ATTEMPTS = 20;
/** Sources whose route (`localOf`) is remembered; more clears the memory. */
const MAX_ROUTES = 4096;

/** The local address the kernel would send from to reach `to` (no packet is sent). */
async function localRouteTo(to: ParsedIp): Promise<ParsedIp | undefined> {
  const s = createSocket(to.family === 4 ? 'udp4' : 'udp6');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(9, formatIp(to.bytes), () => resolve());
    });
    return parseIpNormalized(s.address().address);
  } catch {
    return undefined;
  } finally {
    s.close();
  }
}

/**
 * Node HTTP server options of a tracker's HTTP side (this server's, and `serve --tracker-port`'s
 * front, gateway/tracker-port.ts): keep-alive, a head within `headersTimeoutMs`, a request
 * within 30 s or that, and expired heads looked for often enough (Node's default 30 s check
 * would let an idle head live up to 45 s with a 15 s timeout).
 */
export function trackerHttpOptions(headersTimeoutMs: number): ServerOptions {
  return {
    keepAlive: true,
    requestTimeout: Math.max(30_000, headersTimeoutMs),
    headersTimeout: headersTimeoutMs,
    connectionsCheckingInterval: Math.min(5000, Math.max(100, Math.floor(headersTimeoutMs / 4))),
  };
}

export class TrackerServer {
  readonly core: TrackerCore;
  private readonly http: Server;
  private readonly httpHandle: (req: IncomingMessage, res: ServerResponse) => void;
  private udp: Socket | undefined;
  private udpBatch: UdpBatchSocket | undefined;
  private ids: ConnectionIds;
  private sweepTimer: NodeJS.Timeout | undefined;
  private bound: TrackerAddress | undefined;

  constructor(private readonly opts: TrackerServerOptions = {}) {
    const intervalSec = opts.intervalSec ?? 1800;
    const store = opts.store ?? new MemorySwarmStore({ peerTimeoutMs: 2 * intervalSec * 1000 });
    this.core = new TrackerCore(opts, store, opts.now ?? Date.now, opts.logger ?? silentLogger);
    this.ids = new ConnectionIds(opts.connectionIdSecret);
    this.httpHandle = httpHandler(this.core, opts.limits?.http);
    this.http = createServer(trackerHttpOptions(opts.headersTimeoutMs ?? 15_000), this.httpHandle);
  }

  /** The bound address; throws before `listen()` resolves. */
  get address(): TrackerAddress {
    if (this.bound === undefined) throw new TrackerError('TRACKER_BIND_FAILED', { detail: 'not listening' });
    return this.bound;
  }

  async listen(): Promise<TrackerAddress> {
    const host = this.opts.host ?? '0.0.0.0';
    const wanted = this.opts.port ?? 6969;
    await this.loadSecret();
    let lastErr: unknown;
    for (let attempt = 0; attempt < (wanted === 0 ? BIND_ATTEMPTS : 1); attempt++) {
      try {
        this.http.listen(wanted, host);
        await once(this.http, 'listening');
      } catch (err) {
        throw new TrackerError('TRACKER_BIND_FAILED', { detail: `tcp ${host}:${wanted}`, cause: err });
      }
      const addr = this.http.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : wanted;
      const udp = await this.bindUdp(host, port);
      if (udp.ok) return this.started(host, port, udp.transport);
      lastErr = udp.err;
      await new Promise<void>((resolve) => this.http.close(() => resolve()));
    }
    throw new TrackerError('TRACKER_BIND_FAILED', { detail: `udp ${host}:${wanted}`, cause: lastErr });
  }

  /**
   * Serves only UDP, on `port`, for a host that serves this tracker's HTTP side from its own HTTP
   * server through `handleHttp` (the gateway: one web server port, `/announce` on it, UDP on the
   * same number). Throws `TRACKER_BIND_FAILED` when the UDP port is taken.
   */
  async listenUdp(host: string, port: number): Promise<TrackerAddress> {
    await this.loadSecret();
    const udp = await this.bindUdp(host, port);
    if (!udp.ok) throw new TrackerError('TRACKER_BIND_FAILED', { detail: `udp ${host}:${port}`, cause: udp.err });
    return this.started(host, port, udp.transport);
  }

  /** The HTTP side (`/announce`, `/scrape`, `/ttp/v1/announce`, `/ttp/v1/scrape`, `/stats`) as a request handler. */
  get handleHttp(): (req: IncomingMessage, res: ServerResponse) => void {
    return this.httpHandle;
  }

  private async loadSecret(): Promise<void> {
    const store = this.core.store;
    if (this.opts.connectionIdSecret === undefined && store.sharedSecret !== undefined) {
      this.ids = new ConnectionIds(await store.sharedSecret());
    }
  }

  private async bindUdp(host: string, port: number): Promise<{ ok: true; transport: string } | { ok: false; err: unknown }> {
    const literal = parseIp(host);
    if (this.opts.udpBatch !== false && literal !== undefined && udpBatchAvailable()) {
      try {
        this.udpBatch = this.openBatch(literal, port);
      } catch (err) {
        return { ok: false, err };
      }
      return { ok: true, transport: 'recvmmsg batches' };
    }
    const udp = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', lookup: literalLookup });
    try {
      // Listen first: with a literal host, `literalLookup` makes bind emit 'listening' (or
      // 'error') before `bind` returns.
      const listening = once(udp, 'listening');
      udp.bind(port, host);
      await listening;
    } catch (err) {
      udp.close();
      return { ok: false, err };
    }
    udp.on('message', udpHandler(this.core, udp, this.ids, { limits: this.opts.limits?.udp ?? {}, localOf: this.localOf(literal) }));
    udp.on('error', (err) => this.core.logger.error({ err }, 'UDP socket error'));
    this.udp = udp;
    return { ok: true, transport: 'node:dgram' };
  }

  /**
   * Where a UDP client reached us: the bound address, unless it is a wildcard (`0.0.0.0`, `::`);
   * then, for a loopback source, that source's own family of loopback, and otherwise the address
   * the kernel's routing picks to answer that source (a connected UDP socket's local end, looked
   * up once per source): the datagram API does not say which address a datagram was sent to.
   */
  private localOf(bound: ParsedIp | undefined): (source: ParsedIp) => ParsedIp | undefined | Promise<ParsedIp | undefined> {
    if (bound !== undefined && bound.bytes.some((b) => b !== 0)) return () => bound;
    const routes = new Map<string, Promise<ParsedIp | undefined>>();
    return (source) => {
      if (source.family === 4 ? source.bytes[0] === 127 : source.bytes.every((b, i) => b === (i === 15 ? 1 : 0))) return source;
      const key = source.bytes.join('.');
      let found = routes.get(key);
      if (found === undefined) {
        if (routes.size >= MAX_ROUTES) routes.clear();
        found = localRouteTo(source);
        routes.set(key, found);
      }
      return found;
    };
  }

  /** How UDP is served: 'batch' (recvmmsg/sendmmsg) or 'dgram'; undefined before `listen()`. */
  get udpTransport(): 'batch' | 'dgram' | undefined {
    return this.udpBatch !== undefined ? 'batch' : this.udp !== undefined ? 'dgram' : undefined;
  }

  private openBatch(host: ParsedIp, port: number): UdpBatchSocket {
    let socket: UdpBatchSocket | undefined;
    const handle = udpRequests<BatchSource>(this.core, this.ids, (bytes, to) => socket?.send(bytes, to), {
      limits: this.opts.limits?.udp ?? {},
      transientBytes: true,
      localOf: this.localOf(host),
    });
    socket = UdpBatchSocket.open(host, port, this.opts.limits?.udp?.maxPacketBytes ?? MAX_UDP_REQUEST_BYTES, handle);
    return socket;
  }

  private started(host: string, port: number, udp: string): TrackerAddress {
    this.bound = { host, port };
    const everySec = this.opts.sweepEverySec ?? Math.min(60, Math.max(1, this.core.intervalSec / 10));
    this.sweepTimer = setInterval(() => {
      this.expire().catch((err: unknown) => this.core.logger.error({ err }, 'peer expiry failed'));
    }, everySec * 1000);
    this.sweepTimer.unref();
    this.core.logger.info({ host, port, udp }, 'tracker listening');
    return this.bound;
  }

  /** Expires peers now (the timer does it too). Returns how many were dropped. */
  async expire(): Promise<number> {
    const dropped = await this.core.expire();
    if (dropped > 0) this.core.logger.debug({ dropped }, 'peers expired');
    return dropped;
  }

  stats(): Promise<TrackerStats> {
    return this.core.stats();
  }

  setAccessLists(lists: { readonly allow?: Iterable<Uint8Array | string>; readonly deny?: Iterable<Uint8Array | string> }): void {
    this.core.setAccessLists(lists);
  }

  /** Stops listening, lets in-flight HTTP requests finish (up to 2 s), closes the store. */
  async close(): Promise<void> {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.udpBatch?.close();
    this.udpBatch = undefined;
    const udp = this.udp;
    this.udp = undefined;
    if (udp !== undefined) await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (this.http.listening) {
      const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
      this.http.closeIdleConnections();
      const force = setTimeout(() => this.http.closeAllConnections(), CLOSE_GRACE_MS);
      await closed;
      clearTimeout(force);
    }
    await this.core.store.close();
    // Only a tracker that said "tracker listening" says it closed: one whose bind failed served nothing.
    if (this.bound !== undefined) this.core.logger.info({}, 'tracker closed');
  }
}

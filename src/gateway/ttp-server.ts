import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { PeerServer, PeerServerHost } from '../engine/index.js';
import { torrentUrlAt } from '../tracker/index.js';
import { answerClientError } from './client-error.js';
import { GatewayError } from './errors.js';
import { hostCheckFor, refuseUnknownHost } from './host-check.js';
import { silentGatewayLogger, type GatewayLogger } from './logger.js';
import { CORS_HEADERS, TtpRoutes, type TtpRoutesOptions } from './ttp-routes.js';

/**
 * The TorrentTTP peer server of a Client (docs/torrenttp.md §3–§9, §11): one HTTP(S) port that
 * serves every torrent of the Client at `/ttp/v1/torrents/{infoHash}…`.
 *
 *   const client = new Client({ httpServer: ttpServer({ port: 8080 }) });
 *   await client.add('x.torrent', { path: 'data' });
 *   client.httpServer?.torrentUrl(infoHash); // http://192.0.2.10:8080/ttp/v1/torrents/…
 *
 * HTTP/1.1 with keep-alive (HTTP/2 is not offered yet). Request heads are bounded in size (Node's
 * 16 KiB) and time (`headersTimeoutMs`, slowloris); a malformed request costs its connection.
 */
export interface TtpServerOptions extends Pick<TtpRoutesOptions, 'servePrivate' | 'callers' | 'maxLongPolls'> {
  /** Default 0: any free port. */
  readonly port?: number;
  /** Default '0.0.0.0'. */
  readonly host?: string;
  /** PEM certificate and key: serve HTTPS. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /**
   * `scheme://host:port` others reach this server at, for `torrentUrl` (what the Client announces).
   * Default: the bound address; for a wildcard one, this host's first non-internal IPv4 address
   * (127.0.0.1 when it has none).
   */
  readonly origin?: string;
  /**
   * More names this server is reached by, for the `Host` check of a server bound to loopback
   * (host-check.ts, DNS rebinding): `localhost`, IP literals and the bound address always pass.
   */
  readonly hostNames?: readonly string[];
  /** A request's head must arrive within this. Default 15 s (§11). */
  readonly headersTimeoutMs?: number;
  /** Idle keep-alive connections close after this. Default 30 s: peers come back every few seconds. */
  readonly keepAliveTimeoutMs?: number;
  readonly logger?: GatewayLogger;
  readonly now?: () => number;
}

export const TTP_SERVER_DEFAULTS = { headersTimeoutMs: 15_000, keepAliveTimeoutMs: 30_000 } as const;
const SWEEP_MS = 1000;

export class TtpServer implements PeerServer {
  private server: Server | undefined;
  private routes: TtpRoutes | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private bound: { host: string; port: number } | undefined;
  private closed = false;
  private readonly logger: GatewayLogger;

  constructor(private readonly opts: TtpServerOptions = {}) {
    this.logger = opts.logger ?? silentGatewayLogger;
  }

  get secure(): boolean {
    return this.opts.tls !== undefined;
  }

  /** The bound address (after `start`). */
  get address(): { host: string; port: number } {
    if (this.bound === undefined) throw new GatewayError('GATEWAY_BIND_FAILED', { detail: 'not listening' });
    return this.bound;
  }

  /** `scheme://host:port` of this server as others reach it (see `origin`). */
  get origin(): string {
    if (this.opts.origin !== undefined) return this.opts.origin.replace(/\/+$/, '');
    const { host, port } = this.address;
    const shown = host === '0.0.0.0' || host === '::' ? publicAddress() : host.includes(':') ? `[${host}]` : host;
    return `${this.secure ? 'https' : 'http'}://${shown}:${port}`;
  }

  /** Callers of a torrent right now (for stats and tests). */
  callerCount(infoHash: string): number {
    return this.routes?.callerCount(infoHash) ?? 0;
  }

  /** Applies the callers' idle timeouts now (a timer does it every second); for tests with a fake clock. */
  sweep(): void {
    this.routes?.sweep();
  }

  torrentUrl(infoHash: string): string | undefined {
    if (this.bound === undefined || this.closed) return undefined;
    return torrentUrlAt(this.origin, infoHash);
  }

  async start(host: PeerServerHost): Promise<void> {
    if (this.server !== undefined) throw new GatewayError('GATEWAY_BIND_FAILED', { detail: 'the TorrentTTP server was started already' });
    const o = this.opts;
    const routes = new TtpRoutes(host, {
      logger: this.logger,
      ...(o.servePrivate === undefined ? {} : { servePrivate: o.servePrivate }),
      ...(o.callers === undefined ? {} : { callers: o.callers }),
      ...(o.maxLongPolls === undefined ? {} : { maxLongPolls: o.maxLongPolls }),
      ...(o.now === undefined ? {} : { now: o.now }),
    });
    this.routes = routes;
    const bindHost = o.host ?? '0.0.0.0';
    // Bound to loopback: a request must name us (DNS rebinding, docs/torrenttp.md §16).
    const hostCheck = hostCheckFor(bindHost, [...(o.hostNames ?? []), ...(o.origin === undefined ? [] : [new URL(o.origin).hostname])]);
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      if (refuseUnknownHost(hostCheck, req, res, CORS_HEADERS)) return;
      routes.handle(req, res); // outside the mount: TTP_NOT_FOUND
    };
    const server = (this.server = createServerFor(o, handler));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket));
    const port = o.port ?? 0;
    try {
      server.listen(port, bindHost);
      await once(server, 'listening');
    } catch (cause) {
      // The cause (EADDRINUSE…) is said by the error's line; the CLI adds the flag (port-in-use.ts).
      throw new GatewayError('GATEWAY_BIND_FAILED', { detail: `TorrentTTP tcp ${bindHost}:${port}`, cause });
    }
    this.bound = { host: bindHost, port: (server.address() as AddressInfo).port };
    this.sweeper = setInterval(() => routes.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.routes?.shutdown();
    const server = this.server;
    if (server === undefined || !server.listening) return;
    const closing = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), 2000);
    await closing;
    clearTimeout(force);
  }
}

/** A TorrentTTP peer server for `new Client({ httpServer: ttpServer({ port }) })`. */
export function ttpServer(opts: TtpServerOptions = {}): TtpServer {
  return new TtpServer(opts);
}

function createServerFor(o: TtpServerOptions, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const headersTimeout = o.headersTimeoutMs ?? TTP_SERVER_DEFAULTS.headersTimeoutMs;
  const serverOpts = {
    keepAlive: true,
    keepAliveTimeout: o.keepAliveTimeoutMs ?? TTP_SERVER_DEFAULTS.keepAliveTimeoutMs,
    headersTimeout,
    // A long-poll holds a request up to 60 s (§5.3); a slow body is the caller's loss, not ours.
    requestTimeout: 0,
    connectionsCheckingInterval: Math.min(5000, Math.max(100, Math.floor(headersTimeout / 4))),
  };
  const server = o.tls === undefined ? createHttpServer(serverOpts, handler) : createHttpsServer({ ...serverOpts, cert: o.tls.cert, key: o.tls.key }, handler);
  // A caller that half-closes after its request (`printf … | nc`, some proxies) still gets its
  // answer, as from the gateway (gateway.ts says why: Node's own flag, read in socketOnEnd).
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  return server;
}


function publicAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

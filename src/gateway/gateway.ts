import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { basename, join, relative, sep } from 'node:path';
import mime from 'mime-types';
import { Client } from '../engine/index.js';
import { clip, toTorrenttpError, type TorrenttpError } from '../errors/index.js';
import { encodeTorrent, HashPool, metainfoFromInfoBytes, METAINFO_JSON_MEDIA_TYPE, toBase64, toHex, toMetainfoJson } from '../metainfo/index.js';
import { encodeProblem, PROBLEM_CONTENT_TYPE, RedisSwarmStore, redactUrl, torrentUrlAt, TrackerServer, type SwarmStore, type TrackerLogger } from '../tracker/index.js';
import { hostPort, type PeerLink } from '../transport/index.js';
import { preferredOffer } from './accept.js';
import { BITTORRENT_MEDIA_TYPE, FILE_ETAG_HEADER, FILE_LAST_MODIFIED_HEADER, FILE_TYPE_HEADER, JOIN_HEADER, SEED_HEADER, SWARM_PEERS_HEADER, WEB_SEED_HEADER } from './media-type.js';
import { ifRangeHolds, type Validators } from './conditional.js';
import { metainfoEtag, preconditionsHold } from './preconditions.js';
import { GatewayError } from './errors.js';
import { silentGatewayLogger, type GatewayLogger } from './logger.js';
import { decideRange } from './range.js';
import { dispositionField } from './disposition.js';
import { sendFileRange } from './send-file.js';
import { UploadCap } from './upload-cap.js';
import { encodePath, parseRequestPath, type RequestPath } from './request-path.js';
import { eligibility, type Eligibility, type EligibilityOptions } from './rules.js';
import { INDEX_FILE, listingHtml, StaticSite, type Target } from './static-site.js';
import { Admission, SharedOffers } from './shared-offers.js';
import { hostCheckFor, refuseUnknownHost, type HostCheck } from './host-check.js';
import { ServeStatus, STATUS_CHECK_MAX_AGE_MS, type StatusBody, type StatusDocument, type StatusSources } from './status.js';
import { isStatusPath, serveStatus } from './status-page.js';
import { checkCacheDir, identityOf, SwarmFiles, type ReadyTorrent } from './swarm-files.js';
import { TtpRoutes } from './ttp-routes.js';
import { answerClientError } from './client-error.js';
import { listenTcpAndUdp, trackerFront } from './tracker-port.js';

/**
 * Transparent BitTorrent: a static web server that is also the tracker and the first seed of
 * the files it serves (DESIGN.md "Transparent negotiation"). One port number carries the web
 * server, the tracker's HTTP side (`/announce`, `/scrape`) and its UDP side (BEP 15), unless the
 * tracker has a port of its own (`trackerPort`, tracker-port.ts): then the torrents name that
 * one, and the web server's `/announce` and `/scrape` still answer (the same tracker), for
 * torrents handed out before.
 *
 * For an eligible file (`rules.ts`) a GET or HEAD answers, by `Accept` (RFC 9110 §12.5.1):
 * - the `.torrent` when `application/x-bittorrent` is preferred (or `?torrent`),
 * - the TorrentTTP metainfo JSON when its type is preferred (or `?metainfo`),
 * - the bytes otherwise, and always when the request has `Range` (aria2 repeats a user's
 *   `Accept` on its web-seed range requests),
 * with `Vary: Accept`, `Link: <…?torrent>; rel="describedby"` (RFC 6249),
 * `Cache-Control: no-transform`, and, once hashed, `Repr-Digest` (RFC 9530) and `Digest`
 * (RFC 3230, which aria2 reads). Ineligible files are plain static files.
 */
export interface GatewayOptions extends EligibilityOptions {
  /** Folder to serve. */
  readonly root: string;
  /** Default '0.0.0.0'. */
  readonly host?: string;
  /** Default 8080; 0 picks a free port (and UDP takes the same number). */
  readonly port?: number;
  /**
   * The embedded tracker's own port: plain HTTP `/announce`, `/scrape` and UDP (BEP 15) on this
   * number, which the torrents name instead of `port`; 0 picks a free one. The web server keeps
   * answering `/announce` and `/scrape` over HTTP (the same tracker and swarms: torrents handed
   * out before name it), but its port number takes no UDP. Default: the tracker shares `port`.
   */
  readonly trackerPort?: number;
  /** HTML index of folders without index.html. Default false (403, as nginx without autoindex). */
  readonly list?: boolean;
  /** PEM certificate and key: serve HTTPS. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /**
   * Metainfo cache and resume files. Default `<root>/.torrenttp` (never served: dot folder). One
   * given here is made and tried at start: GATEWAY_CACHE_IO when it cannot be written, unless it
   * holds metainfo already: then it is used read-only (reused, nothing stored; warned once).
   */
  readonly cacheDir?: string;
  /** Piece length of made torrents; default `torrenttp create`'s automatic choice. */
  /** The seed super-seeds (BEP 16): N downloads cost about one upload of the file. Default true. */
  readonly superSeed?: boolean;
  readonly pieceLength?: number;
  /** Let the embedded tracker track any info-hash, not only the served files'. Default false. */
  readonly openTracker?: boolean;
  /** Port for BitTorrent peers (the seed). Default 0: any free port. */
  readonly peerPort?: number;
  /** MSE/PE policy of the seed's wire peers (ClientOptions.encryption). Default 'prefer'. */
  readonly encryption?: 'prefer' | 'require' | 'off';
  /** Announce interval of the embedded tracker. Default 1800 s. */
  readonly trackerIntervalSec?: number;
  /** How often served torrents' files are checked for changes. Default 5000 ms; 0 never (call `checkFiles`). */
  readonly checkEveryMs?: number;
  /**
   * A connection must send a request's whole head within this, counted from the connection (idle
   * ones included) or the previous response: else it is closed (`408` if it had sent a byte).
   * Default 15 s (nginx's client_header_timeout is 60 s; slowloris argues for less).
   */
  readonly headersTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this. Default 5 s (Node's default). */
  readonly keepAliveTimeoutMs?: number;
  /**
   * Bytes per second for everything the server sends: plain bodies, web-seed ranges, and the
   * seed's peer blocks (wire and TorrentTTP) share one bucket (upload-cap.ts). Default: no cap.
   */
  readonly maxUploadRate?: number;
  /**
   * A connection on which nothing moved for this long, either way (a client that stopped reading
   * a body: the socket takes no byte), is closed. Default 120 s: nginx's send_timeout is 60 s, and
   * a TorrentTTP long-poll (`have?wait=`) is silent for up to 60 s. Without it, each client that
   * asks for a big file and never reads holds its send buffers (up to 3 MiB) and a descriptor
   * for ever.
   */
  readonly sendTimeoutMs?: number;
  /** Hashing threads. Default one per core. */
  readonly hashThreads?: number;
  /**
   * The seed's TorrentTTP peer at `/ttp/v1/torrents/{infoHash}…` for every file whose torrent is
   * ready (docs/torrenttp.md §15), beside the JSON announce at `/ttp/v1/announce`. Default true.
   */
  readonly ttp?: boolean;
  /** The status page and JSON at `/.torrenttp/` (status-page.ts). Default true. */
  readonly status?: boolean;
  /**
   * More names the server is reached by, for the `Host` check of a server bound to loopback
   * (host-check.ts, DNS rebinding; `--host-name`). A server on another address serves any `Host`.
   */
  readonly hostNames?: readonly string[];
  /**
   * `redis://…`: the embedded tracker keeps swarms in Redis and admits the files of every server
   * sharing it (shared-offers.ts), so several servers behind a load balancer run one swarm per file.
   */
  readonly redis?: string;
  /** Key prefix in Redis, for deployments sharing one. Default `ttp:`. */
  readonly redisPrefix?: string;
  /** How often the served info-hashes are synced through Redis. Default 1000 ms. */
  readonly redisSyncMs?: number;
  readonly logger?: GatewayLogger;
  readonly now?: () => number;
}

export { BITTORRENT_MEDIA_TYPE };
export const DEFAULT_GATEWAY_PORT = 8080;
const BIND_ATTEMPTS = 20;
/**
 * How long the seed waits before dialling back a leecher that announced: a get's own connection
 * (it dials the seed as it announces) arrives well within this on loopback and on a LAN.
 */
export const DIAL_BACK_DELAY_MS = 1000;
/** Dials back waiting at once; announces beyond this are not dialled back (they may dial us). */
const MAX_DIAL_BACKS = 1000;

/** A peer awaiting a dial back: torrent, IP, peer id. */
function dialBackKey(infoHash: string, ip: string, peerId: Uint8Array): string {
  return `${infoHash} ${ip} ${toHex(peerId)}`;
}
/**
 * An absolute-form request target (`GET http://host/path`, what a client sends to a proxy) made
 * origin-form, its authority taking the place of `Host`: RFC 9112 §3.2.2, a server MUST accept
 * it and use the target's host. Other forms are left for the path rules to refuse.
 */
function toOriginForm(req: IncomingMessage): void {
  const target = req.url ?? '';
  if (!/^https?:\/\//i.test(target)) return;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return;
  }
  if (url.username !== '' || url.password !== '') return;
  const start = target.indexOf('/', target.indexOf('//') + 2);
  req.url = start < 0 ? '/' : target.slice(start);
  req.headers.host = url.host;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 15_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5000;
export const DEFAULT_SEND_TIMEOUT_MS = 120_000;
const HOST_HEADER = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

type Representation = 'bytes' | 'torrent' | 'json';

/**
 * A downloader answered alone (`TorrentTTP-Swarm-Peers: 0`) counts as a peer this long, time
 * for its start-up and first announce: a get on a loaded machine takes up to a second or two.
 */
export const LONE_RESERVE_MS = 5000;
/** Info-hashes remembered as answered alone, at most. */
const MAX_ANSWERED_ALONE = 4096;

export class Gateway {
  readonly swarm: SwarmFiles;
  private readonly status: ServeStatus;
  private readonly admission: Admission;
  private readonly server: Server;
  private readonly tracker: TrackerServer;
  /** The tracker's own HTTP server (`trackerPort`), else undefined: it is on `server`. */
  private readonly trackerServer: Server | undefined;
  private trackerBound: number | undefined;
  private readonly client: Client;
  private readonly ttp: TtpRoutes | undefined;
  private ttpSweep: NodeJS.Timeout | undefined;
  private readonly pool: HashPool;
  private readonly eligible: Eligibility;
  private readonly logger: GatewayLogger;
  private readonly secure: boolean;
  private checkTimer: NodeJS.Timeout | undefined;
  private bound: { host: string; port: number } | undefined;
  private internalAnnounce = '';
  /** Dials back to announcing leechers, waiting (`dialBack`). */
  private readonly dialBacks = new Map<string, NodeJS.Timeout>();
  /** When a torrent was last answered with `TorrentTTP-Swarm-Peers: 0`, by info-hash (`swarmPeers`). */
  private readonly answeredAlone = new Map<string, number>();
  /** `maxUploadRate`: the one bucket of plain bodies and the seed's uploads. */
  private readonly cap: UploadCap | undefined;
  /** Bound to loopback: requests must name us (DNS rebinding). */
  private readonly hostCheck: HostCheck | undefined;

  private constructor(
    private readonly opts: GatewayOptions,
    private readonly site: StaticSite,
    readonly cacheDir: string,
    shared: { readonly store: SwarmStore; readonly offers: SharedOffers | undefined } | undefined,
    /** The cache takes no writes and is used read-only (`checkCacheDir`). */
    readonly cacheReadOnly: boolean,
  ) {
    this.logger = opts.logger ?? silentGatewayLogger;
    this.hostCheck = hostCheckFor(opts.host ?? '0.0.0.0', opts.hostNames);
    this.secure = opts.tls !== undefined;
    this.eligible = eligibility(opts);
    const seedPeerId = Uint8Array.from([...new TextEncoder().encode('-TT0010-'), ...randomBytes(12)]);
    this.tracker = new TrackerServer({
      ...(shared === undefined ? {} : { store: shared.store }),
      privateMode: opts.openTracker !== true,
      intervalSec: opts.trackerIntervalSec ?? 1800,
      logger: this.logger as TrackerLogger,
      // The seed is listed at the address each client reached this server on, never at loopback
      // to a remote client, and it dials every announcing leecher it is not connected to
      // (Transmission dials no loopback peer a tracker names): `dialBack`.
      embeddedPeer: {
        peerId: seedPeerId,
        portFor: (infoHash) => (this.swarm.isSeeding(toHex(infoHash)) ? this.client.port : undefined),
        urlFor: (infoHash, local) => {
          if (this.ttp === undefined || this.bound === undefined) return undefined;
          const host = local.includes(':') ? `[${local}]` : local;
          return torrentUrlAt(`${this.secure ? 'https' : 'http'}://${host}:${this.bound.port}`, toHex(infoHash));
        },
        announced: (infoHash, peer) => {
          // Whoever was answered alone is in the tracker now (or gone, or another peer is): it counts there.
          this.answeredAlone.delete(toHex(infoHash));
          if (peer.left > 0 && peer.event !== 'stopped') this.dialBack(toHex(infoHash), hostPort(peer.ip, peer.port), peer.ip, peer.peerId);
        },
      },
      ...(opts.now === undefined ? {} : { now: opts.now }),
    });
    this.cap = opts.maxUploadRate === undefined ? undefined : new UploadCap(opts.maxUploadRate);
    this.client = new Client({
      ...(opts.host === undefined ? {} : { host: opts.host }),
      port: opts.peerPort ?? 0,
      allowLoopbackPeers: true,
      peerId: seedPeerId,
      ...(opts.encryption === undefined ? {} : { encryption: opts.encryption }),
      ...(this.cap === undefined ? {} : { uploadLimiter: this.cap.bucket }),
    });
    this.client.on('warning', (msg) => this.logger.debug({ msg }, 'seed warning'));
    this.client.on('error', (err) => this.logger.error({ err }, 'seed error'));
    this.client.on('torrent', (t) => {
      t.on('peer', (link) => {
        this.logger.debug({ infoHash: t.infoHash, peer: link.id }, 'seed peer connected');
        this.linked(t.infoHash, link);
      });
      t.on('peerClosed', (link, err) => this.logger.debug({ infoHash: t.infoHash, peer: link.id, code: err?.code }, 'seed peer closed'));
    });
    this.status = new ServeStatus(opts.now === undefined ? {} : { now: opts.now });
    this.admission = new Admission({
      apply: (allow) => {
        if (opts.openTracker !== true) this.tracker.setAccessLists({ allow });
      },
      ...(shared?.offers === undefined ? {} : { offers: shared.offers }),
      ...(opts.redisSyncMs === undefined ? {} : { everyMs: opts.redisSyncMs }),
      now: opts.now ?? Date.now,
      onError: (err) => this.logger.warn({ err }, 'cannot sync the served info-hashes through Redis; keeping the last list'),
    });
    this.status.watch(this.client);
    this.pool = new HashPool(opts.hashThreads === undefined ? {} : { threads: opts.hashThreads });
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.handle(req, res);
    const headersTimeout = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
    const serverOpts = {
      keepAlive: true,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
      headersTimeout,
      requestTimeout: Math.max(30_000, headersTimeout),
      // Node looks for expired heads this often (default 30 s, which would let an idle
      // connection live 45 s with a 15 s timeout).
      connectionsCheckingInterval: Math.min(5000, Math.max(100, Math.floor(headersTimeout / 4))),
    };
    this.server = opts.tls === undefined ? createHttpServer(serverOpts, handler) : createHttpsServer({ ...serverOpts, cert: opts.tls.cert, key: opts.tls.key }, handler);
    // `trackerPort` equal to a given `port` is the one-port layout it would otherwise fail to bind.
    const ownTrackerPort = opts.trackerPort !== undefined && (opts.trackerPort === 0 || opts.trackerPort !== (opts.port ?? DEFAULT_GATEWAY_PORT));
    this.trackerServer = !ownTrackerPort ? undefined : trackerFront(this.tracker.handleHttp, this.hostCheck, headersTimeout);
    this.trackerServer?.on('clientError', (err: NodeJS.ErrnoException, socket) => answerClientError(err, socket as Socket));
    // A client may half-close after its request (`printf … | nc`, some proxies). Node's default
    // then aborts a request still being answered (an async stat is enough) and the client gets
    // nothing; nginx answers and then closes. This flag (Node's own, read in _http_server.js's
    // socketOnEnd) makes Node finish the response first.
    (this.server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    // Socket inactivity, reads and writes alike: with no 'timeout' listener Node destroys the socket.
    this.server.setTimeout(opts.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS);
    // CONNECT is for proxies: without a listener Node closes the socket with no answer at all.
    this.server.on('connect', (_req: IncomingMessage, socket: Socket) => {
      socket.on('error', () => {});
      socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (err.code !== 'ECONNRESET') this.logger.debug({ err: err.message, code: err.code }, 'bad HTTP request');
      answerClientError(err, socket as Socket);
    });
    this.ttp =
      opts.ttp === false
        ? undefined
        : new TtpRoutes(
            {
              torrent: (h) => (this.swarm.isSeeding(h) ? this.client.get(h) : undefined),
              admitsPeer: () => true, // the torrent's own peer limit applies
            },
            {
              logger: this.logger,
              tracker: (req, res) => this.tracker.handleHttp(req, res),
              metainfoExtras: (t, req) => {
                const path = this.swarm.pathOf(t.infoHash);
                const rel = path === undefined ? undefined : relative(this.site.root, path).split(sep);
                return { announceList: this.trackersFor(req), urlList: rel === undefined ? [] : [`${this.baseUrl(req)}${encodePath(rel)}`], createdBy: 'torrenttp serve' };
              },
              ...(opts.now === undefined ? {} : { now: opts.now }),
            },
          );
    this.swarm = new SwarmFiles({
      root: site.root,
      cacheDir,
      pool: this.pool,
      client: this.client,
      internalAnnounce: () => this.internalAnnounce,
      onInfoHashes: (hashes) => this.admission.set(hashes),
      logger: this.logger,
      readOnlyCache: cacheReadOnly,
      ...(opts.pieceLength === undefined ? {} : { pieceLength: opts.pieceLength }),
      ...(opts.superSeed === undefined ? {} : { superSeed: opts.superSeed }),
      ...(opts.now === undefined ? {} : { now: opts.now }),
    });
  }

  /** Opens the folder, binds HTTP(S) and the tracker's UDP on one port number (or the tracker on its own), and the seed's peer port. */
  static async start(opts: GatewayOptions): Promise<Gateway> {
    const site = await StaticSite.open(opts.root);
    const cache = opts.cacheDir === undefined ? 'read-write' : await checkCacheDir(opts.cacheDir);
    if (cache === 'read-only') {
      (opts.logger ?? silentGatewayLogger).warn({ dir: opts.cacheDir }, 'the metainfo cache takes no writes: the torrents it holds are reused, new ones are not stored (hashed again at each start)');
    }
    const shared = opts.redis === undefined ? undefined : await connectRedis(opts);
    const g = new Gateway(opts, site, opts.cacheDir ?? join(site.root, '.torrenttp'), shared, cache === 'read-only');
    try {
      await g.listen();
    } catch (err) {
      await g.close();
      throw err;
    }
    return g;
  }

  get root(): string {
    return this.site.root;
  }

  get address(): { host: string; port: number } {
    if (this.bound === undefined) throw new GatewayError('GATEWAY_BIND_FAILED', { detail: 'not listening' });
    return this.bound;
  }

  /** Base URL for a loopback client or a start line: `http://127.0.0.1:8080`. */
  get url(): string {
    const { host, port } = this.address;
    const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
    return `${this.secure ? 'https' : 'http'}://${shown}:${port}`;
  }

  /** The port number of the tracker's HTTP and UDP: `trackerPort`'s, else the web server's. */
  get trackerPort(): number {
    return this.trackerBound ?? this.address.port;
  }

  /** The seed's BitTorrent port. */
  get peerPort(): number {
    return this.client.port;
  }

  /** What `/.torrenttp/status.json` shows (status.ts), made afresh. */
  statusDocument(): Promise<StatusDocument> {
    return this.status.snapshot(this.statusSources());
  }

  /** `/.torrenttp/status.json` as sent: its serialized lists reused while nothing they show changed (status.ts). */
  private statusBody(): Promise<StatusBody> {
    return this.status.body(this.statusSources());
  }

  private statusSources(): StatusSources {
    const store = this.tracker.core.store;
    const version = store.version?.bind(store);
    return {
      root: this.site.root,
      check: () => this.swarm.recheck(STATUS_CHECK_MAX_AGE_MS),
      files: () => this.swarm.files(),
      infoHashes: () => this.swarm.infoHashes(),
      scrape: (hashes) => store.scrape(hashes),
      // The memory store's: status.json remakes its swarms list when an announce changed a count.
      ...(version === undefined ? {} : { trackerVersion: version }),
      store: this.opts.redis === undefined ? 'memory' : 'redis',
    };
  }

  /** Retires torrents whose files changed (the timer does it too). */
  checkFiles(): Promise<void> {
    return this.swarm.check();
  }

  /** Files stat'ed by the identity sweeps so far (the timer's, `checkFiles`', the status document's): their cost, for tests. */
  get filesChecked(): number {
    return this.swarm.checkedFiles;
  }

  /**
   * The seed dials a leecher that announced, unless a link to it exists (peer-set.ts `accepts`:
   * the address we dialled, or its IP with its advertised listen port or its announced peer id).
   * A `torrenttp get` dials the seed (TorrentTTP-Seed) as it announces, so its connection may
   * still be on its way: the dial waits DIAL_BACK_DELAY_MS, is called off when a link from that
   * IP naming that peer id attaches meanwhile (even one already gone: a small get may be done
   * and away within the wait), and looks again. Without that wait both connections open and one
   * is closed as a duplicate (ENGINE_DUPLICATE_PEER).
   */
  private dialBack(infoHash: string, address: string, ip: string, peerId: Uint8Array): void {
    const wanted = (): boolean => this.client.get(infoHash)?.accepts(address, peerId) === true;
    const key = dialBackKey(infoHash, ip, peerId);
    if (!wanted() || this.dialBacks.has(key) || this.dialBacks.size >= MAX_DIAL_BACKS) return;
    const timer = setTimeout(() => {
      this.dialBacks.delete(key);
      if (wanted()) this.client.introduce(infoHash, address);
    }, DIAL_BACK_DELAY_MS);
    timer.unref();
    this.dialBacks.set(key, timer);
  }

  /** A link attached: a dial back to that peer waiting is called off. */
  private linked(infoHash: string, link: PeerLink): void {
    if (this.dialBacks.size === 0 || link.address === undefined || link.peerId === undefined) return;
    const key = dialBackKey(infoHash, link.address.ip, link.peerId);
    clearTimeout(this.dialBacks.get(key));
    this.dialBacks.delete(key);
  }

  async close(): Promise<void> {
    for (const timer of this.dialBacks.values()) clearTimeout(timer);
    this.dialBacks.clear();
    clearInterval(this.checkTimer);
    clearInterval(this.ttpSweep);
    this.ttp?.shutdown();
    await this.swarm.close();
    const servers = [this.server, ...(this.trackerServer === undefined ? [] : [this.trackerServer])];
    const closing = Promise.all(servers.map((s) => (s.listening ? new Promise<void>((resolve) => s.close(() => resolve())) : undefined)));
    for (const s of servers) s.closeIdleConnections();
    const force = setTimeout(() => servers.forEach((s) => s.closeAllConnections()), 2000);
    await closing;
    clearTimeout(force);
    // The seed first, while its tracker still answers its `stopped` announce.
    await this.client.close();
    await Promise.all([this.tracker.close(), this.pool.close(), this.admission.close()]);
  }

  private async listen(): Promise<void> {
    const host = this.opts.host ?? '0.0.0.0';
    const wanted = this.opts.port ?? DEFAULT_GATEWAY_PORT;
    // The seed's peer port first (as the proxy does): the tracker's UDP, bound last, logs "tracker
    // listening", which must not be said by a server that then fails to start (a taken --peer-port).
    await this.client.listen();
    const listenUdp = (h: string, p: number): Promise<unknown> => this.tracker.listenUdp(h, p);
    if (this.trackerServer === undefined) {
      this.bound = { host, port: await listenTcpAndUdp(this.server, host, wanted, listenUdp, BIND_ATTEMPTS) };
    } else {
      try {
        this.server.listen(wanted, host);
        await once(this.server, 'listening');
      } catch (cause) {
        throw new GatewayError('GATEWAY_BIND_FAILED', { detail: `tcp ${host}:${wanted}`, cause });
      }
      this.bound = { host, port: (this.server.address() as AddressInfo).port };
      // Last: the tracker's UDP logs "tracker listening", not to be said by a server that fails to start.
      this.trackerBound = await listenTcpAndUdp(this.trackerServer, host, this.opts.trackerPort ?? 0, listenUdp, BIND_ATTEMPTS, 'tracker ');
    }
    const loop = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
    // The seed announces over UDP: it works the same under HTTPS, whose certificate it may not trust.
    this.internalAnnounce = `udp://${loop}:${this.trackerPort}`;
    if (this.opts.openTracker !== true) this.tracker.setAccessLists({ allow: [] });
    this.admission.start();
    if (this.ttp !== undefined) {
      const ttp = this.ttp;
      this.ttpSweep = setInterval(() => ttp.sweep(), 1000);
      this.ttpSweep.unref();
    }
    const every = this.opts.checkEveryMs ?? 5000;
    if (every > 0) {
      this.checkTimer = setInterval(() => {
        this.swarm.check().catch((err: unknown) => this.logger.error({ err }, 'file check failed'));
      }, every);
      this.checkTimer.unref();
    }
  }

  // ── requests ────────────────────────────────────────────────────────────────────────────
  private handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    res.on('finish', () => {
      if (res.statusCode >= 400) {
        const entry = { method: req.method, url: clip(req.url ?? ''), status: res.statusCode, ms: Math.round(performance.now() - started) };
        if (res.statusCode >= 500 && res.statusCode !== 503) this.logger.error(entry, 'request failed');
        else this.logger.info(entry, 'request refused');
      }
    });
    toOriginForm(req);
    if (refuseUnknownHost(this.hostCheck, req, res)) return; // bound to loopback: DNS rebinding
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const pathOnly = q < 0 ? target : target.slice(0, q);
    if (pathOnly === '/announce' || pathOnly === '/scrape') {
      this.tracker.handleHttp(req, res);
      return;
    }
    // Before the files: the mount shadows a served folder named `ttp` (docs/torrenttp.md §15).
    if (this.ttp?.owns(target) === true) {
      this.ttp.handle(req, res);
      return;
    }
    const work = this.opts.status !== false && isStatusPath(pathOnly) ? serveStatus(req, res, pathOnly, () => this.statusBody()) : this.serve(req, res, target);
    work.catch((err: unknown) => {
      const e = toTorrenttpError(err);
      if (e.status >= 500 && e.code !== 'GATEWAY_HASHING') this.logger.error({ err: e, url: clip(target) }, 'request handler failed');
      if (!res.headersSent) this.problem(res, e);
      else res.destroy();
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse, target: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      throw new GatewayError('GATEWAY_METHOD_NOT_ALLOWED', { detail: clip(String(req.method), 16) });
    }
    const path = parseRequestPath(target);
    let t: Target;
    try {
      t = await this.site.resolve(path.segments);
    } catch (err) {
      // A file with a torrent that went away: retired now, as a changed one is when asked for
      // (`current`), so that the status document agrees with this 404 at once, not after its sweep.
      if (err instanceof GatewayError && err.code === 'GATEWAY_NOT_FOUND' && path.segments.length > 0) await this.swarm.checkFile(join(this.site.root, ...path.segments)).catch(() => undefined);
      throw err;
    }
    if (t.kind === 'file' && path.trailingSlash) {
      // `/file/` names a folder that is not there (nginx: 404); serving it would give the file a
      // second URL, under which a page's relative links break.
      await t.handle?.close();
      throw new GatewayError('GATEWAY_NOT_FOUND', { detail: 'a file asked for as a folder' });
    }
    if (t.kind === 'folder') {
      if (!path.trailingSlash && path.segments.length > 0) {
        const location = encodePath(path.segments, true) + (path.query === undefined ? '' : `?${path.query}`);
        this.small(res, 301, 'text/plain; charset=utf-8', `Moved to ${location}\n`, { location });
        return;
      }
      let index: Target | undefined;
      try {
        index = await this.site.resolve([...path.segments, INDEX_FILE]);
      } catch (err) {
        if (!(err instanceof GatewayError) || err.code !== 'GATEWAY_NOT_FOUND') throw err;
      }
      if (index?.kind === 'file') t = index;
      else if (this.opts.list === true) {
        const html = listingHtml(encodePath(path.segments, true), await this.site.list(t.absPath));
        this.small(res, 200, 'text/html; charset=utf-8', html, {}, req.method === 'HEAD');
        return;
      } else throw new GatewayError('GATEWAY_FORBIDDEN', { detail: 'folder listing is off' });
    }
    if (t.kind !== 'file') throw new GatewayError('GATEWAY_NOT_FOUND');
    await this.serveFile(req, res, t, path);
  }

  private async serveFile(req: IncomingMessage, res: ServerResponse, file: Extract<Target, { kind: 'file' }>, path: RequestPath): Promise<void> {
    let handed = false;
    try {
      const st = file.stat;
      const size = Number(st.size);
      const rel = file.segments.join('/');
      const contentType = mime.contentType(basename(file.absPath)) || 'application/octet-stream';
      const eligible = this.eligible(rel, size);
      const identity = identityOf(st);
      const explicit = path.query === 'torrent' ? 'torrent' : path.query === 'metainfo' ? 'json' : undefined;
      if (explicit !== undefined && !eligible) throw new GatewayError('GATEWAY_NOT_OFFERED');
      let want: Representation = 'bytes';
      if (eligible) {
        want = explicit ?? (req.headers.range !== undefined ? 'bytes' : negotiate(req.headers.accept, contentType));
      }
      const lastModifiedSec = Math.floor(Number(st.mtimeMs) / 1000);
      const validators: Validators = { etag: `"${st.size.toString(16)}-${st.mtimeNs.toString(16)}-${st.ino.toString(16)}"`, lastModifiedSec };
      const lastModified = new Date(lastModifiedSec * 1000).toUTCString();
      if (want !== 'bytes') {
        await this.serveMetainfo(req, res, file, want, explicit === undefined, { [FILE_TYPE_HEADER]: contentType, [FILE_ETAG_HEADER]: validators.etag, [FILE_LAST_MODIFIED_HEADER]: lastModified });
        return;
      }

      res.setHeader('etag', validators.etag);
      res.setHeader('last-modified', lastModified);
      // Every file's answer varies on Accept, an ineligible one's too: which files are offered is
      // the server's rule (`--min-size`, globs), which a restart may change, and a shared cache
      // that kept a plain answer without `Vary` would go on handing bytes to a client that asks
      // for the torrent (issue 15: "Always `Vary: Accept`").
      res.setHeader('vary', 'Accept');
      let ready: ReadyTorrent | undefined;
      if (eligible) {
        res.setHeader('cache-control', 'no-transform');
        res.setHeader('link', `<${encodePath(file.segments)}?torrent>; rel="describedby"; type="${BITTORRENT_MEDIA_TYPE}"`);
        ready = this.swarm.current(file.absPath, identity);
        if (ready?.sha256 !== undefined) {
          const b64 = toBase64(ready.sha256);
          res.setHeader('repr-digest', `sha-256=:${b64}:`);
          res.setHeader('digest', `SHA-256=${b64}`);
        }
      }
      if (!preconditionsHold(req, res, validators)) return;

      res.setHeader('accept-ranges', 'bytes');
      res.setHeader('content-type', contentType);
      const ifRange = req.headers['if-range'];
      const ifRangeValue = Array.isArray(ifRange) ? ifRange[0] : ifRange;
      const range = ifRangeHolds(ifRangeValue, validators) ? decideRange(req.headers.range, size) : { type: 'whole' as const };
      if (range.type === 'unsatisfiable') {
        res.setHeader('content-range', `bytes */${size}`);
        res.removeHeader('content-type');
        throw new GatewayError('GATEWAY_RANGE_NOT_SATISFIABLE');
      }
      const start = range.type === 'partial' ? range.start : 0;
      const end = range.type === 'partial' ? range.end : size - 1;
      if (range.type === 'partial') {
        res.statusCode = 206;
        res.setHeader('content-range', `bytes ${start}-${end}/${size}`);
      }
      res.setHeader('content-length', end - start + 1);
      if (req.method === 'HEAD' || size === 0) {
        res.end();
        return;
      }
      this.status.plainResponse();
      // A range for a swarm member: a client that asked for the torrent (it would have got it
      // without the Range, as aria2's web seed requests with the header) or that names the file's
      // torrent (a lone get's stream): the server as the swarm's web seed, not plain HTTP.
      const webSeed = eligible && range.type === 'partial' && (negotiate(req.headers.accept, contentType) !== 'bytes' || (ready !== undefined && req.headers[WEB_SEED_HEADER] === ready.infoHash));
      const count = (bytes: number): void => this.status.countPlain(file.absPath, size, eligible, bytes, webSeed);
      if (file.bytes !== undefined) {
        const body = start === 0 && end === size - 1 ? file.bytes : file.bytes.subarray(start, end + 1);
        const send = (): void => void res.end(body, () => count(body.length));
        if (this.cap === undefined) send();
        else this.cap.whenAdmitted(body.length, res, send);
        return;
      }
      const handle = file.handle!;
      handed = true;
      sendFileRange(
        handle.fd,
        start,
        end,
        res,
        rel,
        (err) => {
          handle.close().catch(() => {});
          if (err === undefined) return;
          // A client that left mid-body (curl stopped, a lone get's stream ended when a peer came)
          // is no fault of the server's: nginx logs it at info, a busy swarm would flood warnings.
          if (CLIENT_GONE.has((err as NodeJS.ErrnoException).code ?? '')) this.logger.debug({ err: err.message, path: rel }, 'the client left before the body ended');
          else this.logger.warn({ err: err.message, path: rel }, 'file body failed');
        },
        count,
        this.cap,
      );
    } finally {
      if (!handed) await file.handle?.close().catch(() => {});
    }
  }

  /** `fileFacts`: the plain `200`'s `Content-Type`, `ETag` and `Last-Modified` of the file, as `TorrentTTP-File-*` headers of the `200` (media-type.ts). */
  private async serveMetainfo(req: IncomingMessage, res: ServerResponse, file: Extract<Target, { kind: 'file' }>, want: 'torrent' | 'json', negotiated: boolean, fileFacts: Record<string, string>): Promise<void> {
    res.setHeader('vary', 'Accept');
    const state = this.swarm.want(file.absPath, identityOf(file.stat));
    if (state.state === 'hashing') {
      res.setHeader('retry-after', String(state.retryAfterSec));
      throw new GatewayError('GATEWAY_HASHING', { detail: `retry in ${state.retryAfterSec} s` });
    }
    // Each representation its own strong tag (`metainfoEtag`). No Last-Modified: the file's date
    // says nothing the info-hash does not.
    const validators: Validators = { etag: metainfoEtag(want, state.torrent.infoHash) };
    res.setHeader('etag', validators.etag);
    // The announce and web-seed URLs follow the request's Host: not a shared-cache answer.
    res.setHeader('cache-control', 'private, no-cache');
    const location: Record<string, string> = negotiated ? { 'content-location': `${encodePath(file.segments)}?${want === 'torrent' ? 'torrent' : 'metainfo'}` } : {};
    if (!preconditionsHold(req, res, validators, location)) return;
    const base = this.baseUrl(req);
    const fileUrl = `${base}${encodePath(file.segments)}`;
    const body = want === 'torrent' ? this.torrentBytes(state.torrent, req, fileUrl) : Buffer.from(JSON.stringify(this.metainfoJson(state.torrent, req, fileUrl)));
    const headers: Record<string, string> = {
      'content-type': want === 'torrent' ? BITTORRENT_MEDIA_TYPE : METAINFO_JSON_MEDIA_TYPE,
      'x-content-type-options': 'nosniff',
      ...location,
      // Saved as `big.iso.torrent`, not under the URL's name `big.iso` (a browser following the
      // `?torrent` link, curl -OJ, wget --content-disposition): aria2c without
      // `--follow-torrent=mem` saved the torrent as `big.iso`, then failed to download `big.iso`.
      ...(want === 'torrent' ? { 'content-disposition': dispositionField(`${file.segments[file.segments.length - 1] ?? 'index'}.torrent`) } : {}),
      // The bytes' own head, so a proxy need not ask for it before answering its program.
      ...fileFacts,
    };
    // The seed, where the client reached us (as the tracker lists it): a client dials it at once.
    if (this.swarm.isSeeding(state.torrent.infoHash)) {
      headers[SEED_HEADER] = hostPort(localHost(req), this.client.port);
      // A client about to join hears how many peers it would find (a lone get streams when none).
      const peers = req.headers[JOIN_HEADER] === undefined ? undefined : await this.swarmPeers(state.torrent.infoHash, req.method !== 'HEAD');
      if (peers !== undefined) headers[SWARM_PEERS_HEADER] = String(peers);
    }
    this.small(res, 200, headers['content-type']!, body, headers, req.method === 'HEAD');
  }

  /**
   * `TorrentTTP-Swarm-Peers`: the peers the tracker holds for the torrent besides our seed, and
   * one more while a joining client answered alone a moment ago (`LONE_RESERVE_MS`) has not
   * announced yet (the next announce of the torrent ends the reservation), so that of a crowd
   * arriving together only the first hears `0` and streams (as only the first to announce used to). `joining`: a GET, which such a `0` reserves. Undefined
   * when the store cannot say (Redis down).
   */
  private async swarmPeers(infoHash: string, joining: boolean): Promise<number | undefined> {
    let entry: { complete: number; incomplete: number } | undefined;
    try {
      [entry] = await this.tracker.core.store.scrape([Buffer.from(infoHash, 'hex')]);
    } catch {
      return undefined;
    }
    if (entry === undefined) return undefined;
    // Our seed is among the complete once it announced.
    const others = Math.max(0, entry.complete - 1) + entry.incomplete;
    if (others > 0) return others;
    const now = (this.opts.now ?? Date.now)();
    const last = this.answeredAlone.get(infoHash);
    if (last !== undefined && now - last < LONE_RESERVE_MS) return 1;
    if (joining) {
      if (this.answeredAlone.size >= MAX_ANSWERED_ALONE) {
        for (const [hash, at] of this.answeredAlone) if (now - at >= LONE_RESERVE_MS) this.answeredAlone.delete(hash);
        if (this.answeredAlone.size >= MAX_ANSWERED_ALONE) return 1; // a flood of fresh ones: no more lone answers for now
      }
      this.answeredAlone.set(infoHash, now);
    }
    return 0;
  }

  /**
   * The announce list of a torrent handed out: the host the client named (its Host header, as for
   * the web seed), at the tracker's port. Made per answer, never cached (the metainfo cache holds
   * only `info`), so a restart with another `trackerPort` names the new one at once; the
   * info-hash does not change, `announce` being outside `info`.
   */
  private trackersFor(req: IncomingMessage): string[][] {
    const base = this.baseUrl(req);
    const hostname = new URL(base).hostname; // an IPv6 literal keeps its brackets
    const http = this.trackerBound === undefined ? `${base}/announce` : `http://${hostname}:${this.trackerBound}/announce`;
    return [[http], [`udp://${hostname}:${this.trackerPort}`]];
  }

  private torrentBytes(t: ReadyTorrent, req: IncomingMessage, fileUrl: string): Uint8Array {
    return encodeTorrent(t.infoBytes, { announceList: this.trackersFor(req), urlList: [fileUrl], createdBy: 'torrenttp serve' });
  }

  private metainfoJson(t: ReadyTorrent, req: IncomingMessage, fileUrl: string): unknown {
    return toMetainfoJson(metainfoFromInfoBytes(t.infoBytes, { announceList: this.trackersFor(req), urlList: [fileUrl], createdBy: 'torrenttp serve' }));
  }

  /** `scheme://host[:port]` as the client addressed us (its Host header), else our own address. */
  private baseUrl(req: IncomingMessage): string {
    const scheme = this.secure ? 'https' : 'http';
    const host = req.headers.host;
    // The pattern lets through ports past 65535 and odd brackets, which URLs refuse (a 500 later).
    if (host !== undefined && HOST_HEADER.test(host) && URL.canParse(`${scheme}://${host}`)) return `${scheme}://${host}`;
    const local = localHost(req);
    return `${scheme}://${local.includes(':') ? `[${local}]` : local}:${this.address.port}`;
  }

  private small(res: ServerResponse, status: number, type: string, body: string | Uint8Array, headers: Record<string, string> = {}, head = false): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { ...headers, 'content-type': type, 'content-length': bytes.length });
    res.end(head ? undefined : bytes);
  }

  private problem(res: ServerResponse, e: TorrenttpError): void {
    const body = encodeProblem(e);
    res.statusCode = e.status;
    res.setHeader('content-type', PROBLEM_CONTENT_TYPE);
    res.setHeader('content-length', Buffer.byteLength(body));
    if (e.status !== 503) res.setHeader('cache-control', 'no-store');
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }
}

/** The address the client reached us on (an IPv4-mapped one as IPv4). */
function localHost(req: IncomingMessage): string {
  const local = req.socket.localAddress ?? '127.0.0.1';
  return local.startsWith('::ffff:') ? local.slice(7) : local;
}

/** Write errors that mean the connection is gone from the other side, not that a byte was wrong. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** The Redis swarm store and, for a private tracker, the shared list of served info-hashes. */
async function connectRedis(opts: GatewayOptions): Promise<{ store: SwarmStore; offers: SharedOffers | undefined }> {
  const url = opts.redis!;
  const logger = opts.logger ?? silentGatewayLogger;
  const onError = (err: unknown): void => logger.warn({ err, redis: redactUrl(url) }, 'Redis client error');
  const prefix = opts.redisPrefix === undefined ? {} : { prefix: opts.redisPrefix };
  const store = await RedisSwarmStore.connect({ url, peerTimeoutMs: 2 * (opts.trackerIntervalSec ?? 1800) * 1000, onError, ...prefix });
  if (opts.openTracker === true) return { store, offers: undefined };
  try {
    return { store, offers: await SharedOffers.connect({ url, onError, ...prefix }) };
  } catch (err) {
    await store.close();
    throw err;
  }
}

function negotiate(accept: string | undefined, contentType: string): Representation {
  const own = contentType.split(';')[0]!.trim().toLowerCase();
  const offer = preferredOffer(accept, [own, BITTORRENT_MEDIA_TYPE, METAINFO_JSON_MEDIA_TYPE]);
  return offer === BITTORRENT_MEDIA_TYPE && own !== BITTORRENT_MEDIA_TYPE ? 'torrent' : offer === METAINFO_JSON_MEDIA_TYPE && own !== METAINFO_JSON_MEDIA_TYPE ? 'json' : 'bytes';
}

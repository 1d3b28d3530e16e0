import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { clip, toTorrenttpError } from '../errors/index.js';
import type { Metainfo } from '../metainfo/index.js';
import { interimSkippingConnector, loadUndici } from '../transport/index.js';
import { conditionalHeaders, evaluateConditionals, ifRangeHolds, type Validators } from './conditional.js';
import { GatewayError } from './errors.js';
import { silentGatewayLogger, type GatewayLogger } from './logger.js';
import { ProxyCache, type KnownUrl } from './proxy-cache.js';
import { originHeaders, proxyOffer, warmUp, type Prepared } from './proxy-offer.js';
import { JOIN_HEADER } from './media-type.js';
import { PassClient } from './pass-client.js';
import { passBody, passThrough, rawProblem, sendOpen, sendProblem, tunnel, VIA, type Sent } from './proxy-pass.js';
import { CONDITIONAL_FIELDS, endToEnd, hasPreconditions, headerValue, parseConnectTarget, parseProxyTarget, swarmEligible } from './proxy-request.js';
import { decideRange } from './range.js';
import { answerClientError } from './client-error.js';

/**
 * `torrenttp proxy`: an HTTP/1.1 forward proxy (RFC 9110 §3.7) that answers a program's GET from
 * the swarm whenever the origin offers a torrent of the file, and is an ordinary proxy for
 * everything else. For a swarm answer the program sees what the origin would have sent (`200`
 * or an exact `206`, `304`/`412`/`416` by the origin's validators, the origin's `Content-Length`,
 * `Content-Type`, `ETag`, `Last-Modified`), with bytes of verified pieces only, in order. If the
 * swarm and then the origin stall mid-body, the connection is cut: a short body never looks
 * complete (curl exits 18).
 *
 * - Pass-through (proxy-pass.ts): other methods, bodies, ineligible files, error statuses,
 *   redirects; `CONNECT` is a byte tunnel; protocol upgrades (websockets) are refused with 501.
 *   GETs and HEADs without a body go through the proxy's own client (pass-client.ts), the rest
 *   through node's.
 * - Negotiation (proxy-offer.ts) and the cache and shared downloads (proxy-cache.ts).
 * - Each request is one log line: method, URL, status, how it was served
 *   (`swarm`, `cache`, `passthrough`, `tunnel`, `refused`), bytes, milliseconds.
 */
export interface ProxyOptions {
  /** Default 127.0.0.1: an open proxy is anyone's. */
  readonly host?: string;
  /** Default 8118 (Privoxy's, which programs' docs use as the example proxy); 0 any free port. */
  readonly port?: number;
  readonly cacheDir: string;
  /** Default 10 GiB. */
  readonly cacheSizeBytes?: number;
  /** A URL's offer is trusted this long without asking the origin. Default 60 s. */
  readonly freshMs?: number;
  /** No byte for this long: the origin becomes a web seed; as long again: responses are cut short. Default 15 s. */
  readonly stallMs?: number;
  /** BitTorrent port; default 0 (any). */
  readonly peerPort?: number;
  /**
   * A program must send a request's head within this. Default 15 s (as `serve`); a slow upload
   * of a pass-through body is not limited.
   */
  readonly headersTimeoutMs?: number;
  readonly logger?: GatewayLogger;
  readonly now?: () => number;
}

export const DEFAULT_PROXY_PORT = 8118;
export const DEFAULT_PROXY_CACHE_BYTES = 10 * 1024 ** 3;
export const DEFAULT_PROXY_FRESH_MS = 60_000;
export const DEFAULT_PROXY_STALL_MS = 15_000;

/** The warm-up's fetch through the proxy's own server: what a start may take for it at most. */
const WARM_FETCH_MS = 5000;
const WARM_HEADER = 'x-torrenttp-warm-up';

const FILE_CHANGED = 'the file changed after its torrent was answered (its first piece has another ETag or length than the head sent)';
const NOT_THE_TORRENTS = "the origin's bytes are not the torrent's (the piece it sent failed its hash check)";
/** A URL found, within --fresh, to have no usable torrent: passed through without asking again. */
const KNOWN_PLAIN = 'no torrent for this URL (found within --fresh; not asked again)';

export type ServedBy = 'swarm' | 'cache' | 'passthrough' | 'tunnel' | 'refused';

export class Proxy {
  private readonly server: Server;
  private readonly logger: GatewayLogger;
  private readonly agent = new HttpAgent({ keepAlive: true });
  /** Pass-through GETs and HEADs (pass-client.ts); `agent` for the rest. */
  private readonly passClient = new PassClient();
  private bound: { host: string; port: number } = { host: '', port: 0 };
  private readonly sockets = new Set<Socket>();
  /** Marks the warm-up's own request (`WARM_HEADER`), which is not logged: no one else knows it. */
  private readonly warmToken = randomBytes(16).toString('hex');
  /** The warm-up request's handling, which may end after the program side saw the whole body. */
  private warmHandled: Promise<void> | undefined;

  private constructor(
    opts: ProxyOptions,
    readonly cache: ProxyCache,
    private readonly dispatcher: Dispatcher,
  ) {
    this.logger = opts.logger ?? silentGatewayLogger;
    const headersTimeout = opts.headersTimeoutMs ?? 15_000;
    // Node looks for expired heads every connectionsCheckingInterval (default 30 s: 45 s for a 15 s timeout).
    this.server = createServer({ headersTimeout, requestTimeout: 0, connectionsCheckingInterval: Math.min(5000, Math.max(100, Math.floor(headersTimeout / 4))) }, (req, res) => {
      const handled = this.onRequest(req, res).catch((err: unknown) => {
        const e = toTorrenttpError(err);
        this.logger.error({ err: e.message, code: e.code }, 'proxy request failed');
        if (!res.headersSent) sendProblem(res, e);
        else res.destroy();
      });
      if (req.headers[WARM_HEADER] === this.warmToken) this.warmHandled = handled;
    });
    // A program's FIN before its answer is done ends the request at once, its reader (the torrent's
    // stream) released: as Squid (`half_closed_clients off`, its default) and nginx
    // (`proxy_ignore_client_abort off`). TCP cannot tell a half-close (`printf … | nc -N`) from a
    // program that left, and one that left would hold its reader until `--stall` ends a stream
    // that waits on the swarm. Node's default (httpAllowHalfOpen false): serve keeps half-open.
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    this.server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => void this.onConnect(req, socket, head));
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket) => this.onUpgrade(req, socket));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket));
  }

  static async start(opts: ProxyOptions): Promise<Proxy> {
    const undici = await loadUndici();
    // Its connections skip interim (1xx) answers: undici fails a request on an unasked 100 Continue (tracker/undici.ts).
    const dispatcher = new undici.Agent({ connections: 32, connect: await interimSkippingConnector() });
    let cache: ProxyCache;
    try {
      cache = await ProxyCache.open({
        dir: opts.cacheDir,
        dispatcher,
        sizeBytes: opts.cacheSizeBytes ?? DEFAULT_PROXY_CACHE_BYTES,
        freshMs: opts.freshMs ?? DEFAULT_PROXY_FRESH_MS,
        stallMs: opts.stallMs ?? DEFAULT_PROXY_STALL_MS,
        ...(opts.peerPort === undefined ? {} : { peerPort: opts.peerPort }),
        ...(opts.logger === undefined ? {} : { logger: opts.logger }),
        ...(opts.now === undefined ? {} : { now: opts.now }),
      });
    } catch (err) {
      await dispatcher.close();
      throw err;
    }
    const proxy = new Proxy(opts, cache, dispatcher);
    try {
      await cache.client.listen();
      const host = opts.host ?? '127.0.0.1';
      const port = opts.port ?? DEFAULT_PROXY_PORT;
      proxy.server.listen(port, host);
      // `once(server, 'listening')` alone would reject with the bare listen error: one promise
      // for both, so a port in use is GATEWAY_BIND_FAILED naming the address, as serve says it.
      await new Promise<void>((resolve, reject) => {
        proxy.server.once('listening', resolve);
        proxy.server.once('error', (cause: Error) => reject(new GatewayError('GATEWAY_BIND_FAILED', { detail: `tcp ${host}:${port}`, cause })));
      });
      const a = proxy.server.address() as AddressInfo;
      proxy.bound = { host: a.address, port: a.port };
      // Listening already: the warm-up's last fetch goes through the proxy's own server (proxy-offer.ts).
      await warmUp(dispatcher, (url) => proxy.warmFetch(url));
    } catch (err) {
      await proxy.close();
      throw err;
    }
    return proxy;
  }

  get address(): { host: string; port: number } {
    return this.bound;
  }

  /** `http://host:port`, for `curl -x` and `http_proxy`: on all addresses, loopback's (as `Gateway.url`). */
  get url(): string {
    const { host } = this.bound;
    const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
    return `http://${h}:${this.bound.port}`;
  }

  get peerPort(): number {
    return this.cache.port;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    if (this.server.listening) await closed;
    this.agent.destroy();
    this.passClient.destroy();
    await Promise.allSettled([this.dispatcher.close(), this.cache.close()]);
  }

  /**
   * The warm-up's cold fetch (`warmUp`): a GET of `url` through this proxy's own server, as a
   * program's, unlogged; its torrent is then removed from the cache. At most `WARM_FETCH_MS`.
   */
  private async warmFetch(url: string): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest({ host: this.bound.host, port: this.bound.port, path: url, agent: false, timeout: WARM_FETCH_MS, headers: { [WARM_HEADER]: this.warmToken } }, (res) => {
          res.resume();
          res.once('end', resolve).once('error', reject);
        });
        req.once('timeout', () => req.destroy(new Error('warm-up timed out')));
        req.once('error', reject).end();
      });
    } finally {
      // Its reader released (the proxy's side done), so that the torrent can go.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.warmHandled, new Promise<void>((resolve) => (timer = setTimeout(resolve, WARM_FETCH_MS)))]);
      clearTimeout(timer);
      await this.cache.discard(url);
    }
  }

  private log(req: IncomingMessage, target: string, how: ServedBy, sent: Sent, started: number, extra: object = {}): void {
    if (req.headers[WARM_HEADER] === this.warmToken) return;
    const ms = Math.round(performance.now() - started);
    this.logger.info({ method: req.method, url: clip(target, 500), status: sent.status, how, bytes: sent.bytes, ms, ...extra }, `${req.method} ${clip(target)} ${sent.status} ${how}`);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const raw = req.url ?? '';
    let url: URL;
    try {
      url = parseProxyTarget(raw).url;
    } catch (err) {
      const e = toTorrenttpError(err);
      sendProblem(res, e);
      this.log(req, raw, 'refused', { status: e.status, bytes: 0 }, started, { code: e.code });
      return;
    }
    const href = url.href;
    if (req.method === 'HEAD') {
      const known = this.cache.fresh(href);
      if (known !== undefined && known !== 'plain') {
        const sent = this.answerHead(req, res, known);
        this.log(req, href, 'cache', sent, started);
        return;
      }
    }
    if (!swarmEligible(req.method, req.headers)) {
      this.log(req, href, 'passthrough', await passThrough(req, res, url, this.agent, this.passClient), started);
      return;
    }
    let known = this.cache.fresh(href);
    if (known === undefined) {
      const reusable = ![...CONDITIONAL_FIELDS].some((f) => req.headers[f] !== undefined);
      const preconditions = hasPreconditions(req.headers);
      const headers = negotiationHeaders(req);
      let offer;
      try {
        // The torrent's storage opens while the origin confirms the offer: on a cold fetch, with
        // the piece under the program's position (proxy-early.ts), whose answer has the facts.
        // A request with preconditions, or a Range past the file's end, may be answered without a
        // byte of the body (304, 412, 416): nothing is opened or asked until the origin's facts
        // (from a HEAD, proxy-offer.ts) say it is sent; then it is prepared (`answerFromSwarm`).
        // A program's request that will open the torrent says so (`TorrentTTP-Join`): an origin
        // that answers it is alone (`TorrentTTP-Swarm-Peers: 0`) has the stream start at once.
        const onTorrent = (m: Metainfo, peers: readonly string[], confirm: readonly string[], swarmPeers: number | undefined): Prepared => {
          const r = decideRange(headerValue(req.headers.range), m.length);
          if (preconditions || r.type === 'unsatisfiable') return { undo: () => undefined };
          return this.cache.prepare(m, href, peers, r.type === 'partial' ? r.start : 0, confirm, swarmPeers === 0);
        };
        // A plain GET (`reusable`: no Range or conditionals) gets its head as the torrent arrives
        // when the origin announced the bytes' head with it (`announced`, proxy-offer.ts).
        offer = await proxyOffer(href, { dispatcher: this.dispatcher, headers, accept: headerValue(req.headers.accept), reusable, announced: reusable, join: !preconditions, onTorrent });
      } catch (err) {
        const e = toTorrenttpError(err);
        sendProblem(res, e);
        this.log(req, href, 'passthrough', { status: e.status, bytes: 0 }, started, { code: e.code });
        return;
      }
      if (offer.kind === 'plain') {
        if (offer.reason !== 'the server is still making the torrent') this.cache.rememberPlain(href);
        const sent = offer.response === undefined ? await passThrough(req, res, url, this.agent, this.passClient) : await sendOpen(res, offer.response);
        this.log(req, href, 'passthrough', sent, started, { why: offer.reason });
        return;
      }
      known = this.cache.remember(href, offer.metainfo, offer.file, offer.peers, offer.sameFile);
      if (offer.prepare !== undefined) {
        try {
          await this.answerFromSwarm(req, res, url, known, started, offer.prepare);
        } finally {
          offer.prepare(); // once only: a no-op unless the answer failed before the head (sameFile must settle)
        }
        return;
      }
    }
    if (known === 'plain') {
      // docs/proxy.md: every GET passed through says why, this one too (else a log reader sees the first say it and the next not).
      this.log(req, href, 'passthrough', await passThrough(req, res, url, this.agent, this.passClient), started, { why: KNOWN_PLAIN });
      return;
    }
    await this.answerFromSwarm(req, res, url, known, started);
  }

  private validators(k: KnownUrl): Validators {
    const lm = k.file.lastModified === undefined ? NaN : Date.parse(k.file.lastModified);
    return { etag: k.file.etag ?? '', lastModifiedSec: Number.isNaN(lm) ? NaN : Math.floor(lm / 1000) };
  }

  private fileHeaders(k: KnownUrl): Record<string, string> {
    const h: Record<string, string> = { 'content-type': k.file.contentType, 'accept-ranges': 'bytes', via: VIA };
    if (k.file.etag !== undefined) h.etag = k.file.etag;
    if (k.file.lastModified !== undefined) h['last-modified'] = k.file.lastModified;
    return h;
  }

  private answerHead(req: IncomingMessage, res: ServerResponse, k: KnownUrl): Sent {
    const cond = this.conditional(req, k);
    if (cond !== 'send') return this.notSent(res, k, cond);
    const range = this.range(req, k);
    if (range.type === 'unsatisfiable') return this.unsatisfiable(res, k);
    const status = range.type === 'partial' ? 206 : 200;
    const start = range.type === 'partial' ? range.start : 0;
    const end = range.type === 'partial' ? range.end : k.file.length - 1;
    res.writeHead(status, { ...this.fileHeaders(k), 'content-length': end - start + 1, ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${k.file.length}` } : {}) });
    res.end();
    return { status, bytes: 0 };
  }

  private conditional(req: IncomingMessage, k: KnownUrl): 'send' | 304 | 412 {
    return evaluateConditionals(conditionalHeaders(req.headers), this.validators(k));
  }

  private range(req: IncomingMessage, k: KnownUrl): ReturnType<typeof decideRange> {
    return ifRangeHolds(headerValue(req.headers['if-range']), this.validators(k)) ? decideRange(headerValue(req.headers.range), k.file.length) : { type: 'whole' };
  }

  private notSent(res: ServerResponse, k: KnownUrl, cond: 304 | 412): Sent {
    if (cond === 412) {
      sendProblem(res, new GatewayError('GATEWAY_PRECONDITION_FAILED'));
      return { status: 412, bytes: 0 };
    }
    const h = this.fileHeaders(k);
    delete h['content-type'];
    delete h['accept-ranges'];
    res.writeHead(304, h);
    res.end();
    return { status: 304, bytes: 0 };
  }

  private unsatisfiable(res: ServerResponse, k: KnownUrl): Sent {
    sendProblem(res, new GatewayError('GATEWAY_RANGE_NOT_SATISFIABLE'), { 'content-range': `bytes */${k.file.length}` });
    return { status: 416, bytes: 0 };
  }

  /**
   * `prepare`: an offer taken on the head the torrent's answer announced (proxy-offer.ts), nothing
   * of it opened or asked yet: called once the head is out (or once the answer is decided without
   * a body), so that the open and the first piece's `GET` do not delay the head.
   */
  private async answerFromSwarm(req: IncomingMessage, res: ServerResponse, url: URL, k: KnownUrl, started: number, prepare?: () => void): Promise<void> {
    const href = url.href;
    const cond = this.conditional(req, k);
    if (cond !== 'send') {
      this.log(req, href, 'cache', this.notSent(res, k, cond), started);
      prepare?.();
      return;
    }
    const range = this.range(req, k);
    if (range.type === 'unsatisfiable') {
      this.log(req, href, 'cache', this.unsatisfiable(res, k), started);
      prepare?.();
      return;
    }
    const size = k.file.length;
    const start = range.type === 'partial' ? range.start : 0;
    const end = range.type === 'partial' ? range.end : size - 1;
    const status = range.type === 'partial' ? 206 : 200;
    // Nothing of the torrent held (its offer was confirmed by a HEAD without preparing it, for a
    // request that might have been a 304, or it was evicted since): prepared as on a cold fetch,
    // so that the program's first piece and the lone stream are asked now.
    if (prepare === undefined && !this.cache.holds(k.metainfo.infoHash)) this.cache.prepare(k.metainfo, href, k.peers, start, originHeaders(negotiationHeaders(req))).first?.catch(() => undefined);
    const how: ServedBy = size === 0 || this.cache.has(k, start, end) ? 'cache' : 'swarm';
    // The status line and headers go out at once: they are the origin's facts from the offer, and
    // the program's first byte need not wait for the torrent's storage to open.
    res.writeHead(status, { ...this.fileHeaders(k), 'content-length': end - start + 1, ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}) });
    res.flushHeaders();
    prepare?.();
    const result = await this.cache.pump(k, start, end, res);
    if (result.end === 'changed') {
      // The head went out with the facts the torrent's answer announced, and the origin's first
      // piece says the file changed since: no byte of it matches that head. Cut short; the next
      // request negotiates afresh.
      this.logger.warn({ url: href }, FILE_CHANGED);
      this.cache.forget(href);
      res.destroy();
      this.log(req, href, 'swarm', { status, bytes: 0 }, started, { why: FILE_CHANGED, cut: 'changed' });
      return;
    }
    if (result.end === 'unopened' || result.end === 'broken' || result.end === 'mismatch') {
      // The torrent could not be opened (cache folder, storage), it failed under the reader (the
      // cache's disk full, a write refused: the bytes sent so far were verified), or the origin's first piece
      // failed its hash check after the headers went out (the URL's bytes are not the
      // torrent's): the origin sends the rest of the body, if it answers with exactly that range
      // of the file the headers named (its length and ETag); else the response is cut short.
      let extra: object;
      if (result.end === 'mismatch') {
        extra = { why: NOT_THE_TORRENTS };
        this.logger.warn({ url: href }, `${NOT_THE_TORRENTS}: passing through`);
        this.cache.rememberPlain(href);
      } else {
        const e = toTorrenttpError(result.error);
        extra = { code: e.code };
        this.logger.warn({ err: e.message, code: e.code, url: href }, result.end === 'broken' ? `the cache failed after ${result.bytes} bytes of the body: the origin sends the rest` : 'swarm unavailable, passing through');
        this.cache.forget(href);
      }
      const from = start + result.bytes;
      const sent = from > end ? { status, bytes: 0 } : await passBody(res, url, from, end, size, k.file.etag, this.agent);
      const whole = result.bytes + sent.bytes === end - start + 1;
      if (whole) res.end();
      else res.destroy();
      this.log(req, href, 'passthrough', { status, bytes: result.bytes + sent.bytes }, started, whole ? extra : { ...extra, cut: 'origin' });
      return;
    }
    if (result.end === 'complete') res.end();
    else res.destroy();
    this.log(req, href, how, { status, bytes: result.bytes }, started, result.end === 'complete' ? {} : { cut: result.end });
  }

  private async onConnect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const started = performance.now();
    const raw = req.url ?? '';
    socket.on('error', () => undefined);
    let target: { host: string; port: number };
    try {
      target = parseConnectTarget(raw);
    } catch (err) {
      const e = toTorrenttpError(err);
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      this.log(req, raw, 'refused', { status: 400, bytes: 0 }, started, { code: e.code });
      return;
    }
    this.log(req, raw, 'tunnel', await tunnel(socket, head, target.host, target.port), started);
  }

  private onUpgrade(req: IncomingMessage, socket: Socket): void {
    const e = new GatewayError('GATEWAY_PROXY_UPGRADE', { detail: `Upgrade: ${clip(String(req.headers.upgrade), 40)}` });
    socket.on('error', () => undefined);
    socket.end(rawProblem(e, '501 Not Implemented'));
    this.log(req, req.url ?? '', 'refused', { status: 501, bytes: 0 }, performance.now(), { code: e.code });
  }
}

/**
 * The program's end-to-end request headers for the origin, without those the proxy sets or
 * answers itself (`Accept`, `Range`, conditionals, `TorrentTTP-Join`); proxy-offer.ts's
 * `originHeaders` adds `Accept: *\/*` for the origin's bytes.
 */
function negotiationHeaders(req: IncomingMessage): string[] {
  const headers = endToEnd(req.rawHeaders, new Set(['host', 'accept', 'via', JOIN_HEADER, ...CONDITIONAL_FIELDS]));
  headers.push('via', VIA);
  return headers;
}

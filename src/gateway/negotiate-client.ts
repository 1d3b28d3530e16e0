import type { Agent as HttpAgent, InformationEvent, RequestOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Dispatcher } from 'undici';
import type { Metainfo } from '../metainfo/index.js';
import { METAINFO_JSON_MEDIA_TYPE } from '../metainfo/media-type.js';
import { BITTORRENT_MEDIA_TYPE, JOIN_HEADER, SEED_HEADER, SWARM_PEERS_HEADER } from './media-type.js';
import { loadUndici, nodeGet } from '../transport/http-fetch.js';
import { hostPort, parseHostPort } from '../transport/peer-address.js';
import { TorrenttpError, type ErrorCode } from '../errors/index.js';
import { GatewayError } from './errors.js';
import { headersFor } from './redirect-headers.js';
import { GetFailure } from './get-io.js';

/**
 * The client side of transparent BitTorrent (`torrenttp get`): one GET that asks for the torrent
 * first and takes whatever the server answers.
 *
 * - `Accept: application/x-bittorrent, application/vnd.torrenttp.metainfo+json;q=0.9, *\/*;q=0.1`:
 *   a `serve` answers an eligible file with its torrent, anything else with the bytes (RFC 9110
 *   §12.5.1), so a server that knows nothing of torrents costs no extra round trip.
 * - A torrent answer that cannot be used (past `OFFERED_METAINFO_MAX_BYTES`, malformed): the
 *   bytes, asked for again with `Accept: *\/*`, the reason in the get's start line.
 * - Bytes with `Link: <…>; rel="describedby"; type="application/x-bittorrent"` (RFC 6249): the
 *   torrent is fetched from the link; the bytes' response stays open for a plain fallback.
 * - serve's `503` to the torrent request while it hashes the file (`isHashingAnswer`): the bytes,
 *   at once, rather than waiting for the torrent: a plain download is never slower than plain
 *   HTTP. Any other 503 is an error status as any other (`--retry` takes it).
 * - A torrent answer's `TorrentTTP-Seed: host:port` (`serve` names its own seed there) becomes
 *   the offer's `peers`: the download dials it at once instead of waiting for a tracker.
 * - Redirects are followed (at most `MAX_REDIRECTS`, as curl's `-L` default of 50 is more than any
 *   real chain needs); an error status is a `GATEWAY_GET_HTTP_STATUS` naming it.
 */
export const GET_ACCEPT = `${BITTORRENT_MEDIA_TYPE}, ${METAINFO_JSON_MEDIA_TYPE};q=0.9, */*;q=0.1`;

/**
 * The negotiation's `Accept` for a client that sent its own (a proxy's program, `get -H
 * 'Accept: …'`): the swarm's media types in front of it, so that the plain answer, when no
 * torrent is offered, is the one the client asked for. None or `*\/*`: `GET_ACCEPT`.
 */
export function negotiationAccept(clientAccept: string | undefined): string {
  const a = clientAccept?.trim();
  if (a === undefined || a === '' || a === '*/*') return GET_ACCEPT;
  return `${BITTORRENT_MEDIA_TYPE}, ${METAINFO_JSON_MEDIA_TYPE};q=0.9, ${a}`;
}

/** Browsers stop at 20 redirects (Chromium's kMaxRedirects); so do we. */
const MAX_REDIRECTS = 20;
/** A body dropped unread is read out up to this much, to keep the connection (undici's own default). */
const DUMP_LIMIT_BYTES = 128 * 1024;

/** An open response whose body has not been read. */
export interface OpenResponse {
  /** The URL that answered, after redirects. */
  readonly url: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Readable;
}

/**
 * One response's head as it came, with the request that got it (each hop of a redirect, the
 * torrent's answer, a resuming request): what `get -I` and `-D` print, `-v` shows and `-w` reads.
 */
export interface ResponseHead {
  readonly method: string;
  readonly url: string;
  /** The request's fields as sent (besides node's own `Host` and `Connection`). */
  readonly requestHeaders: Readonly<Record<string, string>>;
  readonly httpVersion: string;
  readonly status: number;
  readonly statusMessage: string;
  /** Name, value, name, value…, as the server sent them (case and order kept). */
  readonly rawHeaders: readonly string[];
  /** An interim answer (1xx) to the same request came before this head, and was told with the request. */
  readonly afterInterim?: boolean;
}

export type Offer =
  | {
      readonly kind: 'torrent';
      readonly metainfo: Metainfo;
      readonly from: string;
      readonly via: 'accept' | 'link';
      /** Wire peers the answer named (`TorrentTTP-Seed`), `host:port`. */
      readonly peers: readonly string[];
      /** Peers besides those the server's tracker knows (`TorrentTTP-Swarm-Peers`); undefined when it did not say. */
      readonly swarmPeers: number | undefined;
    }
  | { readonly kind: 'plain'; readonly response: OpenResponse; readonly reason: string };

export interface NegotiateOptions {
  /**
   * undici's dispatcher to send the requests through (the proxy's pool). Without it, node's own
   * http(s) client over `agents` (a `get`: no undici to compile before its first byte, and node's
   * native HTTP parser costs a plain body ~0.15 s less CPU per 256 MiB than undici's).
   */
  readonly dispatcher?: Dispatcher;
  /** Keep-alive agents for node's client; default node's global ones. */
  readonly agents?: NodeAgents;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Ask only for the bytes (`--no-swarm`). */
  readonly plainOnly?: boolean;
  /** About to join the swarm (`get`): ask the torrent's answer for its peer count (`JOIN_HEADER`). */
  readonly join?: boolean;
  /** `HEAD` (`get -I`); default `GET`. */
  readonly method?: 'GET' | 'HEAD';
  /** Told each response's head as it comes, before its body is read. */
  readonly onHead?: (head: ResponseHead) => void;
}

/** GET with the swarm's Accept and classify the answer. */
export async function negotiate(url: string, opts: NegotiateOptions): Promise<Offer> {
  if (opts.plainOnly === true) return { kind: 'plain', response: await requestOk(url, opts, {}), reason: '--no-swarm' };
  const accept = Object.entries(opts.headers ?? {}).find(([name]) => name.toLowerCase() === 'accept')?.[1];
  const first = await request(url, opts, { accept: negotiationAccept(accept), ...joining(opts) });
  if (await isHashingAnswer(first)) {
    // serve is still hashing the file: take the bytes now. Any other 503 (an origin overloaded) is
    // the error it is, for `--retry` to see without a second request.
    return { kind: 'plain', response: await requestOk(url, opts, { accept: '*/*' }), reason: 'the server is still making the torrent' };
  }
  await assertOk(first);
  const type = mediaType(first.headers['content-type']);
  if (type === BITTORRENT_MEDIA_TYPE || type === METAINFO_JSON_MEDIA_TYPE) {
    let metainfo: Metainfo;
    try {
      metainfo = await parseMetainfo(type, await readSmall(first));
    } catch (err) {
      // A torrent too large or malformed: the bytes plainly, as the proxy passes the URL through.
      // A get is never worse than plain HTTP.
      if (opts.signal?.aborted === true || !(err instanceof TorrenttpError) || err.side !== 'remote') throw err;
      await discard(first);
      return { kind: 'plain', response: await requestOk(url, opts, { accept: '*/*' }), reason: `the offered torrent is unusable: ${err.message} [${err.code}]` };
    }
    return { kind: 'torrent', metainfo, from: first.url, via: 'accept', peers: seedPeers(first.headers[SEED_HEADER]), swarmPeers: swarmPeers(first.headers[SWARM_PEERS_HEADER]) };
  }
  const link = describedBy(first.headers.link, first.url);
  if (link !== undefined) {
    const offer = await fetchLinked(link, opts);
    if (offer !== undefined) {
      await discard(first);
      return offer;
    }
    return { kind: 'plain', response: first, reason: 'the linked torrent could not be fetched' };
  }
  return { kind: 'plain', response: first, reason: 'the server offers no torrent for this URL' };
}

/** serve's hashing problem document is ~150 bytes; a 503 body past this is not it. */
const HASHING_ANSWER_MAX_BYTES = 4096;

/**
 * Whether an answer is serve's while it hashes the file (gateway.ts `serveMetainfo`): `503`, a
 * problem document (`application/problem+json`, its length declared) coded `GATEWAY_HASHING`.
 * Only such a 503 body is read (and with it, whatever the answer, dropped); any other answer is
 * left unread.
 */
export async function isHashingAnswer(res: OpenResponse): Promise<boolean> {
  // tracker's PROBLEM_CONTENT_TYPE, spelled here: a get does not compile the tracker.
  if (res.status !== 503 || mediaType(res.headers['content-type']) !== 'application/problem+json') return false;
  const declared = Number(res.headers['content-length'] ?? Number.NaN);
  if (!(declared <= HASHING_ANSWER_MAX_BYTES)) return false;
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) chunks.push(chunk);
    const doc: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof doc === 'object' && doc !== null && (doc as { code?: unknown }).code === ('GATEWAY_HASHING' satisfies ErrorCode);
  } catch {
    return false;
  }
}

/**
 * A GET that must succeed (2xx), for the plain download. A `416` is an error status as any other:
 * `get -r 99999999-` past the end exits 22 (curl -f's), where it saved the server's problem
 * document as the file and exited 0.
 */
export async function requestOk(url: string, opts: NegotiateOptions, headers: Record<string, string>): Promise<OpenResponse> {
  const res = await request(url, opts, headers);
  await assertOk(res);
  return res;
}

/** A resume's `Range: bytes=N-` GET: 2xx, or the `416` its caller reads (the file on disk whole already, or not the server's). */
export async function requestResume(url: string, opts: NegotiateOptions, headers: Record<string, string>): Promise<OpenResponse> {
  const res = await request(url, opts, headers);
  if (res.status !== 416) await assertOk(res);
  return res;
}

/** Drops a response body: a small one is read out (the connection is reused), a big one cut off. */
export async function discard(res: OpenResponse): Promise<void> {
  res.body.on('error', () => undefined);
  const body = res.body as Readable & { dump?: (opts: { limit: number }) => Promise<void> };
  if (body.dump !== undefined) {
    await body.dump({ limit: DUMP_LIMIT_BYTES }).catch(() => undefined);
    return;
  }
  // node's IncomingMessage: read out when its length is known and small, else cut off.
  const length = Number(res.headers['content-length'] ?? Number.NaN);
  if (!body.readableEnded && length <= DUMP_LIMIT_BYTES) {
    body.resume();
    await finished(body).catch(() => undefined);
  } else {
    body.destroy();
  }
}

export async function fetchLinked(url: string, opts: NegotiateOptions): Promise<Offer | undefined> {
  let res: OpenResponse;
  try {
    res = await request(url, opts, { accept: `${BITTORRENT_MEDIA_TYPE}, ${METAINFO_JSON_MEDIA_TYPE};q=0.9`, ...joining(opts) });
  } catch (err) {
    if (opts.signal?.aborted === true) throw err;
    return undefined;
  }
  const type = mediaType(res.headers['content-type']);
  if (res.status !== 200 || (type !== BITTORRENT_MEDIA_TYPE && type !== METAINFO_JSON_MEDIA_TYPE)) {
    await discard(res);
    return undefined;
  }
  let metainfo: Metainfo;
  try {
    metainfo = await parseMetainfo(type, await readSmall(res));
  } catch (err) {
    // A linked torrent that is no torrent: the bytes' answer is still there to download plainly.
    if (opts.signal?.aborted === true || !(err instanceof TorrenttpError) || err.side !== 'remote') throw err;
    return undefined;
  }
  return { kind: 'torrent', metainfo, from: res.url, via: 'link', peers: seedPeers(res.headers[SEED_HEADER]), swarmPeers: swarmPeers(res.headers[SWARM_PEERS_HEADER]) };
}

function joining(opts: NegotiateOptions): Record<string, string> {
  return opts.join === true ? { [JOIN_HEADER]: '1' } : {};
}

/** `TorrentTTP-Swarm-Peers`: a count of 1 to 9 digits, else undefined (absent, repeated, malformed). */
export function swarmPeers(header: string | string[] | undefined): number | undefined {
  return typeof header === 'string' && /^\s*[0-9]{1,9}\s*$/.test(header) ? Number(header) : undefined;
}

/** At most this many peers are taken from `TorrentTTP-Seed`, from its first this many characters. */
const MAX_SEED_PEERS = 4;
const MAX_SEED_HEADER = 1024;

/**
 * The wire peers of `TorrentTTP-Seed` (`host:port` or `[v6]:port`, comma-separated, BEP 9's `x.pe`
 * forms), normalized; malformed entries and port 0 are skipped, a long header is cut.
 */
export function seedPeers(header: string | string[] | undefined): string[] {
  const text = (Array.isArray(header) ? header.join(',') : header ?? '').slice(0, MAX_SEED_HEADER);
  const out: string[] = [];
  for (const entry of text.split(',')) {
    const hp = parseHostPort(entry.trim());
    if (hp === undefined || hp.port === 0) continue;
    const peer = hostPort(hp.host, hp.port);
    if (!out.includes(peer)) out.push(peer);
    if (out.length === MAX_SEED_PEERS) break;
  }
  return out;
}

/**
 * The seeds to dial plain (`AddOptions.plainPeers`): those the server named (`TorrentTTP-Seed`)
 * when it answered with the torrent over plain http:. Its seed serves the bytes its HTTP serves
 * in the clear, and whoever watches the wire saw the torrent asked for by name, so RC4 (MSE/PE)
 * would hide nothing, and it costs each side about 1.2 s of CPU per GiB, as much as the rest of a loopback download's main thread (docs/cli.md, "get against
 * curl"). Over https the policy stays: there the wire link would be the only one an observer can
 * read. The proxy's swarm downloads use it: its one Client serves http: and https: origins alike,
 * where `get` sets its whole swarm's policy by the URL (swarm-get.ts `swarmEncryptionOf`).
 */
export function plainSeeds(offer: { readonly from: string; readonly peers: readonly string[] }): readonly string[] {
  return /^http:/i.test(offer.from) ? offer.peers : [];
}

/**
 * node's http and https keep-alive agents, one each, made on first use (`node:https` and with it
 * TLS are loaded only for an https URL); `destroy` closes their sockets. `connectTimeoutMs`
 * (`get --connect-timeout`, as curl's): each new connection must be made within it, the name
 * looked up, TCP connected and, for https, the TLS handshake done, else it is destroyed with
 * `ETIMEDOUT` (a `GetFailure`); a connection once made has no such limit.
 */
export class NodeAgents {
  private readonly made = new Map<string, HttpAgent>();

  constructor(private readonly connectTimeoutMs?: number) {}

  async for(protocol: string): Promise<HttpAgent> {
    let agent = this.made.get(protocol);
    if (agent === undefined) {
      const mod = protocol === 'https:' ? await import('node:https') : await import('node:http');
      agent = this.made.get(protocol) ?? new mod.Agent({ keepAlive: true, keepAliveMsecs: 10_000 });
      if (this.connectTimeoutMs !== undefined) limitConnect(agent, this.connectTimeoutMs, protocol === 'https:' ? 'secureConnect' : 'connect');
      this.made.set(protocol, agent);
    }
    return agent;
  }

  destroy(): void {
    for (const agent of this.made.values()) agent.destroy();
    this.made.clear();
  }
}

/** `agent`'s new sockets are destroyed with `ETIMEDOUT` unless they emit `ready` within `ms`. */
function limitConnect(agent: HttpAgent, ms: number, ready: 'connect' | 'secureConnect'): void {
  const create = (agent as unknown as { createConnection: (...args: unknown[]) => Socket }).createConnection.bind(agent);
  (agent as unknown as { createConnection: (...args: unknown[]) => Socket }).createConnection = (...args: unknown[]): Socket => {
    const socket = create(...args);
    const timer = setTimeout(() => socket.destroy(new GetFailure('ETIMEDOUT', `no connection within ${ms / 1000} s (--connect-timeout)`)), ms);
    const done = (): void => clearTimeout(timer);
    socket.once(ready, done);
    socket.once('close', done);
    return socket;
  };
}

type Answer = Omit<OpenResponse, 'url'> & { readonly httpVersion: string; readonly statusMessage: string; readonly rawHeaders: readonly string[]; readonly afterInterim?: boolean };

/**
 * One GET (or HEAD) with node's http(s) client (keep-alive agents when the get gave them); the
 * body is the `IncomingMessage`. Interim answers (1xx, which node skips) are told to `opts.onHead`
 * as they come, as curl's `-D` and `-v` show them.
 */
async function getWithNode(url: string, headers: Record<string, string>, opts: NegotiateOptions): Promise<Answer> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported protocol ${u.protocol}`);
  const options: RequestOptions = { headers, method: opts.method ?? 'GET', ...(opts.signal === undefined ? {} : { signal: opts.signal }) };
  if (opts.agents !== undefined) options.agent = await opts.agents.for(u.protocol);
  let afterInterim = false;
  const onHead = opts.onHead;
  const onInterim = onHead === undefined ? undefined : (i: InformationEvent): void => {
    onHead({ method: options.method!, url, requestHeaders: headers, httpVersion: i.httpVersion, status: i.statusCode, statusMessage: i.statusMessage, rawHeaders: i.rawHeaders, ...(afterInterim ? { afterInterim } : {}) });
    afterInterim = true;
  };
  const res = await nodeGet(u, options, onInterim);
  return { status: res.statusCode ?? 0, headers: res.headers, body: res, httpVersion: res.httpVersion, statusMessage: res.statusMessage ?? '', rawHeaders: res.rawHeaders, ...(afterInterim ? { afterInterim } : {}) };
}

async function request(url: string, opts: NegotiateOptions, headers: Record<string, string>): Promise<OpenResponse> {
  const undici = opts.dispatcher === undefined ? undefined : await loadUndici();
  let current = url;
  for (let hop = 0; ; hop++) {
    let res: Answer;
    // The user's credentials only on the URL's own origin (a redirect elsewhere gets the rest).
    const all = { 'user-agent': 'torrenttp', ...headersFor(opts.headers, url, current), ...headers };
    try {
      if (undici === undefined) {
        res = await getWithNode(current, all, opts);
      } else {
        const r = await undici.request(current, { method: opts.method ?? 'GET', headers: all, dispatcher: opts.dispatcher, ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
        // The head as sent is only for a caller that asks (`onHead`): the proxy's requests do not pay for it.
        const told = opts.onHead !== undefined;
        const rawHeaders = told ? Object.entries(r.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.flatMap((one) => [k, one]) : v === undefined ? [] : [k, v])) : [];
        res = { status: r.statusCode, headers: r.headers, body: r.body, httpVersion: '1.1', statusMessage: told ? statusText(r.statusCode) : '', rawHeaders };
      }
    } catch (cause) {
      if (opts.signal?.aborted === true) throw cause;
      if (isEmptyReply(cause)) {
        const detail = `${current}: empty reply from the server (it closed the connection without answering)`;
        throw new GatewayError('GATEWAY_GET_FAILED', { detail, cause: new GetFailure('ERR_GET_EMPTY_REPLY', detail, { cause }) });
      }
      throw new GatewayError('GATEWAY_GET_FAILED', { detail: `${current}: ${causeText(cause)}`, cause });
    }
    opts.onHead?.({ method: opts.method ?? 'GET', url: current, requestHeaders: all, httpVersion: res.httpVersion, status: res.status, statusMessage: res.statusMessage, rawHeaders: res.rawHeaders, ...(res.afterInterim === true ? { afterInterim: true } : {}) });
    const location = res.headers.location;
    if ([301, 302, 303, 307, 308].includes(res.status) && typeof location === 'string') {
      await discard({ url: current, status: res.status, headers: res.headers, body: res.body });
      if (hop >= MAX_REDIRECTS) {
        const detail = `more than ${MAX_REDIRECTS} redirects from ${url}`;
        throw new GatewayError('GATEWAY_GET_BAD_ANSWER', { detail, cause: new GetFailure('ERR_GET_REDIRECTS', detail) });
      }
      // A Location that is no URL (`http://[bad`) fails typed and says what it was: it was node's
      // bare "Invalid URL", with no code and no URL (curl: exit 3, "URL using bad/illegal format").
      const next = URL.canParse(location, current) ? new URL(location, current).href : undefined;
      if (next === undefined) throw new GatewayError('GATEWAY_GET_BAD_ANSWER', { detail: `${current} redirects (${res.status}) to ${JSON.stringify(location.slice(0, 200))}, which is not a URL` });
      current = next;
      continue;
    }
    return { url: current, status: res.status, headers: res.headers, body: res.body };
  }
}

/**
 * node's error for a connection that ended before any answer came (`socket hang up`, coded
 * `ECONNRESET` though nothing was reset): curl's "empty reply from server". A reset one says
 * `read ECONNRESET`.
 */
function isEmptyReply(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; syscall?: unknown } | null;
  return e?.code === 'ECONNRESET' && e.message === 'socket hang up' && e.syscall === undefined;
}

/** A 2xx passes; any other status is dropped and thrown as `GATEWAY_GET_HTTP_STATUS` (exit 22). */
export async function assertOk(res: OpenResponse): Promise<void> {
  if (res.status >= 200 && res.status < 300) return;
  await discard(res);
  const detail = `${res.status} ${statusText(res.status)} for ${res.url}`;
  const retryAfter = res.headers['retry-after'];
  const cause = new GetFailure('ERR_GET_STATUS', detail, { status: res.status, ...(typeof retryAfter === 'string' ? { retryAfter } : {}) });
  throw new GatewayError('GATEWAY_GET_HTTP_STATUS', { detail, cause });
}

/** The reason phrases curl and wget show, for the statuses a download meets. */
export function statusText(status: number): string {
  const texts: Record<number, string> = {
    304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
    406: 'Not Acceptable', 410: 'Gone', 412: 'Precondition Failed', 416: 'Range Not Satisfiable', 429: 'Too Many Requests',
    500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
  };
  return texts[status] ?? (status >= 500 ? 'server error' : status >= 400 ? 'client error' : 'unexpected status');
}

export function mediaType(value: string | string[] | undefined): string {
  const v = Array.isArray(value) ? value[0] : value;
  return (v ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * The largest torrent an HTTP answer may offer a get or the proxy (libtorrent's
 * `load_torrent_limits::max_buffer_size` is 10 MB): serve's torrent of a 1 TiB file at 16 MiB
 * pieces is ~1.3 MB, one of 256 KiB pieces of 50 GiB ~4 MB. A larger one is not waited for
 * (`MAX_METAINFO_BYTES`, 96 MiB, is for a torrent file the user names): the URL is downloaded
 * plainly.
 */
export const OFFERED_METAINFO_MAX_BYTES = 10 * 1024 * 1024;

/**
 * Metainfo bytes buffered at once by every `readSmall` of this process: the proxy reads the torrent
 * offered for each URL a program asks of it, several at once, and an origin answering each with
 * an endless one would otherwise have every request hold `OFFERED_METAINFO_MAX_BYTES`.
 */
export const METAINFO_BYTES_IN_FLIGHT = 4 * OFFERED_METAINFO_MAX_BYTES;
let metainfoBytesInFlight = 0;

/**
 * A metainfo answer's bytes, at most `maxBytes` (refused unread when its declared length is
 * larger), and only while all reads under way hold at most `inFlightBytes` together
 * (GATEWAY_GET_BAD_ANSWER otherwise: the proxy then passes the URL through).
 */
export async function readSmall(res: OpenResponse, limits: { maxBytes?: number; inFlightBytes?: number } = {}): Promise<Uint8Array> {
  const max = limits.maxBytes ?? OFFERED_METAINFO_MAX_BYTES;
  const budget = limits.inFlightBytes ?? METAINFO_BYTES_IN_FLIGHT;
  const declared = Number(res.headers['content-length'] ?? Number.NaN);
  if (declared > max) {
    await discard(res);
    throw new GatewayError('GATEWAY_GET_BAD_ANSWER', { detail: `torrent larger than ${max} bytes from ${res.url}: it declares ${declared} bytes` });
  }
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      n += chunk.length;
      metainfoBytesInFlight += chunk.length;
      if (n > max || metainfoBytesInFlight > budget) {
        await discard(res);
        throw new GatewayError('GATEWAY_GET_BAD_ANSWER', {
          detail: n > max ? `torrent larger than ${max} bytes from ${res.url}` : `torrent from ${res.url}: ${budget} bytes of metainfo are being read at once already`,
        });
      }
      chunks.push(chunk);
    }
    return new Uint8Array(Buffer.concat(chunks, n));
  } finally {
    metainfoBytesInFlight -= n;
  }
}

/**
 * The torrent or JSON metainfo document of an offer. The parsers are loaded here, on the first
 * offer: a plain download (`--no-swarm`, a server without torrents) never compiles them.
 */
export async function parseMetainfo(type: string, bytes: Uint8Array): Promise<Metainfo> {
  const { MAX_FETCH_PIECE_LENGTH, parseMetainfoJson, parseTorrent } = await import('../metainfo/index.js');
  // A piece is a buffer of its length in get and the proxy: a torrent offered with larger ones is unusable (plain HTTP instead).
  const limits = { maxPieceLength: MAX_FETCH_PIECE_LENGTH };
  return type === BITTORRENT_MEDIA_TYPE ? parseTorrent(bytes, limits) : parseMetainfoJson(Buffer.from(bytes).toString('utf8'), limits);
}

/**
 * The first `Link` target with `rel="describedby"` and the BitTorrent type (RFC 8288 §3), resolved
 * against the response URL. Only http(s) targets: a link never sends us to a file or another scheme.
 */
export function describedBy(header: string | string[] | undefined, base: string): string | undefined {
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  for (const value of values) {
    for (const m of value.matchAll(/<([^>]*)>((?:\s*;\s*[^;,<]+)*)/g)) {
      const params = new Map<string, string>();
      for (const p of m[2]!.split(';').slice(1)) {
        const eq = p.indexOf('=');
        if (eq < 0) continue;
        params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"|"$/g, ''));
      }
      const rels = (params.get('rel') ?? '').toLowerCase().split(/\s+/);
      if (!rels.includes('describedby') || (params.get('type') ?? '').toLowerCase() !== BITTORRENT_MEDIA_TYPE) continue;
      try {
        const target = new URL(m[1]!, base);
        if (target.protocol === 'http:' || target.protocol === 'https:') return target.href;
      } catch {
        // a malformed target is no link
      }
    }
  }
  return undefined;
}

/** What went wrong, for a message: the error's own words (an HTTP client's error is the server's doing, not an internal error). */
export function causeText(err: unknown): string {
  // trimEnd: OpenSSL's messages end in a newline, and this text goes inside a line.
  return (err instanceof Error ? err.message : String(err)).trimEnd();
}

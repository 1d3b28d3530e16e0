import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { clip } from '../../errors/index.js';
import { encodeAnnounceQuery } from '../http-announce.js';
import { decodeAnnounceResponse } from '../http-response.js';
import { decodeScrapeResponse, encodeScrapeQuery } from '../http-scrape.js';
import { MAX_RESPONSE_BYTES } from '../bdict.js';
import { TrackerError } from '../errors.js';
import type { AnnounceRequest } from '../announce-types.js';
import type { PeerAddress } from '../ip.js';
import { loadUndici, nodeGet } from '../undici.js';
import type { AnnounceResult, ScrapeResult, TrackerClient, TrackerRequestOptions } from './types.js';

export { loadUndici } from '../undici.js';

/** HTTP(S) tracker client (BEP 3 announce with BEP 23 compact peers, BEP 7 peers6, BEP 48 scrape). */
export interface HttpTrackerOptions {
  /** Default 20 s: libtorrent's tracker_receive_timeout. */
  readonly timeoutMs?: number;
  /** Largest reply read. Default 1 MiB (libtorrent's limit). */
  readonly maxResponseBytes?: number;
  readonly dispatcher?: Dispatcher;
  readonly userAgent?: string;
}

export class HttpTrackerClient implements TrackerClient {
  constructor(
    readonly url: string,
    private readonly opts: HttpTrackerOptions = {},
  ) {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TrackerError('TRACKER_UNSUPPORTED_URL', { detail: url });
  }

  async announce(req: AnnounceRequest, opts: TrackerRequestOptions = {}): Promise<AnnounceResult<PeerAddress>> {
    const body = await this.get(withQuery(this.url, encodeAnnounceQuery({ compact: true, ...req })), opts);
    const r = decodeAnnounceResponse(body, { maxResponseBytes: this.maxBytes });
    if (r.type === 'failure') throw new TrackerError('TRACKER_FAILURE', { detail: clip(r.reason) }); // a stranger's text, up to the reply's 1 MiB
    const out: { -readonly [K in keyof AnnounceResult<PeerAddress>]: AnnounceResult<PeerAddress>[K] } = {
      peers: r.peers.map((p) => ({ ip: p.ip, port: p.port })),
      intervalSec: r.intervalSec,
    };
    if (r.minIntervalSec !== undefined) out.minIntervalSec = r.minIntervalSec;
    if (r.complete !== undefined) out.seeders = r.complete;
    if (r.incomplete !== undefined) out.leechers = r.incomplete;
    if (r.warningMessage !== undefined) out.warning = r.warningMessage;
    if (r.trackerId !== undefined) out.trackerId = r.trackerId;
    return out;
  }

  /** BEP 48: the scrape URL replaces `announce` in the last path component. */
  async scrape(infoHashes: readonly Uint8Array[], opts: TrackerRequestOptions = {}): Promise<ScrapeResult[]> {
    const u = new URL(this.url);
    const slash = u.pathname.lastIndexOf('/');
    const last = u.pathname.slice(slash + 1);
    if (!last.startsWith('announce')) throw new TrackerError('TRACKER_UNSUPPORTED_URL', { detail: `${this.url} has no scrape URL (BEP 48)` });
    u.pathname = `${u.pathname.slice(0, slash + 1)}scrape${last.slice('announce'.length)}`;
    const body = await this.get(withQuery(u.toString(), encodeScrapeQuery(infoHashes)), opts);
    const r = decodeScrapeResponse(body, { maxResponseBytes: this.maxBytes });
    if (r.failureReason !== undefined) throw new TrackerError('TRACKER_FAILURE', { detail: clip(r.failureReason) });
    return r.files.map((f) => ({ infoHash: f.infoHash, seeders: f.complete, completed: f.downloaded, leechers: f.incomplete }));
  }

  private get maxBytes(): number {
    return this.opts.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  }

  private async get(url: string, opts: TrackerRequestOptions): Promise<Uint8Array> {
    // The caller's bound (the announcer's) and the client's own, whichever comes first.
    const timeoutMs = Math.min(opts.timeoutMs ?? Infinity, this.opts.timeoutMs ?? 20_000);
    const signals = [AbortSignal.timeout(timeoutMs), ...(opts.signal ? [opts.signal] : [])];
    const headers = { 'user-agent': this.opts.userAgent ?? 'torrenttp/0.1.0', 'accept-encoding': 'identity' };
    let res: { statusCode: number; body: Readable };
    try {
      // One connection per request either way: announces are minutes apart, and a kept-alive socket
      // that the tracker closes meanwhile fails the next announce ('other side closed', seen with
      // opentracker).
      res =
        this.opts.dispatcher === undefined
          ? await nodeGet(new URL(url), { agent: false, headers, signal: AbortSignal.any(signals) }).then((r) => ({ statusCode: r.statusCode ?? 0, body: r }))
          : await (await loadUndici()).request(url, { method: 'GET', reset: true, headers, signal: AbortSignal.any(signals), dispatcher: this.opts.dispatcher });
    } catch (cause) {
      const timedOut = (cause as { name?: string }).name === 'TimeoutError' || (cause as { name?: string }).name === 'AbortError';
      const detail = !timedOut
        ? `${this.url} (${whyUnreachable(cause)})`
        : opts.signal?.aborted === true ? `${this.url}: aborted` : `${this.url}: no answer in ${Math.round(timeoutMs / 1000)} s`;
      throw new TrackerError(timedOut ? 'TRACKER_TIMEOUT' : 'TRACKER_UNREACHABLE', { detail, cause });
    }
    if (res.statusCode !== 200) {
      res.body.resume();
      res.body.on('error', () => undefined);
      throw new TrackerError('TRACKER_HTTP_STATUS', { detail: `${this.url}: HTTP ${res.statusCode}` });
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        if (size > this.maxBytes) {
          res.body.destroy();
          throw new TrackerError('TRACKER_RESPONSE_TOO_LARGE', { detail: `more than ${this.maxBytes} bytes` });
        }
        chunks.push(chunk);
      }
    } catch (cause) {
      if (cause instanceof TrackerError) throw cause;
      throw new TrackerError('TRACKER_TIMEOUT', { detail: this.url, cause });
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function withQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}

/**
 * What a user needs from a connection failure: `connect ECONNREFUSED 127.0.0.1:27999`,
 * `getaddrinfo ENOTFOUND t.example`. A name with several addresses fails as an AggregateError
 * with an empty message: its first error says it.
 */
function whyUnreachable(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: unknown[]; cause?: unknown };
  if (Array.isArray(e.errors) && e.errors.length > 0 && !e.message) return whyUnreachable(e.errors[0]);
  if (e.message) return e.message;
  if (e.code !== undefined) return e.code;
  return e.cause === undefined ? String(err) : whyUnreachable(e.cause);
}

import type { Readable } from 'node:stream';
import { clip } from '../../errors/index.js';
import type { AnnounceRequest } from '../announce-types.js';
import { TrackerError } from '../errors.js';
import { toHex } from '../../metainfo/index.js';
import { decodeJsonAnnounceResponse, decodeProblem, encodeJsonAnnounceRequest, JSON_CONTENT_TYPE, type JsonAnnounceBody } from '../ttp-json.js';
import { jsonAnnounceUrlOf } from '../ttp-path.js';
import { nodeGet } from '../undici.js';
import { HttpTrackerClient, loadUndici, type HttpTrackerOptions } from './http-client.js';
import type { AnnounceResult, PeerRef, ScrapeResult, TrackerClient, TrackerRequestOptions } from './types.js';

/**
 * The JSON side of an http(s) tracker (TorrentTTP announce, docs/torrenttp.md §10): `POST` to the
 * tracker's `…/ttp/v1/announce` (BEP 48-style rule, `jsonAnnounceUrlOf`) with our wire `port`
 * and/or our TorrentTTP torrent `url`; the reply's peers may be addresses or URLs (`PeerRef`).
 *
 * Rules:
 * - A tracker without a JSON side (its JSON URL answers 404, 405 or 501) is asked the BEP 3 way
 *   from then on (`HttpTrackerClient`), and so is a URL that does not follow the convention. So
 *   turning JSON announces on never loses a tracker.
 * - Scrape is always BEP 48 (`HttpTrackerClient`).
 * - A reply is at most 1 MiB (`maxResponseBytes`), decoded strictly (`decodeJsonAnnounceResponse`);
 *   an error answer's problem document names the tracker's code in the failure's detail.
 * - A peer entry with both an address and a URL is kept as its address (§14: one protocol per peer).
 */
export interface JsonTrackerOptions extends HttpTrackerOptions {
  /** Our TorrentTTP torrent URL for this torrent, announced as `url` (when we run a peer server). */
  readonly peerUrl?: string;
}

export class JsonTrackerClient implements TrackerClient {
  private readonly jsonUrl: string | undefined;
  private readonly bep3: HttpTrackerClient;
  private fellBack = false;

  constructor(
    readonly url: string,
    private readonly opts: JsonTrackerOptions = {},
  ) {
    this.bep3 = new HttpTrackerClient(url, opts);
    this.jsonUrl = jsonAnnounceUrlOf(url);
  }

  /** True once the tracker turned out to have no JSON side (or its URL has no known one). */
  get usesBep3(): boolean {
    return this.jsonUrl === undefined || this.fellBack;
  }

  async announce(req: AnnounceRequest, opts: TrackerRequestOptions = {}): Promise<AnnounceResult<PeerRef>> {
    if (this.usesBep3) return this.bep3.announce(req, opts);
    const body: JsonAnnounceBody = {
      infoHash: toHex(req.infoHash),
      peerId: toHex(req.peerId),
      ...(req.port > 0 ? { port: req.port } : {}),
      ...(this.opts.peerUrl === undefined ? {} : { url: this.opts.peerUrl }),
      uploaded: req.uploaded,
      downloaded: req.downloaded,
      left: req.left,
      ...(req.event === undefined ? {} : { event: req.event }),
      ...(req.numwant === undefined ? {} : { numwant: req.numwant }),
    };
    const reply = await this.post(encodeJsonAnnounceRequest(body), opts);
    if (reply === 'no-json') {
      this.fellBack = true;
      return this.bep3.announce(req, opts);
    }
    const r = decodeJsonAnnounceResponse(reply, { maxBodyBytes: this.maxBytes });
    const peers: PeerRef[] = r.peers.map((p) => (p.ip !== undefined && p.port !== undefined && p.port > 0 ? { ip: p.ip, port: p.port } : { url: p.url! }));
    return {
      peers,
      intervalSec: r.interval,
      minIntervalSec: r.minInterval,
      seeders: r.complete,
      leechers: r.incomplete,
      ...(r.warning === undefined ? {} : { warning: r.warning }),
    };
  }

  scrape(infoHashes: readonly Uint8Array[], opts?: TrackerRequestOptions): Promise<ScrapeResult[]> {
    return this.bep3.scrape(infoHashes, opts);
  }

  private get maxBytes(): number {
    return this.opts.maxResponseBytes ?? 1024 * 1024;
  }

  /** The reply body of a 200, 'no-json' when the tracker has no JSON side, else a TrackerError. */
  private async post(body: string, opts: TrackerRequestOptions): Promise<Uint8Array | 'no-json'> {
    const url = this.jsonUrl!;
    const timeoutMs = Math.min(opts.timeoutMs ?? Infinity, this.opts.timeoutMs ?? 20_000);
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(opts.signal ? [opts.signal] : [])]);
    const headers = { 'content-type': JSON_CONTENT_TYPE, accept: JSON_CONTENT_TYPE, 'user-agent': this.opts.userAgent ?? 'torrenttp/0.1.0' };
    let res: { statusCode: number; body: Readable };
    try {
      // One connection per request: announces are minutes apart, and a kept-alive socket that the
      // tracker closes meanwhile fails the next announce ('other side closed', seen with opentracker).
      // node's own client unless a dispatcher is given, as the BEP 3 client: a get or leech loads no undici.
      res =
        this.opts.dispatcher === undefined
          ? await nodeGet(new URL(url), { method: 'POST', agent: false, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, body, signal }).then((r) => ({ statusCode: r.statusCode ?? 0, body: r }))
          : await (await loadUndici()).request(url, { method: 'POST', reset: true, headers, body, signal, dispatcher: this.opts.dispatcher });
    } catch (cause) {
      const name = (cause as { name?: string }).name;
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      throw new TrackerError(timedOut ? 'TRACKER_TIMEOUT' : 'TRACKER_UNREACHABLE', { detail: `${url}: ${timedOut ? 'no answer in time' : (cause as Error).message}`, cause });
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        if (size > this.maxBytes) throw new TrackerError('TRACKER_RESPONSE_TOO_LARGE', { detail: `more than ${this.maxBytes} bytes` });
        chunks.push(chunk);
      }
    } catch (cause) {
      res.body.on('error', () => {}).destroy();
      if (cause instanceof TrackerError) throw cause;
      throw new TrackerError('TRACKER_TIMEOUT', { detail: url, cause });
    }
    const bytes = Buffer.concat(chunks, size);
    if (res.statusCode === 200) return bytes;
    if (res.statusCode === 404 || res.statusCode === 405 || res.statusCode === 501) return 'no-json';
    let code = '';
    try {
      const p = decodeProblem(bytes, { maxBodyBytes: 16 * 1024 });
      code = ` ${p.code}${p.detail === undefined ? '' : `: ${clip(p.detail)}`}`;
    } catch {
      // not a problem document: the status says enough
    }
    throw new TrackerError('TRACKER_HTTP_STATUS', { detail: `${url}: HTTP ${res.statusCode}${code}` });
  }
}

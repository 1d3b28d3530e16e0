import type { IncomingMessage, ServerResponse } from 'node:http';
import { clip, TorrenttpError, toTorrenttpError } from '../../errors/index.js';
import { TrackerError } from '../errors.js';
import { parseAnnounceQuery, type AnnounceQueryLimits } from '../http-announce.js';
import { encodeAnnounceResponse, encodeFailure, type TrackerPeer } from '../http-response.js';
import { encodeScrapeResponse, parseScrapeQuery, type ScrapeQueryLimits } from '../http-scrape.js';
import { parseIpNormalized, type ParsedIp } from '../ip.js';
import {
  encodeJsonAnnounceResponse,
  encodeJsonScrapeResponse,
  encodeProblem,
  JSON_CONTENT_TYPE,
  JSON_DEFAULTS,
  parseJsonAnnounceRequest,
  parseJsonScrapeRequest,
  PROBLEM_CONTENT_TYPE,
  type TrackerJsonLimits,
  type JsonPeer,
} from '../ttp-json.js';
import { toHex } from '../../metainfo/index.js';
import type { TrackerCore } from './core.js';

/**
 * The HTTP side of the tracker:
 *
 *   GET  /announce          BEP 3 announce (compact BEP 23 + BEP 7 peers6, or a dictionary list)
 *   GET  /scrape            BEP 48 scrape; without info_hash a full scrape, if enabled
 *   POST /ttp/v1/announce   TorrentTTP JSON announce
 *   POST /ttp/v1/scrape     TorrentTTP JSON scrape
 *   GET  /stats             JSON counters
 *
 * BitTorrent endpoints answer errors as bencoded `failure reason` with status 200, which every
 * client reads; TorrentTTP endpoints answer `application/problem+json` with the code's status.
 */
export interface HttpLimits {
  readonly announce?: AnnounceQueryLimits;
  readonly scrape?: ScrapeQueryLimits;
  readonly json?: TrackerJsonLimits;
}

/**
 * The paths `httpHandler` answers, for a web server that embeds the tracker: it hands requests
 * for these to the handler and serves everything else itself. Any other path gets a 404 problem.
 */
export const TRACKER_HTTP_PATHS = ['/announce', '/scrape', '/ttp/v1/announce', '/ttp/v1/scrape', '/stats'] as const;

const BT_HEADERS = { 'content-type': 'text/plain', 'cache-control': 'no-store' } as const;

export function httpHandler(core: TrackerCore, limits: HttpLimits = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const maxBody = limits.json?.maxBodyBytes ?? JSON_DEFAULTS.maxBodyBytes;

  const sourceOf = (req: IncomingMessage): ParsedIp => {
    const ip = parseIpNormalized(req.socket.remoteAddress ?? '');
    if (ip === undefined) throw new TrackerError('TRACKER_BAD_IP', { detail: 'no usable source address' });
    return ip;
  };

  /** The address the client reached us on (this connection's local end). */
  const localOf = (req: IncomingMessage): ParsedIp | undefined => parseIpNormalized(req.socket.localAddress ?? '');

  const bt = (res: ServerResponse, body: Uint8Array): void => {
    res.writeHead(200, { ...BT_HEADERS, 'content-length': body.length });
    res.end(body);
  };

  const btFailure = (res: ServerResponse, err: unknown): void => {
    const e = toTorrenttpError(err);
    if (e.code === 'INTERNAL') core.logger.error({ err }, 'announce failed');
    bt(res, encodeFailure(e.message));
  };

  const json = (res: ServerResponse, status: number, body: string, type = JSON_CONTENT_TYPE): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const problem = (res: ServerResponse, err: unknown): void => {
    const e = toTorrenttpError(err);
    if (e.code === 'INTERNAL') core.logger.error({ err }, 'request failed');
    if (e.status === 413) res.setHeader('connection', 'close');
    json(res, e.status, encodeProblem(e), PROBLEM_CONTENT_TYPE);
  };

  const readBody = (req: IncomingMessage): Promise<Uint8Array> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > maxBody) {
        reject(new TrackerError('TRACKER_BODY_TOO_LARGE', { detail: `${declared} > ${maxBody} bytes` }));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBody) {
          req.removeAllListeners('data');
          req.resume();
          reject(new TrackerError('TRACKER_BODY_TOO_LARGE', { detail: `more than ${maxBody} bytes` }));
        } else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  const checkJsonType = (req: IncomingMessage): void => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== JSON_CONTENT_TYPE) throw new TrackerError('TRACKER_UNSUPPORTED_MEDIA_TYPE', { detail: type || 'none' });
  };

  async function announce(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    try {
      const a = parseAnnounceQuery(query, limits.announce);
      const compact = a.compact !== false; // BEP 23 lets a tracker prefer compact; only an explicit 0 gets a list
      const r = await core.announce(a, sourceOf(req), 'http', compact ? 'compact' : 'list', undefined, localOf(req));
      const common = { intervalSec: core.intervalSec, minIntervalSec: core.minIntervalSec, complete: r.complete, incomplete: r.incomplete };
      if (compact) {
        bt(res, encodeAnnounceResponse({ ...common, peers: r.peers4, ...(r.peers6.length > 0 ? { peers6: r.peers6 } : {}) }));
      } else {
        const peers: TrackerPeer[] = [];
        for (const p of r.peers) {
          if (p.port === 0) continue; // URL-only TorrentTTP peers have no wire endpoint
          peers.push(a.noPeerId === true ? { ip: p.ip, port: p.port } : { ip: p.ip, port: p.port, peerId: p.peerId });
        }
        bt(res, encodeAnnounceResponse({ ...common, peers }));
      }
    } catch (err) {
      btFailure(res, err);
    }
  }

  async function scrape(res: ServerResponse, query: string): Promise<void> {
    try {
      const hashes = parseScrapeQuery(query, limits.scrape);
      const entries = hashes.length === 0 ? await core.fullScrape() : await core.scrape(hashes, 'http');
      bt(res, encodeScrapeResponse(entries, core.minIntervalSec));
    } catch (err) {
      btFailure(res, err);
    }
  }

  async function jsonAnnounce(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      checkJsonType(req);
      const { announce: a, url } = parseJsonAnnounceRequest(await readBody(req), limits.json);
      const r = await core.announce(a, sourceOf(req), 'json', 'list', url, localOf(req));
      const peers = r.peers.map((p): JsonPeer => {
        const out: { -readonly [K in keyof JsonPeer]: JsonPeer[K] } = { peerId: toHex(p.peerId) };
        if (p.port !== 0) {
          out.ip = p.ip;
          out.port = p.port;
        }
        if (p.url !== undefined) out.url = p.url;
        return out;
      });
      json(res, 200, encodeJsonAnnounceResponse({
        interval: core.intervalSec,
        minInterval: core.minIntervalSec,
        complete: r.complete,
        incomplete: r.incomplete,
        peers,
      }));
    } catch (err) {
      problem(res, err);
    }
  }

  async function jsonScrape(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      checkJsonType(req);
      const hashes = parseJsonScrapeRequest(await readBody(req), limits.json);
      json(res, 200, encodeJsonScrapeResponse(await core.scrape(hashes, 'json')));
    } catch (err) {
      problem(res, err);
    }
  }

  async function stats(res: ServerResponse): Promise<void> {
    try {
      json(res, 200, JSON.stringify(await core.stats()));
    } catch (err) {
      problem(res, err);
    }
  }

  const routes: Record<(typeof TRACKER_HTTP_PATHS)[number], { method: string; run: (req: IncomingMessage, res: ServerResponse, query: string) => Promise<void> }> = {
    '/announce': { method: 'GET', run: announce },
    '/scrape': { method: 'GET', run: (_req, res, q) => scrape(res, q) },
    '/ttp/v1/announce': { method: 'POST', run: (req, res) => jsonAnnounce(req, res) },
    '/ttp/v1/scrape': { method: 'POST', run: (req, res) => jsonScrape(req, res) },
    '/stats': { method: 'GET', run: (_req, res) => stats(res) },
  };

  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    const route = Object.hasOwn(routes, path) ? routes[path as keyof typeof routes] : undefined;
    if (route === undefined) {
      problem(res, new TrackerError('TRACKER_NOT_FOUND', { detail: clip(path, 64) }));
      return;
    }
    if (req.method !== route.method && !(route.method === 'GET' && req.method === 'HEAD')) {
      res.setHeader('allow', route.method);
      problem(res, new TrackerError('TRACKER_METHOD_NOT_ALLOWED', { detail: String(req.method) }));
      return;
    }
    route.run(req, res, query).catch((err: unknown) => {
      core.logger.error({ err }, 'HTTP handler failed');
      if (!res.headersSent) problem(res, err instanceof TorrenttpError ? err : toTorrenttpError(err));
      else res.destroy();
    });
  };
}

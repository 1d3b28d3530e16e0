import { ERROR_CODES, type ErrorCode, quoted, type TorrenttpError } from '../errors/index.js';
import { ANNOUNCE_EVENTS, type AnnounceEvent, type AnnounceRequest } from './announce-types.js';
import { fromHex, toHex } from '../metainfo/index.js';
import { TrackerError } from './errors.js';
import type { ScrapeEntry } from './http-scrape.js';
import { parseIp } from './ip.js';

/**
 * TorrentTTP JSON announce and scrape, v1 (`POST /ttp/v1/announce`, `POST /ttp/v1/scrape`), and
 * the `application/problem+json` (RFC 9457) error documents every TorrentTTP endpoint answers with.
 *
 * Choice: `infoHash` and `peerId` are both 40 lowercase hex characters (upper case accepted on
 * input). A raw 20-byte peer id is binary and does not survive JSON as a string, hex does.
 * A peer announces an `ip`/`port` wire endpoint, an HTTP `url` (TorrentTTP peer), or both.
 * Unknown fields are ignored, so later versions can add some.
 */

export const JSON_CONTENT_TYPE = 'application/json';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface TrackerJsonLimits {
  /** Largest request or response body. Default 16 KiB for requests (an announce is ~300 bytes, a
   *  100-hash scrape ~4.5 KB); decoders of replies default to 1 MiB, like bencoded replies. */
  readonly maxBodyBytes?: number;
  /** Longest peer URL. Default 2048: the classic safe URL length (old IE, many CDNs). */
  readonly maxUrlLength?: number;
  /** Default 1000, as for HTTP. */
  readonly maxNumwant?: number;
  /** Most hashes in one JSON scrape. Default 100, as for HTTP. */
  readonly maxHashes?: number;
}

export const JSON_DEFAULTS = { maxBodyBytes: 16 * 1024, maxUrlLength: 2048, maxNumwant: 1000, maxHashes: 100 } as const;

/** Announce body as sent on the wire. */
export interface JsonAnnounceBody {
  readonly infoHash: string;
  readonly peerId: string;
  readonly port?: number;
  readonly url?: string;
  /** Honoured only by trackers configured to trust clients' addresses. */
  readonly ip?: string;
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
  readonly event?: AnnounceEvent;
  readonly numwant?: number;
}

/** A parsed JSON announce: the common request (port 0 when the peer gave only a `url`) plus its URL. */
export interface JsonAnnounce {
  readonly announce: AnnounceRequest;
  readonly url?: string;
}

export interface JsonPeer {
  readonly ip?: string;
  readonly port?: number;
  readonly url?: string;
  /** 40 hex. */
  readonly peerId?: string;
}

export interface JsonAnnounceResponse {
  readonly interval: number;
  readonly minInterval: number;
  readonly complete: number;
  readonly incomplete: number;
  readonly peers: readonly JsonPeer[];
  readonly warning?: string;
}

export interface JsonScrapeResponse {
  /** Keyed by 40 lowercase hex info-hash. */
  readonly files: Readonly<Record<string, { readonly complete: number; readonly downloaded: number; readonly incomplete: number }>>;
}

export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: ErrorCode;
  readonly detail?: string;
}

type Obj = Record<string, unknown>;

function field(detail: string): never {
  throw new TrackerError('TRACKER_JSON_BAD_FIELD', { detail });
}

export function readJsonObject(body: Uint8Array | string, maxBodyBytes: number): Obj {
  const size = typeof body === 'string' ? body.length : body.length;
  if (size > maxBodyBytes) throw new TrackerError('TRACKER_BODY_TOO_LARGE', { detail: `${size} > ${maxBodyBytes} bytes`, offset: maxBodyBytes });
  let text: string;
  let value: unknown;
  try {
    text = typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: true }).decode(body);
    value = JSON.parse(text);
  } catch (err) {
    throw new TrackerError('TRACKER_JSON_BAD_BODY', { cause: err, detail: err instanceof Error ? err.message : 'unparsable' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TrackerError('TRACKER_JSON_BAD_BODY', { detail: 'not an object' });
  return value as Obj;
}

function hex20(o: Obj, key: string, code: 'TRACKER_BAD_INFO_HASH' | 'TRACKER_BAD_PEER_ID'): Uint8Array {
  const v = o[key];
  const bytes = typeof v === 'string' && v.length === 40 ? fromHex(v) : undefined;
  if (bytes === undefined) throw new TrackerError(code, { detail: `${key} must be 40 hex characters` });
  return bytes;
}

function uint(o: Obj, key: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw new TrackerError('TRACKER_BAD_NUMBER', { detail: `${key} must be an integer from 0 to ${max}` });
  }
  return v;
}

function optUint(o: Obj, key: string, max?: number): number | undefined {
  return o[key] === undefined ? undefined : uint(o, key, max);
}

function optString(o: Obj, key: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') field(`${key} must be a string`);
  return v;
}

function httpUrl(s: string, maxUrlLength: number): string {
  let ok = s.length <= maxUrlLength;
  if (ok) {
    try {
      const u = new URL(s);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '' && u.hash === '';
    } catch {
      ok = false;
    }
  }
  if (!ok) throw new TrackerError('TRACKER_BAD_URL', { detail: quoted(s, 64) });
  return s;
}

export function encodeJsonAnnounceRequest(body: JsonAnnounceBody): string {
  return JSON.stringify(body);
}

export function parseJsonAnnounceRequest(body: Uint8Array | string, limits: TrackerJsonLimits = {}): JsonAnnounce {
  const o = readJsonObject(body, limits.maxBodyBytes ?? JSON_DEFAULTS.maxBodyBytes);
  const maxUrl = limits.maxUrlLength ?? JSON_DEFAULTS.maxUrlLength;
  const infoHash = hex20(o, 'infoHash', 'TRACKER_BAD_INFO_HASH');
  const peerId = hex20(o, 'peerId', 'TRACKER_BAD_PEER_ID');
  const event = optString(o, 'event');
  if (event !== undefined && !(ANNOUNCE_EVENTS as readonly string[]).includes(event)) {
    throw new TrackerError('TRACKER_BAD_EVENT', { detail: quoted(event, 16) });
  }
  const port = optUint(o, 'port', 65535);
  if (port === 0) throw new TrackerError('TRACKER_BAD_PORT', { detail: '0' });
  const urlText = optString(o, 'url');
  const url = urlText === undefined ? undefined : httpUrl(urlText, maxUrl);
  if (port === undefined && url === undefined && event !== 'stopped') field('a peer needs a port, a url, or both');
  const announce: { -readonly [K in keyof AnnounceRequest]: AnnounceRequest[K] } = {
    infoHash,
    peerId,
    port: port ?? 0,
    uploaded: uint(o, 'uploaded'),
    downloaded: uint(o, 'downloaded'),
    left: uint(o, 'left'),
  };
  if (event !== undefined) announce.event = event as AnnounceEvent;
  const numwant = optUint(o, 'numwant', limits.maxNumwant ?? JSON_DEFAULTS.maxNumwant);
  if (numwant !== undefined) announce.numwant = numwant;
  const ip = optString(o, 'ip');
  if (ip !== undefined) {
    if (parseIp(ip) === undefined) throw new TrackerError('TRACKER_BAD_IP', { detail: quoted(ip, 64) });
    announce.ip = ip;
  }
  return url === undefined ? { announce } : { announce, url };
}

export function encodeJsonAnnounceResponse(r: JsonAnnounceResponse): string {
  return JSON.stringify(r);
}

export function decodeJsonAnnounceResponse(body: Uint8Array | string, limits: TrackerJsonLimits = {}): JsonAnnounceResponse {
  const o = readJsonObject(body, limits.maxBodyBytes ?? 1024 * 1024);
  const maxUrl = limits.maxUrlLength ?? JSON_DEFAULTS.maxUrlLength;
  const list = o['peers'];
  if (!Array.isArray(list)) field('peers must be an array');
  const peers: JsonPeer[] = list.map((e: unknown) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) field('peer must be an object');
    const p = e as Obj;
    const out: { -readonly [K in keyof JsonPeer]: JsonPeer[K] } = {};
    const ip = optString(p, 'ip');
    if (ip !== undefined) {
      if (parseIp(ip) === undefined) throw new TrackerError('TRACKER_BAD_IP', { detail: quoted(ip, 64) });
      out.ip = ip;
    }
    const port = optUint(p, 'port', 65535);
    if (port !== undefined) out.port = port;
    const url = optString(p, 'url');
    if (url !== undefined) out.url = httpUrl(url, maxUrl);
    const peerId = optString(p, 'peerId');
    if (peerId !== undefined) {
      if (peerId.length !== 40 || fromHex(peerId) === undefined) throw new TrackerError('TRACKER_BAD_PEER_ID', { detail: 'peerId must be 40 hex' });
      out.peerId = peerId;
    }
    if (out.url === undefined && (out.ip === undefined || out.port === undefined)) field('peer needs ip and port, or url');
    return out;
  });
  const warning = optString(o, 'warning');
  const r = {
    interval: uint(o, 'interval'),
    minInterval: uint(o, 'minInterval'),
    complete: uint(o, 'complete'),
    incomplete: uint(o, 'incomplete'),
    peers,
  };
  return warning === undefined ? r : { ...r, warning };
}

export function encodeJsonScrapeRequest(infoHashes: readonly Uint8Array[]): string {
  return JSON.stringify({ infoHashes: infoHashes.map(toHex) });
}

export function parseJsonScrapeRequest(body: Uint8Array | string, limits: TrackerJsonLimits = {}): Uint8Array[] {
  const o = readJsonObject(body, limits.maxBodyBytes ?? JSON_DEFAULTS.maxBodyBytes);
  const list = o['infoHashes'];
  if (!Array.isArray(list)) field('infoHashes must be an array');
  const maxHashes = limits.maxHashes ?? JSON_DEFAULTS.maxHashes;
  if (list.length > maxHashes) throw new TrackerError('TRACKER_TOO_MANY_HASHES', { detail: `limit ${maxHashes}` });
  return list.map((h: unknown) => {
    const bytes = typeof h === 'string' && h.length === 40 ? fromHex(h) : undefined;
    if (bytes === undefined) throw new TrackerError('TRACKER_BAD_INFO_HASH', { detail: 'infoHashes entries must be 40 hex' });
    return bytes;
  });
}

export function encodeJsonScrapeResponse(entries: readonly ScrapeEntry[]): string {
  const files: Record<string, { complete: number; downloaded: number; incomplete: number }> = {};
  for (const e of entries) files[toHex(e.infoHash)] = { complete: e.complete, downloaded: e.downloaded, incomplete: e.incomplete };
  return JSON.stringify({ files });
}

export function decodeJsonScrapeResponse(body: Uint8Array | string, limits: TrackerJsonLimits = {}): ScrapeEntry[] {
  const o = readJsonObject(body, limits.maxBodyBytes ?? 1024 * 1024);
  const files = o['files'];
  if (typeof files !== 'object' || files === null || Array.isArray(files)) field('files must be an object');
  return Object.entries(files as Obj).map(([hex, v]) => {
    const infoHash = hex.length === 40 ? fromHex(hex) : undefined;
    if (infoHash === undefined) throw new TrackerError('TRACKER_BAD_INFO_HASH', { detail: 'files keys must be 40 hex' });
    if (typeof v !== 'object' || v === null || Array.isArray(v)) field('files entry must be an object');
    const e = v as Obj;
    return { infoHash, complete: uint(e, 'complete'), downloaded: uint(e, 'downloaded'), incomplete: uint(e, 'incomplete') };
  });
}

/** The problem document for an error: `type` is a URN naming the stable code. */
export function problemOf(err: TorrenttpError): ProblemDocument {
  const p = { type: `urn:torrenttp:error:${err.code}`, title: ERROR_CODES[err.code].message, status: err.status, code: err.code };
  return err.detail === undefined ? p : { ...p, detail: err.detail };
}

export function encodeProblem(err: TorrenttpError): string {
  return JSON.stringify(problemOf(err));
}

/** Reads a problem document from a TorrentTTP server; unknown codes are kept as `INTERNAL`. */
export function decodeProblem(body: Uint8Array | string, limits: TrackerJsonLimits = {}): ProblemDocument {
  const o = readJsonObject(body, limits.maxBodyBytes ?? JSON_DEFAULTS.maxBodyBytes);
  const code = typeof o['code'] === 'string' && Object.hasOwn(ERROR_CODES, o['code']) ? (o['code'] as ErrorCode) : 'INTERNAL';
  const status = typeof o['status'] === 'number' && Number.isInteger(o['status']) ? o['status'] : ERROR_CODES[code].status;
  const p = {
    type: typeof o['type'] === 'string' ? o['type'] : 'about:blank',
    title: typeof o['title'] === 'string' ? o['title'] : ERROR_CODES[code].message,
    status,
    code,
  };
  return typeof o['detail'] === 'string' ? { ...p, detail: o['detail'] } : p;
}

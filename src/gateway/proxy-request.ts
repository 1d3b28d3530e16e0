import { clip } from '../errors/index.js';
import { GatewayError } from './errors.js';
import { conditionalHeaders } from './conditional.js';

/**
 * What a forward proxy reads of a program's request, pure: the target (RFC 9112 §3.2.2
 * absolute-form for GET and friends, §3.2.3 authority-form for CONNECT), the headers it forwards
 * (hop-by-hop ones dropped, RFC 9110 §7.6.1), and whether the request may be answered from the
 * swarm.
 */

/** Longest request target taken: nginx's default large_client_header_buffers line is 8 KiB. */
export const MAX_PROXY_TARGET_CHARS = 8192;

/** Hop-by-hop fields (RFC 9110 §7.6.1, plus the de-facto `Proxy-Connection` and `Keep-Alive`). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface ProxyTarget {
  /** The URL asked for, normalised by WHATWG URL parsing. */
  readonly url: URL;
}

/** An absolute `http://` target. Anything else (origin-form, other schemes, no host) is GATEWAY_PROXY_BAD_TARGET. */
export function parseProxyTarget(target: string): ProxyTarget {
  if (target.length > MAX_PROXY_TARGET_CHARS) throw new GatewayError('GATEWAY_PROXY_BAD_TARGET', { detail: `target longer than ${MAX_PROXY_TARGET_CHARS} characters` });
  if (target.startsWith('/')) {
    throw new GatewayError('GATEWAY_PROXY_BAD_TARGET', { detail: `${clip(target, 100)}: this is a proxy; ask for an absolute URL (http://host/path), as curl -x and http_proxy do` });
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new GatewayError('GATEWAY_PROXY_BAD_TARGET', { detail: `not a URL: ${clip(target, 100)}` });
  }
  if (url.protocol !== 'http:') {
    throw new GatewayError('GATEWAY_PROXY_BAD_TARGET', { detail: `${url.protocol} URLs are not proxied as requests${url.protocol === 'https:' ? ' (HTTPS goes through CONNECT)' : ''}` });
  }
  if (url.hostname === '' || url.username !== '' || url.password !== '') {
    throw new GatewayError('GATEWAY_PROXY_BAD_TARGET', { detail: `${clip(target, 100)}: no host, or credentials in the URL` });
  }
  return { url };
}

/** `host:port` of a CONNECT (port required, 1..65535); IPv6 in brackets. */
export function parseConnectTarget(target: string): { host: string; port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(target) ?? /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(target);
  const port = m === null ? 0 : Number(m[2]);
  if (m === null || port < 1 || port > 65535 || target.length > 300) {
    throw new GatewayError('GATEWAY_PROXY_BAD_TARGET', { detail: `CONNECT target must be host:port, got ${clip(target, 100)}` });
  }
  return { host: m[1]!, port };
}

/**
 * The end-to-end headers of a request or response from node's `rawHeaders` (name, value, name,
 * value…, case kept): hop-by-hop fields go, and so do the ones `Connection` names. `drop` removes
 * more (lower-case names).
 */
export function endToEnd(raw: readonly string[], drop: ReadonlySet<string> = new Set()): string[] {
  const named = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1]!.split(',')) named.add(token.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name) || drop.has(name)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** The same for undici's header object (lower-case names, arrays for repeated fields). */
export function endToEndRecord(headers: Readonly<Record<string, string | string[] | undefined>>, drop: ReadonlySet<string> = new Set()): string[] {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) raw.push(name, v);
  }
  return endToEnd(raw, drop);
}

/** Fields that make a GET's answer depend on more than the URL: stripped for the negotiation, evaluated by the proxy. */
export const CONDITIONAL_FIELDS: ReadonlySet<string> = new Set(['range', 'if-range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since']);

/** Preconditions (RFC 9110 §13.1): the answer may be a `304` or `412`, without the body. */
export function hasPreconditions(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  return Object.values(conditionalHeaders(headers)).some((v) => v !== undefined);
}

/** A request the swarm may answer: a GET with no body. Other methods and bodies pass through. */
export function swarmEligible(method: string | undefined, headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  if (method !== 'GET') return false;
  if (headers['transfer-encoding'] !== undefined) return false;
  const length = headers['content-length'];
  return length === undefined || length === '0';
}

/** First value of a header. */
export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

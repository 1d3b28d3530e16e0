import { isIP } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clip } from '../errors/index.js';
import { encodeProblem, PROBLEM_CONTENT_TYPE } from '../tracker/index.js';
import { GatewayError } from './errors.js';

/**
 * The `Host` check of a server bound to loopback, against DNS rebinding (docs/security.md,
 * docs/torrenttp.md §16). A web page on `evil.example` whose name the attacker re-points at
 * 127.0.0.1 reaches a loopback server as same-origin, so the browser lets it read every answer;
 * its requests still say `Host: evil.example`. Rules:
 * - Checked only when the server listens on loopback alone (127.0.0.0/8, ::1, `localhost`): a
 *   server on a public or wildcard address is meant to be reached by any name (a `serve` behind
 *   a DNS name, a CDN, a load balancer), and what it serves is public anyway.
 * - Allowed: `localhost` and names under it (RFC 6761: they resolve to loopback without DNS),
 *   any IP literal (no DNS, so nothing to rebind: a page can only be *at* an IP address by being
 *   served from it), the bound address, and the names the operator gives (`--host-name`). The
 *   port is not compared (the socket already chose it); case and a trailing dot are ignored.
 * - A request without `Host` (HTTP/1.0) passes: browsers always send one.
 * - Refused: `421 Misdirected Request`, a problem document `GATEWAY_UNKNOWN_HOST`, no-store,
 *   and the connection closed. Nothing of the request is read or acted on.
 */
export interface HostCheck {
  /** The names allowed besides `localhost` and IP literals, lowercase. */
  readonly names: ReadonlySet<string>;
  allows(host: string | undefined): boolean;
}

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x), `localhost`: a bind address only this machine reaches. */
export function isLoopbackBind(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * The check for a server bound to `bindHost`, or undefined when it serves any `Host` (not bound
 * to loopback). `names`: more names it is reachable by (`--host-name`).
 */
export function hostCheckFor(bindHost: string, names: readonly string[] = []): HostCheck | undefined {
  if (!isLoopbackBind(bindHost)) return undefined;
  const set = new Set([bindHost, ...names].map(normalName));
  return { names: set, allows: (host) => host === undefined || allowedName(hostnameOf(host), set) };
}

/** Refuses a request whose `Host` the check does not allow (421, a problem document); true when it did. */
export function refuseUnknownHost(check: HostCheck | undefined, req: IncomingMessage, res: ServerResponse, extra: Record<string, string> = {}): boolean {
  if (check === undefined || check.allows(req.headers.host)) return false;
  const e = new GatewayError('GATEWAY_UNKNOWN_HOST', { detail: `Host: ${clip(String(req.headers.host), 100)}` });
  const body = encodeProblem(e);
  res.writeHead(e.status, {
    ...extra,
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    connection: 'close',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

function normalName(name: string): string {
  return name.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

/** The name part of a `Host` value: `a.b:80` → `a.b`, `[::1]:80` → `::1`. */
function hostnameOf(host: string): string {
  const h = host.trim();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : normalName(h.slice(0, end + 1));
  }
  const colon = h.indexOf(':');
  return normalName(colon < 0 ? h : h.slice(0, colon));
}

function allowedName(name: string, names: ReadonlySet<string>): boolean {
  if (name === '') return false;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) !== 0) return true;
  return names.has(name);
}

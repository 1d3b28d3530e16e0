import { GatewayError } from './errors.js';

/**
 * From a request target to path segments inside the served folder, pure. The rules, in order:
 *
 * - Only origin-form targets (`/a/b?q`); anything else is 400.
 * - The raw path may not hold a backslash or NUL: Windows and some libraries treat `\` as a
 *   separator, and NUL truncates C strings.
 * - Each `/`-separated segment is percent-decoded exactly once. A decoded segment that holds
 *   `/`, `\` or NUL (`%2f`, `%5c`, `%00`), or is `.` or `..` (also as `%2e%2e`), is 400. Decoding
 *   once means `%252e%252e` is the literal name `%2e%2e`, never `..`.
 * - A segment starting with `.` (dotfiles, `.git/`, our own `.torrenttp/`) is 404, as if absent.
 * - Empty segments (`//`) are dropped, as nginx's `merge_slashes` does.
 *
 * Symlinks are the caller's job: it resolves the real path and checks it stays under the root.
 */
export interface RequestPath {
  /** Decoded segments, none empty, none starting with `.`. */
  readonly segments: readonly string[];
  /** The raw path ended with `/` (a folder was asked for). */
  readonly trailingSlash: boolean;
  /** The raw query string without `?`, or undefined when there was none. */
  readonly query: string | undefined;
}

/** Longest request target accepted (nginx's default large_client_header_buffers is 8 KiB). */
export const MAX_TARGET_CHARS = 8192;

export function parseRequestPath(target: string): RequestPath {
  if (target.length > MAX_TARGET_CHARS) throw new GatewayError('GATEWAY_BAD_PATH', { detail: 'request target is too long' });
  if (!target.startsWith('/')) throw new GatewayError('GATEWAY_BAD_PATH', { detail: 'not an origin-form target' });
  const q = target.indexOf('?');
  const raw = q < 0 ? target : target.slice(0, q);
  const hash = raw.indexOf('#');
  const path = hash < 0 ? raw : raw.slice(0, hash);
  if (path.includes('\\') || path.includes('\0')) throw new GatewayError('GATEWAY_BAD_PATH', { detail: 'backslash or NUL in the path' });
  const segments: string[] = [];
  for (const rawSegment of path.split('/')) {
    if (rawSegment === '') continue;
    let s: string;
    try {
      s = decodeURIComponent(rawSegment);
    } catch {
      throw new GatewayError('GATEWAY_BAD_PATH', { detail: 'malformed percent-encoding' });
    }
    if (s === '.' || s === '..') throw new GatewayError('GATEWAY_BAD_PATH', { detail: 'dot segment' });
    if (s.includes('/') || s.includes('\\') || s.includes('\0')) throw new GatewayError('GATEWAY_BAD_PATH', { detail: 'encoded separator or NUL' });
    if (s.startsWith('.')) throw new GatewayError('GATEWAY_NOT_FOUND');
    segments.push(s);
  }
  return { segments, trailingSlash: path.endsWith('/'), query: q < 0 ? undefined : target.slice(q + 1) };
}

/** The canonical URL path of `segments` (each segment percent-encoded), for links and web seeds. */
export function encodePath(segments: readonly string[], folder = false): string {
  const p = `/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
  return folder && segments.length > 0 ? `${p}/` : p;
}

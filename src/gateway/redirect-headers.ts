/**
 * The user's extra request headers (`get -H`) that may go to `to` when the request was for
 * `from`: all of them on the same origin (scheme, host and port), none of the credentials
 * (`Authorization`, `Cookie`, `Proxy-Authorization`) on another. A redirect, or a torrent's web
 * seed, to another host must not receive the bearer token or session cookie given for the first
 * one, as curl has dropped them on a redirect to another host (and, since 7.83, another scheme or
 * port) unless told `--location-trusted`; wget drops `Authorization` too.
 */
const CREDENTIALS: ReadonlySet<string> = new Set(['authorization', 'cookie', 'proxy-authorization']);

export function headersFor(headers: Readonly<Record<string, string>> | undefined, from: string, to: string): Readonly<Record<string, string>> | undefined {
  if (headers === undefined || sameOrigin(from, to)) return headers;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!CREDENTIALS.has(k.toLowerCase())) out[k] = v;
  return out;
}

/** `headersFor` every one of `targets` (a torrent's web seeds): the credentials only when all are on `from`'s origin. */
export function headersForAll(headers: Readonly<Record<string, string>> | undefined, from: string, targets: readonly string[]): Readonly<Record<string, string>> | undefined {
  return targets.every((to) => sameOrigin(from, to)) ? headers : headersFor(headers, from, '');
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/**
 * Wire peer addresses as text: `host:port`, with an IPv6 host in brackets (`[::1]:6881`), the
 * form of a link's `id`, of `--peer` and of the engine's dial queue. One writer and one reader,
 * shared by the listener, the dialer and the engine, so an address written by one is the same
 * string (a ban, a "connected" set) when another reads it.
 */

/** `host:port`, `[v6]:port`. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The host and port of `host:port` or `[v6]:port` (brackets dropped); undefined when the text is
 * not one of those forms or the port is not 0..65535. Hostnames are returned as given.
 */
export function parseHostPort(address: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address) ?? /^([^:[\]]+):(\d{1,5})$/.exec(address);
  if (m === null) return undefined;
  const port = Number(m[2]);
  return port <= 65535 ? { host: m[1]!, port } : undefined;
}

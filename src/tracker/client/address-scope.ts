import { BlockList, isIP } from 'node:net';
/**
 * Where an address points: `public`, or one of the internal kinds a peer URL from a stranger
 * must not point a client at (SSRF, docs/torrenttp.md §16): `loopback` (127/8, ::1, `localhost`),
 * `link-local` (169.254/16 — cloud metadata services live there —, fe80::/10), `private`
 * (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) and `unspecified` (0.0.0.0, ::). IPv4
 * mapped in IPv6 (`::ffff:a.b.c.d`) is its IPv4 address. A hostname other than `localhost` is
 * `public`: what it resolves to is not known here.
 */
export type AddressScope = 'public' | 'loopback' | 'link-local' | 'private' | 'unspecified';

/** Each internal scope's ranges (`BlockList` compares addresses, whatever their spelling). */
const SCOPES: readonly (readonly [AddressScope, BlockList])[] = (
  [
    ['loopback', [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']]],
    ['link-local', [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']]],
    ['private', [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['100.64.0.0', 10, 'ipv4'], ['fc00::', 7, 'ipv6']]],
    ['unspecified', [['0.0.0.0', 32, 'ipv4'], ['::', 128, 'ipv6']]],
  ] as const
).map(([scope, nets]) => {
  const list = new BlockList();
  for (const [net, prefix, type] of nets) list.addSubnet(net, prefix, type);
  return [scope, list] as const;
});

export function addressScope(host: string): AddressScope {
  let h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (/^(?:.+\.)?localhost\.?$/i.test(h)) return 'loopback';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(h);
  if (mapped !== null) h = mapped[1]!;
  const family = isIP(h);
  if (family === 0) return 'public';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [scope, list] of SCOPES) if (list.check(h, type)) return scope;
  return 'public';
}

/**
 * Whether a peer URL a tracker at `trackerUrl` named may be fetched: a public address always; an
 * internal one only when the tracker is itself on an internal address (a LAN swarm, `torrenttp
 * serve` on 127.0.0.1, whose LAN peers a local client may reach), and a link-local one only from
 * a link-local tracker. So a public tracker cannot send a client to its own loopback or LAN
 * services, and no tracker but a link-local one to 169.254.169.254 (a cloud's metadata service).
 * Not parseable: refused.
 */
export function peerUrlAllowed(peerUrl: string, trackerUrl: string): boolean {
  let peerHost: string;
  try {
    peerHost = new URL(peerUrl).hostname;
  } catch {
    return false;
  }
  const scope = addressScope(peerHost);
  if (scope === 'public') return true;
  try {
    const tracker = addressScope(new URL(trackerUrl).hostname);
    return scope === 'link-local' ? tracker === 'link-local' : tracker !== 'public';
  } catch {
    return false;
  }
}

import { TrackerError } from './errors.js';

/**
 * IP address literals and BEP 23 / BEP 7 compact peers, without `node:net` (the codecs are pure
 * and run in browsers). IPv6 text follows RFC 5952 (lowercase, longest zero run as `::`), so a
 * formatted address compares equal to any other canonical spelling of it.
 */

export type IpFamily = 4 | 6;

export interface ParsedIp {
  readonly family: IpFamily;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

/** A peer address: a tracker's answer entry, in its simplest form. */
export interface PeerAddress {
  readonly ip: string;
  readonly port: number;
}

export function parseIPv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    // Decimal only, no leading zeros: `010` is octal to some parsers, so it is ambiguous.
    if (!/^(?:0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

export function parseIPv6(input: string): Uint8Array | undefined {
  let s = input;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (s.length < 2 || s.length > 45 || s.includes('%')) return undefined; // zone ids mean nothing to a remote peer
  const out = new Uint8Array(16);
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const words: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseIPv4(item);
        if (v4 === undefined) return undefined;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
        words.push(parseInt(item, 16));
      }
    }
    return words;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return undefined;
  const words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  return out;
}

export function parseIp(s: string): ParsedIp | undefined {
  const v4 = parseIPv4(s);
  if (v4 !== undefined) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(s);
  return v6 === undefined ? undefined : { family: 6, bytes: v6 };
}

/**
 * Parses an address and folds an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack
 * socket reports for an IPv4 client) to plain IPv4, so such a peer gets 6-byte compact entries.
 */
export function parseIpNormalized(s: string): ParsedIp | undefined {
  const ip = parseIp(s);
  if (ip === undefined || ip.family === 4) return ip;
  const b = ip.bytes;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return ip;
  if (b[10] !== 0xff || b[11] !== 0xff) return ip;
  return { family: 4, bytes: b.slice(12) };
}

export function formatIPv4(b: Uint8Array, at = 0): string {
  return `${b[at]!}.${b[at + 1]!}.${b[at + 2]!}.${b[at + 3]!}`;
}

export function formatIPv6(b: Uint8Array, at = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[at + 2 * i]! << 8) | b[at + 2 * i + 1]!);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${formatIPv4(b, at + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 1; // RFC 5952 4.2.2: a single zero group is not shortened
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatIp(bytes: Uint8Array): string {
  return bytes.length === 4 ? formatIPv4(bytes) : formatIPv6(bytes);
}

/** One compact peer: 4 or 16 address bytes then the port, big-endian (BEP 23, BEP 7). */
export function encodeCompactPeer(ip: ParsedIp, port: number): Uint8Array {
  const n = ip.bytes.length;
  const out = new Uint8Array(n + 2);
  out.set(ip.bytes, 0);
  out[n] = port >> 8;
  out[n + 1] = port & 0xff;
  return out;
}

/** Concatenated compact peers to addresses. `entryBytes` is 6 (IPv4) or 18 (IPv6). */
export function decodeCompactPeers(bytes: Uint8Array, entryBytes: 6 | 18, offset = 0): PeerAddress[] {
  if (bytes.length % entryBytes !== 0) {
    throw new TrackerError('TRACKER_BAD_RESPONSE', {
      offset: offset + bytes.length - (bytes.length % entryBytes),
      detail: `compact peers length ${bytes.length} is not a multiple of ${entryBytes}`,
    });
  }
  const out: PeerAddress[] = [];
  for (let i = 0; i < bytes.length; i += entryBytes) {
    const ip = entryBytes === 6 ? formatIPv4(bytes, i) : formatIPv6(bytes, i);
    out.push({ ip, port: (bytes[i + entryBytes - 2]! << 8) | bytes[i + entryBytes - 1]! });
  }
  return out;
}

/** Compact form of many addresses, split by family: `v4` for `peers`, `v6` for `peers6`. */
export function encodeCompactPeers(peers: readonly PeerAddress[]): { v4: Uint8Array; v6: Uint8Array } {
  const v4: Uint8Array[] = [];
  const v6: Uint8Array[] = [];
  for (const p of peers) {
    const ip = parseIp(p.ip);
    if (ip === undefined) throw new TrackerError('TRACKER_BAD_IP', { detail: JSON.stringify(p.ip) });
    checkPort(p.port);
    (ip.family === 4 ? v4 : v6).push(encodeCompactPeer(ip, p.port));
  }
  const join = (parts: Uint8Array[], size: number): Uint8Array => {
    const out = new Uint8Array(parts.length * size);
    parts.forEach((p, i) => out.set(p, i * size));
    return out;
  };
  return { v4: join(v4, 6), v6: join(v6, 18) };
}

export function checkPort(port: number, offset?: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TrackerError('TRACKER_BAD_PORT', offset === undefined ? { detail: String(port) } : { detail: String(port), offset });
  }
  return port;
}

/**
 * Where an address leads, for deciding whether to believe a peer that names it (BEP 11 peer
 * exchange): `loopback` (127/8, ::1), `private` (RFC 1918, 169.254/16 and 100.64/10; fc00::/7 and
 * fe80::/10), `unspecified` (0/8, ::), `multicast` (224/4 and the reserved 240/4; ff00::/8),
 * `public` for anything else, `invalid` for no address at all. libtorrent's `is_local` and
 * Transmission's `isMartianAddr` draw the same lines.
 */
export type IpScope = 'public' | 'loopback' | 'private' | 'unspecified' | 'multicast' | 'invalid';

export function ipScope(s: string): IpScope {
  const ip = parseIpNormalized(s);
  if (ip === undefined) return 'invalid';
  const b = ip.bytes;
  if (ip.family === 4) {
    const [a, c] = [b[0]!, b[1]!];
    if (a === 127) return 'loopback';
    if (a === 0) return 'unspecified';
    if (a >= 224) return 'multicast';
    if (a === 10 || (a === 172 && c >= 16 && c < 32) || (a === 192 && c === 168) || (a === 169 && c === 254) || (a === 100 && c >= 64 && c < 128)) return 'private';
    return 'public';
  }
  if (b.every((x) => x === 0)) return 'unspecified';
  if (b.subarray(0, 15).every((x) => x === 0) && b[15] === 1) return 'loopback';
  if (b[0] === 0xff) return 'multicast';
  if ((b[0]! & 0xfe) === 0xfc || (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80)) return 'private';
  return 'public';
}

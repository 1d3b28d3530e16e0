import { decode, encode } from '../bencode/index.js';
import { WireError } from './errors.js';
import { EXTENDED_MESSAGE_ID } from './extension.js';

/**
 * BEP 11 `ut_pex` message bodies (what follows the extended id byte): a bencoded dict of compact
 * peer lists, `added` (6 bytes a peer) with one flag byte a peer in `added.f`, `dropped`, and
 * their IPv6 twins `added6` / `added6.f` / `dropped6` (18 bytes a peer). Pure: bytes in, peers out.
 *
 * Limits: BEP 11 allows 50 added and 50 dropped a message; we send at most that
 * (`WIRE_UNENCODABLE` beyond) and accept up to `PEX_LIMITS.maxPeers` a list (libtorrent sends up
 * to 100 on a first message), else `WIRE_BAD_EXTENSION`. A missing or short `added.f` means
 * flags 0; a list whose length is not a multiple of the entry size is an error.
 */
export const UT_PEX = 'ut_pex';
export const PEX_LIMITS = { maxSend: 50, maxPeers: 200, maxBodyBytes: 8 * 1024 } as const;

/** `added.f` bits. */
export const PEX_FLAGS = { encryption: 0x01, seed: 0x02, utp: 0x04, holepunch: 0x08, connectable: 0x10 } as const;

export interface PexPeer {
  /** Dotted IPv4 or lower-case, compressed IPv6 (RFC 5952). */
  readonly ip: string;
  readonly port: number;
  /** `added.f` byte; 0 for dropped peers. */
  readonly flags: number;
}

export interface PexMessage {
  readonly added: readonly PexPeer[];
  readonly dropped: readonly PexPeer[];
}

/** The body of a `ut_pex` message, to wrap with `encodeExtended(theirPexId, …)`. */
export function encodePexMessage(m: PexMessage): Uint8Array {
  for (const [name, list] of [['added', m.added], ['dropped', m.dropped]] as const) {
    if (list.length > PEX_LIMITS.maxSend) throw new WireError('WIRE_UNENCODABLE', { detail: `ut_pex with ${list.length} ${name} peers (at most ${PEX_LIMITS.maxSend})`, messageId: EXTENDED_MESSAGE_ID });
  }
  const a4 = m.added.filter((p) => !p.ip.includes(':'));
  const a6 = m.added.filter((p) => p.ip.includes(':'));
  const d4 = m.dropped.filter((p) => !p.ip.includes(':'));
  const d6 = m.dropped.filter((p) => p.ip.includes(':'));
  const dict: Record<string, Uint8Array> = {
    added: compact(a4, 6),
    'added.f': Uint8Array.from(a4, (p) => p.flags & 0xff),
    dropped: compact(d4, 6),
  };
  if (a6.length > 0 || d6.length > 0) {
    dict['added6'] = compact(a6, 18);
    dict['added6.f'] = Uint8Array.from(a6, (p) => p.flags & 0xff);
    dict['dropped6'] = compact(d6, 18);
  }
  return encode(dict);
}

/** A `ut_pex` body (after the extended id byte). Unknown keys are ignored. */
export function decodePexMessage(body: Uint8Array): PexMessage {
  if (body.length > PEX_LIMITS.maxBodyBytes) throw bad(`ut_pex message of ${body.length} bytes (limit ${PEX_LIMITS.maxBodyBytes})`);
  let dict: unknown;
  try {
    dict = decode(body, { strict: false, maxDepth: 4, maxTokens: 64 });
  } catch (cause) {
    throw new WireError('WIRE_BAD_EXTENSION', { detail: 'ut_pex message is not bencode', cause, messageId: EXTENDED_MESSAGE_ID });
  }
  if (!(dict instanceof Map)) throw bad('ut_pex message is not a dictionary');
  const list = (key: string, size: 6 | 18, flagsKey?: string): PexPeer[] => {
    const v = dict.get(key);
    if (v === undefined) return [];
    if (!(v instanceof Uint8Array)) throw bad(`ut_pex ${key} is not a string`);
    if (v.length % size !== 0) throw bad(`ut_pex ${key} of ${v.length} bytes is not a multiple of ${size}`);
    if (v.length / size > PEX_LIMITS.maxPeers) throw bad(`ut_pex ${key} with ${v.length / size} peers (limit ${PEX_LIMITS.maxPeers})`);
    const f = flagsKey === undefined ? undefined : dict.get(flagsKey);
    const flags = f instanceof Uint8Array ? f : new Uint8Array(0);
    const out: PexPeer[] = [];
    for (let i = 0; i * size < v.length; i++) {
      const e = v.subarray(i * size, (i + 1) * size);
      const port = (e[size - 2]! << 8) | e[size - 1]!;
      if (port === 0) continue; // no one listens on port 0: skipped, not fatal
      out.push({ ip: size === 6 ? `${e[0]}.${e[1]}.${e[2]}.${e[3]}` : ipv6(e), port, flags: flags[i] ?? 0 });
    }
    return out;
  };
  return {
    added: [...list('added', 6, 'added.f'), ...list('added6', 18, 'added6.f')],
    dropped: [...list('dropped', 6), ...list('dropped6', 18)],
  };
}

function compact(peers: readonly PexPeer[], size: 6 | 18): Uint8Array {
  const out = new Uint8Array(peers.length * size);
  peers.forEach((p, i) => {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 0xffff) throw new WireError('WIRE_UNENCODABLE', { detail: `ut_pex peer port ${p.port}`, messageId: EXTENDED_MESSAGE_ID });
    const at = i * size;
    if (size === 6) {
      const parts = p.ip.split('.').map(Number);
      if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new WireError('WIRE_UNENCODABLE', { detail: `ut_pex peer address ${p.ip}`, messageId: EXTENDED_MESSAGE_ID });
      out.set(parts, at);
    } else {
      out.set(ipv6Bytes(p.ip), at);
    }
    out[at + size - 2] = p.port >> 8;
    out[at + size - 1] = p.port & 0xff;
  });
  return out;
}

function ipv6(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // Longest run of two or more zero groups becomes "::" (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function ipv6Bytes(ip: string): Uint8Array {
  const fail = (): never => {
    throw new WireError('WIRE_UNENCODABLE', { detail: `ut_pex peer address ${ip}`, messageId: EXTENDED_MESSAGE_ID });
  };
  const halves = ip.split('::');
  if (halves.length > 2) fail();
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : fail())));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const groups = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  if (groups.length !== 8 || head.length + tail.length > (halves.length === 2 ? 7 : 8)) fail();
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function bad(detail: string): WireError {
  return new WireError('WIRE_BAD_EXTENSION', { detail, messageId: EXTENDED_MESSAGE_ID });
}

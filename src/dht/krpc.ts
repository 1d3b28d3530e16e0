import { BencodeError, decode, encode, type BencodeDict, type BencodeValue } from '../bencode/index.js';
import { encodeCompactPeer, formatIp, parseIp } from '../tracker/index.js';
import { DhtError } from './errors.js';

/**
 * KRPC (BEP 5 "KRPC Protocol"): one bencoded dict per UDP packet, `y` = `q` (query), `r`
 * (response) or `e` (error), `t` the transaction id echoed back. Pure: bytes in, a typed message
 * out, or a DhtError; no sockets, no clock. BEP 32 (IPv6): `nodes6` (38-byte compact nodes),
 * 18-byte peers in `values`, and `want` (`n4`/`n6`) on find_node and get_peers.
 *
 * Every packet goes through the strict bencode decoder with limits far tighter than a
 * torrent's: a DHT packet fits one unfragmented datagram in practice (libtorrent answers
 * within 1,500 bytes), so a flood of large or deeply nested packets costs almost nothing.
 */
export interface KrpcLimits {
  /** Largest packet. Default 4,096: a full get_peers reply (8 nodes + 100 values) is about 1 KB. */
  readonly maxPacketBytes?: number;
  /** Most bencode tokens. Default 512: 200 values plus the envelope. */
  readonly maxTokens?: number;
  /** Nesting. Default 4: `d` → `a`/`r` → `values` list → string. */
  readonly maxDepth?: number;
  /** Longest transaction id. Default 16 (clients use 2 to 4 bytes). */
  readonly maxTransactionBytes?: number;
  /** Longest announce token. Default 64 (libtorrent and we use 4 to 20). */
  readonly maxTokenBytes?: number;
  /** Most peers read from one `values` list. Default 200: more is refused as hostile. */
  readonly maxValues?: number;
}

export const KRPC_DEFAULTS = {
  maxPacketBytes: 4096,
  maxTokens: 512,
  maxDepth: 4,
  maxTransactionBytes: 16,
  maxTokenBytes: 64,
  maxValues: 200,
} as const;

export const NODE_ID_BYTES = 20;
export const COMPACT_NODE_BYTES = 26;
/** BEP 32: 20-byte id, 16-byte IPv6 address, 2-byte port. */
export const COMPACT_NODE6_BYTES = 38;

/** An address family of the DHT (BEP 32: the IPv4 and the IPv6 DHT are two separate networks). */
export type DhtFamily = 4 | 6;

/** BEP 5 error codes. */
export const KRPC_ERROR = { generic: 201, server: 202, protocol: 203, methodUnknown: 204 } as const;

export interface CompactNode {
  readonly id: Uint8Array;
  readonly ip: string;
  readonly port: number;
}

export interface PeerAddr {
  readonly ip: string;
  readonly port: number;
}

export type KrpcQuery =
  | { readonly method: 'ping'; readonly id: Uint8Array }
  | { readonly method: 'find_node'; readonly id: Uint8Array; readonly target: Uint8Array; /** BEP 32 `want`; absent: the family the query came over. */ readonly want?: readonly DhtFamily[] }
  | { readonly method: 'get_peers'; readonly id: Uint8Array; readonly infoHash: Uint8Array; readonly want?: readonly DhtFamily[] }
  | {
      readonly method: 'announce_peer';
      readonly id: Uint8Array;
      readonly infoHash: Uint8Array;
      readonly port: number;
      readonly token: Uint8Array;
      /** BEP 5 `implied_port`: use the packet's source port instead of `port` (peers behind NAT, µTP). */
      readonly impliedPort: boolean;
    }
  | { readonly method: 'unknown'; readonly id: Uint8Array; readonly name: string };

export interface KrpcResponse {
  readonly id: Uint8Array;
  /** IPv4 nodes (`nodes`, 26 bytes each). */
  readonly nodes: readonly CompactNode[];
  /** IPv6 nodes (BEP 32 `nodes6`, 38 bytes each); absent or empty when the reply has none. */
  readonly nodes6?: readonly CompactNode[];
  /** Peers: 6-byte IPv4 or 18-byte IPv6 entries (BEP 32). */
  readonly values: readonly PeerAddr[];
  readonly token?: Uint8Array;
}

export type KrpcMessage =
  | { readonly y: 'q'; readonly t: Uint8Array; readonly query: KrpcQuery; /** BEP 43 `ro`: the sender answers no queries. */ readonly readOnly: boolean }
  | { readonly y: 'r'; readonly t: Uint8Array; readonly response: KrpcResponse }
  | { readonly y: 'e'; readonly t: Uint8Array; readonly code: number; readonly message: string };

const textDecoder = new TextDecoder('utf-8', { fatal: false });
const textEncoder = new TextEncoder();

export function decodeKrpc(packet: Uint8Array, limits: KrpcLimits = {}): KrpcMessage {
  const l: Required<KrpcLimits> = { ...KRPC_DEFAULTS, ...limits };
  if (packet.length > l.maxPacketBytes) throw new DhtError('DHT_PACKET_TOO_LARGE', { detail: `${packet.length} bytes > ${l.maxPacketBytes}` });
  let v: BencodeValue;
  try {
    // Lenient key order: some clients send unsorted dicts; duplicates and everything else still fail.
    v = decode(packet, { strict: false, maxDepth: l.maxDepth, maxTokens: l.maxTokens, maxInputBytes: l.maxPacketBytes });
  } catch (err) {
    if (err instanceof BencodeError) throw new DhtError('DHT_BAD_PACKET', { detail: err.message, cause: err });
    throw err;
  }
  if (!(v instanceof Map)) throw bad('not a dict');
  const t = bytes(v, 't', 'transaction id');
  if (t.length === 0 || t.length > l.maxTransactionBytes) throw bad(`transaction id of ${t.length} bytes`);
  const y = text(bytes(v, 'y', 'y'));
  if (y === 'q') {
    const name = text(bytes(v, 'q', 'query name'));
    const a = dict(v, 'a');
    const id = nodeId(a, 'id');
    const ro = v.get('ro');
    const readOnly = ro === 1;
    return { y, t, query: parseQuery(name, id, a, l), readOnly };
  }
  if (y === 'r') {
    const r = dict(v, 'r');
    const id = nodeId(r, 'id');
    const nodesRaw = r.get('nodes');
    const nodes = nodesRaw === undefined ? [] : decodeCompactNodes(asBytes(nodesRaw, 'nodes'));
    const nodes6Raw = r.get('nodes6');
    const nodes6 = nodes6Raw === undefined ? undefined : decodeCompactNodes6(asBytes(nodes6Raw, 'nodes6'));
    const valuesRaw = r.get('values');
    const values: PeerAddr[] = [];
    if (valuesRaw !== undefined) {
      if (!Array.isArray(valuesRaw)) throw bad('values is not a list');
      if (valuesRaw.length > l.maxValues) throw bad(`${valuesRaw.length} values > ${l.maxValues}`);
      for (const item of valuesRaw) {
        const b = asBytes(item, 'value');
        if (b.length === 6 || b.length === 18) values.push(decodePeer(b, 0, b.length - 2));
        else throw bad(`value of ${b.length} bytes`);
      }
    }
    const tokenRaw = r.get('token');
    const token = tokenRaw === undefined ? undefined : asBytes(tokenRaw, 'token');
    if (token !== undefined && (token.length === 0 || token.length > l.maxTokenBytes)) throw bad(`token of ${token.length} bytes`);
    return { y, t, response: { id, nodes, ...(nodes6 === undefined ? {} : { nodes6 }), values, ...(token === undefined ? {} : { token }) } };
  }
  if (y === 'e') {
    const e = v.get('e');
    if (!Array.isArray(e) || e.length < 2 || typeof e[0] !== 'number' || !(e[1] instanceof Uint8Array)) throw bad('e is not [code, message]');
    return { y, t, code: e[0], message: text(e[1]).slice(0, 200) };
  }
  throw bad(`y is ${JSON.stringify(y.slice(0, 8))}`);
}

function parseQuery(name: string, id: Uint8Array, a: BencodeDict, l: Required<KrpcLimits>): KrpcQuery {
  switch (name) {
    case 'ping':
      return { method: 'ping', id };
    case 'find_node':
      return { method: 'find_node', id, target: nodeId(a, 'target'), ...want(a) };
    case 'get_peers':
      return { method: 'get_peers', id, infoHash: nodeId(a, 'info_hash'), ...want(a) };
    case 'announce_peer': {
      const port = a.get('port');
      const implied = a.get('implied_port');
      const impliedPort = implied === 1;
      if (!impliedPort && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) throw bad('port is not 1..65535');
      const token = bytes(a, 'token', 'token');
      if (token.length === 0 || token.length > l.maxTokenBytes) throw bad(`token of ${token.length} bytes`);
      return { method: 'announce_peer', id, infoHash: nodeId(a, 'info_hash'), port: typeof port === 'number' ? port : 0, token, impliedPort };
    }
    default:
      return { method: 'unknown', id, name: name.slice(0, 32) };
  }
}

export function encodeQuery(t: Uint8Array, q: Exclude<KrpcQuery, { method: 'unknown' }>, readOnly = false): Uint8Array {
  const a: Record<string, Uint8Array | number | string[]> = { id: q.id };
  if (q.method === 'find_node') a['target'] = q.target;
  if (q.method === 'get_peers' || q.method === 'announce_peer') a['info_hash'] = q.infoHash;
  if ((q.method === 'find_node' || q.method === 'get_peers') && q.want !== undefined) a['want'] = q.want.map((f) => `n${f}`);
  if (q.method === 'announce_peer') {
    a['port'] = q.port;
    a['token'] = q.token;
    if (q.impliedPort) a['implied_port'] = 1;
  }
  return encode({ a, q: q.method, ...(readOnly ? { ro: 1 } : {}), t, y: 'q' });
}

export function encodeResponse(t: Uint8Array, r: KrpcResponse): Uint8Array {
  const body: Record<string, Uint8Array | Uint8Array[]> = { id: r.id };
  if (r.nodes.length > 0) body['nodes'] = encodeCompactNodes(r.nodes);
  if (r.nodes6 !== undefined && r.nodes6.length > 0) body['nodes6'] = encodeCompactNodes6(r.nodes6);
  if (r.values.length > 0) body['values'] = r.values.map(encodePeer);
  if (r.token !== undefined) body['token'] = r.token;
  return encode({ r: body, t, y: 'r' });
}

export function encodeError(t: Uint8Array, code: number, message: string): Uint8Array {
  return encode({ e: [code, textEncoder.encode(message)], t, y: 'e' });
}

/** `nodes`: 26-byte IPv4 compact node infos (BEP 5). A length that is not a multiple of 26 is refused. */
export function decodeCompactNodes(b: Uint8Array): CompactNode[] {
  return decodeNodes(b, 4);
}

/** `nodes6`: 38-byte IPv6 compact node infos (BEP 32). A length that is not a multiple of 38 is refused. */
export function decodeCompactNodes6(b: Uint8Array): CompactNode[] {
  return decodeNodes(b, 6);
}

/** IPv4 nodes to `nodes`; an IPv6 node is a DHT_BAD_MESSAGE (it belongs in `nodes6`). */
export function encodeCompactNodes(nodes: readonly CompactNode[]): Uint8Array {
  return encodeNodes(nodes, 4);
}

/** IPv6 nodes to `nodes6`; an IPv4 node is a DHT_BAD_MESSAGE (it belongs in `nodes`). */
export function encodeCompactNodes6(nodes: readonly CompactNode[]): Uint8Array {
  return encodeNodes(nodes, 6);
}

function nodeBytes(family: DhtFamily): number {
  return family === 4 ? COMPACT_NODE_BYTES : COMPACT_NODE6_BYTES;
}

function decodeNodes(b: Uint8Array, family: DhtFamily): CompactNode[] {
  const size = nodeBytes(family);
  if (b.length % size !== 0) throw bad(`nodes${family === 6 ? '6' : ''} of ${b.length} bytes is not a multiple of ${size}`);
  const out: CompactNode[] = [];
  for (let i = 0; i < b.length; i += size) {
    const p = decodePeer(b, i + NODE_ID_BYTES, size - NODE_ID_BYTES - 2);
    out.push({ id: new Uint8Array(b.subarray(i, i + NODE_ID_BYTES)), ...p });
  }
  return out;
}

function encodeNodes(nodes: readonly CompactNode[], family: DhtFamily): Uint8Array {
  const size = nodeBytes(family);
  const out = new Uint8Array(nodes.length * size);
  nodes.forEach((n, i) => {
    const peer = encodePeer(n);
    if (peer.length !== size - NODE_ID_BYTES) throw new DhtError('DHT_BAD_MESSAGE', { detail: `${n.ip} is not an IPv${family} address` });
    out.set(n.id, i * size);
    out.set(peer, i * size + NODE_ID_BYTES);
  });
  return out;
}

/** The family of an address string, or undefined when it is none. */
export function ipFamily(ip: string): DhtFamily | undefined {
  return parseIp(ip)?.family;
}

/** A compact peer: 6 bytes for IPv4, 18 for IPv6 (BEP 32), port big-endian. */
export function encodePeer(p: PeerAddr): Uint8Array {
  const ip = parseIp(p.ip);
  if (ip === undefined) throw new DhtError('DHT_BAD_MESSAGE', { detail: `${p.ip} is not an IP address` });
  return encodeCompactPeer(ip, p.port);
}

/** The compact peer at `at`: `ipBytes` (4 or 16) address bytes, then the port. */
function decodePeer(b: Uint8Array, at: number, ipBytes: number): PeerAddr {
  return { ip: formatIp(b.subarray(at, at + ipBytes)), port: (b[at + ipBytes]! << 8) | b[at + ipBytes + 1]! };
}

/** BEP 32 `want`: a list of `n4`/`n6`; other flags are ignored (forward compatibility), a non-list is refused. */
function want(a: BencodeDict): { want?: DhtFamily[] } {
  const w = a.get('want');
  if (w === undefined) return {};
  if (!Array.isArray(w)) throw bad('want is not a list');
  const out: DhtFamily[] = [];
  for (const item of w) {
    const f = text(asBytes(item, 'want flag'));
    if (f === 'n4' && !out.includes(4)) out.push(4);
    else if (f === 'n6' && !out.includes(6)) out.push(6);
  }
  return { want: out };
}

function bad(detail: string): DhtError {
  return new DhtError('DHT_BAD_MESSAGE', { detail });
}

function dict(v: BencodeDict, key: string): BencodeDict {
  const d = v.get(key);
  if (!(d instanceof Map)) throw bad(`${key} is not a dict`);
  return d;
}

function asBytes(v: BencodeValue, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw bad(`${what} is not a byte string`);
  return v;
}

function bytes(v: BencodeDict, key: string, what: string): Uint8Array {
  const b = v.get(key);
  if (b === undefined) throw bad(`no ${what}`);
  return asBytes(b, what);
}

function nodeId(v: BencodeDict, key: string): Uint8Array {
  const b = bytes(v, key, key);
  if (b.length !== NODE_ID_BYTES) throw new DhtError('DHT_BAD_NODE_ID', { detail: `${key} of ${b.length} bytes` });
  return new Uint8Array(b); // a copy: outlives the packet buffer, and a plain Uint8Array even from a Buffer
}

function text(b: Uint8Array): string {
  return textDecoder.decode(b);
}

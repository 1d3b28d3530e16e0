import { decode, encode, type BencodeValue, type Encodable } from '../bencode/index.js';
import { WireError } from './errors.js';
import type { WireMessage } from './messages.js';

/**
 * BEP 10, the extension protocol: message id 20, then an extended id byte, then the body. Extended
 * id 0 is the handshake, a bencoded dict; any other id is a message of the extension the
 * *receiver* mapped to that id in its own handshake's `m` (so the ids we send are the peer's, the
 * ids we receive are ours).
 *
 * Handshake fields we read and write: `m` (extension name → id, 0 = disabled), `v` (client name),
 * `p` (listen port), `reqq` (requests the sender queues), `yourip` (the address the sender sees
 * us at, 4 or 16 bytes), `metadata_size` (BEP 9) and torrenttp's own `torrenttp_max_request`
 * (runs of blocks, below). Unknown keys and unknown extensions are
 * ignored; a known key of the wrong type is read as absent, since the handshake is advisory. Only
 * what cannot be a handshake at all (not bencode, not a dict, past the limits) is an error.
 *
 * `reqq` is why we sent a handshake before any extension: Transmission 3.00 keeps ten seconds of
 * blocks in flight at the rate it measures (`updateDesiredRequestCount` in
 * libtransmission/peer-msgs.c) and caps that only by the peer's `reqq`: on loopback that is
 * thousands of requests, so without a `reqq` it overruns any request limit. The other way round,
 * we keep our queue to a peer within its `reqq` (libtorrent does the same).
 */
export const EXTENDED_MESSAGE_ID = 20;
export const EXTENDED_HANDSHAKE_ID = 0;

/**
 * Limits on a peer's handshake. 64 KiB is far above any real one (a few hundred bytes; libtorrent
 * has no explicit cap below its 1 MiB message limit, Transmission reads at most 4 KiB of it); 64
 * extensions is ten times what any client offers today.
 */
export const EXTENSION_LIMITS = {
  maxHandshakeBytes: 64 * 1024,
  maxExtensions: 64,
  maxNameBytes: 64,
  maxClientNameBytes: 256,
} as const;

export interface ExtendedHandshake {
  /** Extension name → the sender's id for it; 0 (BEP 10) means "disabled" and is dropped when decoding. */
  readonly m: ReadonlyMap<string, number>;
  /** Client name and version (`v`), UTF-8. */
  readonly v?: string;
  /** The sender's TCP listen port (`p`). */
  readonly p?: number;
  /** Outstanding requests the sender queues (`reqq`). */
  readonly reqq?: number;
  /** Our address as the sender sees it (`yourip`): 4 bytes (IPv4) or 16 (IPv6). */
  readonly yourip?: Uint8Array;
  /** Bytes of the info dict (BEP 9 `metadata_size`), when the sender has it. */
  readonly metadataSize?: number;
  /**
   * torrenttp's own key, `torrenttp_max_request`: the sender answers a `request` of up to this many
   * bytes (a run of blocks within one piece) and takes a `piece` message of up to as many (the
   * answer to its own). Absent: 16 KiB both ways, as BEP 3 says.
   */
  readonly maxRequest?: number;
}

/** The BEP 10 handshake key of `ExtendedHandshake.maxRequest`. */
export const MAX_REQUEST_KEY = 'torrenttp_max_request';

export function encodeExtendedHandshake(h: ExtendedHandshake): WireMessage {
  const m: Record<string, number> = {};
  for (const [name, id] of h.m) {
    if (!Number.isInteger(id) || id < 0 || id > 255) throw unencodable(`extension ${name} id ${id} must be 0..255`);
    m[name] = id;
  }
  if (h.reqq !== undefined && !isU32(h.reqq, 1)) throw unencodable(`reqq ${h.reqq} must be a positive u32`);
  if (h.p !== undefined && (!Number.isInteger(h.p) || h.p < 1 || h.p > 0xffff)) throw unencodable(`p ${h.p} must be a port`);
  if (h.metadataSize !== undefined && !isU32(h.metadataSize, 1)) throw unencodable(`metadata_size ${h.metadataSize} must be a positive u32`);
  if (h.yourip !== undefined && h.yourip.length !== 4 && h.yourip.length !== 16) throw unencodable('yourip must be 4 or 16 bytes');
  if (h.maxRequest !== undefined && !isU32(h.maxRequest, 1)) throw unencodable(`${MAX_REQUEST_KEY} ${h.maxRequest} must be a positive u32`);
  const dict: Record<string, Encodable | undefined> = {
    m,
    metadata_size: h.metadataSize,
    p: h.p,
    reqq: h.reqq,
    [MAX_REQUEST_KEY]: h.maxRequest,
    v: h.v,
    yourip: h.yourip,
  };
  return encodeExtended(EXTENDED_HANDSHAKE_ID, encode(dict));
}

/**
 * A peer's handshake from a message id 20 payload (extended id byte first); undefined when the
 * payload is another extension message. Unsorted keys are accepted (seen from real clients).
 */
export function decodeExtendedHandshake(payload: Uint8Array): ExtendedHandshake | undefined {
  if (payload[0] !== EXTENDED_HANDSHAKE_ID) return undefined;
  const L = EXTENSION_LIMITS;
  if (payload.length - 1 > L.maxHandshakeBytes) throw bad(`handshake of ${payload.length - 1} bytes (limit ${L.maxHandshakeBytes})`);
  let dict: BencodeValue;
  try {
    dict = decode(payload.subarray(1), { strict: false, maxDepth: 8, maxTokens: 4 * L.maxExtensions + 256 });
  } catch (cause) {
    throw new WireError('WIRE_BAD_EXTENSION', { detail: 'handshake is not bencode', cause, messageId: EXTENDED_MESSAGE_ID });
  }
  if (!(dict instanceof Map)) throw bad('handshake is not a dictionary');
  const m = new Map<string, number>();
  const rawM = dict.get('m');
  if (rawM instanceof Map) {
    if (rawM.size > L.maxExtensions) throw bad(`${rawM.size} extensions in m (limit ${L.maxExtensions})`);
    for (const [name, id] of rawM) {
      // Id 0 disables; ids past 255 cannot be written in the id byte: both mean "not offered".
      if (name.length <= L.maxNameBytes && typeof id === 'number' && Number.isInteger(id) && id > 0 && id <= 255) m.set(name, id);
    }
  }
  const out: { -readonly [K in keyof ExtendedHandshake]: ExtendedHandshake[K] } = { m };
  const v = dict.get('v');
  if (v instanceof Uint8Array && v.length <= L.maxClientNameBytes) out.v = new TextDecoder().decode(v);
  const p = dict.get('p');
  if (typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 0xffff) out.p = p;
  const reqq = dict.get('reqq');
  if (typeof reqq === 'number' && isU32(reqq, 1)) out.reqq = reqq;
  const yourip = dict.get('yourip');
  if (yourip instanceof Uint8Array && (yourip.length === 4 || yourip.length === 16)) out.yourip = yourip.slice();
  const size = dict.get('metadata_size');
  if (typeof size === 'number' && isU32(size, 1)) out.metadataSize = size;
  const maxRequest = dict.get(MAX_REQUEST_KEY);
  if (typeof maxRequest === 'number' && isU32(maxRequest, 1)) out.maxRequest = maxRequest;
  return out;
}

/** An extension message: id 20, `extendedId`, `body` (copied once into the message). */
export function encodeExtended(extendedId: number, body: Uint8Array, tail?: Uint8Array): WireMessage {
  if (!Number.isInteger(extendedId) || extendedId < 0 || extendedId > 255) throw unencodable(`extended id ${extendedId}`);
  const payload = new Uint8Array(1 + body.length + (tail?.length ?? 0));
  payload[0] = extendedId;
  payload.set(body, 1);
  if (tail !== undefined) payload.set(tail, 1 + body.length);
  return { type: 'unknown', id: EXTENDED_MESSAGE_ID, payload };
}

function isU32(n: number, min: number): boolean {
  return Number.isInteger(n) && n >= min && n <= 0xffffffff;
}

function bad(detail: string): WireError {
  return new WireError('WIRE_BAD_EXTENSION', { detail, messageId: EXTENDED_MESSAGE_ID });
}

function unencodable(detail: string): WireError {
  return new WireError('WIRE_UNENCODABLE', { detail, messageId: EXTENDED_MESSAGE_ID });
}

import { decode, encode, type Encodable } from '../bencode/index.js';
import { WireError } from './errors.js';
import type { WireMessage } from './messages.js';

/**
 * BEP 10, the extension protocol, as far as we speak it: the extended handshake only, both ways. It is
 * message id 20 with extended id 0 and a bencoded dict; `m` maps the extensions we support to
 * our ids (none yet, so the peer sends us no extension messages), and `reqq` is the number of
 * outstanding requests we queue before we stop answering.
 *
 * `reqq` is why we send it at all. Transmission 3.00 keeps ten seconds of blocks in flight at
 * the rate it measures (`updateDesiredRequestCount` in libtransmission/peer-msgs.c) and caps
 * that only by the peer's `reqq`: on loopback that is thousands of requests, so without a
 * `reqq` it overruns any request limit. The other way round, we keep our queue to a peer within
 * its `reqq` (libtorrent does the same), or a peer with a lower limit than our depth closes on us.
 */
export const EXTENDED_MESSAGE_ID = 20;
export const EXTENDED_HANDSHAKE_ID = 0;

export interface ExtendedHandshake {
  /** Outstanding requests we accept from this peer (BEP 10 `reqq`). */
  readonly reqq: number;
  /** Client name and version (BEP 10 `v`), UTF-8. */
  readonly v?: string;
}

export function encodeExtendedHandshake(h: ExtendedHandshake): WireMessage {
  if (!Number.isInteger(h.reqq) || h.reqq < 1 || h.reqq > 0xffffffff) {
    throw new WireError('WIRE_UNENCODABLE', { detail: `reqq ${h.reqq} must be a positive u32`, messageId: EXTENDED_MESSAGE_ID });
  }
  const dict: Record<string, Encodable | undefined> = { m: {}, reqq: h.reqq, v: h.v };
  const body = encode(dict);
  const payload = new Uint8Array(1 + body.length);
  payload[0] = EXTENDED_HANDSHAKE_ID;
  payload.set(body, 1);
  return { type: 'unknown', id: EXTENDED_MESSAGE_ID, payload };
}

/**
 * Limits read from a peer's message id 20 payload (extended id byte first) if it is the
 * extended handshake; undefined for other extension messages. Lenient, as the handshake is
 * advisory: unsorted keys are accepted, and a malformed dict or a `reqq` that is not a positive
 * integer reads as "no limit given" rather than failing the connection.
 */
export function decodeExtendedHandshake(payload: Uint8Array): { readonly reqq: number | undefined } | undefined {
  if (payload[0] !== EXTENDED_HANDSHAKE_ID) return undefined;
  let dict: unknown;
  try {
    dict = decode(payload.subarray(1), { strict: false, maxDepth: 16, maxTokens: 10_000 });
  } catch {
    return { reqq: undefined };
  }
  const reqq = dict instanceof Map ? dict.get('reqq') : undefined;
  return { reqq: typeof reqq === 'number' && Number.isInteger(reqq) && reqq > 0 ? reqq : undefined };
}

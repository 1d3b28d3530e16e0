import { WireError } from './errors.js';
import type { BlockRange, WireMessage } from './messages.js';

/**
 * BEP 6, the fast extension (reserved bit 0x04 of byte 7, on both sides). Its five messages
 * arrive from `WireDecoder` as `unknown` (ids above BEP 3's); this reads and writes them.
 *
 * - `suggest` (13, index): the peer would like us to fetch this piece.
 * - `haveAll` (14) / `haveNone` (15): instead of a bitfield, as the first message after the handshake.
 * - `reject` (16, index, begin, length): the peer will not serve that request of ours. With the
 *   extension on, a choke no longer discards requests silently: every one ends in a block or a reject.
 * - `allowedFast` (17, index): we may request blocks of that piece even while choked.
 *
 * Range checks against the torrent are the link's: it knows the geometry, this codec does not.
 */
export const FAST_MESSAGE_ID = { suggest: 13, haveAll: 14, haveNone: 15, reject: 16, allowedFast: 17 } as const;

export type FastMessage =
  | { readonly type: 'suggest'; readonly index: number }
  | { readonly type: 'haveAll' }
  | { readonly type: 'haveNone' }
  | ({ readonly type: 'reject' } & BlockRange)
  | { readonly type: 'allowedFast'; readonly index: number };

/** The fast message in an `unknown` wire message; undefined when `id` is not one of BEP 6's. */
export function decodeFastMessage(id: number, payload: Uint8Array): FastMessage | undefined {
  switch (id) {
    case FAST_MESSAGE_ID.haveAll:
    case FAST_MESSAGE_ID.haveNone:
      expectLength(id, payload, 0);
      return { type: id === FAST_MESSAGE_ID.haveAll ? 'haveAll' : 'haveNone' };
    case FAST_MESSAGE_ID.suggest:
    case FAST_MESSAGE_ID.allowedFast:
      expectLength(id, payload, 4);
      return { type: id === FAST_MESSAGE_ID.suggest ? 'suggest' : 'allowedFast', index: u32(payload, 0) };
    case FAST_MESSAGE_ID.reject:
      expectLength(id, payload, 12);
      return { type: 'reject', index: u32(payload, 0), begin: u32(payload, 4), length: u32(payload, 8) };
    default:
      return undefined;
  }
}

export function encodeFastMessage(m: FastMessage): WireMessage {
  const id = FAST_MESSAGE_ID[m.type];
  const fields = m.type === 'reject' ? [m.index, m.begin, m.length] : m.type === 'suggest' || m.type === 'allowedFast' ? [m.index] : [];
  const payload = new Uint8Array(4 * fields.length);
  fields.forEach((v, k) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new WireError('WIRE_UNENCODABLE', { detail: `${m.type} field ${v}`, messageId: id });
    new DataView(payload.buffer).setUint32(4 * k, v);
  });
  return { type: 'unknown', id, payload };
}

function expectLength(id: number, payload: Uint8Array, bytes: number): void {
  if (payload.length !== bytes) {
    throw new WireError('WIRE_BAD_LENGTH', { detail: `fast message ${id} needs ${bytes} payload bytes, got ${payload.length}`, messageId: id });
  }
}

function u32(b: Uint8Array, at: number): number {
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}

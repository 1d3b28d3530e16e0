import { decode, encode } from '../bencode/index.js';
import { WireError } from './errors.js';
import { EXTENDED_MESSAGE_ID } from './extension.js';

/**
 * BEP 9 `ut_metadata` message bodies (what follows the extended id byte): a bencoded dict
 * `{msg_type, piece[, total_size]}`, and for `data` the piece's bytes right after the dict.
 * The info dict travels in 16 KiB pieces; every piece but the last is exactly 16 KiB.
 *
 * Decoding checks the shape only. Whether a piece index or a data length fits the metadata
 * size is the receiver's business (it knows the size); `metadataPieceCount` and
 * `metadataPieceLength` give the geometry.
 */
export const UT_METADATA = 'ut_metadata';
export const METADATA_PIECE_BYTES = 16 * 1024;

/** Dict part of a message: a few dozen bytes in practice; 1 KiB bounds the scan for its end. */
const MAX_DICT_BYTES = 1024;

export type MetadataMessage =
  | { readonly type: 'request'; readonly piece: number }
  | { readonly type: 'data'; readonly piece: number; readonly totalSize: number; readonly data: Uint8Array }
  | { readonly type: 'reject'; readonly piece: number };

const MSG_TYPE = { request: 0, data: 1, reject: 2 } as const;

export function metadataPieceCount(metadataSize: number): number {
  return Math.ceil(metadataSize / METADATA_PIECE_BYTES);
}

export function metadataPieceLength(metadataSize: number, piece: number): number {
  return Math.min(METADATA_PIECE_BYTES, metadataSize - piece * METADATA_PIECE_BYTES);
}

/** The body of a `ut_metadata` message, to wrap with `encodeExtended(peerId, …)`; `data` is the tail. */
export function encodeMetadataMessage(m: MetadataMessage): { readonly body: Uint8Array; readonly tail?: Uint8Array } {
  if (!Number.isInteger(m.piece) || m.piece < 0 || m.piece > 0xffffffff) {
    throw new WireError('WIRE_UNENCODABLE', { detail: `metadata piece ${m.piece}`, messageId: EXTENDED_MESSAGE_ID });
  }
  if (m.type === 'data') {
    if (m.data.length > METADATA_PIECE_BYTES) {
      throw new WireError('WIRE_UNENCODABLE', { detail: `metadata piece of ${m.data.length} bytes`, messageId: EXTENDED_MESSAGE_ID });
    }
    return { body: encode({ msg_type: MSG_TYPE.data, piece: m.piece, total_size: m.totalSize }), tail: m.data };
  }
  return { body: encode({ msg_type: MSG_TYPE[m.type], piece: m.piece }) };
}

/**
 * A `ut_metadata` body (after the extended id byte). `data` is a view into `body`. Unknown
 * `msg_type`s are errors: BEP 9 says to ignore them, but none exist, and a peer inventing one is
 * not worth keeping a metadata exchange with.
 */
export function decodeMetadataMessage(body: Uint8Array): MetadataMessage {
  const end = dictEnd(body);
  let dict: unknown;
  try {
    dict = decode(body.subarray(0, end), { strict: false, maxDepth: 4, maxTokens: 64 });
  } catch (cause) {
    throw new WireError('WIRE_BAD_EXTENSION', { detail: 'ut_metadata dict is not bencode', cause, messageId: EXTENDED_MESSAGE_ID });
  }
  if (!(dict instanceof Map)) throw bad('ut_metadata message is not a dictionary');
  const type = dict.get('msg_type');
  const piece = dict.get('piece');
  if (typeof piece !== 'number' || !Number.isInteger(piece) || piece < 0 || piece > 0xffffffff) throw bad('ut_metadata piece is not a u32');
  switch (type) {
    case MSG_TYPE.request:
    case MSG_TYPE.reject:
      if (end !== body.length) throw bad('ut_metadata request or reject with trailing bytes');
      return { type: type === MSG_TYPE.request ? 'request' : 'reject', piece };
    case MSG_TYPE.data: {
      const totalSize = dict.get('total_size');
      if (typeof totalSize !== 'number' || !Number.isInteger(totalSize) || totalSize < 1) throw bad('ut_metadata data without a total_size');
      const data = body.subarray(end);
      if (data.length === 0 || data.length > METADATA_PIECE_BYTES) throw bad(`ut_metadata data of ${data.length} bytes`);
      return { type: 'data', piece, totalSize, data };
    }
    default:
      throw bad(`ut_metadata msg_type ${String(type)}`);
  }
}

/**
 * Where the top-level bencode value at the start of `b` ends. A scan, not a decode: the data
 * piece follows the dict with no length of its own, so the dict's end is the only boundary.
 */
function dictEnd(b: Uint8Array): number {
  const limit = Math.min(b.length, MAX_DICT_BYTES);
  let depth = 0;
  let i = 0;
  while (i < limit) {
    const c = b[i]!;
    if (c === 0x64 || c === 0x6c) {
      depth++;
      i++;
    } else if (c === 0x65) {
      depth--;
      i++;
    } else if (c === 0x69) {
      const e = b.indexOf(0x65, i);
      if (e < 0 || e >= limit) break;
      i = e + 1;
    } else if (c >= 0x30 && c <= 0x39) {
      const colon = b.indexOf(0x3a, i);
      if (colon < 0 || colon >= limit || colon - i > 6) break;
      let n = 0;
      for (let k = i; k < colon; k++) {
        const d = b[k]! - 0x30;
        if (d < 0 || d > 9) throw bad('ut_metadata dict has a bad string length');
        n = n * 10 + d;
      }
      i = colon + 1 + n;
    } else {
      throw bad(`ut_metadata dict has byte 0x${c.toString(16)} at ${i}`);
    }
    if (depth <= 0) {
      if (depth < 0 || i > limit) break;
      return i;
    }
  }
  throw bad(`ut_metadata dict does not end within ${MAX_DICT_BYTES} bytes`);
}

function bad(detail: string): WireError {
  return new WireError('WIRE_BAD_EXTENSION', { detail, messageId: EXTENDED_MESSAGE_ID });
}

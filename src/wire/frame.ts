import { WireError } from './errors.js';
import { LAST_BEP3_MESSAGE_ID, MESSAGE_ID, type WireMessage } from './messages.js';

/**
 * One message body (`<id><payload>`, the bytes after the length prefix): its checks and its
 * parse. Offsets passed in (`at`) are the absolute stream offset of the message's length prefix,
 * so the id is at `at + 4` and payload byte `k` at `at + 5 + k`.
 */

/** What the decoder needs of a torrent's geometry; metainfo's geometry satisfies it. */
export interface PieceGeometry {
  readonly pieceCount: number;
  pieceLengthOf(index: number): number;
}

/** The decoder's limits and the little protocol state the checks read and update. */
export interface FrameContext {
  readonly maxMessageBytes: number;
  readonly maxRequestBytes: number;
  /** Largest `request`, `cancel` or `piece` block (at least `maxRequestBytes`): a run of blocks, between peers that say they take one. */
  readonly maxRunBytes: number;
  torrent: PieceGeometry | undefined;
  /** True until the first message that carries piece state (see decoder.ts). */
  /** A bitfield was seen: a second one is an error. */
  bitfieldSeen: boolean;
}

const PAYLOAD_AT = 5;

const NAMES = ['choke', 'unchoke', 'interested', 'not interested', 'have', 'bitfield', 'request', 'piece', 'cancel', 'port'];

/** Exact length prefix for fixed-size ids (BEP 3); undefined where the length varies. */
const FIXED_LENGTH: readonly (number | undefined)[] = [1, 1, 1, 1, 5, undefined, 13, undefined, 13, 3];

/** index (4) + begin (4) after the id. */
const PIECE_FIXED_BYTES = 8;

/** Checks that need only the id and the declared length, so they can run before the body is in. */
export function checkFrame(ctx: FrameContext, id: number, length: number, at: number): void {
  if (id > LAST_BEP3_MESSAGE_ID) return;
  const fixed = FIXED_LENGTH[id];
  if (fixed !== undefined && length !== fixed) {
    throw new WireError('WIRE_BAD_LENGTH', { detail: `${NAMES[id]} needs length ${fixed}, got ${length}`, offset: at, messageId: id });
  }
  if (id === MESSAGE_ID.bitfield) {
    if (ctx.torrent !== undefined) {
      const expected = bitfieldBytes(ctx.torrent.pieceCount);
      if (length - 1 !== expected) {
        throw new WireError('WIRE_BAD_BITFIELD', {
          detail: `${length - 1} bytes for ${ctx.torrent.pieceCount} pieces, expected ${expected}`,
          offset: at,
          messageId: id,
        });
      }
    }
  } else if (id === MESSAGE_ID.piece) {
    if (length < 1 + PIECE_FIXED_BYTES) {
      throw new WireError('WIRE_BAD_LENGTH', { detail: `piece needs length >= 9, got ${length}`, offset: at, messageId: id });
    }
    // Past `maxRequestBytes`, up to `maxRunBytes`: a run, which the decoder hands out in blocks.
    checkBlockLength(ctx, id, length - 1 - PIECE_FIXED_BYTES, at, ctx.maxRunBytes);
  }
}

/**
 * Parses a complete body, `buf[start, start + length)`. `buf` may be the caller's chunk; byte
 * fields of the message are views into it. (Offsets, not a view of the body: one object less per
 * block on the download path.)
 */
export function parseBody(ctx: FrameContext, buf: Uint8Array, start: number, length: number, at: number): WireMessage {
  const id = buf[start]!;
  checkFrame(ctx, id, length, at);
  const end = start + length;
  switch (id) {
    case MESSAGE_ID.choke:
      return { type: 'choke' };
    case MESSAGE_ID.unchoke:
      return { type: 'unchoke' };
    case MESSAGE_ID.interested:
      return { type: 'interested' };
    case MESSAGE_ID.notInterested:
      return { type: 'notInterested' };
    case MESSAGE_ID.have: {
      const index = readU32(buf, start + 1);
      checkIndex(ctx, id, index, at);
      return { type: 'have', index };
    }
    case MESSAGE_ID.bitfield: {
      const bitfield = buf.subarray(start + 1, end);
      if (ctx.torrent !== undefined) checkSpareBits(ctx.torrent.pieceCount, bitfield, at);
      ctx.bitfieldSeen = true;
      return { type: 'bitfield', bitfield };
    }
    case MESSAGE_ID.request:
    case MESSAGE_ID.cancel: {
      const index = readU32(buf, start + 1);
      const begin = readU32(buf, start + 5);
      const blockLength = readU32(buf, start + 9);
      checkBlockLength(ctx, id, blockLength, at + PAYLOAD_AT + 8, ctx.maxRunBytes);
      checkRange(ctx, id, index, begin, blockLength, at);
      return { type: id === MESSAGE_ID.request ? 'request' : 'cancel', index, begin, length: blockLength };
    }
    case MESSAGE_ID.piece: {
      const index = readU32(buf, start + 1);
      const begin = readU32(buf, start + 5);
      checkRange(ctx, id, index, begin, length - 1 - PIECE_FIXED_BYTES, at);
      return { type: 'piece', index, begin, block: buf.subarray(start + 1 + PIECE_FIXED_BYTES, end) };
    }
    case MESSAGE_ID.port:
      return { type: 'port', port: (buf[start + 1]! << 8) | buf[start + 2]! };
    default:
      return { type: 'unknown', id, payload: buf.subarray(start + 1, end) };
  }
}

/**
 * The head of a `piece` message (id, index, begin) at `buf[start]`, its block `blockLength` bytes
 * long: the index and begin, range-checked. For a run, which the decoder hands out in blocks.
 */
export function parsePieceHead(ctx: FrameContext, buf: Uint8Array, start: number, blockLength: number, at: number): { index: number; begin: number } {
  const index = readU32(buf, start + 1);
  const begin = readU32(buf, start + 5);
  checkRange(ctx, MESSAGE_ID.piece, index, begin, blockLength, at);
  return { index, begin };
}

export function readU32(b: Uint8Array, at: number): number {
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}

export function bitfieldBytes(pieceCount: number): number {
  return Math.ceil(pieceCount / 8);
}

function checkBlockLength(ctx: FrameContext, id: number, length: number, offset: number, limit: number): void {
  if (length === 0 || length > limit) {
    throw new WireError('WIRE_BAD_BLOCK_LENGTH', {
      detail: `${NAMES[id]} of ${length} bytes (limit ${limit})`,
      offset,
      messageId: id,
    });
  }
}

function checkIndex(ctx: FrameContext, id: number, index: number, at: number): void {
  const torrent = ctx.torrent;
  if (torrent !== undefined && index >= torrent.pieceCount) {
    throw new WireError('WIRE_OUT_OF_RANGE', {
      detail: `${NAMES[id]} of piece ${index}, torrent has ${torrent.pieceCount}`,
      offset: at + PAYLOAD_AT,
      messageId: id,
    });
  }
}

function checkRange(ctx: FrameContext, id: number, index: number, begin: number, length: number, at: number): void {
  const torrent = ctx.torrent;
  if (torrent === undefined) return;
  checkIndex(ctx, id, index, at);
  const pieceBytes = torrent.pieceLengthOf(index);
  if (begin + length > pieceBytes) {
    throw new WireError('WIRE_OUT_OF_RANGE', {
      detail: `${NAMES[id]} of bytes ${begin}..${begin + length} of piece ${index}, which has ${pieceBytes}`,
      offset: at + PAYLOAD_AT + 4,
      messageId: id,
    });
  }
}

/** BEP 3: "Spare bits at the end are set to zero. Clients ... should drop the connection." */
function checkSpareBits(pieceCount: number, bitfield: Uint8Array, at: number): void {
  const spare = bitfield.length * 8 - pieceCount;
  if (spare <= 0) return;
  const last = bitfield[bitfield.length - 1]!;
  if ((last & ((1 << spare) - 1)) !== 0) {
    throw new WireError('WIRE_BAD_BITFIELD', {
      detail: `spare bits set for ${pieceCount} pieces`,
      offset: at + PAYLOAD_AT + bitfield.length - 1,
      messageId: MESSAGE_ID.bitfield,
    });
  }
}

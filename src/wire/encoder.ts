import { WireError } from './errors.js';
import { HANDSHAKE_BYTES, writeHandshake } from './handshake.js';
import { LAST_BEP3_MESSAGE_ID, MESSAGE_ID, PIECE_HEADER_BYTES, type WireMessage } from './messages.js';

/**
 * BEP 3 encoder. Every function validates what it writes (u32 fields, u16 port, u8 id) and
 * throws `WIRE_UNENCODABLE` rather than wrap a number silently.
 *
 * For blocks, prefer `encodePieceHeader` plus the block itself in one `writev`/`cork`ed write:
 * `encodeMessage({ type: 'piece', … })` copies the block into the new buffer.
 */
export function encodeMessage(m: WireMessage): Uint8Array {
  const out = new Uint8Array(encodedLength(m));
  writeMessage(out, 0, m);
  return out;
}

/**
 * Encodes many messages into one buffer for one socket write (e.g. handshake + bitfield, or a
 * burst of `have`s and `request`s). The result is exactly the concatenation of `encodeMessage`.
 */
export function encodeMessages(messages: readonly WireMessage[]): Uint8Array {
  let total = 0;
  for (const m of messages) total += encodedLength(m);
  const out = new Uint8Array(total);
  let at = 0;
  for (const m of messages) at = writeMessage(out, at, m);
  return out;
}

/** The 13 bytes before a block in a `piece` message: length prefix, id 7, index, begin. */
export function encodePieceHeader(index: number, begin: number, blockLength: number): Uint8Array {
  u32('index', index);
  u32('begin', begin);
  u32('blockLength', blockLength);
  const out = new Uint8Array(PIECE_HEADER_BYTES);
  writeU32(out, 0, lengthPrefix(9 + blockLength));
  out[4] = MESSAGE_ID.piece;
  writeU32(out, 5, index);
  writeU32(out, 9, begin);
  return out;
}

/** Bytes `m` takes on the wire, length prefix included. */
export function encodedLength(m: WireMessage): number {
  switch (m.type) {
    case 'handshake':
      return HANDSHAKE_BYTES;
    case 'keepAlive':
      return 4;
    case 'choke':
    case 'unchoke':
    case 'interested':
    case 'notInterested':
      return 5;
    case 'have':
      return 9;
    case 'request':
    case 'cancel':
      return 17;
    case 'port':
      return 7;
    case 'bitfield':
      return 5 + m.bitfield.length;
    case 'piece':
      return PIECE_HEADER_BYTES + m.block.length;
    case 'unknown':
      return 5 + m.payload.length;
    default:
      throw new WireError('WIRE_UNENCODABLE', { detail: `unknown message type ${JSON.stringify((m as { type: unknown }).type)}` });
  }
}

function writeMessage(out: Uint8Array, at: number, m: WireMessage): number {
  switch (m.type) {
    case 'handshake':
      writeHandshake(out, at, m);
      return at + HANDSHAKE_BYTES;
    case 'keepAlive':
      writeU32(out, at, 0);
      return at + 4;
    case 'choke':
    case 'unchoke':
    case 'interested':
    case 'notInterested':
      return header(out, at, 1, stateId(m.type));
    case 'have':
      at = header(out, at, 5, MESSAGE_ID.have);
      writeU32(out, at, u32('index', m.index));
      return at + 4;
    case 'request':
    case 'cancel':
      at = header(out, at, 13, m.type === 'request' ? REQUEST_ID : CANCEL_ID);
      writeU32(out, at, u32('index', m.index));
      writeU32(out, at + 4, u32('begin', m.begin));
      writeU32(out, at + 8, u32('length', m.length));
      return at + 12;
    case 'port':
      if (!Number.isInteger(m.port) || m.port < 0 || m.port > 0xffff) {
        throw new WireError('WIRE_UNENCODABLE', { detail: `port ${m.port} is not a u16`, messageId: MESSAGE_ID.port });
      }
      at = header(out, at, 3, MESSAGE_ID.port);
      out[at] = m.port >>> 8;
      out[at + 1] = m.port & 0xff;
      return at + 2;
    case 'bitfield':
      at = header(out, at, lengthPrefix(1 + m.bitfield.length), MESSAGE_ID.bitfield);
      out.set(m.bitfield, at);
      return at + m.bitfield.length;
    case 'piece':
      at = header(out, at, lengthPrefix(9 + m.block.length), MESSAGE_ID.piece);
      writeU32(out, at, u32('index', m.index));
      writeU32(out, at + 4, u32('begin', m.begin));
      out.set(m.block, at + 8);
      return at + 8 + m.block.length;
    case 'unknown':
      // An id BEP 3 defines would decode as that message, not as `unknown`: refuse the lie.
      if (!Number.isInteger(m.id) || m.id <= LAST_BEP3_MESSAGE_ID || m.id > 0xff) {
        throw new WireError('WIRE_UNENCODABLE', { detail: `unknown message id ${m.id} must be ${LAST_BEP3_MESSAGE_ID + 1}..255` });
      }
      at = header(out, at, lengthPrefix(1 + m.payload.length), m.id);
      out.set(m.payload, at);
      return at + m.payload.length;
  }
}

/*
 * Ids as module constants, not `MESSAGE_ID[m.type]` or `MESSAGE_ID.cancel` in the switch: a
 * property load V8 has no feedback for yet (the first `cancel` after a download's thousands of
 * `request`s) throws away the optimized flush the encoder is inlined into, and compiles it again.
 * A module constant needs no feedback.
 */
const REQUEST_ID = MESSAGE_ID.request;
const CANCEL_ID = MESSAGE_ID.cancel;
const CHOKE_ID = MESSAGE_ID.choke;
const UNCHOKE_ID = MESSAGE_ID.unchoke;
const INTERESTED_ID = MESSAGE_ID.interested;
const NOT_INTERESTED_ID = MESSAGE_ID.notInterested;

function stateId(type: 'choke' | 'unchoke' | 'interested' | 'notInterested'): number {
  switch (type) {
    case 'choke':
      return CHOKE_ID;
    case 'unchoke':
      return UNCHOKE_ID;
    case 'interested':
      return INTERESTED_ID;
    case 'notInterested':
      return NOT_INTERESTED_ID;
  }
}

function header(out: Uint8Array, at: number, length: number, id: number): number {
  writeU32(out, at, length);
  out[at + 4] = id;
  return at + 5;
}

function u32(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new WireError('WIRE_UNENCODABLE', { detail: `${name} ${v} is not a u32` });
  }
  return v;
}

function lengthPrefix(length: number): number {
  if (length > 0xffffffff) throw new WireError('WIRE_UNENCODABLE', { detail: `message of ${length} bytes does not fit a u32 length` });
  return length;
}

function writeU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

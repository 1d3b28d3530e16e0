import { WireError } from './errors.js';
import type { Handshake } from './messages.js';

/**
 * The BEP 3 handshake: `<pstrlen = 19><pstr = "BitTorrent protocol"><reserved: 8><info_hash: 20>
 * <peer_id: 20>`, 68 bytes. The reserved bytes are kept verbatim: extensions announce themselves
 * there (BEP 4 assigns the bits), and a later layer negotiates BEP 6/10 from them.
 */
export const PROTOCOL_NAME = 'BitTorrent protocol';
export const HANDSHAKE_BYTES = 68;
export const RESERVED_BYTES = 8;
export const INFO_HASH_BYTES = 20;
export const PEER_ID_BYTES = 20;

const PSTR_END = 1 + PROTOCOL_NAME.length; // 20
const RESERVED_AT = PSTR_END;
const INFO_HASH_AT = RESERVED_AT + RESERVED_BYTES;
const PEER_ID_AT = INFO_HASH_AT + INFO_HASH_BYTES;

// Reserved bits as BEP 4 assigns them (byte index, mask).
const EXTENSION_PROTOCOL = [5, 0x10] as const; // BEP 10
const FAST_EXTENSION = [7, 0x04] as const; // BEP 6
const DHT = [7, 0x01] as const; // BEP 5

export interface ReservedFlags {
  readonly extensionProtocol?: boolean;
  readonly fastExtension?: boolean;
  readonly dht?: boolean;
}

/** Fresh reserved bytes with the given extension bits set (all zero by default). */
export function reservedBytes(flags: ReservedFlags = {}): Uint8Array {
  const r = new Uint8Array(RESERVED_BYTES);
  if (flags.extensionProtocol === true) r[EXTENSION_PROTOCOL[0]]! |= EXTENSION_PROTOCOL[1];
  if (flags.fastExtension === true) r[FAST_EXTENSION[0]]! |= FAST_EXTENSION[1];
  if (flags.dht === true) r[DHT[0]]! |= DHT[1];
  return r;
}

/** BEP 10: bit 0x10 of reserved byte 5. */
export function supportsExtensionProtocol(reserved: Uint8Array): boolean {
  return ((reserved[EXTENSION_PROTOCOL[0]] ?? 0) & EXTENSION_PROTOCOL[1]) !== 0;
}

/** BEP 6: bit 0x04 of reserved byte 7. */
export function supportsFastExtension(reserved: Uint8Array): boolean {
  return ((reserved[FAST_EXTENSION[0]] ?? 0) & FAST_EXTENSION[1]) !== 0;
}

/** BEP 5: bit 0x01 of reserved byte 7. */
export function supportsDht(reserved: Uint8Array): boolean {
  return ((reserved[DHT[0]] ?? 0) & DHT[1]) !== 0;
}

export interface HandshakeInit {
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  /** Default: all zero (no extensions). Build it with `reservedBytes`. */
  readonly reserved?: Uint8Array;
}

export function encodeHandshake(h: HandshakeInit): Uint8Array {
  const out = new Uint8Array(HANDSHAKE_BYTES);
  writeHandshake(out, 0, h);
  return out;
}

/** Writes the 68 handshake bytes at `at`; encoder.ts uses it to batch the handshake. */
export function writeHandshake(out: Uint8Array, at: number, h: HandshakeInit): void {
  const reserved = h.reserved ?? new Uint8Array(RESERVED_BYTES);
  checkField('reserved', reserved, RESERVED_BYTES);
  checkField('infoHash', h.infoHash, INFO_HASH_BYTES);
  checkField('peerId', h.peerId, PEER_ID_BYTES);
  out[at] = PROTOCOL_NAME.length;
  for (let i = 0; i < PROTOCOL_NAME.length; i++) out[at + 1 + i] = PROTOCOL_NAME.charCodeAt(i);
  out.set(reserved, at + RESERVED_AT);
  out.set(h.infoHash, at + INFO_HASH_AT);
  out.set(h.peerId, at + PEER_ID_AT);
}

function checkField(name: string, value: Uint8Array, bytes: number): void {
  if (!(value instanceof Uint8Array) || value.length !== bytes) {
    throw new WireError('WIRE_UNENCODABLE', { detail: `handshake ${name} must be ${bytes} bytes` });
  }
}

/**
 * Decodes exactly one 68-byte handshake. The fields are copies, not views: a connection keeps
 * them for its whole life, and 48 copied bytes are cheaper than pinning a whole socket chunk.
 */
export function decodeHandshake(bytes: Uint8Array): Handshake {
  return readHandshake(bytes, 0);
}

/** `decodeHandshake` for the decoder, whose errors count `streamOffset` bytes before `bytes`. */
export function readHandshake(bytes: Uint8Array, streamOffset: number): Handshake {
  checkHandshakePrefix(bytes, 0, Math.min(bytes.length, PSTR_END), streamOffset);
  if (bytes.length !== HANDSHAKE_BYTES) {
    throw new WireError('WIRE_BAD_HANDSHAKE', {
      detail: `expected ${HANDSHAKE_BYTES} bytes, got ${bytes.length}`,
      offset: streamOffset + Math.min(bytes.length, HANDSHAKE_BYTES),
    });
  }
  return {
    reserved: bytes.slice(RESERVED_AT, INFO_HASH_AT),
    infoHash: bytes.slice(INFO_HASH_AT, PEER_ID_AT),
    peerId: bytes.slice(PEER_ID_AT, HANDSHAKE_BYTES),
  };
}

/**
 * Checks handshake positions `from`..`to` (indices into `hs`, whose byte 0 is the handshake's
 * byte 0) against pstrlen and pstr. The decoder calls it as bytes trickle in, so a peer that
 * speaks another protocol is dropped at its first wrong byte, not after 68 bytes.
 */
export function checkHandshakePrefix(hs: Uint8Array, from: number, to: number, streamOffset: number): void {
  const end = Math.min(to, PSTR_END);
  for (let i = from; i < end; i++) {
    const expected = i === 0 ? PROTOCOL_NAME.length : PROTOCOL_NAME.charCodeAt(i - 1);
    if (hs[i] !== expected) {
      throw new WireError('WIRE_BAD_HANDSHAKE', {
        detail: i === 0 ? `pstrlen ${hs[i]}, expected ${PROTOCOL_NAME.length}` : `pstr byte ${i - 1} is 0x${hs[i]!.toString(16).padStart(2, '0')}`,
        offset: streamOffset + i,
      });
    }
  }
}

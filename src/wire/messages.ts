/**
 * BEP 3 peer messages. On the wire each one is `<length: u32 BE><id: u8><payload>`, except the
 * keep-alive, which is a bare zero length. The handshake is not a length-prefixed message, but
 * it is part of the same stream, so it is a member of the union too: the decoder emits it first
 * and `encodeMessages` can batch it with the bitfield that follows it.
 *
 * Byte fields (`bitfield`, `block`, `payload`) that come out of `WireDecoder` are views that may
 * alias the caller's chunks; see decoder.ts.
 */

/** Message ids from BEP 3 (`port` is BEP 5's DHT port, which BEP 3 lists). */
export const MESSAGE_ID = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  notInterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
} as const;

export type MessageId = (typeof MESSAGE_ID)[keyof typeof MESSAGE_ID];

/** Ids up to this one are BEP 3's; anything above is `unknown` (BEP 6 fast ids 13–17, BEP 10 id 20 …). */
export const LAST_BEP3_MESSAGE_ID = MESSAGE_ID.port;

/** The block size every client uses (BEP 3: "All current implementations use 2^14 (16 kiB)"). */
export const BLOCK_BYTES = 16 * 1024;

/** Length prefix (4) + id (1) + index (4) + begin (4): what precedes a block in a `piece` message. */
export const PIECE_HEADER_BYTES = 13;

export interface Handshake {
  /** The 8 reserved bytes exactly as received, so extensions can read their bits later. */
  readonly reserved: Uint8Array;
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
}

export interface BlockRange {
  readonly index: number;
  readonly begin: number;
  readonly length: number;
}

export type WireMessage =
  | ({ readonly type: 'handshake' } & Handshake)
  | { readonly type: 'keepAlive' }
  | { readonly type: 'choke' }
  | { readonly type: 'unchoke' }
  | { readonly type: 'interested' }
  | { readonly type: 'notInterested' }
  | { readonly type: 'have'; readonly index: number }
  | { readonly type: 'bitfield'; readonly bitfield: Uint8Array }
  | ({ readonly type: 'request' } & BlockRange)
  | { readonly type: 'piece'; readonly index: number; readonly begin: number; readonly block: Uint8Array }
  | ({ readonly type: 'cancel' } & BlockRange)
  | { readonly type: 'port'; readonly port: number }
  /** Any id above `LAST_BEP3_MESSAGE_ID`: not fatal, left for extension layers (BEP 10 uses 20). */
  | { readonly type: 'unknown'; readonly id: number; readonly payload: Uint8Array };

export type WireMessageType = WireMessage['type'];

export {
  WireDecoder,
  WIRE_DECODER_DEFAULTS,
  type PieceGeometry,
  type WireDecoderOptions,
  type WireDecoderState,
} from './decoder.js';
export { encodeMessage, encodeMessages, encodePieceHeader, encodedLength } from './encoder.js';
export {
  decodeExtendedHandshake,
  encodeExtended,
  encodeExtendedHandshake,
  EXTENDED_HANDSHAKE_ID,
  EXTENDED_MESSAGE_ID,
  EXTENSION_LIMITS,
  type ExtendedHandshake,
} from './extension.js';
export { decodeFastMessage, encodeFastMessage, FAST_MESSAGE_ID, type FastMessage } from './fast.js';
export {
  decodeMetadataMessage,
  encodeMetadataMessage,
  METADATA_PIECE_BYTES,
  metadataPieceCount,
  metadataPieceLength,
  UT_METADATA,
  type MetadataMessage,
} from './ut-metadata.js';
export { WireError, type WireErrorCode, type WireErrorOptions } from './errors.js';
export {
  decodeHandshake,
  encodeHandshake,
  reservedBytes,
  supportsDht,
  supportsExtensionProtocol,
  supportsFastExtension,
  HANDSHAKE_BYTES,
  INFO_HASH_BYTES,
  PEER_ID_BYTES,
  PROTOCOL_NAME,
  RESERVED_BYTES,
  type HandshakeInit,
  type ReservedFlags,
} from './handshake.js';
export {
  BLOCK_BYTES,
  LAST_BEP3_MESSAGE_ID,
  MESSAGE_ID,
  PIECE_HEADER_BYTES,
  type BlockRange,
  type Handshake,
  type MessageId,
  type WireMessage,
  type WireMessageType,
} from './messages.js';
export { decodePexMessage, encodePexMessage, PEX_FLAGS, PEX_LIMITS, UT_PEX, type PexMessage, type PexPeer } from './ut-pex.js';
export {
  MseHandshake,
  mseAvailable,
  mseTorrentKey,
  MSE_KEY_BYTES,
  MSE_LIMITS,
  MSE_PLAINTEXT,
  MSE_PRIVATE_KEY_BYTES,
  MSE_RC4,
  rc4,
  type Rc4Position,
  type MseInitiatorOptions,
  type MseLimits,
  type MseOutput,
  type MseReceiverOptions,
  type MseSession,
} from './mse.js';

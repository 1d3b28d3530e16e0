/**
 * The wire layer's names that are used outside a wire connection (the engine's client, PEX and
 * magnet bookkeeping, the transport's listener and dialer, the CLI), without its codecs: a public
 * surface beside `index.ts` (test/layers.test.ts). A download from TorrentTTP peers alone loads
 * this, and the message decoder and encoder, the handshake and MSE's key exchange only at its
 * first wire or metadata connection (transport/wire-lazy.ts), where `index.ts` is loaded.
 */
export { WireError, type WireErrorCode, type WireErrorOptions } from './errors.js';
export { mseAvailable, mseTorrentKey } from './mse-crypto.js';
export { PEX_FLAGS, PEX_LIMITS, type PexMessage, type PexPeer } from './ut-pex.js';
export { METADATA_PIECE_BYTES, metadataPieceCount, metadataPieceLength } from './ut-metadata.js';

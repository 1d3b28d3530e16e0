export { fromBase64, toBase64 } from './base64.js';
export { createTorrent, CREATED_BY, type CreatedTorrent, type CreateOptions } from './create.js';
export { MetainfoError, type MetainfoErrorCode } from './errors.js';
export { BLOCK_LENGTH, Geometry, type FileSlice, type PieceIndex } from './geometry.js';
export { hashPiecesSync, type PiecesJob } from './hash-pieces.js';
export { HashPool } from './hash-pool.js';
export type { HashFile } from './hash-protocol.js';
export { parseInfo, MAX_PATH_DEPTH, MAX_PIECE_LENGTH, MAX_FETCH_PIECE_LENGTH, PATH_LIMITS, type Info, type PathLimits, type TorrentFile } from './info.js';
export { infoHashFromBytes, infoHashFromHex, infoHashOf, infoHashToBytes, fromHex, hexNibble, sha1, toHex, type InfoHash } from './info-hash.js';
export {
  fromMetainfoJson,
  METAINFO_JSON_MEDIA_TYPE,
  METAINFO_JSON_VERSION,
  parseMetainfoJson,
  toMetainfoJson,
  type JsonLimits,
  type JsonValue,
  type MetainfoJson,
} from './json.js';
export { encodeMagnet, magnetOf, MAX_MAGNET_CHARS, parseMagnet, type Magnet, type MagnetFields } from './magnet.js';
export { autoPieceLength, isPowerOfTwo, MAX_AUTO_PIECE_LENGTH, MIN_PIECE_LENGTH, TARGET_MAX_PIECES } from './piece-length.js';
export { checkPathComponent, resolveDuplicatePaths } from './paths.js';
export {
  encodeTorrent,
  isTrackerUrl,
  isWebSeedUrl,
  metainfoFromInfoBytes,
  parseTorrent,
  type Metainfo,
  type ParseOptions,
  type TorrentExtras,
} from './torrent.js';
export { listSourceSync, type Source, type SourceFile } from './walk.js';
export { Bitfield } from './bitfield.js';
export { FileSelection } from './selection.js';
export { WorkerPool, type WorkerPoolOptions } from './worker-pool.js';
export { MAX_METAINFO_BYTES } from './media-type.js';

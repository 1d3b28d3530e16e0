export { DEFAULT_DISK_THREADS, DEFAULT_MAX_OPEN_FILES_PER_THREAD, DiskPool, type DiskPoolOptions } from './disk-pool.js';
export type { DiskFault, WriteMode } from './disk-protocol.js';
export { StorageError, storageCodeOfErrno, type StorageErrorCode } from './errors.js';
export {
  DEFAULT_PIECE_CACHE_BYTES,
  DEFAULT_RESUME_INTERVAL_MS,
  openStorage,
  RESUME_FOLDER,
  type BlockLease,
  type OpenStorageOptions,
  type PieceStore,
  type WholePiece,
} from './piece-store.js';
export { makeFolders, NAME_MAX_BYTES } from './folders.js';
export { corruptPiecesError } from './recheck.js';
export { RESUME_VERSION, writeFileAtomic } from './resume.js';

export { choke, CHOKE_ROUND_MS, OPTIMISTIC_ROTATE_MS, UPLOAD_SNUB_MS, type ChokeCandidate, type ChokeDecision, type ChokeState } from './choker.js';
export { EngineError, type EngineErrorCode } from './errors.js';
export { PiecePicker, type PickerOptions } from './picker.js';
export { RateMeter, TokenBucket } from './rate.js';
export { DEFAULT_PIECE_DEADLINE_MS, DEFAULT_READ_WINDOW_PIECES, type ReadOptions } from './reader.js';
export { Torrent } from './torrent.js';
export { DEFAULT_MAX_COMMIT_BYTES, type PeerSlot, type TorrentEvents, type TorrentOptions, type TorrentStats, type TorrentStore } from './torrent-api.js';
export { type UploadAnswer, type UploadLease, type UploadRefusal } from './uploader.js';
export { Client, MAX_KNOWN_PEERS, MAX_PEERS_PER_REPLY, MAX_QUEUED_PEERS, splitHostPort, type AddOptions, type ClientEvents, type ClientOptions, type SourceStatus } from './client.js';

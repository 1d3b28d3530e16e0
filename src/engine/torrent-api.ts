import type { SuperSeedOptions } from './super-seed.js';
import type { TorrenttpError } from '../errors/index.js';
import type { Bitfield, PieceIndex } from '../metainfo/index.js';
import type { PeerEvent, PeerLink } from '../transport/index.js';
import type { PeerEviction, PeerSource } from './peer-set.js';
import type { PexOptions, PexStats } from './pex.js';
import type { TokenBucket } from './rate.js';
import type { WholePiece, WriteMode } from '../storage/index.js';

/** The types of `Torrent`'s surface: its store, options, stats and events. */

/** What the engine needs from storage (`src/storage` implements it). */
export interface TorrentStore {
  readonly bitfield: Bitfield;
  /**
   * Verify and write a whole piece; false on hash mismatch. `data` may be transferred. `cache`:
   * keep it in memory for uploads (the engine says so while some peer is interested in us).
   */
  commitPiece(index: PieceIndex, data: Uint8Array, cache?: boolean, mode?: WriteMode): Promise<boolean>;
  /**
   * `commitPiece` for several whole pieces in hand together, one verdict each, in order (see
   * storage's `PieceStore.commitRun`). Optional: without it each piece is a `commitPiece`.
   */
  commitRun?(pieces: readonly WholePiece[], cache?: boolean, mode?: WriteMode): Promise<boolean[]>;
  /** A buffer to fill with piece `index` for `commitPiece` (stale bytes); default a new one. */
  pieceBuffer?(index: PieceIndex): Uint8Array;
  readBlock(index: PieceIndex, begin: number, length: number): Promise<Uint8Array>;
  /** `readBlock` with a `release` to call once the block is sent or dropped, so its memory can be reused. */
  lendBlock?(index: PieceIndex, begin: number, length: number): Promise<{ readonly data: Uint8Array; readonly release: () => void }>;
  saveResume(): Promise<void>;
  close(): Promise<void>;
}

export interface TorrentOptions {
  /**
   * Super-seed (BEP 16) while complete: hide our pieces and offer each peer pieces nobody else has
   * yet, so N downloaders cost about one upload of the torrent (`super-seed.ts`). `true` for the
   * defaults. A link learns whether to hide its bitfield from `Torrent.superSeeding`.
   */
  readonly superSeed?: boolean | SuperSeedOptions;
  /** Strict in-order picking, for streaming. */
  readonly sequential?: boolean;
  /**
   * Files to download, 0-based indexes in torrent order; default all. Only pieces holding bytes
   * of these files are requested, and the torrent is complete (`done`) once those are verified.
   * Give the store the same selection (`openStorage`'s `selectedFiles`).
   */
  readonly selectedFiles?: readonly number[];
  /** Peers we upload to at once (BEP 3 clients use 4). */
  readonly uploadSlots?: number;
  /** Connections for this torrent. Default 50. */
  readonly maxPeers?: number;
  /**
   * When the torrent is full, an incoming peer (`admit`) takes the place of one that said
   * nothing for `silentMs` after joining (default 10 s) or exchanged no data for `idleMs`
   * (default 60 s); `false` refuses newcomers instead.
   */
  readonly peerEviction?: Partial<PeerEviction> | false;
  /**
   * Banning after bad data, with libtorrent-style trust points: a verified piece gives each
   * peer that sent blocks of it +1, a failed piece −4 to a sole sender and −1 to each of
   * several (an honest peer sharing a piece with a liar must not pay for it). A peer at or below
   * −2 × this is banned: with the default 3, a liar goes after two pieces of its own. Default 3.
   */
  readonly banAfterHashFailures?: number;
  /**
   * Bytes of whole pieces handed to storage and not yet written. At or above this no new
   * requests go out until commits finish: when hashing and disk are slower than the network,
   * memory stays at this instead of growing with the download (a 1 GiB loopback download held
   * 238 pieces of 1 MiB in flight without it). libtorrent's `max_queued_disk_bytes` is the same
   * idea (default 1 MiB there). Default 8 MiB: with pieces written directly to the device a
   * commit takes about a millisecond, and a 1 GiB loopback download ran as fast as with 32 MiB
   * with 25 MB less peak RSS.
   */
  readonly maxCommitBytes?: number;
  /**
   * BEP 11 peer exchange with the links that offer it (pex.ts): `false` turns it off; an object
   * changes its timing. Never for a private torrent (BEP 27), whatever this says. Default on.
   * A link offers ut_pex only if its owner asked it to (`WireTorrent.pex`: the Client sets it from
   * `Torrent.exchangesPeers`).
   */
  readonly pex?: boolean | Partial<PexOptions>;
  /** Shared limiters (the Client's global ones) plus this torrent's own. */
  readonly uploadLimiters?: readonly TokenBucket[];
  readonly downloadLimiters?: readonly TokenBucket[];
  /**
   * Our own peer id (the one our links send in their handshakes): a link naming it is never
   * taken for a second connection to another peer. Without it, duplicates are still resolved
   * (the newer connection goes).
   */
  readonly peerId?: Uint8Array;
  readonly rng?: () => number;
  readonly now?: () => number;
}

export interface TorrentStats {
  readonly infoHash: string;
  readonly name: string;
  /** Bytes to download: the selected files' (the whole torrent's without a selection). */
  readonly length: number;
  /** Verified bytes of the selected files. */
  readonly verifiedBytes: number;
  /** The whole torrent's bytes, selected or not. */
  readonly totalLength: number;
  /** Files selected, of `fileCount`. */
  readonly selectedFiles: number;
  readonly fileCount: number;
  /** 0..1 of verified bytes. */
  readonly progress: number;
  /** Bytes received (every block, `wasted` included) and payload bytes sent, in this session. */
  readonly downloaded: number;
  /** Of `downloaded`, the bytes no file got: blocks that came twice (endgame) and pieces that failed their hash. */
  readonly wasted: number;
  readonly uploaded: number;
  readonly downloadRate: number;
  readonly uploadRate: number;
  readonly peers: number;
  readonly peersByKind: Readonly<Record<PeerLink['kind'], number>>;
  /** Connected peers by how we came to know them (a tracker, the DHT, peer exchange…): for stats only. */
  readonly peersBySource: Readonly<Record<PeerSource, number>>;
  /** BEP 11 messages sent, honoured and ignored, and the addresses learned; undefined when peer exchange is off. */
  readonly pex: PexStats | undefined;
  /** `downloaded` split by the kind of peer that sent it (wire peers, web seeds, HTTP peers): for stats only. */
  readonly downloadedByKind: Readonly<Record<PeerLink['kind'], number>>;
  /** Seconds to completion at the current rate; undefined when unknown or done. */
  readonly etaSec: number | undefined;
  readonly done: boolean;
}

export interface TorrentEvents {
  progress: [TorrentStats];
  piece: [PieceIndex];
  done: [];
  peer: [PeerLink];
  peerClosed: [PeerLink, TorrenttpError | undefined];
  /** Addresses a peer told us of (BEP 11), already filtered (pex.ts): for the owner's dial queue. */
  discovered: [readonly string[], PeerLink];
  hashFailed: [PieceIndex];
  banned: [string];
  /** Something failed that costs the torrent nothing now (a resume save after completion: close() saves again; a peer banned for bad pieces). */
  warning: [string, TorrenttpError];
  error: [TorrenttpError];
}

export const DEFAULT_MAX_COMMIT_BYTES = 8 * 1024 * 1024;

/** A handle for a connection being set up: events are queued until `attach`. */
export interface PeerSlot {
  /** How the peer was found (stats). */
  readonly source: PeerSource;
  readonly onEvent: (e: PeerEvent) => void;
  attach(link: PeerLink): void;
  abandon(): void;
}

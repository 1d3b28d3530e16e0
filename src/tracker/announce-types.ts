/**
 * The announce request as every transport carries it (BEP 3 HTTP, BEP 15 UDP, TorrentTTP JSON),
 * after parsing. Byte fields are raw; counters are safe integers (9 PiB is enough for `left`).
 */
export type AnnounceEvent = 'started' | 'completed' | 'stopped' | 'paused'; // `paused`: BEP 21

export const ANNOUNCE_EVENTS: readonly AnnounceEvent[] = ['started', 'completed', 'stopped', 'paused'];

export interface AnnounceRequest {
  /** Exactly 20 bytes. */
  readonly infoHash: Uint8Array;
  /** Exactly 20 bytes. */
  readonly peerId: Uint8Array;
  /** The peer's listening port. 0 only on `stopped`, where it does not matter. */
  readonly port: number;
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
  /** Absent: a regular announce (BEP 3's empty event). */
  readonly event?: AnnounceEvent;
  /** BEP 23 `compact`; absent means the client did not say. */
  readonly compact?: boolean;
  /** BEP 3 `no_peer_id`: leave peer ids out of a dictionary peer list. */
  readonly noPeerId?: boolean;
  /** Peers wanted; absent means the tracker's default. */
  readonly numwant?: number;
  /** Opaque client key (raw bytes: aria2 sends binary), lets a tracker recognise a client whose IP changed. */
  readonly key?: Uint8Array;
  /** `tracker id` from an earlier reply, echoed back. */
  readonly trackerId?: Uint8Array;
  /** Address the client claims; a server honours it only when configured to. */
  readonly ip?: string;
}

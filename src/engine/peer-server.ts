import type { Torrent } from './torrent.js';

/**
 * A server side that lets peers pull pieces from the Client's torrents (a TorrentTTP peer server,
 * `gateway/ttp-server.ts`). The engine layer only defines the contract, so that
 * `new Client({ httpServer: ttpServer({ port }) })` needs no import of a higher layer.
 *
 * Rules:
 * - The Client calls `start` once, when it starts listening (the first `add` or `listen`), and
 *   `close` once, first thing in its own `close`, while its torrents are still open: held
 *   long-polls are answered and new requests refused (503) before the torrents go.
 * - The server reaches torrents only through `PeerServerHost` and `Torrent`'s public surface:
 *   every caller is a `PeerLink` added with `Torrent.newPeerSlot`, and every byte it sends comes
 *   from `Torrent.lease`, so the choker, upload slots and limits are shared with wire peers.
 */
export interface PeerServerHost {
  /** The Client's peer id (20 bytes). */
  readonly peerId: Uint8Array;
  /** The open torrent with this info-hash (40 lowercase hex), if the Client has it. */
  torrent(infoHash: string): Torrent | undefined;
  /** Whether one more peer connection fits the Client's `maxConnections`. */
  admitsPeer(): boolean;
}

export interface PeerServer {
  /** Binds and starts serving `host`'s torrents. Rejects with a typed error (port in use…). */
  start(host: PeerServerHost): Promise<void>;
  /**
   * The torrent URL (docs/torrenttp.md §1) at which other peers reach `infoHash` here, as the
   * Client should announce it; undefined before `start` resolved or after `close`.
   */
  torrentUrl(infoHash: string): string | undefined;
  close(): Promise<void>;
}

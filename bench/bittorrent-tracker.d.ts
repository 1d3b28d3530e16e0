/**
 * The little of the npm `bittorrent-tracker` server (plain JavaScript, no types of its own) that
 * `bench/bittorrent-tracker-child.ts` uses. Only `bittorrent-tracker/server`: the package root also
 * loads its client, whose WebRTC stack is stubbed out here (bench/stubs/node-datachannel).
 */
declare module 'bittorrent-tracker/server' {
  import type { EventEmitter } from 'node:events';

  export interface BittorrentTrackerServerOptions {
    /** Announce interval in ms. */
    readonly interval?: number;
    readonly http?: boolean | object;
    readonly udp?: boolean | object;
    /** The WebSocket (WebTorrent) tracker. */
    readonly ws?: boolean | object;
    readonly stats?: boolean;
    /** Peers kept per swarm (an LRU). Default 1000. */
    readonly peersCacheLength?: number;
    /** Ms a peer stays in its swarm's LRU. Default 20 min. */
    readonly peersCacheTtl?: number;
  }

  export interface BittorrentTrackerSwarm {
    readonly peers: { readonly length: number };
  }

  export default class Server extends EventEmitter {
    constructor(opts?: BittorrentTrackerServerOptions);
    readonly torrents: Record<string, BittorrentTrackerSwarm>;
    listen(
      port: number | { readonly http?: number; readonly udp?: number },
      hostname?: string | { readonly http?: string; readonly udp?: string; readonly udp6?: string },
      onListening?: () => void,
    ): void;
    close(cb?: (err?: Error | null) => void): void;
  }
}

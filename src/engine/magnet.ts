/**
 * From a magnet link to verified metadata: peers come from the link (`x.pe`), the caller, the
 * link's trackers (`tr`) and the client's DHT node (BEP 5, looked up, not announced on); up to `maxConnections` of them are dialled as metadata-only
 * connections, and `MetadataFetch` spreads the 16 KiB pieces over those that offer the dict.
 * The result is trusted only once it hashes to the info-hash. Owns its connections (opened by
 * `ctx.connect`, TCP by default) and its one timer;
 * everything ends (connections closed, trackers told `stopped`) before the promise settles.
 *
 * Failures are per peer and routine (`onPeerError`); the fetch as a whole fails only with
 * ENGINE_METADATA_TIMEOUT (naming what the peers said), ENGINE_METADATA_REJECTED (every peer
 * that offered the dict refused it), ENGINE_METADATA_TOO_LARGE (the only offers were over the
 * limit), ENGINE_METADATA_HASH_MISMATCH (only lying peers) or ENGINE_CLOSED (aborted).
 */
import { toTorrenttpError, type TorrenttpError } from '../errors/index.js';
import { infoHashToBytes, metainfoFromInfoBytes, type Magnet, type Metainfo } from '../metainfo/index.js';
import type { DhtNode, PeerAddr } from '../dht/index.js';
import { Announcer, isUrlRef } from '../tracker/client.js';
import { connectMetadataPeer, hostPort, type MetadataPeer, type MetadataPeerEvent, type MetadataPeerOptions } from '../transport/index.js';
import { EngineError } from './errors.js';
import { MetadataFetch, type MetadataFetchOptions } from './metadata-fetch.js';

export interface MetadataProgress {
  /** Connections open or being opened. */
  readonly peers: number;
  /** Peers that offered the dict and may still send it. */
  readonly offering: number;
  readonly receivedBytes: number;
  /** Once a peer offered it. */
  readonly metadataSize?: number;
}

export interface FetchMetadataOptions extends MetadataFetchOptions {
  /** Extra peers, `host:port`, besides the link's `x.pe`. */
  readonly peers?: readonly string[];
  /** Ask the link's trackers for peers. Default true. */
  readonly trackers?: boolean;
  /** Look the info-hash up on the client's DHT node, when it has one. Default true. */
  readonly dht?: boolean;
  /** Give up after this long. Default 120 s (aria2's `--bt-metadata-only` has no limit; Transmission none either). */
  readonly timeoutMs?: number;
  /** Metadata connections at once. Default 8. */
  readonly maxConnections?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: MetadataProgress) => void;
  readonly onPeerError?: (address: string, err: TorrenttpError) => void;
}

/** What the client lends the fetch. */
export interface MetadataFetchContext {
  readonly peerId: Uint8Array;
  readonly listenPort: number;
  readonly isSelf: (address: string) => boolean;
  readonly allowLoopbackPeers?: boolean;
  readonly udpTrackerTimeoutMs?: number;
  readonly splitHostPort: (address: string) => { host: string; port: number };
  /** Look the info-hash up here until the metadata is verified (never announced: we have nothing yet). */
  readonly dht?: Pick<DhtNode, 'track' | 'getPeers'>;
  /** Opens one metadata-only connection. Default the transport's `connectMetadataPeer` (TCP); unit tests pass fake peers. */
  readonly connect?: (host: string, port: number, opts: MetadataPeerOptions) => MetadataPeer;
}

export interface FetchedMetadata {
  readonly metainfo: Metainfo;
  /** Every address heard of, for the download to dial. */
  readonly peers: readonly string[];
}

export const MAGNET_DEFAULTS = { timeoutMs: 120_000, maxConnections: 8 } as const;
const TICK_MS = 250;
/** While no peer offers the dict, the DHT is asked again this often (its own refresh is 15 min). */
const DHT_RELOOKUP_MS = 15_000;

export function fetchMetadata(magnet: Magnet, ctx: MetadataFetchContext, opts: FetchMetadataOptions = {}): Promise<FetchedMetadata> {
  return new Promise<FetchedMetadata>((resolve, reject) => {
    const fetch = new MetadataFetch(magnet.infoHash, opts);
    const infoHash = infoHashToBytes(magnet.infoHash);
    const maxConnections = opts.maxConnections ?? MAGNET_DEFAULTS.maxConnections;
    const timeoutMs = opts.timeoutMs ?? MAGNET_DEFAULTS.timeoutMs;
    const started = Date.now();
    const known = new Set<string>();
    const queue: string[] = [];
    const conns = new Map<string, MetadataPeer>();
    /** Why each peer failed, by code, for the timeout's message. */
    const why = new Map<string, number>();
    let tooLarge = 0;
    let mismatches = 0;
    let settled = false;
    let lastProgress = '';
    let untrackDht: (() => void) | undefined;

    const announcer = new Announcer(opts.trackers === false ? [] : magnet.trackers.map((t) => [t]), {
      infoHash,
      peerId: ctx.peerId,
      port: ctx.listenPort,
      stats: () => ({ uploaded: 0, downloaded: 0, left: magnet.length ?? 1 }),
      ...(ctx.allowLoopbackPeers === undefined ? {} : { allowLoopbackPeers: ctx.allowLoopbackPeers }),
      ...(ctx.udpTrackerTimeoutMs === undefined ? {} : { udp: { baseTimeoutMs: ctx.udpTrackerTimeoutMs } }),
    });
    // TorrentTTP peers (by URL) hold no BEP 9 metadata exchange: only wire addresses are asked.
    announcer.on('peers', (peers) => learn(peers.flatMap((p) => (isUrlRef(p) ? [] : [hostPort(p.ip, p.port)]))));
    announcer.on('failure', (err, url) => {
      if (url !== 'all trackers') opts.onPeerError?.(url, err);
    });

    const onDhtPeers = (peers: readonly PeerAddr[]): void => {
      if (!settled) learn(peers.map((p) => hostPort(p.ip, p.port)));
    };

    const progress = (): void => {
      const size = fetch.metadataSize;
      const p: MetadataProgress = { peers: conns.size, offering: fetch.usefulPeers, receivedBytes: fetch.receivedBytes, ...(size === undefined ? {} : { metadataSize: size }) };
      const key = JSON.stringify(p);
      if (key === lastProgress) return;
      lastProgress = key;
      opts.onProgress?.(p);
    };

    const finish = (err: TorrenttpError | undefined, infoBytes?: Uint8Array): void => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      untrackDht?.();
      opts.signal?.removeEventListener('abort', onAbort);
      for (const c of conns.values()) c.close();
      conns.clear();
      void announcer.stop().catch(() => undefined);
      if (err !== undefined) {
        reject(err);
        return;
      }
      try {
        const metainfo = metainfoFromInfoBytes(infoBytes!, { announceList: magnet.trackers.map((t) => [t]), urlList: magnet.webSeeds });
        resolve({ metainfo, peers: [...known] });
      } catch (e) {
        // Hashes right, yet is no valid info dict: nobody can download this torrent.
        reject(toTorrenttpError(e));
      }
    };

    const learn = (addresses: readonly string[]): void => {
      for (const a of addresses.slice(0, 200)) {
        if (known.has(a) || ctx.isSelf(a)) continue;
        known.add(a);
        queue.push(a);
      }
      dialMore();
    };

    const dialMore = (): void => {
      while (!settled && conns.size < maxConnections && queue.length > 0) {
        const address = queue.shift()!;
        let host: string;
        let port: number;
        try {
          ({ host, port } = ctx.splitHostPort(address));
        } catch (err) {
          opts.onPeerError?.(address, toTorrenttpError(err));
          continue;
        }
        const peer = (ctx.connect ?? connectMetadataPeer)(host, port, {
          infoHash,
          peerId: ctx.peerId,
          listenPort: ctx.listenPort,
          onEvent: (e) => onEvent(address, e),
        });
        conns.set(address, peer);
      }
      progress();
    };

    const ask = (address: string): void => {
      const c = conns.get(address);
      if (c === undefined) return;
      for (const piece of fetch.nextRequests(address, Date.now())) c.request(piece);
    };

    const askAll = (): void => {
      for (const a of conns.keys()) ask(a);
    };

    const onEvent = (address: string, e: MetadataPeerEvent): void => {
      if (settled) return;
      switch (e.type) {
        case 'ready': {
          const verdict = fetch.offer(address, e.metadataSize);
          if (verdict === 'tooLarge') {
            tooLarge++;
            conns.get(address)?.close(new EngineError('ENGINE_METADATA_TOO_LARGE', { detail: `${address}: ${e.metadataSize} bytes (limit ${fetch.maxMetadataBytes})` }));
            return;
          }
          ask(address);
          break;
        }
        case 'piece': {
          const v = fetch.onData(address, e.piece, e.data);
          if (v.type === 'complete') {
            finish(undefined, v.infoBytes);
            return;
          }
          if (v.type === 'hashMismatch') {
            mismatches++;
            for (const s of v.suspects) conns.get(s)?.close(new EngineError('ENGINE_METADATA_HASH_MISMATCH', { detail: `${s} sent pieces of a dict that does not hash to ${magnet.infoHash}` }));
            askAll();
            break;
          }
          ask(address);
          break;
        }
        case 'rejected':
          fetch.onReject(address, e.piece);
          askAll();
          break;
        case 'closed': {
          conns.delete(address);
          fetch.removePeer(address);
          if (e.reason !== undefined) {
            why.set(e.reason.code, (why.get(e.reason.code) ?? 0) + 1);
            opts.onPeerError?.(address, e.reason);
          }
          askAll();
          dialMore();
          break;
        }
      }
      progress();
    };

    const onAbort = (): void => finish(new EngineError('ENGINE_CLOSED', { detail: 'metadata fetch aborted', cause: opts.signal?.reason }));

    let lastDhtLookup = started;
    let dhtLookingUp = false;
    const timer = setInterval(() => {
      const now = Date.now();
      if (ctx.dht !== undefined && !dhtLookingUp && fetch.usefulPeers === 0 && now - lastDhtLookup >= DHT_RELOOKUP_MS) {
        lastDhtLookup = now;
        dhtLookingUp = true;
        ctx.dht.getPeers(infoHash, onDhtPeers).then(
          () => (dhtLookingUp = false),
          () => (dhtLookingUp = false),
        );
      }
      for (const a of fetch.expire(now)) ask(a);
      if (fetch.allRejected && queue.length === 0) {
        finish(new EngineError('ENGINE_METADATA_REJECTED', { detail: `${magnet.infoHash}: every peer that has it refused to send it` }));
        return;
      }
      if (now - started >= timeoutMs) {
        let code: 'ENGINE_METADATA_TIMEOUT' | 'ENGINE_METADATA_TOO_LARGE' | 'ENGINE_METADATA_HASH_MISMATCH' = 'ENGINE_METADATA_TIMEOUT';
        if (fetch.metadataSize === undefined && tooLarge > 0) code = 'ENGINE_METADATA_TOO_LARGE';
        else if (fetch.metadataSize === undefined && mismatches > 0) code = 'ENGINE_METADATA_HASH_MISMATCH';
        const reasons = [...why].map(([c, n]) => `${n} × ${c}`).join(', ');
        finish(
          new EngineError(code, {
            detail: `${magnet.infoHash} after ${Math.round(timeoutMs / 1000)} s: ${known.size} peer${known.size === 1 ? '' : 's'} heard of${reasons === '' ? '' : ` (${reasons})`}`,
          }),
        );
      }
    }, Math.min(TICK_MS, timeoutMs));

    if (opts.signal?.aborted === true) {
      onAbort();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    learn([...magnet.peers, ...(opts.peers ?? [])]);
    announcer.start();
    untrackDht = ctx.dht?.track(infoHash, {}, onDhtPeers);
  });
}

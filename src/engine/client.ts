import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { toTorrenttpError, type TorrenttpError } from '../errors/index.js';
import { FileSelection, infoHashToBytes, parseTorrent, toHex, type Metainfo } from '../metainfo/index.js';
import { corruptPiecesError, openStorage } from '../storage/index.js';
import type { DhtNode } from '../dht/index.js';
import { Announcer, isLoopback } from '../tracker/index.js';
import { acceptWirePeer, connectWirePeer, createWebSeed, type PeerEvent, type WirePeerOptions, type WireTorrent } from '../transport/index.js';
import { EngineError } from './errors.js';
import { TokenBucket } from './rate.js';
import { Torrent } from './torrent.js';

/**
 * A BitTorrent client: many torrents, one listening port, peers from trackers, web seeds and
 * addresses given by hand. WebTorrent's shape:
 *
 *   const client = new Client();
 *   const t = await client.add('movie.torrent', { path: 'downloads' });
 *   t.on('progress', (s) => console.log(s.progress));
 *   await t.done;
 *   await client.close();
 */
export interface ClientOptions {
  /** Listening port for incoming peers; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** Listening address. Default '0.0.0.0'. */
  readonly host?: string;
  /** Accept incoming connections. Default true. */
  readonly listen?: boolean;
  /** 20 bytes; default `-TT0010-` and 12 random bytes (Azureus style, BEP 20). */
  readonly peerId?: Uint8Array;
  /** Connections in all torrents. Default 200. */
  readonly maxConnections?: number;
  /** Connections per torrent. Default 50. */
  readonly maxPeersPerTorrent?: number;
  /** Bytes per second, all torrents together; undefined for no limit. */
  readonly uploadLimit?: number;
  readonly downloadLimit?: number;
  /** Keep loopback peers from any tracker (tests, local swarms). */
  readonly allowLoopbackPeers?: boolean;
  /** BEP 15 first retransmission timeout, for tests. */
  readonly udpTrackerTimeoutMs?: number;
  /**
   * A DHT node (BEP 5) to find peers with and announce on, for every torrent that is not private
   * (BEP 27). Off when undefined. The caller starts and closes it (it may outlive the client).
   */
  readonly dht?: DhtNode;
}

export interface AddOptions {
  /** Download folder: files go under it, never outside. */
  readonly path: string;
  /** Extra peers, `host:port`; dialled now and again while not connected. */
  readonly peers?: readonly string[];
  readonly sequential?: boolean;
  /**
   * Download only these files: 0-based indexes in torrent order (aria2's `--select-file` is the
   * same, 1-based). Default all. METAINFO_BAD_FILE_SELECTION when empty or out of range.
   */
  readonly selectedFiles?: readonly number[];
  /** Hash what is on disk instead of trusting the resume file. */
  readonly recheck?: boolean;
  /** Trust files whose sizes are right (seeding data you made yourself). */
  readonly skipVerify?: boolean;
  readonly uploadLimit?: number;
  readonly downloadLimit?: number;
  /** Use the torrent's trackers. Default true. */
  readonly trackers?: boolean;
  /** Use the torrent's web seeds. Default true. */
  readonly webSeeds?: boolean;
  /** Find peers through the client's DHT node and announce there. Default true (never for a private torrent). */
  readonly dht?: boolean;
  /** Called while existing data is checked. */
  readonly onCheckProgress?: (checkedBytes: number, totalBytes: number) => void;
  /** Folder for the resume file. Default `<path>/.torrenttp` (storage's default). */
  readonly resumeDir?: string;
  /**
   * Store the torrent's file (or folder) under this name in `path` instead of the torrent's
   * own name (`torrenttp get -o`). Only the place on disk changes: the info-hash, and the URLs
   * asked of web seeds (BEP 19 appends the torrent's name), stay the torrent's.
   */
  readonly storeAs?: string;
}

/**
 * A source of a torrent's data that the user named: a tracker, a web seed, or a peer given by
 * hand (`peers`). Reported when its state changes: it answered after failing (or for the first
 * time), or it failed (again, for another reason). Peers found through trackers are not sources
 * here: one of many failing is routine (`peerError`).
 */
export interface SourceStatus {
  readonly infoHash: string;
  readonly kind: 'tracker' | 'webseed' | 'peer';
  /** The tracker or web seed URL, or the peer's `host:port`. */
  readonly id: string;
  readonly ok: boolean;
  /** Why it fails (when `ok` is false). */
  readonly error?: TorrenttpError;
  /** It will not be tried again (a web seed that gave up). */
  readonly final?: boolean;
}

export interface ClientEvents {
  torrent: [Torrent];
  /** A tracker, web seed or hand-given peer started or stopped working (once per change). */
  source: [SourceStatus];
  /** A connection to or from a peer (not a `source`) failed: routine in a swarm, for debug logs. */
  peerError: [string, TorrenttpError];
  /**
   * Something the user should hear about that costs no data: a tracker's warning message, a
   * failed resume save, pieces on disk that failed verification when a torrent was added
   * (STORAGE_PIECE_CORRUPT, emitted just after `add` resolves, so a listener attached on its
   * result hears it).
   */
  warning: [string, TorrenttpError | undefined];
  error: [TorrenttpError];
}

/** Re-dial a hand-given peer this often while it is not connected. */
const REDIAL_MS = 5000;
/** Dials in flight per torrent. */
const MAX_DIALS = 8;
/**
 * Peers taken from one tracker reply; the rest are ignored. We ask for 50 (`numwant`), but numwant
 * is advisory and a hostile tracker sent 120,000, which froze the client for minutes (issue 18).
 * 200 is libtorrent's default numwant and what opentracker hands out at most.
 */
export const MAX_PEERS_PER_REPLY = 200;
/**
 * Addresses waiting to be dialled, per torrent; when full, the oldest (stalest) gives way.
 * libtorrent keeps 3,000 peers per torrent (`max_peerlist_size`), connected ones included.
 */
export const MAX_QUEUED_PEERS = 1000;
/** Addresses remembered per torrent so a later reply does not queue them again; the oldest is forgotten first. */
export const MAX_KNOWN_PEERS = 10_000;
const TICK_MS = 250;

interface Entry {
  readonly torrent: Torrent;
  readonly wire: WireTorrent;
  readonly announcer: Announcer;
  readonly manualPeers: readonly string[];
  readonly known: Set<string>;
  readonly dialing: Set<string>;
  readonly connected: Set<string>;
  /** Addresses to dial, oldest first; a Set so that queueing one is O(1) (see `discover`). */
  readonly queue: Set<string>;
  /** Last reported state of each source (`kind id` → 'ok' or the failure's code), so each change is reported once. */
  readonly sources: Map<string, string>;
  redialTimer: NodeJS.Timeout | undefined;
  /** Stops the DHT lookups and announces for this torrent. */
  untrackDht: (() => void) | undefined;
}

export class Client extends EventEmitter<ClientEvents> {
  readonly peerId: Uint8Array;
  private readonly opts: ClientOptions;
  private readonly torrents = new Map<string, Entry>();
  private readonly uploadLimiters: TokenBucket[] = [];
  private readonly downloadLimiters: TokenBucket[] = [];
  private server: Server | undefined;
  private listening: Promise<number> | undefined;
  private readonly ticker: NodeJS.Timeout;
  private closed = false;
  /** Removals of failed torrents still under way. */
  private readonly removing = new Set<Promise<void>>();
  private actualPort = 0;

  constructor(opts: ClientOptions = {}) {
    super();
    this.opts = opts;
    this.peerId = opts.peerId ?? Uint8Array.from([...new TextEncoder().encode('-TT0010-'), ...randomBytes(12)]);
    if (opts.uploadLimit !== undefined) this.uploadLimiters.push(new TokenBucket(opts.uploadLimit, Date.now()));
    if (opts.downloadLimit !== undefined) this.downloadLimiters.push(new TokenBucket(opts.downloadLimit, Date.now()));
    this.ticker = setInterval(() => {
      for (const e of this.torrents.values()) e.torrent.tick();
    }, TICK_MS);
  }

  /** The listening port (after the first `add` or `listen`). */
  get port(): number {
    return this.actualPort;
  }

  /** Starts listening (done by `add` too); resolves to the port. */
  listen(): Promise<number> {
    if (this.opts.listen === false) return Promise.resolve(0);
    this.listening ??= new Promise<number>((resolve, reject) => {
      const server = createServer((socket) => this.onIncoming(socket));
      const host = this.opts.host ?? '0.0.0.0';
      const port = this.opts.port ?? 0;
      server.once('error', (err: NodeJS.ErrnoException) => {
        const where = `${hostPort(host, port)}`;
        reject(
          err.code === 'EADDRINUSE'
            ? new EngineError('ENGINE_PORT_IN_USE', { detail: where, cause: err })
            : new EngineError('ENGINE_LISTEN_FAILED', { detail: `${where}: ${err.message}`, cause: err }),
        );
      });
      server.listen(port, host, () => {
        this.actualPort = (server.address() as { port: number }).port;
        resolve(this.actualPort);
      });
      this.server = server;
    });
    return this.listening;
  }

  get(infoHash: string): Torrent | undefined {
    return this.torrents.get(infoHash)?.torrent;
  }

  /** Adds a torrent (.torrent bytes, its path, or parsed metainfo) and starts it. */
  async add(input: Uint8Array | string | Metainfo, opts: AddOptions): Promise<Torrent> {
    if (this.closed) throw new EngineError('ENGINE_CLOSED');
    const metainfo = typeof input === 'string' ? parseTorrent(await readFile(input)) : input instanceof Uint8Array ? parseTorrent(input) : input;
    if (this.torrents.has(metainfo.infoHash)) throw new EngineError('ENGINE_DUPLICATE_TORRENT', { detail: metainfo.infoHash });
    if (opts.selectedFiles !== undefined) new FileSelection(metainfo.geometry, opts.selectedFiles); // refused before anything is opened
    const port = await this.listen();
    const openWarnings: TorrenttpError[] = [];
    const store = await openStorage(opts.storeAs === undefined ? metainfo : { ...metainfo, name: opts.storeAs }, opts.path, {
      onWarning: (err) => openWarnings.push(err),
      ...(opts.recheck === undefined ? {} : { recheck: opts.recheck }),
      ...(opts.skipVerify === undefined ? {} : { skipVerify: opts.skipVerify }),
      ...(opts.onCheckProgress === undefined ? {} : { onCheckProgress: opts.onCheckProgress }),
      ...(opts.resumeDir === undefined ? {} : { resumeDir: opts.resumeDir }),
      ...(opts.selectedFiles === undefined ? {} : { selectedFiles: opts.selectedFiles }),
    });
    if (this.closed) {
      // Closed while the data was being checked (Ctrl-C during a long recheck): start nothing.
      await store.close();
      throw new EngineError('ENGINE_CLOSED');
    }
    const uploadLimiters = [...this.uploadLimiters];
    const downloadLimiters = [...this.downloadLimiters];
    if (opts.uploadLimit !== undefined) uploadLimiters.push(new TokenBucket(opts.uploadLimit, Date.now()));
    if (opts.downloadLimit !== undefined) downloadLimiters.push(new TokenBucket(opts.downloadLimit, Date.now()));
    const torrent = new Torrent(metainfo, store, {
      maxPeers: this.opts.maxPeersPerTorrent ?? 50,
      uploadLimiters,
      downloadLimiters,
      ...(opts.sequential === undefined ? {} : { sequential: opts.sequential }),
      ...(opts.selectedFiles === undefined ? {} : { selectedFiles: opts.selectedFiles }),
    });
    const infoHash = infoHashToBytes(metainfo.infoHash);
    const announcer = new Announcer(opts.trackers === false ? [] : metainfo.announceList, {
      infoHash,
      peerId: this.peerId,
      port,
      stats: () => {
        const s = torrent.stats();
        // Only what is wanted is left: with a file selection, its files' missing bytes.
        return { uploaded: s.uploaded, downloaded: s.downloaded, left: s.length - s.verifiedBytes };
      },
      ...(this.opts.allowLoopbackPeers === undefined ? {} : { allowLoopbackPeers: this.opts.allowLoopbackPeers }),
      ...(this.opts.udpTrackerTimeoutMs === undefined ? {} : { udp: { baseTimeoutMs: this.opts.udpTrackerTimeoutMs } }),
    });
    const entry: Entry = {
      torrent,
      wire: { infoHash, metainfo, bitfield: store.bitfield },
      announcer,
      manualPeers: opts.peers ?? [],
      known: new Set(),
      dialing: new Set(),
      connected: new Set(),
      queue: new Set(),
      sources: new Map(),
      redialTimer: undefined,
      untrackDht: undefined,
    };
    this.torrents.set(metainfo.infoHash, entry);

    announcer.on('peers', (peers) => this.discover(entry, peers.map((p) => hostPort(p.ip, p.port))));
    announcer.on('announced', (_r, url) => this.report(entry, 'tracker', url, undefined));
    announcer.on('failure', (err, url) => {
      if (url !== 'all trackers') this.report(entry, 'tracker', url, err); // the round's summary: each tracker was reported
    });
    announcer.on('warning', (msg, url) => this.emit('warning', `tracker ${url}: ${msg}`, undefined));
    torrent.on('peerClosed', (link) => {
      entry.connected.delete(link.id);
      if (!torrent.complete && torrent.peerCount < (this.opts.maxPeersPerTorrent ?? 50) / 2) announcer.wantPeers();
      this.dialMore(entry);
    });
    torrent.on('done', () => announcer.completed());
    torrent.on('error', (err) => {
      // A failed torrent is closed (storage, peers) and leaves the client: its trackers hear
      // `stopped`, no peer is dialled or admitted for it. `close()` waits for that to end.
      const removing = this.remove(metainfo.infoHash).catch(() => undefined); // its own error is `err`, told below
      this.removing.add(removing);
      void removing.then(() => this.removing.delete(removing));
      if (this.listenerCount('error') > 0) this.emit('error', err); // `t.done` rejects with it too: no listener is no crash
    });
    torrent.on('warning', (msg, err) => this.emit('warning', msg, err));

    if (opts.webSeeds !== false && !torrent.complete) {
      for (const url of metainfo.urlList) {
        const watch = (e: PeerEvent): void => this.watchWebSeed(entry, url, e);
        torrent.addPeer((onEvent) =>
          createWebSeed(url, metainfo, {
            onEvent: (e) => {
              watch(e);
              onEvent(e);
            },
          }),
        );
      }
    }
    announcer.start();
    if (this.opts.dht !== undefined && opts.dht !== false && !metainfo.private) {
      entry.untrackDht = this.opts.dht.track(infoHash, port > 0 ? { port } : {}, (peers) => this.discover(entry, peers.map((p) => hostPort(p.ip, p.port))));
    }
    this.discover(entry, entry.manualPeers);
    if (entry.manualPeers.length > 0) {
      entry.redialTimer = setInterval(() => this.discover(entry, entry.manualPeers.filter((p) => !entry.connected.has(p)), true), REDIAL_MS);
      entry.redialTimer.unref();
    }
    this.emit('torrent', torrent);
    if (store.corruptPieces.length > 0) openWarnings.push(corruptPiecesError(metainfo, store.corruptPieces));
    // After `add` resolves, so that a listener attached on its result hears them too.
    if (openWarnings.length > 0) setImmediate(() => openWarnings.forEach((err) => this.emit('warning', `${metainfo.name}: ${err.message}`, err)));
    return torrent;
  }

  /**
   * A peer heard of by other means than this torrent's trackers (an embedded tracker reporting an
   * announce): dialled now unless already connected or being dialled, even by a seed that has
   * other peers, since some clients (Transmission) never dial a peer they hear of at a loopback
   * address. A torrent not held is ignored.
   */
  introduce(infoHash: string, address: string): void {
    const e = this.torrents.get(infoHash);
    if (e === undefined || e.torrent.closed || this.isSelf(address)) return;
    e.known.add(address);
    if (e.connected.has(address) || e.dialing.has(address) || !e.torrent.accepts(address)) return;
    if (this.totalConnections() >= (this.opts.maxConnections ?? 200)) return;
    void this.dial(e, address);
  }

  /** Stops a torrent: `stopped` to its trackers, peers closed, resume state saved. */
  async remove(infoHash: string): Promise<void> {
    const e = this.torrents.get(infoHash);
    if (e === undefined) return;
    this.torrents.delete(infoHash);
    clearInterval(e.redialTimer);
    e.untrackDht?.();
    // Both end whatever the other does: a failed resume save must not keep the trackers waiting.
    const [, closed] = await Promise.allSettled([e.announcer.stop(), e.torrent.close()]);
    if (closed.status === 'rejected') throw closed.reason;
  }

  /**
   * Removes every torrent and stops listening, all of it even when something fails; then rejects
   * with the first failure (a resume state that could not be saved), if any.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    const removed = await Promise.allSettled([...this.torrents.keys()].map((h) => this.remove(h)));
    await Promise.allSettled([...this.removing]);
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    const failed = removed.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  // ── peers ───────────────────────────────────────────────────────────────────────────────
  /**
   * Queues new addresses (all of them when `again`, for hand-given peers) and dials. Bounded: at
   * most MAX_PEERS_PER_REPLY are read from one call, the queue and the set of known addresses
   * keep their newest MAX_QUEUED_PEERS and MAX_KNOWN_PEERS, and every step is O(1), so a reply of
   * any size costs the client a few milliseconds (`queue.includes` per address was quadratic).
   */
  private discover(e: Entry, addresses: readonly string[], again = false): void {
    const n = Math.min(addresses.length, MAX_PEERS_PER_REPLY);
    for (let i = 0; i < n; i++) {
      const a = addresses[i]!;
      if (this.isSelf(a)) continue;
      if (!again && e.known.has(a)) continue;
      e.known.delete(a); // re-adding moves it to the newest end
      e.known.add(a);
      if (e.known.size > MAX_KNOWN_PEERS) e.known.delete(e.known.values().next().value!);
      e.queue.delete(a);
      e.queue.add(a);
      if (e.queue.size > MAX_QUEUED_PEERS) e.queue.delete(e.queue.values().next().value!);
    }
    this.dialMore(e);
  }

  private isSelf(address: string): boolean {
    const { host, port } = splitHostPort(address);
    return port === this.actualPort && (isLoopback(host) || host === '0.0.0.0');
  }

  private totalConnections(): number {
    let n = 0;
    for (const e of this.torrents.values()) n += e.torrent.peerCount + e.dialing.size;
    return n;
  }

  private dialMore(e: Entry): void {
    const max = this.opts.maxConnections ?? 200;
    // Deleting the current entry while iterating a Set is well defined: iteration goes on after it.
    for (const address of e.queue) {
      if (e.dialing.size >= MAX_DIALS || this.totalConnections() >= max || e.torrent.closed) break;
      if (e.torrent.complete && e.torrent.peerCount > 0 && e.manualPeers.length === 0) break; // seeding: wait for leechers to come
      e.queue.delete(address);
      if (e.connected.has(address) || e.dialing.has(address) || !e.torrent.accepts(address)) continue;
      void this.dial(e, address);
    }
  }

  private async dial(e: Entry, address: string): Promise<void> {
    e.dialing.add(address);
    const slot = e.torrent.newPeerSlot();
    const { host, port } = splitHostPort(address);
    try {
      const link = await connectWirePeer(host, port, e.wire, { ...this.wireOptions(), onEvent: slot.onEvent, connectTimeoutMs: 10_000 });
      e.connected.add(link.id);
      slot.attach(link);
      if (e.manualPeers.includes(address)) this.report(e, 'peer', address, undefined);
    } catch (err) {
      slot.abandon();
      const error = toTorrenttpError(err);
      if (e.torrent.closed) return;
      if (e.manualPeers.includes(address)) this.report(e, 'peer', address, error);
      else this.emit('peerError', address, error);
    } finally {
      e.dialing.delete(address);
      this.dialMore(e);
    }
  }

  private onIncoming(socket: Socket): void {
    if (this.closed || this.totalConnections() >= (this.opts.maxConnections ?? 200)) {
      socket.destroy();
      return;
    }
    let chosen: { entry: Entry; slot: ReturnType<Torrent['newPeerSlot']> } | undefined;
    acceptWirePeer(socket, (infoHash) => {
      const entry = this.torrents.get(toHex(infoHash));
      const id = hostPort(socket.remoteAddress ?? '', socket.remotePort ?? 0);
      if (entry === undefined || !entry.torrent.accepts(id)) return undefined;
      chosen = { entry, slot: entry.torrent.newPeerSlot() };
      return { torrent: entry.wire, opts: { ...this.wireOptions(), onEvent: chosen.slot.onEvent } };
    }).then(
      (link) => {
        chosen!.entry.connected.add(link.id);
        chosen!.slot.attach(link);
      },
      (err: unknown) => {
        chosen?.slot.abandon();
        this.emit('peerError', hostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0), toTorrenttpError(err));
      },
    );
  }

  // ── sources ─────────────────────────────────────────────────────────────────────────────
  /** A web seed fails (`choke` with a reason: it backs off and retries), gives up (`closed` with a reason) or delivers. */
  private watchWebSeed(e: Entry, url: string, ev: PeerEvent): void {
    if (ev.type === 'block') this.report(e, 'webseed', url, undefined);
    else if (ev.type === 'choke' && ev.reason !== undefined) this.report(e, 'webseed', url, ev.reason);
    else if (ev.type === 'closed' && ev.reason !== undefined && ev.reason.code !== 'ENGINE_CLOSED') this.report(e, 'webseed', url, ev.reason, true);
  }

  private report(e: Entry, kind: SourceStatus['kind'], id: string, error: TorrenttpError | undefined, final = false): void {
    if (e.torrent.closed && error !== undefined) return; // failures of the goodbye (`stopped`) are nobody's news
    const key = `${kind} ${id}`;
    // By code, not message: a web seed's message names the byte range, which differs on every retry.
    const state = error === undefined ? 'ok' : `${error.code}${final ? ' final' : ''}`;
    if (e.sources.get(key) === state) return;
    e.sources.set(key, state);
    this.emit('source', {
      infoHash: e.torrent.infoHash,
      kind,
      id,
      ok: error === undefined,
      ...(error === undefined ? {} : { error }),
      ...(final ? { final } : {}),
    });
  }

  private wireOptions(): Omit<WirePeerOptions, 'onEvent'> {
    return { peerId: this.peerId };
  }
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (m === null) throw new EngineError('ENGINE_BAD_PEER_ADDRESS', { detail: address });
  return { host: m[1]!, port: Number(m[2]) };
}

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { toTorrenttpError, type TorrenttpError } from '../errors/index.js';
import { FileSelection, infoHashToBytes, parseMagnet, parseTorrent, toHex, type Metainfo } from '../metainfo/index.js';
import { corruptPiecesError, DiskPool, openStorage, type WriteMode } from '../storage/index.js';
import type { DhtNode } from '../dht/index.js';
import { Announcer, isLoopback, isUrlRef } from '../tracker/client.js';
import { createWebSeed, hostPort, HttpDialer, parseHostPort, PeerListener, WireDialer, type EncryptionPolicy, type IncomingPeerHandler, type PeerEvent, type WirePeerOptions, type WireTorrent } from '../transport/index.js';
import { mseAvailable, WireError } from '../wire/lite.js';
import { EngineError } from './errors.js';
import type { PeerServer } from './peer-server.js';
import { fetchMetadata, type FetchedMetadata, type FetchMetadataOptions, type MetadataProgress } from './magnet.js';
import { TokenBucket } from './rate.js';
import type { PeerSource } from './peer-set.js';
import type { SuperSeedOptions } from './super-seed.js';
import { Torrent } from './torrent.js';
import type { TorrentStats } from './torrent-api.js';

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
  /**
   * Incoming connections one IP address may hold, all torrents together (default 8) and in one
   * torrent (default 4); loopback addresses are exempt unless `limitLoopback` (docs/security.md).
   */
  readonly maxPerAddress?: number;
  readonly maxPerAddressPerTorrent?: number;
  readonly limitLoopback?: boolean;
  /** Connections per torrent. Default 50. */
  readonly maxPeersPerTorrent?: number;
  /** Bytes per second, all torrents together; undefined for no limit. */
  readonly uploadLimit?: number;
  /**
   * Bytes per second received, all torrents together, held from the first request on (curl's
   * --limit-rate: no first burst); undefined for no limit.
   */
  readonly downloadLimit?: number;
  /**
   * An upload limit shared with something outside this client (`serve --max-upload-rate`: its
   * plain HTTP bodies take from the same bucket), on `Date.now`'s clock; applied to every torrent,
   * with `uploadLimit`.
   */
  readonly uploadLimiter?: TokenBucket;
  /** Keep loopback peers from any tracker (tests, local swarms). */
  readonly allowLoopbackPeers?: boolean;
  /** BEP 15 first retransmission timeout, for tests. */
  readonly udpTrackerTimeoutMs?: number;
  /**
   * Our own TorrentTTP torrent URL for a torrent (when a peer server serves it), or undefined: it
   * is never dialled as a peer, and is what we announce (docs/torrenttp.md §10).
   */
  readonly peerUrlOf?: (infoHash: string) => string | undefined;
  /**
   * Announce in JSON to http(s) trackers that have a JSON side (TorrentTTP, docs/torrenttp.md
   * §10), with our URL (`peerUrlOf`, else the `httpServer`'s): their replies may name TorrentTTP peers, which are dialled over
   * HTTP. Trackers without one are asked the BEP 3 way. Default false.
   */
  readonly jsonAnnounce?: boolean;
  /**
   * Serve every torrent's pieces over HTTP too: `ttpServer({ port })` from the gateway (a
   * TorrentTTP peer server). Its callers are peers like any other for the choker and the limits.
   * Started with the wire listener (also when `listen` is false), closed first by `close`.
   */
  readonly httpServer?: PeerServer;
  /**
   * A DHT node (BEP 5) to find peers with and announce on, for every torrent that is not private
   * (BEP 27). Off when undefined. The caller starts and closes it (it may outlive the client).
   */
  readonly dht?: DhtNode;
  /**
   * Message Stream Encryption (MSE/PE) for wire peers (docs/transport.md): 'prefer' dials
   * encrypted and falls back to plain per address, 'require' speaks only encrypted (both ways),
   * 'off' dials plain but still answers encrypted peers. Default 'prefer'. RC4 needs Node's
   * OpenSSL legacy provider (`node --openssl-legacy-provider`; the CLI starts so): without it
   * 'prefer' dials plain, and 'require' throws WIRE_MSE_UNAVAILABLE here.
   */
  readonly encryption?: EncryptionPolicy;
  /**
   * BEP 11 peer exchange: offer ut_pex to wire peers, tell them whom we are connected to, and
   * dial the peers they name (docs/transport.md). Never for a private torrent (BEP 27). Default true.
   */
  readonly pex?: boolean;
  /**
   * Disk threads every torrent's storage shares (the caller makes and closes them). By default
   * the client makes one pool at its first torrent and closes it when it closes: every torrent
   * shares it (a pool per torrent was two threads, a V8 isolate each, per torrent: `serve` of a
   * folder took two per file asked for). A process that adds torrents while a program waits (the
   * proxy) makes them beforehand instead, off the first piece's path.
   */
  readonly diskPool?: DiskPool;
  /** How every torrent's storage writes verified pieces: `OpenStorageOptions.writeMode` (default 'direct'). */
  readonly writeMode?: WriteMode;
}

export interface AddOptions {
  /** Download folder: files go under it, never outside. */
  readonly path: string;
  /**
   * Extra peers: `host:port` (a wire peer) or the torrent URL of a TorrentTTP peer
   * (`http(s)://host:port/ttp/v1/torrents/<infohash>`); dialled now and again while not connected.
   */
  readonly peers?: readonly string[];
  /**
   * Wire peers (`host:port`) of `peers` to dial plain even under the 'prefer' policy (no MSE):
   * a seed whose bytes its server also offers over plain HTTP (the proxy: the seed an http:
   * origin names), where RC4 would hide nothing and costs each side about 1.2 s of CPU per GiB. Under 'require' they are dialled encrypted all the same.
   */
  readonly plainPeers?: readonly string[];
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
  /** Folder for the resume file. Default `<path>/.torrenttp` (storage's default); `false`: none (`OpenStorageOptions.resumeDir`). */
  readonly resumeDir?: string | false;
  /**
   * Store the torrent's file (or folder) under this name in `path` instead of the torrent's
   * own name (`torrenttp get -o`). Only the place on disk changes: the info-hash, and the URLs
   * asked of web seeds (BEP 19 appends the torrent's name), stay the torrent's. May be a
   * relative path of a single-file torrent's file under `path` (`serve`'s seed: its file under
   * the served folder): the folders on it are then not checked when the storage opens, but every
   * fd the disk threads open must lead to exactly that path (storage/file-table.ts), so a folder
   * on it swapped for a symlink is refused, not followed.
   */
  readonly storeAs?: string;
  /** Super-seed (BEP 16) while complete: see `TorrentOptions.superSeed`. Default off. */
  readonly superSeed?: boolean | SuperSeedOptions;
  /**
   * Hold the web seeds back until the swarm has given nothing for this long (from the start, or
   * later): a downloader first takes what peers have, and pulls from the origin's HTTP only when
   * they do not deliver. Default 0: web seeds start at once.
   */
  readonly webSeedFallbackMs?: number;
  /** A magnet link: how the metadata fetch is reported, how long it may take (default 120 s), and its limits. */
  readonly onMetadataProgress?: (p: MetadataProgress) => void;
  readonly metadataTimeoutMs?: number;
  readonly maxMetadataBytes?: number;
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
  /** A magnet link's info dict arrived and hashes to its info-hash (before its `torrent`). */
  metadata: [Metainfo];
  /** A tracker, web seed or hand-given peer started or stopped working (once per change). */
  source: [SourceStatus];
  /**
   * Peers found for a torrent (`host:port` or TorrentTTP torrent URLs, ourselves left out): a
   * tracker's answer, the DHT, peer exchange, or hand-given ones; emitted before they are
   * dialled. `torrenttp get` watches it to learn whether it is alone in the swarm.
   */
  discovered: [infoHash: string, addresses: readonly string[], source: PeerSource];
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
  /** Addresses to dial, oldest first, with how each was found; a Map so that queueing one is O(1) (see `discover`). */
  readonly queue: Map<string, PeerSource>;
  /** Last reported state of each source (`kind id` → 'ok' or the failure's code), so each change is reported once. */
  readonly sources: Map<string, string>;
  redialTimer: NodeJS.Timeout | undefined;
  /** Stops the DHT lookups and announces for this torrent. */
  untrackDht: (() => void) | undefined;
}

export class Client extends EventEmitter<ClientEvents> {
  readonly peerId: Uint8Array;
  /** The HTTP peer server given in the options: `client.httpServer?.torrentUrl(infoHash)` is what to announce. */
  readonly httpServer: PeerServer | undefined;
  private readonly opts: ClientOptions;
  private readonly torrents = new Map<string, Entry>();
  private readonly uploadLimiters: TokenBucket[] = [];
  private readonly downloadLimiters: TokenBucket[] = [];
  private listener: PeerListener | undefined;
  /** One dialer per kind of address: `host:port` (wire) and torrent URLs (TorrentTTP HTTP peers). */
  private readonly dialer: WireDialer;
  private readonly httpDialer: HttpDialer;
  private listening: Promise<number> | undefined;
  private readonly ticker: NodeJS.Timeout;
  private closed = false;
  /** The disk pool this client made (no `diskPool` given): every torrent's, closed by `close`. */
  private ownPool: DiskPool | undefined;
  /** Aborted by `close`: ends metadata fetches in flight. */
  private readonly closing = new AbortController();
  /** Removals of failed torrents still under way. */
  private readonly removing = new Set<Promise<void>>();
  private actualPort = 0;

  constructor(opts: ClientOptions = {}) {
    super();
    this.opts = opts;
    this.httpServer = opts.httpServer;
    this.peerId = opts.peerId ?? Uint8Array.from([...new TextEncoder().encode('-TT0010-'), ...randomBytes(12)]);
    if (opts.uploadLimit !== undefined) this.uploadLimiters.push(new TokenBucket(opts.uploadLimit, Date.now()));
    if (opts.uploadLimiter !== undefined) this.uploadLimiters.push(opts.uploadLimiter);
    if (opts.downloadLimit !== undefined) this.downloadLimiters.push(TokenBucket.fromFirstUse(opts.downloadLimit));
    const encryption = opts.encryption ?? 'prefer';
    if (encryption === 'require' && !mseAvailable()) throw new WireError('WIRE_MSE_UNAVAILABLE', { detail: 'encryption: require' });
    // `listenPort` read at each dial (the dialer spreads its options per connection): made before
    // `listen`, the dialer would otherwise tell every peer we dial `p` = 0, and peer exchange
    // (BEP 11) could not pass us on from an incoming connection.
    const self = this;
    this.dialer = new WireDialer({
      peerId: this.peerId,
      get listenPort() {
        return self.actualPort;
      },
      connectTimeoutMs: 10_000,
      encryption,
    });
    this.httpDialer = new HttpDialer({ peerId: this.peerId });
    this.ticker = setInterval(() => {
      for (const e of this.torrents.values()) e.torrent.tick();
    }, TICK_MS);
  }

  /** The listening port (after the first `add` or `listen`). */
  get port(): number {
    return this.actualPort;
  }

  /** Starts listening (done by `add` too), and the HTTP peer server if any; resolves to the wire port (0 without one). */
  listen(): Promise<number> {
    this.listening ??= this.listenWire().then(async (port) => {
      await this.httpServer?.start({
        peerId: this.peerId,
        torrent: (infoHash) => (this.closed ? undefined : this.torrents.get(infoHash)?.torrent),
        admitsPeer: () => !this.closed && this.totalConnections() < (this.opts.maxConnections ?? 200),
      });
      return port;
    });
    return this.listening;
  }

  private listenWire(): Promise<number> {
    if (this.opts.listen === false) return Promise.resolve(0);
    this.listener ??= new PeerListener(this.incoming(), {
      ...(this.opts.host === undefined ? {} : { host: this.opts.host }),
      ...(this.opts.port === undefined ? {} : { port: this.opts.port }),
      ...ifDefined('maxPerAddress', this.opts.maxPerAddress),
      ...ifDefined('maxPerAddressPerTorrent', this.opts.maxPerAddressPerTorrent),
      ...ifDefined('limitLoopback', this.opts.limitLoopback),
      encryption: this.opts.encryption ?? 'prefer',
    });
    // The transport's codes become the Client's own (ENGINE_PORT_IN_USE, ENGINE_LISTEN_FAILED: API).
    return this.listener.listen().then(
      (port) => (this.actualPort = port),
      (err: TorrenttpError) => {
        const code = err.code === 'TRANSPORT_PORT_IN_USE' ? 'ENGINE_PORT_IN_USE' : 'ENGINE_LISTEN_FAILED';
        throw new EngineError(code, { ...(err.detail === undefined ? {} : { detail: err.detail }), cause: err.cause ?? err });
      },
    );
  }

  get(infoHash: string): Torrent | undefined {
    return this.torrents.get(infoHash)?.torrent;
  }

  /**
   * A magnet link's metadata (BEP 9) from its peers (`x.pe`, `opts.peers`) and trackers,
   * verified against its info-hash; see magnet.ts. Nothing is added.
   */
  async fetchMetadata(magnetUri: string, opts: FetchMetadataOptions = {}): Promise<FetchedMetadata> {
    if (this.closed) throw new EngineError('ENGINE_CLOSED');
    const magnet = parseMagnet(magnetUri);
    const listenPort = await this.listen();
    return fetchMetadata(
      magnet,
      {
        peerId: this.peerId,
        listenPort,
        isSelf: (a) => this.isSelf(a, magnet.infoHash),
        splitHostPort,
        ...(this.opts.allowLoopbackPeers === undefined ? {} : { allowLoopbackPeers: this.opts.allowLoopbackPeers }),
        ...(this.opts.udpTrackerTimeoutMs === undefined ? {} : { udpTrackerTimeoutMs: this.opts.udpTrackerTimeoutMs }),
        // Not for a torrent held: its untrack would end the torrent's own DHT lookups and announces.
        ...(this.opts.dht === undefined || opts.dht === false || this.torrents.has(magnet.infoHash) ? {} : { dht: this.opts.dht }),
      },
      { ...opts, signal: opts.signal === undefined ? this.closing.signal : AbortSignal.any([opts.signal, this.closing.signal]) },
    );
  }

  /**
   * Adds a torrent (.torrent bytes, its path, parsed metainfo, or a `magnet:` link) and starts
   * it. A magnet link resolves once its metadata is fetched and verified (`metadata` event).
   */
  async add(input: Uint8Array | string | Metainfo, opts: AddOptions): Promise<Torrent> {
    if (this.closed) throw new EngineError('ENGINE_CLOSED');
    if (typeof input === 'string' && /^magnet:/i.test(input)) return this.addMagnet(input, opts);
    const metainfo = typeof input === 'string' ? parseTorrent(await readFile(input)) : input instanceof Uint8Array ? parseTorrent(input) : input;
    if (this.torrents.has(metainfo.infoHash)) throw new EngineError('ENGINE_DUPLICATE_TORRENT', { detail: metainfo.infoHash });
    if (opts.selectedFiles !== undefined) new FileSelection(metainfo.geometry, opts.selectedFiles); // refused before anything is opened
    const port = await this.listen();
    const openWarnings: TorrenttpError[] = [];
    // Held until `add` resolves; said at once after (a failed periodic resume save).
    let warn = (err: TorrenttpError): void => void openWarnings.push(err);
    if (this.closed) throw new EngineError('ENGINE_CLOSED'); // closed while listening: make no pool
    const pool = this.opts.diskPool ?? (this.ownPool ??= new DiskPool());
    const store = await openStorage(opts.storeAs === undefined ? metainfo : { ...metainfo, name: opts.storeAs }, opts.path, {
      onWarning: (err) => warn(err),
      ...(opts.recheck === undefined ? {} : { recheck: opts.recheck }),
      ...(opts.skipVerify === undefined ? {} : { skipVerify: opts.skipVerify }),
      ...(opts.onCheckProgress === undefined ? {} : { onCheckProgress: opts.onCheckProgress }),
      ...(opts.resumeDir === undefined ? {} : { resumeDir: opts.resumeDir }),
      ...(opts.selectedFiles === undefined ? {} : { selectedFiles: opts.selectedFiles }),
      pool,
      ...(this.opts.writeMode === undefined ? {} : { writeMode: this.opts.writeMode }),
    }).catch((err: unknown) => {
      // The client closed (its pool with it) while this storage was being opened or checked.
      throw this.closed ? new EngineError('ENGINE_CLOSED') : err;
    });
    if (this.closed) {
      // Closed while the data was being checked (Ctrl-C during a long recheck): start nothing.
      await store.close();
      throw new EngineError('ENGINE_CLOSED');
    }
    const uploadLimiters = [...this.uploadLimiters];
    const downloadLimiters = [...this.downloadLimiters];
    if (opts.uploadLimit !== undefined) uploadLimiters.push(new TokenBucket(opts.uploadLimit, Date.now()));
    if (opts.downloadLimit !== undefined) downloadLimiters.push(TokenBucket.fromFirstUse(opts.downloadLimit));
    const torrent = new Torrent(metainfo, store, {
      maxPeers: this.opts.maxPeersPerTorrent ?? 50,
      peerId: this.peerId,
      uploadLimiters,
      downloadLimiters,
      ...(opts.sequential === undefined ? {} : { sequential: opts.sequential }),
      ...(opts.selectedFiles === undefined ? {} : { selectedFiles: opts.selectedFiles }),
      ...(opts.superSeed === undefined ? {} : { superSeed: opts.superSeed }),
      ...(this.opts.pex === false ? { pex: false } : {}),
    });
    const infoHash = infoHashToBytes(metainfo.infoHash);
    for (const a of opts.plainPeers ?? []) this.dialer.dialPlain(a);
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
      ...(this.opts.jsonAnnounce === true ? { jsonAnnounce: true } : {}),
      ...ifDefined('peerUrl', this.ownUrl(metainfo.infoHash)),
    });
    const entry: Entry = {
      torrent,
      wire: {
        infoHash,
        metainfo,
        bitfield: store.bitfield,
        get superSeeding() {
          return torrent.superSeeding;
        },
        pex: torrent.exchangesPeers,
      },
      announcer,
      manualPeers: opts.peers ?? [],
      known: new Set(),
      dialing: new Set(),
      connected: new Set(),
      queue: new Map(),
      sources: new Map(),
      redialTimer: undefined,
      untrackDht: undefined,
    };
    this.torrents.set(metainfo.infoHash, entry);

    announcer.on('peers', (peers) => this.discover(entry, peers.map((p) => (isUrlRef(p) ? p.url : hostPort(p.ip, p.port))), 'tracker'));
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
    torrent.on('discovered', (addresses) => this.discover(entry, addresses, 'pex'));
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

    if (opts.webSeeds !== false && !torrent.complete) this.startWebSeeds(entry, opts.webSeedFallbackMs ?? 0);
    announcer.start();
    if (this.opts.dht !== undefined && opts.dht !== false && !metainfo.private) {
      entry.untrackDht = this.opts.dht.track(infoHash, port > 0 ? { port } : {}, (peers) => this.discover(entry, peers.map((p) => hostPort(p.ip, p.port)), 'dht'));
    }
    this.discover(entry, entry.manualPeers, 'given');
    if (entry.manualPeers.length > 0) {
      entry.redialTimer = setInterval(() => this.discover(entry, entry.manualPeers.filter((p) => !entry.connected.has(p)), 'given', true), REDIAL_MS);
      entry.redialTimer.unref();
    }
    this.emit('torrent', torrent);
    if (store.corruptPieces.length > 0) openWarnings.push(corruptPiecesError(metainfo, store.corruptPieces));
    // After `add` resolves, so that a listener attached on its result hears them too.
    setImmediate(() => {
      warn = (err) => void this.emit('warning', `${metainfo.name}: ${err.message}`, err);
      openWarnings.forEach(warn);
    });
    return torrent;
  }

  private async addMagnet(uri: string, opts: AddOptions): Promise<Torrent> {
    const magnet = parseMagnet(uri);
    const fetched = await this.fetchMetadata(uri, {
      ...(opts.peers === undefined ? {} : { peers: opts.peers }),
      ...(opts.trackers === undefined ? {} : { trackers: opts.trackers }),
      ...(opts.dht === undefined ? {} : { dht: opts.dht }),
      ...(opts.metadataTimeoutMs === undefined ? {} : { timeoutMs: opts.metadataTimeoutMs }),
      ...(opts.maxMetadataBytes === undefined ? {} : { maxMetadataBytes: opts.maxMetadataBytes }),
      ...(opts.onMetadataProgress === undefined ? {} : { onProgress: opts.onMetadataProgress }),
      onPeerError: (a, err) => this.emit('peerError', a, err),
    });
    this.emit('metadata', fetched.metainfo);
    const torrent = await this.add(fetched.metainfo, { ...opts, peers: [...(opts.peers ?? []), ...magnet.peers] });
    for (const a of fetched.peers) this.introduce(torrent.infoHash, a);
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
    if (e === undefined || e.torrent.closed || this.isSelf(address, infoHash)) return;
    e.known.add(address);
    if (e.connected.has(address) || e.dialing.has(address) || !e.torrent.accepts(address)) return;
    if (this.totalConnections() >= (this.opts.maxConnections ?? 200)) return;
    void this.dial(e, address, 'tracker');
  }

  /**
   * The torrent's web seeds: now, or (`fallbackMs` > 0) once its peers have delivered nothing for
   * `fallbackMs`, checked at each progress tick. Once started they stay: a web seed that only
   * fills gaps would add a request per gap, and a swarm that stalled once may stall again.
   */
  private startWebSeeds(e: Entry, fallbackMs: number): void {
    const torrent = e.torrent;
    const start = (): void => {
      for (const url of torrent.metainfo.urlList) {
        const watch = (ev: PeerEvent): void => this.watchWebSeed(e, url, ev);
        torrent.addPeer(
          (onEvent) =>
            createWebSeed(url, torrent.metainfo, {
              onEvent: (ev) => {
                watch(ev);
                onEvent(ev);
              },
            }),
          'given',
        );
      }
    };
    if (fallbackMs <= 0) return start();
    let lastBytes = -1;
    let lastMoveMs = Date.now();
    const check = (s: TorrentStats): void => {
      const now = Date.now();
      if (s.done || torrent.closed) {
        torrent.off('progress', check);
        return;
      }
      if (s.downloaded !== lastBytes) {
        if (lastBytes >= 0) lastMoveMs = now; // the first tick only sets the baseline
        lastBytes = s.downloaded;
      }
      if (now - lastMoveMs >= fallbackMs) {
        torrent.off('progress', check);
        start();
      }
    };
    torrent.on('progress', check);
  }

  /**
   * Stops a torrent: `stopped` to its trackers (each waited for at most `stopTimeoutMs`, default
   * the announcer's 3 s), peers closed, resume state saved.
   */
  async remove(infoHash: string, stopTimeoutMs?: number): Promise<void> {
    const e = this.torrents.get(infoHash);
    if (e === undefined) return;
    this.torrents.delete(infoHash);
    clearInterval(e.redialTimer);
    e.untrackDht?.();
    // Both end whatever the other does: a failed resume save must not keep the trackers waiting.
    const [, closed] = await Promise.allSettled([e.announcer.stop(stopTimeoutMs), e.torrent.close()]);
    if (closed.status === 'rejected') throw closed.reason;
  }

  /**
   * Removes every torrent and stops listening, all of it even when something fails; then rejects
   * with the first failure (a resume state that could not be saved), if any. `stopTimeoutMs`: as
   * in `remove` (a get that ends early says `stopped` within 1 s, so its exit is never held long).
   */
  async close(stopTimeoutMs?: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    clearInterval(this.ticker);
    // First, while the torrents are open: held long-polls get their answer, new callers a 503.
    const httpClosed = this.httpServer === undefined ? Promise.resolve() : this.httpServer.close().catch(() => undefined);
    await httpClosed;
    const removed = await Promise.allSettled([...this.torrents.keys()].map((h) => this.remove(h, stopTimeoutMs)));
    await Promise.allSettled([...this.removing]);
    await this.listener?.close();
    await this.ownPool?.close();
    const failed = removed.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  // ── peers ───────────────────────────────────────────────────────────────────────────────
  /**
   * Queues new addresses found through `source` (all of them when `again`, for hand-given peers)
   * and dials. Bounded: at
   * most MAX_PEERS_PER_REPLY are read from one call, the queue and the set of known addresses
   * keep their newest MAX_QUEUED_PEERS and MAX_KNOWN_PEERS, and every step is O(1), so a reply of
   * any size costs the client a few milliseconds (`queue.includes` per address was quadratic).
   */
  private discover(e: Entry, addresses: readonly string[], source: PeerSource, again = false): void {
    const n = Math.min(addresses.length, MAX_PEERS_PER_REPLY);
    const found: string[] = [];
    for (let i = 0; i < n; i++) {
      const a = addresses[i]!;
      if (this.isSelf(a, e.torrent.infoHash)) continue;
      found.push(a);
      if (!again && e.known.has(a)) continue;
      e.known.delete(a); // re-adding moves it to the newest end
      e.known.add(a);
      if (e.known.size > MAX_KNOWN_PEERS) e.known.delete(e.known.values().next().value!);
      e.queue.delete(a);
      e.queue.set(a, source);
      if (e.queue.size > MAX_QUEUED_PEERS) e.queue.delete(e.queue.values().next().value!);
    }
    if (found.length > 0) this.emit('discovered', e.torrent.infoHash, found, source);
    this.dialMore(e);
  }

  /** Our TorrentTTP torrent URL for a torrent: the one given, else our peer server's. */
  private ownUrl(infoHash: string): string | undefined {
    return this.opts.peerUrlOf?.(infoHash) ?? this.httpServer?.torrentUrl(infoHash);
  }

  private isSelf(address: string, infoHash: string): boolean {
    if (isPeerUrl(address)) return address === this.ownUrl(infoHash);
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
    for (const [address, source] of e.queue) {
      if (e.dialing.size >= MAX_DIALS || this.totalConnections() >= max || e.torrent.closed) break;
      if (e.torrent.complete && e.torrent.peerCount > 0 && e.manualPeers.length === 0) break; // seeding: wait for leechers to come
      e.queue.delete(address);
      if (e.connected.has(address) || e.dialing.has(address) || !e.torrent.accepts(address)) continue;
      void this.dial(e, address, source);
    }
  }

  private async dial(e: Entry, address: string, source: PeerSource): Promise<void> {
    if (isPeerUrl(address)) return this.dialUrl(e, address, source);
    e.dialing.add(address);
    const slot = e.torrent.newPeerSlot(source);
    try {
      const link = await this.dialer.dial(address, e.wire, slot.onEvent);
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

  /**
   * A TorrentTTP peer: the link exists at once (HTTP has no handshake); a peer that cannot be
   * reached closes its link after its back-off (TRANSPORT_HTTP_PEER_GAVE_UP), and a hand-given one
   * is tried again by the redial timer like a wire peer.
   */
  private dialUrl(e: Entry, url: string, source: PeerSource): void {
    const manual = e.manualPeers.includes(url);
    const link = e.torrent.addPeer(
      (onEvent) =>
        this.httpDialer.dial({ url }, e.wire.metainfo, (ev) => {
          if (manual) this.watchHttpPeer(e, url, ev);
          else if (ev.type === 'closed' && ev.reason !== undefined) this.emit('peerError', url, ev.reason);
          onEvent(ev);
        }),
      source,
    );
    e.connected.add(link.id);
  }

  /** Incoming peers (the listener's handshakes): admitted under the connection limit, into the torrent they name. */
  private incoming(): IncomingPeerHandler {
    return {
      admit: () => !this.closed && this.totalConnections() < (this.opts.maxConnections ?? 200),
      lookup: (infoHash, remote) => {
        const entry = this.torrents.get(toHex(infoHash));
        if (entry === undefined || !entry.torrent.admit(remote)) return undefined;
        const slot = entry.torrent.newPeerSlot('incoming');
        return {
          torrent: entry.wire,
          opts: { ...this.wireOptions(), onEvent: slot.onEvent },
          attach: (link) => {
            entry.connected.add(link.id);
            slot.attach(link);
          },
          abandon: () => slot.abandon(),
        };
      },
      onError: (remote, err) => this.emit('peerError', remote, err),
      infoHashes: () => [...this.torrents.values()].map((e) => e.wire.infoHash),
    };
  }

  // ── sources ─────────────────────────────────────────────────────────────────────────────
  /** A web seed fails (`choke` with a reason: it backs off and retries), gives up (`closed` with a reason) or delivers. */
  private watchWebSeed(e: Entry, url: string, ev: PeerEvent): void {
    if (ev.type === 'block') this.report(e, 'webseed', url, undefined);
    else if (ev.type === 'choke' && ev.reason !== undefined) this.report(e, 'webseed', url, ev.reason);
    else if (ev.type === 'closed' && ev.reason !== undefined && ev.reason.code !== 'ENGINE_CLOSED') this.report(e, 'webseed', url, ev.reason, true);
  }

  /** A hand-given TorrentTTP peer answers (its have-set), fails (a back-off with a reason) or is dropped. */
  private watchHttpPeer(e: Entry, url: string, ev: PeerEvent): void {
    if (ev.type === 'bitfield' || ev.type === 'block') this.report(e, 'peer', url, undefined);
    else if (ev.type === 'choke' && ev.reason !== undefined) this.report(e, 'peer', url, ev.reason);
    else if (ev.type === 'closed' && ev.reason !== undefined && ev.reason.code !== 'ENGINE_CLOSED') this.report(e, 'peer', url, ev.reason);
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
    return { peerId: this.peerId, listenPort: this.actualPort };
  }
}

function ifDefined<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [k in K]?: V });
}

/** A TorrentTTP peer's torrent URL rather than a `host:port`. */
function isPeerUrl(address: string): boolean {
  return /^https?:\/\//i.test(address);
}

export function splitHostPort(address: string): { host: string; port: number } {
  const hp = parseHostPort(address);
  if (hp === undefined) throw new EngineError('ENGINE_BAD_PEER_ADDRESS', { detail: address });
  return hp;
}

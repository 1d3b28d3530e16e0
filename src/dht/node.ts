import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { systemClock, type DhtClock, type DhtTimer } from './clock.js';
import { DhtError } from './errors.js';
import { bytesEqual, hex } from './distance.js';
import {
  decodeKrpc,
  encodeError,
  encodeResponse,
  KRPC_ERROR,
  ipFamily,
  NODE_ID_BYTES,
  type CompactNode,
  type DhtFamily,
  type KrpcLimits,
  type KrpcMessage,
  type KrpcResponse,
  type PeerAddr,
} from './krpc.js';
import { lookup, type LookupResult } from './lookup.js';
import { PeerStore, type PeerStoreOptions } from './peer-store.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { isLoopback, RoutingTable } from './routing-table.js';
import { Rpc } from './rpc.js';
import { loadState, lockState, saveState } from './state.js';
import { TokenStore } from './tokens.js';
import { toTorrenttpError, type TorrenttpError } from '../errors/index.js';
import { ipScope } from '../tracker/index.js';

/**
 * A BEP 5 DHT node over one UDP socket, IPv4 or IPv6 (BEP 32: the two are separate DHTs, each
 * node has the table of its own family; a dual-stack client runs one node per family and
 * `pair`s them so that each answers `want` for the other's family): answers ping/find_node/get_peers/announce_peer
 * (unless read-only, BEP 43), bootstraps from given addresses and its saved table, and runs
 * iterative lookups for the info-hashes it tracks, telling their peers as `peers` events.
 *
 * Every packet is rate-limited per IP before it is decoded, then decoded under KRPC's limits;
 * a bad one is dropped (`drop` event, with the reason) and costs its sender alone.
 */
export interface DhtNodeOptions {
  /** UDP port; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** Default '0.0.0.0', or '::' for an IPv6 node. */
  readonly host?: string;
  /** The address family (BEP 32). Default 6 when `host` is an IPv6 address, else 4. */
  readonly family?: DhtFamily;
  /**
   * Our node id; default the saved one, else random. An IPv6 node `pair`ed before it starts
   * takes the IPv4 node's id (BEP 32: one id on both DHTs).
   */
  readonly id?: Uint8Array;
  /** `host:port` addresses to bootstrap from. */
  readonly bootstrap?: readonly string[];
  /** BEP 43: ask, never answer; other nodes keep us out of their tables. */
  readonly readOnly?: boolean;
  /**
   * Where the node table is kept across restarts; none when undefined. One node at a time owns
   * it (`<stateFile>.lock`, our pid): a node that finds it held by another live process (or
   * node) bootstraps from its nodes but takes a fresh id and never saves (a `warning`).
   */
  readonly stateFile?: string;
  readonly clock?: DhtClock;
  readonly k?: number;
  readonly alpha?: number;
  readonly timeoutMs?: number;
  readonly maxNodesPerIp?: number;
  readonly rateLimit?: RateLimitOptions;
  readonly peerStore?: PeerStoreOptions;
  readonly krpc?: KrpcLimits;
  /** Accept loopback peers and nodes from non-loopback nodes (never on a public DHT). Default false. */
  readonly allowLoopback?: boolean;
  /** Lookup (and announce) again for tracked info-hashes this often. Default 15 min (aria2, libtorrent). */
  readonly refreshMs?: number;
  /** Name resolution for bootstrap hosts; default c-ares (`dns.resolve4`/`resolve6` by family, off the libuv thread pool), 3 s timeout. Addresses of the other family are ignored. */
  readonly resolve?: (host: string, family: DhtFamily) => Promise<string[]>;
}

export interface DhtNodeEvents {
  /** Peers found for a tracked info-hash (hex). */
  peers: [string, readonly PeerAddr[]];
  /** A packet or node was refused: `ip:port` and why. For debug logs. */
  drop: [string, TorrenttpError];
  /** Something the user may want to hear: no bootstrap node answered, the state file is damaged. */
  warning: [string, TorrenttpError | undefined];
  /** Bootstrap ended (with so many nodes in the table). */
  ready: [number];
}

export interface DhtStats {
  readonly received: number;
  readonly rateLimited: number;
  readonly badPackets: number;
  readonly answered: number;
  readonly nodes: number;
}

interface Tracked {
  readonly infoHash: Uint8Array;
  readonly hex: string;
  /** Our peer port to announce, or undefined (look up only). */
  port: number | undefined;
  /** How many `track` callers hold it: it stops when the last one lets go. */
  holders: number;
  timer: DhtTimer | undefined;
  running: boolean;
}

const DEFAULT_REFRESH_MS = 15 * 60_000;
/** Pings in flight to nodes learned for us through the paired node's BEP 32 `want`. */
const MAX_LEARNING = 16;

export class DhtNode extends EventEmitter<DhtNodeEvents> {
  private readonly opts: DhtNodeOptions;
  private readonly clock: DhtClock;
  private socket: Socket | undefined;
  private idBytes: Uint8Array | undefined;
  private table: RoutingTable | undefined;
  private rpcLayer: Rpc | undefined;
  private readonly tokens: TokenStore;
  private readonly store: PeerStore;
  private readonly limiter: RateLimiter;
  private readonly tracked = new Map<string, Tracked>();
  private started: Promise<void> | undefined;
  private readyPromise: Promise<void> | undefined;
  private closed = false;
  private boundPort = 0;
  private counts = { received: 0, rateLimited: 0, badPackets: 0, answered: 0 };
  /** BEP 32: the node of the other family on a dual-stack client; its table answers `want` for that family. */
  private sibling: DhtNode | undefined;
  /** The state file's lock, while we own it (we alone save it). */
  private stateLock: (() => Promise<void>) | undefined;
  private learning = 0;
  private rejoining = false;
  readonly family: DhtFamily;

  constructor(opts: DhtNodeOptions = {}) {
    super();
    this.opts = opts;
    this.family = opts.family ?? (opts.host !== undefined && isIP(opts.host) === 6 ? 6 : 4);
    this.clock = opts.clock ?? systemClock;
    this.tokens = new TokenStore(this.clock);
    this.store = new PeerStore(opts.peerStore);
    this.limiter = new RateLimiter(opts.rateLimit);
  }

  get id(): Uint8Array {
    if (this.idBytes === undefined) throw new DhtError('DHT_CLOSED', { detail: 'not started' });
    return this.idBytes;
  }

  get port(): number {
    return this.boundPort;
  }

  get readOnly(): boolean {
    return this.opts.readOnly === true;
  }

  stats(): DhtStats {
    return { ...this.counts, nodes: this.table?.size ?? 0 };
  }

  /**
   * Joins this node and one of the other family (a dual-stack client): a query whose BEP 32
   * `want` names the other family is answered with nodes from the other's table too.
   */
  pair(other: DhtNode): void {
    if (other === this || other.family === this.family) throw new DhtError('DHT_BAD_MESSAGE', { detail: 'pair a node with one of the other address family' });
    this.sibling = other;
    other.sibling = this;
  }

  /** The node of the other family given to `pair`, if any. */
  get paired(): DhtNode | undefined {
    return this.sibling;
  }

  /** The nodes in the table (for saving, or to show). */
  nodes(): CompactNode[] {
    return (this.table?.all() ?? []).map((n) => ({ id: n.id, ip: n.ip, port: n.port }));
  }

  /**
   * Binds the socket and loads the saved table; resolves once the port is open. Bootstrap then
   * goes on in the background (`ready` event, and `whenReady()`), so a caller never waits for
   * unreachable bootstrap hosts.
   */
  start(): Promise<void> {
    this.started ??= this.open();
    return this.started;
  }

  /** Resolves when bootstrap has ended (successful or not). */
  async whenReady(): Promise<void> {
    await this.start();
    await this.readyPromise;
  }

  private async open(): Promise<void> {
    let saved: Awaited<ReturnType<typeof loadState>>;
    let ownsState = false;
    const stateFile = this.opts.stateFile;
    if (stateFile !== undefined) {
      const lock = await lockState(stateFile).catch((err: unknown) => {
        this.emit('warning', `DHT: cannot lock ${stateFile}; the table will not be saved`, toTorrenttpError(err));
        return undefined;
      });
      if (lock !== undefined && 'release' in lock) {
        this.stateLock = lock.release;
        ownsState = true;
      } else if (lock !== undefined) {
        const detail = `${stateFile} is in use by another DHT node (${lock.heldBy === process.pid ? 'in this process' : `pid ${lock.heldBy}`}): this one takes its own id and will not save its table`;
        this.emit('warning', `DHT: ${detail}`, new DhtError('DHT_STATE_IN_USE', { detail }));
      }
      saved = await loadState(stateFile).catch((err: unknown) => {
        this.emit('warning', `DHT: ${stateFile} is damaged; starting with an empty table`, toTorrenttpError(err));
        return undefined;
      });
    }
    // BEP 32: a dual-stack client is one node on both DHTs: the IPv6 node takes the IPv4 node's id.
    const sibling = this.family === 6 ? this.sibling : undefined;
    if (this.opts.id === undefined && sibling?.started !== undefined) await sibling.started.catch(() => undefined);
    const siblingId = sibling?.idBytes;
    const id = this.opts.id ?? siblingId ?? (ownsState ? saved?.id : undefined) ?? new Uint8Array(randomBytes(NODE_ID_BYTES));
    if (id.length !== NODE_ID_BYTES) throw new DhtError('DHT_BAD_NODE_ID', { detail: 'our id is not 20 bytes' });
    this.idBytes = id;
    this.table = new RoutingTable(id, {
      ...(this.opts.k === undefined ? {} : { k: this.opts.k }),
      ...(this.opts.maxNodesPerIp === undefined ? {} : { maxNodesPerIp: this.opts.maxNodesPerIp }),
    });
    // An IPv6 node takes IPv6 only: IPv4 is the other DHT (and the other node of a dual-stack client).
    const socket = this.family === 6 ? createSocket({ type: 'udp6', ipv6Only: true }) : createSocket({ type: 'udp4' });
    this.socket = socket;
    const host = this.opts.host ?? (this.family === 6 ? '::' : '0.0.0.0');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => reject(new DhtError('DHT_BIND_FAILED', { detail: `${host}:${this.opts.port ?? 0}: ${err.message}`, cause: err })));
      socket.bind(this.opts.port ?? 0, host, () => resolve());
    });
    socket.on('error', () => undefined); // send errors (ICMP unreachable) are a query's timeout
    socket.on('message', (msg, rinfo) => this.onPacket(msg, rinfo.address, rinfo.port));
    this.boundPort = socket.address().port;
    this.rpcLayer = new Rpc(this.clock, (packet, ip, port) => this.send(packet, ip, port), {
      ...(this.opts.timeoutMs === undefined ? {} : { timeoutMs: this.opts.timeoutMs }),
      readOnly: this.readOnly,
    });
    if (this.closed) {
      socket.close();
      throw new DhtError('DHT_CLOSED');
    }
    this.readyPromise = this.bootstrap(saved?.nodes ?? []).then((n) => {
      if (!this.closed) this.emit('ready', n);
    });
  }

  /** Pings the saved nodes and the bootstrap addresses, then looks up our own id to fill the table. */
  private async bootstrap(savedNodes: readonly CompactNode[]): Promise<number> {
    const addresses: { ip: string; port: number }[] = savedNodes.filter((n) => ipFamily(n.ip) === this.family).map((n) => ({ ip: n.ip, port: n.port }));
    const resolveHost = this.opts.resolve ?? defaultResolve;
    const bootstrap = this.opts.bootstrap ?? [];
    await Promise.all(
      bootstrap.map(async (a) => {
        const { host, port } = splitHostPort(a);
        try {
          const literal = isIP(host);
          const ips = literal !== 0 ? [host] : await resolveHost(host, this.family);
          for (const ip of ips.filter((x) => ipFamily(x) === this.family).slice(0, 4)) addresses.push({ ip, port });
        } catch (err) {
          this.emit('drop', a, toTorrenttpError(err));
        }
      }),
    );
    if (this.closed) return 0;
    await Promise.all(addresses.map((a) => this.ping(a.ip, a.port).catch(() => undefined)));
    if (this.closed) return 0;
    await this.findNode(this.id).catch(() => undefined);
    const n = this.table?.size ?? 0;
    if (n === 0 && addresses.length > 0 && !this.closed) {
      this.emit('warning', `DHT: none of ${addresses.length} bootstrap node${addresses.length === 1 ? '' : 's'} answered`, undefined);
    }
    for (const t of this.tracked.values()) this.schedule(t, 0);
    return n;
  }

  /** BEP 5 ping; the node joins our table when it answers. */
  async ping(ip: string, port: number): Promise<KrpcResponse> {
    await this.start();
    return this.ask({ ip, port }, { method: 'ping', id: this.id });
  }

  /** Iterative find_node towards `target`. */
  async findNode(target: Uint8Array): Promise<LookupResult> {
    await this.start();
    const table = this.table!;
    return lookup(target, table.closest(target, table.k), (n) => this.ask(n, { method: 'find_node', id: this.id, target }), undefined, this.lookupOptions());
  }

  /**
   * Iterative get_peers for an info-hash; peers are told to `onPeers` as they come. When paired
   * (dual stack), the other family's DHT is searched too, at the same time (its failure, e.g. no
   * IPv6 on this host, costs nothing): `closest` lists this family's nodes, then the other's.
   */
  async getPeers(infoHash: Uint8Array, onPeers?: (peers: readonly PeerAddr[]) => void): Promise<LookupResult> {
    const other = this.sibling;
    if (other === undefined || other.closed) return this.getPeersOwn(infoHash, onPeers);
    const [own, theirs] = await Promise.all([this.getPeersOwn(infoHash, onPeers), other.getPeersOwn(infoHash, onPeers).catch(() => undefined)]);
    if (theirs === undefined) return own;
    const peers = new Map<string, PeerAddr>();
    for (const p of [...own.peers, ...theirs.peers]) peers.set(`${p.ip}:${p.port}`, p);
    return { closest: [...own.closest, ...theirs.closest], peers: [...peers.values()], queried: own.queried + theirs.queried };
  }

  /** get_peers over this node's own family only. */
  private async getPeersOwn(infoHash: Uint8Array, onPeers?: (peers: readonly PeerAddr[]) => void): Promise<LookupResult> {
    await this.start();
    const table = this.table!;
    return lookup(infoHash, table.closest(infoHash, table.k), (n) => this.ask(n, { method: 'get_peers', id: this.id, infoHash }), onPeers, this.lookupOptions());
  }

  /**
   * get_peers, then announce_peer with each token to the closest nodes that gave one. Resolves
   * to the nodes that accepted. Read-only nodes still announce (BEP 43 only stops answering).
   * Paired (dual stack), both families are announced to.
   */
  async announce(infoHash: Uint8Array, port: number, onPeers?: (peers: readonly PeerAddr[]) => void): Promise<number> {
    const other = this.sibling;
    if (other === undefined || other.closed) return this.announceOwn(infoHash, port, onPeers);
    const [own, theirs] = await Promise.all([this.announceOwn(infoHash, port, onPeers), other.announceOwn(infoHash, port, onPeers).catch(() => 0)]);
    return own + theirs;
  }

  private async announceOwn(infoHash: Uint8Array, port: number, onPeers?: (peers: readonly PeerAddr[]) => void): Promise<number> {
    const found = await this.getPeersOwn(infoHash, onPeers);
    const results = await Promise.allSettled(
      found.closest
        .filter((c) => c.token !== undefined)
        .map((c) => this.ask(c.node, { method: 'announce_peer', id: this.id, infoHash, port, token: c.token!, impliedPort: false })),
    );
    return results.filter((r) => r.status === 'fulfilled').length;
  }

  /**
   * Keeps looking up `infoHash` (now, after bootstrap, and every `refreshMs`), telling its peers
   * as `peers` events and to `onPeers`; with `port`, announces us as a peer on that TCP port.
   * Returns the function that stops it for this caller: several callers may track one hash (a
   * magnet's metadata fetch and then its download), and the lookups go on until the last of
   * them lets go. A port given by a later caller is announced from then on. Paired (dual
   * stack), the paired node tracks it too, on its own family's DHT.
   */
  track(infoHash: Uint8Array, opts: { port?: number } = {}, onPeers?: (peers: readonly PeerAddr[]) => void): () => void {
    const stop = this.trackOwn(infoHash, opts, onPeers);
    const other = this.sibling;
    if (other === undefined || other.closed) return stop;
    const stopOther = other.trackOwn(infoHash, opts, onPeers);
    return () => {
      stop();
      stopOther();
    };
  }

  private trackOwn(infoHash: Uint8Array, opts: { port?: number }, onPeers?: (peers: readonly PeerAddr[]) => void): () => void {
    const h = hex(infoHash);
    const listener = onPeers === undefined ? undefined : (which: string, peers: readonly PeerAddr[]) => which === h && onPeers(peers);
    if (listener !== undefined) this.on('peers', listener);
    let t = this.tracked.get(h);
    if (t === undefined) {
      const fresh: Tracked = { infoHash, hex: h, port: opts.port, holders: 1, timer: undefined, running: false };
      this.tracked.set(h, fresh);
      t = fresh;
      void this.start().then(
        () => this.readyPromise?.then(() => this.schedule(fresh, 0)),
        () => undefined,
      );
    } else {
      const cur = t;
      cur.holders++;
      if (opts.port !== undefined && cur.port === undefined) {
        cur.port = opts.port;
        void this.readyPromise?.then(() => this.schedule(cur, 0)); // announce now, not at the next refresh
      }
    }
    const held = t;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (listener !== undefined) this.off('peers', listener);
      if (this.tracked.get(h) !== held) return;
      if (--held.holders <= 0) this.untrackOwn(infoHash);
    };
  }

  /** Stops tracking `infoHash` for every caller at once (on the paired node too). */
  untrack(infoHash: Uint8Array): void {
    this.untrackOwn(infoHash);
    this.sibling?.untrackOwn(infoHash);
  }

  private untrackOwn(infoHash: Uint8Array): void {
    const t = this.tracked.get(hex(infoHash));
    if (t === undefined) return;
    this.tracked.delete(t.hex);
    if (t.timer !== undefined) this.clock.clearTimeout(t.timer);
  }

  /** Saves the table (when a state file is set and this node owns it). */
  async save(): Promise<void> {
    if (this.opts.stateFile === undefined || this.idBytes === undefined || this.stateLock === undefined) return;
    const nodes = (this.table?.all() ?? []).filter((n) => n.verified && n.failures === 0);
    await saveState(this.opts.stateFile, { id: this.idBytes, nodes }, { noSymlinkDir: true });
  }

  /** Stops at once: pending queries fail with DHT_CLOSED, the socket closes, the table is saved. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.tracked.values()) if (t.timer !== undefined) this.clock.clearTimeout(t.timer);
    this.tracked.clear();
    this.rpcLayer?.close();
    await this.started?.catch(() => undefined);
    const socket = this.socket;
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()));
    try {
      await this.save();
    } finally {
      await this.stateLock?.().catch(() => undefined);
      this.stateLock = undefined;
    }
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────
  private lookupOptions(): { alpha?: number; k?: number } {
    return { ...(this.opts.alpha === undefined ? {} : { alpha: this.opts.alpha }), ...(this.opts.k === undefined ? {} : { k: this.opts.k }) };
  }

  private schedule(t: Tracked, delayMs: number): void {
    if (this.closed || this.tracked.get(t.hex) !== t || t.running) return;
    if (t.timer !== undefined) this.clock.clearTimeout(t.timer);
    t.timer = this.clock.setTimeout(() => void this.refresh(t), delayMs);
  }

  private async refresh(t: Tracked): Promise<void> {
    t.timer = undefined;
    t.running = true;
    const onPeers = (peers: readonly PeerAddr[]): void => {
      if (this.tracked.get(t.hex) === t) this.emit('peers', t.hex, peers);
    };
    try {
      if (t.port !== undefined) await this.announceOwn(t.infoHash, t.port, onPeers);
      else await this.getPeersOwn(t.infoHash, onPeers);
    } catch {
      // closed, or no node: the next round tries again
    } finally {
      t.running = false;
    }
    // An empty table (bootstrap failed) retries sooner.
    this.schedule(t, (this.table?.size ?? 0) === 0 ? 60_000 : (this.opts.refreshMs ?? DEFAULT_REFRESH_MS));
  }

  /**
   * One query; the answering node joins the table, a silent one is marked failed. Plausible
   * nodes/values only. BEP 32: while the paired node's table is short of `k` nodes (its own
   * bootstrap found few or none), find_node and get_peers carry `want` for both families, and
   * the other family's nodes of the reply go to the paired node, which pings them into its table.
   */
  private async ask(node: { ip: string; port: number; id?: Uint8Array }, query: Parameters<Rpc['query']>[2]): Promise<KrpcResponse> {
    if (this.rpcLayer === undefined) throw new DhtError('DHT_CLOSED');
    const other = this.sibling;
    const hungry = other !== undefined && !other.closed && other.table !== undefined && other.table.size < other.table.k;
    const q = hungry && (query.method === 'find_node' || query.method === 'get_peers') ? { ...query, want: [this.family, other.family] } : query;
    try {
      const r = await this.rpcLayer.query(node.ip, node.port, q, node.id);
      if (q !== query) {
        const theirs = (this.family === 4 ? r.nodes6 ?? [] : r.nodes).filter((n) => ipFamily(n.ip) === other!.family && this.plausible(n, node.ip));
        if (theirs.length > 0) other!.learn(theirs);
      }
      // BEP 43: we stay out of others' tables, but they may enter ours.
      this.table?.add({ id: r.id, ip: node.ip, port: node.port }, this.clock.now(), true);
      // BEP 32: only the nodes of our own family (`nodes` or `nodes6`) feed our table and lookups.
      const ours = (this.family === 4 ? r.nodes : r.nodes6 ?? []).filter((n) => ipFamily(n.ip) === this.family && this.plausible(n, node.ip) && !bytesEqual(n.id, this.id));
      return {
        id: r.id,
        nodes: this.family === 4 ? ours : [],
        nodes6: this.family === 6 ? ours : [],
        values: r.values.filter((p) => this.plausible(p, node.ip)),
        ...(r.token === undefined ? {} : { token: r.token }),
      };
    } catch (err) {
      const e = toTorrenttpError(err);
      if (e.code === 'DHT_TIMEOUT' || e.code === 'DHT_WRONG_SENDER') this.table?.failed(node.ip, node.port);
      if (e.code === 'DHT_WRONG_SENDER') this.emit('drop', `${node.ip}:${node.port}`, e);
      throw e;
    }
  }

  /**
   * Nodes of our family that the paired node heard of (BEP 32 `want`): each is pinged, and joins
   * the table when it answers. At most MAX_LEARNING pings at once, none once the table holds `k`
   * nodes. When the table was empty (our bootstrap found nobody), the first answer starts a
   * lookup of our own id, and the tracked info-hashes are looked up at once, not a minute later.
   */
  private learn(nodes: readonly CompactNode[]): void {
    const table = this.table;
    if (this.closed || table === undefined || this.rpcLayer === undefined) return;
    for (const n of nodes) {
      if (this.learning >= MAX_LEARNING || table.size >= table.k) return;
      if (table.get(n.ip, n.port) !== undefined || bytesEqual(n.id, this.id)) continue;
      this.learning++;
      const wasEmpty = table.size === 0;
      this.ask(n, { method: 'ping', id: this.id })
        .then(() => {
          if (wasEmpty) this.rejoin();
        }, () => undefined)
        .finally(() => this.learning--);
    }
  }

  private rejoin(): void {
    if (this.rejoining || this.closed) return;
    this.rejoining = true;
    void this.findNode(this.id)
      .catch(() => undefined)
      .then(() => {
        this.rejoining = false;
        for (const t of this.tracked.values()) this.schedule(t, 0);
      });
  }

  /**
   * A node or peer address from a reply: a real port, a unicast IPv4 or IPv6 address, and no loopback
   * address from a node that is not itself on loopback (so a hostile node cannot aim us at
   * local services, the rule the tracker client follows too).
   */
  private plausible(p: PeerAddr, fromIp: string): boolean {
    const scope = ipScope(p.ip);
    if (p.port === 0 || scope === 'unspecified' || scope === 'multicast' || scope === 'invalid') return false;
    return scope !== 'loopback' || isLoopback(fromIp) || this.opts.allowLoopback === true;
  }

  /**
   * BEP 32 `want`: `nodes` and/or `nodes6` from the table of each family asked for (the other
   * family's from the paired node, none without one); no `want` means our own family.
   */
  private closestFor(target: Uint8Array, want: readonly DhtFamily[] | undefined): { nodes: CompactNode[]; nodes6: CompactNode[] } {
    const from = (f: DhtFamily): CompactNode[] => {
      if (!(want ?? [this.family]).includes(f)) return [];
      const table = f === this.family ? this.table : this.sibling?.closed === false ? this.sibling.table : undefined;
      return table === undefined ? [] : table.closest(target, table.k);
    };
    return { nodes: from(4), nodes6: from(6) };
  }

  private send(packet: Uint8Array, ip: string, port: number): void {
    if (this.closed || this.socket === undefined) return;
    this.socket.send(packet, port, ip, () => undefined);
  }

  private onPacket(packet: Uint8Array, ip: string, port: number): void {
    if (this.closed) return;
    this.counts.received++;
    if (!this.limiter.allow(ip, this.clock.now())) {
      this.counts.rateLimited++;
      return;
    }
    let msg: KrpcMessage;
    try {
      msg = decodeKrpc(packet, this.opts.krpc);
    } catch (err) {
      this.counts.badPackets++;
      this.emit('drop', `${ip}:${port}`, toTorrenttpError(err));
      return;
    }
    if (msg.y !== 'q') {
      this.rpcLayer?.onReply(msg, ip, port);
      return;
    }
    if (this.readOnly) return; // BEP 43: a read-only node answers nothing
    this.answer(msg, ip, port);
  }

  private answer(msg: Extract<KrpcMessage, { y: 'q' }>, ip: string, port: number): void {
    const q = msg.query;
    const table = this.table!;
    if (q.id.length !== NODE_ID_BYTES || q.id.every((b, i) => b === this.id[i])) {
      this.counts.badPackets++;
      this.emit('drop', `${ip}:${port}`, new DhtError('DHT_BAD_NODE_ID', { detail: 'a query carries our own id' }));
      return;
    }
    // A querying node is a candidate for the table (unverified until it answers us); a read-only one never (BEP 43).
    if (!msg.readOnly) table.add({ id: q.id, ip, port }, this.clock.now(), false);
    const now = this.clock.now();
    let reply: Uint8Array;
    switch (q.method) {
      case 'ping':
        reply = encodeResponse(msg.t, { id: this.id, nodes: [], values: [] });
        break;
      case 'find_node':
        reply = encodeResponse(msg.t, { id: this.id, ...this.closestFor(q.target, q.want), values: [] });
        break;
      case 'get_peers': {
        // Values are the peers announced over this socket: of this family, as BEP 32 has it.
        const values = this.store.get(hex(q.infoHash), now);
        reply = encodeResponse(msg.t, { id: this.id, ...this.closestFor(q.infoHash, q.want), values, token: this.tokens.make(ip) });
        break;
      }
      case 'announce_peer':
        if (!this.tokens.check(ip, q.token)) {
          this.emit('drop', `${ip}:${port}`, new DhtError('DHT_BAD_TOKEN'));
          reply = encodeError(msg.t, KRPC_ERROR.protocol, 'bad token');
          break;
        }
        this.store.add(hex(q.infoHash), { ip, port: q.impliedPort ? port : q.port }, now);
        reply = encodeResponse(msg.t, { id: this.id, nodes: [], values: [] });
        break;
      case 'unknown':
        reply = encodeError(msg.t, KRPC_ERROR.methodUnknown, 'method unknown');
        break;
    }
    this.counts.answered++;
    this.send(reply, ip, port);
  }
}

function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (m === null) throw new DhtError('DHT_BAD_MESSAGE', { detail: `${address} is not host:port` });
  return { host: m[1]!, port: Number(m[2]) };
}

async function defaultResolve(host: string, family: DhtFamily): Promise<string[]> {
  const r = new Resolver({ timeout: 3000, tries: 1 });
  return family === 6 ? r.resolve6(host) : r.resolve4(host);
}

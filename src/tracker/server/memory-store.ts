import { randomBytes } from 'node:crypto';
import { TorrenttpError } from '../../errors/index.js';
import { TrackerError } from '../errors.js';
import type { ScrapeEntry } from '../http-scrape.js';
import { formatIPv4, formatIPv6 } from '../ip.js';
import { probePlace, probePositionOf, probeRehash, probeRemoveAt, ProbeTable } from './probe-table.js';
import type { SwarmAnnounce, SwarmAnnounceCounts, SwarmAnnounceResult, SwarmPeer, SwarmStats, SwarmStore } from './swarm-store.js';

/**
 * The default `SwarmStore`: everything in this process, built for announce rate. A tracker's
 * working set is hundreds of thousands of peers touched at random, so the layout is about cache
 * lines: no object, string or heap number per peer, only typed arrays.
 *
 * - Torrents: a `ProbeTable` from a keyed hash of the info-hash to a torrent number.
 * - Each torrent is one block of a shared chunk (see `Blocks`, `Torrent`): counters, info-hash,
 *   its own peer table and three buckets (IPv4, IPv6, URL-only). A bucket is parallel regions by slot: the 6/18-byte
 *   compact entries, a 4-int record (key hash, last-seen time, flags and port, address) and the
 *   20-byte peer ids. The entries' order is a random permutation (a newcomer swaps places with a
 *   random member, a leaver is replaced by the last), so a reply is a copy of a window starting at
 *   a random slot: O(numwant), no allocation per peer, and a random sample.
 * - A peer is found through its torrent's table, keyed by a hash of peer id, address and port,
 *   whose value names the bucket and slot; the key is compared against the slot's record and
 *   entry. An announce reads the torrent table's cell, the torrent's header, a table cell, a
 *   record and the reply's window: about half the dependent cache misses of a `Map` of records.
 * - Hashes are keyed with random words chosen per store, so nobody can pick info-hashes or peer
 *   ids that fall on one probe run without knowing them.
 * - Bounded: peers expire `peerTimeoutMs` after their last announce (`expire()` sweeps), and
 *   `maxTorrents` refuses new torrents with `TRACKER_FULL`. A newcomer to a swarm holding
 *   `maxPeersPerTorrent` peers, or to a store holding `maxPeers`, is not stored but still gets
 *   its peers: refusing it failed every new peer of a flash crowd (issue 18); it gets in as
 *   others expire or leave, and its announces keep answering meanwhile.
 */
export interface MemorySwarmStoreOptions {
  /** Default 3,600,000 ms: twice the server's default 1800 s interval. */
  readonly peerTimeoutMs?: number;
  /** Default 1,000,000 torrents. */
  readonly maxTorrents?: number;
  /**
   * Default 100,000: far past any real swarm, small enough that one swarm cannot eat the heap.
   * Newcomers beyond it are answered with peers but not stored.
   */
  readonly maxPeersPerTorrent?: number;
  /** Default 5,000,000 peers: under 1 GiB at the 80–170 bytes (RSS) a peer costs here. Newcomers beyond it are answered, not stored. */
  readonly maxPeers?: number;
  /** Uniform [0, 1). Default `Math.random`; tests inject a seeded one. */
  readonly random?: () => number;
}

export const MEMORY_STORE_DEFAULTS = {
  peerTimeoutMs: 3_600_000,
  maxTorrents: 1_000_000,
  maxPeersPerTorrent: 100_000,
  maxPeers: 5_000_000,
} as const;

/** `record`'s answer for a `stopped` announce: the peer is gone and gets no peers. */
const STOPPED = -1;
/** `record`'s answer for a newcomer to a full swarm or store: not kept, but answered with peers. */
const NOT_STORED = -2;

const ID_BYTES = 20;
/** Int32s per slot record. */
const REC = 4;
/**
 * Record fields: the peer's key hash (as in its table cell), last-seen time, flags with the port
 * above them, and the first 4 address bytes. An IPv4 peer is matched on its record alone, without
 * reading its compact entry: the key hash is a bijection of the peer-id hash once address and port
 * are fixed, so equal key hash, address and port mean equal peer-id hash.
 */
const R_KEY = 0;
const R_SEEN = 1;
const R_FLAGS = 2;
const R_ADDR = 3;
const PORT_SHIFT = 8;
const F_SEEDER = 1;
const F_COMPLETED = 2;
/** URL-only bucket: the 16-byte address field holds an IPv4 address in its first 4 bytes. */
const F_V4 = 4;
/** Buckets: the low 2 bits of a peer's table value (`slot << 2 | kind`). */
const V4 = 0;
const V6 = 1;
const URL = 2;
type Kind = 0 | 1 | 2;
/** Last-seen times are int32 milliseconds since `epochMs`; the epoch moves before they pass this. */
const TICK_LIMIT = 2 ** 30;

/** Murmur3's finalizer: a bijection on 32 bits in which every input bit moves every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function word(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
}

/**
 * Header of a torrent's block, in int32s. Per bucket (`B0 + BUCKET_INTS × kind`): slots used,
 * slots held, and where the bucket's records (int32s), compact entries and peer ids (bytes)
 * start, counted from the block's start.
 */
const H_SEEDERS = 0;
const H_LEECHERS = 1;
const H_DOWNLOADED = 2;
/** Peer table: cells − 1, and entries. */
const H_MASK = 3;
const H_SIZE = 4;
/** The info-hash, as five `word`s. */
const H_HASH = 5;
const B0 = 10;
const BUCKET_INTS = 5;
const B_N = 0;
const B_CAP = 1;
const B_REC = 2;
const B_SLAB = 3;
const B_IDS = 4;
/** 1 if some peer of the torrent has (or had) a TorrentTTP URL: then `Blocks.urls` holds its table. */
const H_URLS = 25;
const HEADER = 32;
/** Compact entry bytes per bucket: IPv4, IPv6, URL-only (16 address bytes, port 0). */
const ENTRY_BYTES = [6, 18, 18] as const;

/** log2 of the int32s in a chunk of blocks (1 MiB). */
const CHUNK_SHIFT = 18;
/** The smallest block, 2^6 int32s (256 bytes): a new torrent's. */
const MIN_CLASS = 6;
/** Refs are `block << 5 | class`, positive int32s. */
const MAX_BLOCKS = 2 ** 26;

/** log2 of the blocks of class `c` in one chunk. */
function perChunk(c: number): number {
  return c >= CHUNK_SHIFT ? 0 : CHUNK_SHIFT - c;
}

type UrlTable = [(string | undefined)[] | undefined, (string | undefined)[] | undefined, (string | undefined)[] | undefined];

/**
 * Where the torrents live: every torrent is a block of 2^c int32s (c its size class) in a shared
 * chunk, so reaching a torrent from its number is two reads of small hot arrays and then its own
 * bytes, with no object per torrent to chase (each one a likely cache miss at 10,000 torrents).
 * A block is named by a ref (`block << 5 | c`, never 0); `refs` maps torrent numbers to refs (0:
 * none). A freed block is reused by the next torrent of its class; chunks are kept, so memory
 * stays at its peak, which the store's limits bound.
 */
class Blocks {
  refs!: Int32Array;
  /** TorrentTTP peer URLs by torrent, bucket and slot, for the torrents with `H_URLS` set. */
  readonly urls = new Map<number, UrlTable>();
  private readonly ints: Int32Array[][] = [];
  private readonly bytes: Uint8Array[][] = [];
  private readonly free: number[][] = [];
  private readonly handed: number[] = [];

  constructor() {
    this.clear();
  }

  /** A block of at least `ints` int32s, its content left as it was. */
  alloc(ints: number): number {
    const c = Math.max(MIN_CLASS, 32 - Math.clz32(ints - 1));
    let block = this.free[c]!.pop();
    if (block === undefined) {
      block = this.handed[c]!;
      if (block >= MAX_BLOCKS) throw new TrackerError('TRACKER_FULL', { detail: 'memory store: no room for more torrent blocks' });
      this.handed[c] = block + 1;
      if ((block & ((1 << perChunk(c)) - 1)) === 0) {
        const buf = new ArrayBuffer(4 * 2 ** Math.max(c, CHUNK_SHIFT));
        this.ints[c]!.push(new Int32Array(buf));
        this.bytes[c]!.push(new Uint8Array(buf));
      }
    }
    return (block << 5) | c;
  }

  release(ref: number): void {
    this.free[ref & 31]!.push(ref >>> 5);
  }

  intsOf(ref: number): Int32Array {
    const c = ref & 31;
    return this.ints[c]![(ref >>> 5) >>> perChunk(c)]!;
  }

  bytesOf(ref: number): Uint8Array {
    const c = ref & 31;
    return this.bytes[c]![(ref >>> 5) >>> perChunk(c)]!;
  }

  /** The block's first int32 in its chunk. */
  baseOf(ref: number): number {
    const c = ref & 31;
    return ((ref >>> 5) & ((1 << perChunk(c)) - 1)) << c;
  }

  setRef(id: number, ref: number): void {
    if (id >= this.refs.length) {
      const grown = new Int32Array(Math.max(2 * this.refs.length, id + 1));
      grown.set(this.refs);
      this.refs = grown;
    }
    this.refs[id] = ref;
  }

  /** No torrents and no chunks: the state of a new store. */
  clear(): void {
    this.refs = new Int32Array(1024);
    this.urls.clear();
    for (let c = 0; c < 32; c++) {
      this.ints[c] = [];
      this.bytes[c] = [];
      this.free[c] = [];
      this.handed[c] = 0;
    }
  }
}

/** Int32s a block needs for `cells` table cells and `caps` slots per bucket. */
function blockInts(cells: number, caps: readonly number[]): number {
  let bytes = 4 * (HEADER + 2 * cells);
  for (let k = 0; k < 3; k++) bytes += (4 * REC + ENTRY_BYTES[k]! + ID_BYTES) * caps[k]!;
  return (bytes + 3) >> 2;
}

/**
 * Lays a torrent out in the block at `o` of `m`: the header and table zeroed, the offsets filled
 * in. Layout: header, table cells (hash, value + 1), every bucket's records (4 int32s: key hash,
 * last seen, flags and port, first address word), then per bucket compact entries and peer ids.
 */
function layOut(m: Int32Array, o: number, cells: number, caps: readonly number[]): void {
  m.fill(0, o, o + HEADER + 2 * cells);
  let ints = HEADER + 2 * cells;
  for (let k = 0; k < 3; k++) {
    m[o + B0 + BUCKET_INTS * k + B_REC] = ints;
    ints += REC * caps[k]!;
  }
  let bytes = 4 * ints;
  for (let k = 0; k < 3; k++) {
    const b = o + B0 + BUCKET_INTS * k;
    m[b + B_CAP] = caps[k]!;
    m[b + B_SLAB] = bytes;
    bytes += ENTRY_BYTES[k]! * caps[k]!;
    m[b + B_IDS] = bytes;
    bytes += ID_BYTES * caps[k]!;
  }
  m[o + H_MASK] = cells - 1;
}

/**
 * A cursor on one torrent's block (`at(id)`): its counters, peer table and three buckets, seen
 * as int32s (`m`) and bytes (`u`) of the chunk, from int32 `o` (byte `4o`). An announce reads the
 * header, one table cell, one record and the slab window. Outgrowing a region moves the torrent
 * to a block with that region doubled. The store keeps one cursor and points it at the torrent
 * in hand; nothing holds a cursor across calls.
 */
class Torrent {
  m: Int32Array = new Int32Array(0);
  u: Uint8Array = new Uint8Array(0);
  o = 0;
  id = -1;
  /** Cell of the last `find` hit. */
  cell = 0;

  constructor(private readonly blocks: Blocks) {}

  /** Points the cursor at torrent `id`. */
  at(id: number): this {
    const ref = this.blocks.refs[id]!;
    this.id = id;
    this.m = this.blocks.intsOf(ref);
    this.u = this.blocks.bytesOf(ref);
    this.o = this.blocks.baseOf(ref);
    return this;
  }

  /** Makes `id` a new, empty torrent of `infoHash` and points the cursor at it. */
  create(id: number, infoHash: Uint8Array): this {
    const caps = [2, 0, 0];
    const ref = this.blocks.alloc(blockInts(4, caps));
    this.blocks.setRef(id, ref);
    this.at(id);
    layOut(this.m, this.o, 4, caps);
    for (let i = 0; i < 5; i++) this.m[this.o + H_HASH + i] = word(infoHash, 4 * i);
    return this;
  }

  /** Frees the torrent's block (the cursor is then unusable until `at`). */
  drop(): void {
    const ref = this.blocks.refs[this.id]!;
    this.blocks.release(ref);
    this.blocks.refs[this.id] = 0;
    this.blocks.urls.delete(this.id);
  }

  get seeders(): number {
    return this.m[this.o + H_SEEDERS]!;
  }

  get leechers(): number {
    return this.m[this.o + H_LEECHERS]!;
  }

  get downloaded(): number {
    return this.m[this.o + H_DOWNLOADED]!;
  }

  get size(): number {
    return this.m[this.o + H_SIZE]!;
  }

  n(kind: Kind): number {
    return this.m[this.o + B0 + BUCKET_INTS * kind + B_N]!;
  }

  /** Int32 index (in `m`) of a slot's record. */
  rec(kind: Kind, slot: number): number {
    const o = this.o;
    return o + this.m[o + B0 + BUCKET_INTS * kind + B_REC]! + REC * slot;
  }

  /** Byte offset (in `u`) of a slot's compact entry. */
  entry(kind: Kind, slot: number): number {
    const o = this.o;
    return 4 * o + this.m[o + B0 + BUCKET_INTS * kind + B_SLAB]! + ENTRY_BYTES[kind] * slot;
  }

  /** Byte offset (in `u`) of a slot's peer id. */
  private idAt(kind: Kind, slot: number): number {
    const o = this.o;
    return 4 * o + this.m[o + B0 + BUCKET_INTS * kind + B_IDS]! + ID_BYTES * slot;
  }

  /** Does the info-hash equal this torrent's? */
  isFor(infoHash: Uint8Array): boolean {
    const m = this.m;
    const at = this.o + H_HASH;
    return m[at] === word(infoHash, 0) && m[at + 1] === word(infoHash, 4) && m[at + 2] === word(infoHash, 8) &&
      m[at + 3] === word(infoHash, 12) && m[at + 4] === word(infoHash, 16);
  }

  infoHash(): Uint8Array {
    const out = new Uint8Array(20);
    for (let i = 0; i < 5; i++) {
      const w = this.m[this.o + H_HASH + i]!;
      out[4 * i] = w & 0xff;
      out[4 * i + 1] = (w >>> 8) & 0xff;
      out[4 * i + 2] = (w >>> 16) & 0xff;
      out[4 * i + 3] = w >>> 24;
    }
    return out;
  }

  // ── peer table (see ProbeTable: the same linear probing, inside this block) ──

  /** The value (`slot << 2 | kind`) of the peer with this key, or -1; `cell` gets its cell. */
  find(h: number, kind: Kind, ip: Uint8Array, port: number): number {
    const m = this.m;
    const t = this.o + HEADER;
    const mask = m[this.o + H_MASK]!;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const v = m[t + 2 * p + 1]! - 1;
      if (v < 0) return -1;
      if (m[t + 2 * p] === h && (v & 3) === kind && this.holds(v, ip, port)) {
        this.cell = p;
        return v;
      }
    }
  }

  /** Is table value `v` the peer at this address and port (its key hash being equal)? */
  private holds(v: number, ip: Uint8Array, port: number): boolean {
    const kind = (v & 3) as Kind;
    const slot = v >> 2;
    const r = this.rec(kind, slot);
    const m = this.m;
    const flags = m[r + R_FLAGS]!;
    if (flags >>> PORT_SHIFT !== port || m[r + R_ADDR] !== word(ip, 0)) return false;
    if (kind === URL && ((flags & F_V4) !== 0) !== (ip.length === 4)) return false;
    if (ip.length === 4) return true;
    const u = this.u;
    const at = this.entry(kind, slot);
    for (let i = 4; i < 16; i++) if (u[at + i] !== ip[i]) return false;
    return true;
  }

  /** The cell of the peer at `slot` of `kind` (through its record's key hash). */
  cellOf(kind: Kind, slot: number): number {
    const m = this.m;
    const p = probePositionOf(m, this.o + HEADER, m[this.o + H_MASK]!, m[this.rec(kind, slot) + R_KEY]!, (slot << 2) | kind);
    if (p < 0) throw new TorrenttpError('INTERNAL', { detail: 'memory store: a peer is missing from its table' });
    return p;
  }

  // ── buckets ──

  /** Room for one more peer in the table and in bucket `kind`: moves the torrent to a bigger block if need be. */
  private reserve(kind: Kind): void {
    const m = this.m;
    const o = this.o;
    const cells = m[o + H_MASK]! + 1;
    const growTable = 2 * (m[o + H_SIZE]! + 1) > cells;
    const b = o + B0 + BUCKET_INTS * kind;
    const growBucket = m[b + B_N] === m[b + B_CAP];
    if (!growTable && !growBucket) return;
    const caps = [0, 1, 2].map((k) => m[o + B0 + BUCKET_INTS * k + B_CAP]!);
    if (growBucket) caps[kind] = Math.max(2, 2 * caps[kind]!);
    const newCells = growTable ? 2 * cells : cells;
    const blocks = this.blocks;
    const oldRef = blocks.refs[this.id]!;
    const ref = blocks.alloc(blockInts(newCells, caps));
    const nm = blocks.intsOf(ref);
    const nu = blocks.bytesOf(ref);
    const no = blocks.baseOf(ref);
    layOut(nm, no, newCells, caps);
    const u = this.u;
    for (let i = 0; i < B0; i++) if (i !== H_MASK) nm[no + i] = m[o + i]!;
    nm[no + H_URLS] = m[o + H_URLS]!;
    for (let k = 0; k < 3; k++) {
      const ob = o + B0 + BUCKET_INTS * k;
      const nb = no + B0 + BUCKET_INTS * k;
      const n = m[ob + B_N]!;
      nm[nb + B_N] = n;
      nm.set(m.subarray(o + m[ob + B_REC]!, o + m[ob + B_REC]! + REC * n), no + nm[nb + B_REC]!);
      nu.set(u.subarray(4 * o + m[ob + B_SLAB]!, 4 * o + m[ob + B_SLAB]! + ENTRY_BYTES[k]! * n), 4 * no + nm[nb + B_SLAB]!);
      nu.set(u.subarray(4 * o + m[ob + B_IDS]!, 4 * o + m[ob + B_IDS]! + ID_BYTES * n), 4 * no + nm[nb + B_IDS]!);
    }
    probeRehash(m, o + HEADER, cells - 1, nm, no + HEADER, newCells - 1);
    blocks.release(oldRef);
    blocks.refs[this.id] = ref;
    this.m = nm;
    this.u = nu;
    this.o = no;
  }

  /** Adds a peer at the end of bucket `kind`; returns its slot. */
  add(kind: Kind, h: number, ip: Uint8Array, port: number, peerId: Uint8Array, flags: number, now: number): number {
    this.reserve(kind);
    const m = this.m;
    const u = this.u;
    const o = this.o;
    const b = o + B0 + BUCKET_INTS * kind;
    const slot = m[b + B_N]!;
    const e = ENTRY_BYTES[kind];
    const at = this.entry(kind, slot);
    u.fill(0, at, at + e);
    u.set(ip, at);
    u[at + e - 2] = port >> 8;
    u[at + e - 1] = port & 0xff;
    const r = this.rec(kind, slot);
    m[r + R_KEY] = h;
    m[r + R_SEEN] = now;
    m[r + R_FLAGS] = flags | (port << PORT_SHIFT);
    m[r + R_ADDR] = word(ip, 0);
    u.set(peerId.subarray(0, ID_BYTES), this.idAt(kind, slot));
    const urls = this.urls(kind);
    if (urls !== undefined) urls[slot] = undefined;
    m[b + B_N] = slot + 1;
    probePlace(m, o + HEADER, m[o + H_MASK]!, h, (slot << 2) | kind);
    m[o + H_SIZE] = m[o + H_SIZE]! + 1;
    const count = o + ((flags & F_SEEDER) !== 0 ? H_SEEDERS : H_LEECHERS);
    m[count] = m[count]! + 1;
    return slot;
  }

  /** The URLs of bucket `kind`, if the torrent has any. */
  urls(kind: Kind): (string | undefined)[] | undefined {
    return this.m[this.o + H_URLS] === 0 ? undefined : this.blocks.urls.get(this.id)?.[kind];
  }

  hasUrls(): boolean {
    return this.m[this.o + H_URLS] !== 0;
  }

  setUrl(kind: Kind, slot: number, url: string | undefined): void {
    let table = this.blocks.urls.get(this.id);
    if (table === undefined) {
      table = [undefined, undefined, undefined];
      this.blocks.urls.set(this.id, table);
      this.m[this.o + H_URLS] = 1;
    }
    (table[kind] ??= [])[slot] = url;
  }

  /** Exchanges two slots of a bucket, and their table values. */
  swap(kind: Kind, x: number, y: number): void {
    const px = this.cellOf(kind, x);
    const py = this.cellOf(kind, y);
    const m = this.m;
    const t = this.o + HEADER;
    m[t + 2 * px + 1] = ((y << 2) | kind) + 1;
    m[t + 2 * py + 1] = ((x << 2) | kind) + 1;
    swapRuns(m, this.rec(kind, x), this.rec(kind, y), REC);
    swapRuns(this.u, this.entry(kind, x), this.entry(kind, y), ENTRY_BYTES[kind]);
    swapRuns(this.u, this.idAt(kind, x), this.idAt(kind, y), ID_BYTES);
    const urls = this.urls(kind);
    if (urls !== undefined) {
      const ux = urls[x];
      urls[x] = urls[y];
      urls[y] = ux;
    }
  }

  /** Removes the peer at `slot` of `kind`, whose table cell is `cell`: the bucket's last slot takes its place. */
  remove(kind: Kind, slot: number, cell: number): void {
    const m = this.m;
    const o = this.o;
    probeRemoveAt(m, o + HEADER, m[o + H_MASK]!, cell);
    m[o + H_SIZE] = m[o + H_SIZE]! - 1;
    const count = o + ((m[this.rec(kind, slot) + R_FLAGS]! & F_SEEDER) !== 0 ? H_SEEDERS : H_LEECHERS);
    m[count] = m[count]! - 1;
    const b = o + B0 + BUCKET_INTS * kind;
    const last = m[b + B_N]! - 1;
    if (slot !== last) {
      m[o + HEADER + 2 * this.cellOf(kind, last) + 1] = ((slot << 2) | kind) + 1;
      m.copyWithin(this.rec(kind, slot), this.rec(kind, last), this.rec(kind, last) + REC);
      const e = ENTRY_BYTES[kind];
      this.u.copyWithin(this.entry(kind, slot), this.entry(kind, last), this.entry(kind, last) + e);
      this.u.copyWithin(this.idAt(kind, slot), this.idAt(kind, last), this.idAt(kind, last) + ID_BYTES);
    }
    const urls = this.urls(kind);
    if (urls !== undefined) {
      urls[slot] = urls[last];
      urls[last] = undefined;
    }
    m[b + B_N] = last;
  }

  /**
   * Calls `keep(m, r)` with every peer's record index; a peer for which it returns false is
   * removed. Downwards, so a removal (which moves the last slot, already seen, into the hole)
   * skips nobody.
   */
  forEachRecord(keep: (m: Int32Array, r: number) => boolean): void {
    for (let kind: Kind = 0; kind < 3; kind = (kind + 1) as Kind) {
      for (let slot = this.n(kind) - 1; slot >= 0; slot--) {
        if (!keep(this.m, this.rec(kind, slot))) this.remove(kind, slot, this.cellOf(kind, slot));
      }
    }
  }

  // ── samples ──

  /** How many entries a sample of `want` from bucket `kind` gives, `self` (a slot, or -1) excluded. */
  count(kind: Kind, want: number, self: number): number {
    const n = this.n(kind);
    return Math.min(want, self >= 0 ? n - 1 : n);
  }

  /** Up to `want` compact entries of bucket `kind` from a random window, skipping slot `self`. */
  sample(kind: Kind, want: number, self: number, random: () => number): Uint8Array {
    const k = this.count(kind, want, self);
    if (k <= 0) return EMPTY;
    const out = new Uint8Array(k * ENTRY_BYTES[kind]);
    this.sampleInto(kind, want, self, random, out, 0);
    return out;
  }

  /** `sample` written into `out` from byte `at` (room for `count` entries); returns the bytes written. */
  sampleInto(kind: Kind, want: number, self: number, random: () => number, out: Uint8Array, at: number): number {
    const n = this.n(kind);
    const k = this.count(kind, want, self);
    if (k <= 0) return 0;
    const start = Math.floor(random() * n);
    // Slots spanned: k, plus the announcer's own if it falls inside the window.
    const end = start + (self >= 0 && (self - start + n) % n < k ? k + 1 : k);
    if (end <= n) return this.copy(kind, out, at, start, end, self) - at;
    return this.copy(kind, out, this.copy(kind, out, at, start, n, self), 0, end - n, self) - at;
  }

  /** Copies the entries of slots [from, to) except `skip` into `out` at byte `at`; returns the next byte. */
  private copy(kind: Kind, out: Uint8Array, at: number, from: number, to: number, skip: number): number {
    const e = ENTRY_BYTES[kind];
    const base = this.entry(kind, 0);
    const u = this.u;
    if (skip >= from && skip < to) {
      copyBytes(out, at, u, base + from * e, base + skip * e);
      copyBytes(out, at + (skip - from) * e, u, base + (skip + 1) * e, base + to * e);
      return at + (to - from - 1) * e;
    }
    copyBytes(out, at, u, base + from * e, base + to * e);
    return at + (to - from) * e;
  }

  peer(kind: Kind, slot: number): SwarmPeer {
    const u = this.u;
    const at = this.entry(kind, slot);
    const e = ENTRY_BYTES[kind];
    const v4 = kind === V4 || (kind === URL && (this.m[this.rec(kind, slot) + R_FLAGS]! & F_V4) !== 0);
    const ip = v4 ? formatIPv4(u, at) : formatIPv6(u, at);
    const port = (u[at + e - 2]! << 8) | u[at + e - 1]!;
    const ids = this.idAt(kind, slot);
    const peerId = u.slice(ids, ids + ID_BYTES);
    const url = this.urls(kind)?.[slot];
    return url === undefined ? { peerId, ip, port } : { peerId, ip, port, url };
  }
}

function swapRuns(a: Uint8Array | Int32Array, x: number, y: number, length: number): void {
  for (let i = 0; i < length; i++) {
    const v = a[x + i]!;
    a[x + i] = a[y + i]!;
    a[y + i] = v;
  }
}

/** `out.set(src.subarray(from, to), at)`, without the view for a short run. */
function copyBytes(out: Uint8Array, at: number, src: Uint8Array, from: number, to: number): void {
  if (to - from > 64) {
    out.set(src.subarray(from, to), at);
    return;
  }
  for (let i = from; i < to; i++) out[at++] = src[i]!;
}

const EMPTY: Uint8Array = new Uint8Array(0);

export class MemorySwarmStore implements SwarmStore {
  /** Keyed hash of an info-hash → torrent number. */
  private table = new ProbeTable(1024);
  private readonly blocks = new Blocks();
  /** The cursor every method points at the torrent in hand. */
  private readonly t = new Torrent(this.blocks);
  /** Torrent numbers handed out so far (some may be free again). */
  private ids = 0;
  private readonly freeIds: number[] = [];
  private torrentCount = 0;
  private peerCount = 0;
  private readonly peerTimeoutMs: number;
  private readonly maxTorrents: number;
  private readonly maxPeersPerTorrent: number;
  private readonly maxPeers: number;
  private readonly random: () => number;
  /** Hash keys. */
  private readonly k: Int32Array;
  /** Set by the first announce, moved forward by `tick` and `expire`. */
  private epochMs = Number.NaN;
  /** Bumped by every change of a torrent's counts: `version()`. */
  private changes = 0;

  constructor(opts: MemorySwarmStoreOptions = {}) {
    this.peerTimeoutMs = opts.peerTimeoutMs ?? MEMORY_STORE_DEFAULTS.peerTimeoutMs;
    this.maxTorrents = opts.maxTorrents ?? MEMORY_STORE_DEFAULTS.maxTorrents;
    this.maxPeersPerTorrent = opts.maxPeersPerTorrent ?? MEMORY_STORE_DEFAULTS.maxPeersPerTorrent;
    this.maxPeers = opts.maxPeers ?? MEMORY_STORE_DEFAULTS.maxPeers;
    this.random = opts.random ?? Math.random;
    const seed = randomBytes(64);
    this.k = new Int32Array(seed.buffer, seed.byteOffset, 16);
  }

  /** Keyed hash of 20 bytes at `at` (an info-hash or a peer id); `k0` picks the key words. */
  private hash20(b: Uint8Array, at: number, k0: number): number {
    const k = this.k;
    return (
      fmix(word(b, at) ^ k[k0]!) +
      fmix(word(b, at + 4) ^ k[k0 + 1]!) +
      fmix(word(b, at + 8) ^ k[k0 + 2]!) +
      fmix(word(b, at + 12) ^ k[k0 + 3]!) +
      fmix(word(b, at + 16) ^ k[k0 + 4]!)
    ) | 0;
  }

  /** A peer's key hash: its peer-id hash, address and port (and bucket). */
  private peerHash(idHash: number, ip: Uint8Array, port: number, kind: Kind): number {
    const k = this.k;
    let h = fmix(idHash ^ k[10]!) + fmix(((port << 2) | kind) ^ k[11]!);
    h += fmix(word(ip, 0) ^ k[12]!);
    if (ip.length === 16) h += fmix(word(ip, 4) ^ k[13]!) + fmix(word(ip, 8) ^ k[14]!) + fmix(word(ip, 12) ^ k[15]!);
    return fmix(h | 0);
  }

  /**
   * A time as int32 milliseconds since `epochMs`; a clock that has moved 2^30 ms (12 days) away
   * from the epoch moves the epoch first (every record is shifted; ones that would underflow
   * were due to expire long ago and are pinned at the bottom).
   */
  private tick(ms: number): number {
    const t = ms - this.epochMs;
    if (t < TICK_LIMIT && t > -TICK_LIMIT) return t;
    if (Number.isNaN(this.epochMs)) this.epochMs = ms;
    else this.rebase(ms - this.epochMs);
    return ms - this.epochMs;
  }

  /** Torrent numbers in use. */
  private *live(): Generator<number> {
    const refs = this.blocks.refs;
    for (let id = 0; id < this.ids; id++) if (refs[id] !== 0) yield id;
  }

  private rebase(shift: number): void {
    for (const id of this.live()) this.t.at(id).forEachRecord((m, r) => {
      m[r + R_SEEN] = Math.max(-(2 ** 31), m[r + R_SEEN]! - shift);
      return true;
    });
    this.epochMs += shift;
  }

  announce(a: SwarmAnnounce): Promise<SwarmAnnounceResult> {
    try {
      return Promise.resolve(this.announceNow(a));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The synchronous core of `announce`. */
  announceNow(a: SwarmAnnounce): SwarmAnnounceResult {
    const t = this.torrentFor(a);
    if (t === undefined) return { complete: 0, incomplete: 0, peers4: EMPTY, peers6: EMPTY, peers: [] };
    const me = this.record(t, a);
    if (me === STOPPED) return { complete: t.seeders, incomplete: t.leechers, peers4: EMPTY, peers6: EMPTY, peers: [] };
    const want = a.numwant;
    const self4 = me >= 0 && (me & 3) === V4 ? me >> 2 : -1;
    const self6 = me >= 0 && (me & 3) === V6 ? me >> 2 : -1;
    let peers4: Uint8Array = EMPTY;
    let peers6: Uint8Array = EMPTY;
    let peers: SwarmPeer[] = [];
    switch (a.reply) {
      case 'compact4':
        peers4 = t.sample(V4, want, self4, this.random);
        break;
      case 'compact6':
        peers6 = t.sample(V6, want, self6, this.random);
        break;
      case 'compact':
        peers4 = t.sample(V4, want, self4, this.random);
        peers6 = t.sample(V6, want, self6, this.random);
        break;
      case 'list':
        peers = this.sampleList(t, want, me);
        break;
    }
    return { complete: t.seeders, incomplete: t.leechers, peers4, peers6, peers };
  }

  /** See `SwarmStore.announceInto`: the sample goes straight from the torrent's slab into `out`. */
  announceInto(a: SwarmAnnounce, out: Uint8Array, at: number): SwarmAnnounceCounts {
    const t = this.torrentFor(a);
    if (t === undefined) return { complete: 0, incomplete: 0, peerBytes: 0 };
    const me = this.record(t, a);
    let peerBytes = 0;
    if (me !== STOPPED) {
      const kind = a.reply === 'compact6' ? V6 : V4;
      const self = me >= 0 && (me & 3) === kind ? me >> 2 : -1;
      if (out.length - at < t.count(kind, a.numwant, self) * ENTRY_BYTES[kind]) throw new TorrenttpError('INVALID_ARGUMENT', { detail: 'announceInto: no room for numwant peers' });
      peerBytes = t.sampleInto(kind, a.numwant, self, this.random, out, at);
    }
    return { complete: t.seeders, incomplete: t.leechers, peerBytes };
  }

  /** The torrent of an info-hash whose keyed hash is `h`. */
  private find(infoHash: Uint8Array, h: number): Torrent | undefined {
    const tb = this.table;
    for (let p = tb.start(h); ; p = tb.next(p)) {
      const id = tb.valueAt(p);
      if (id < 0) return undefined;
      if (tb.hashAt(p) !== h) continue;
      const t = this.t.at(id);
      if (t.isFor(infoHash)) return t;
    }
  }

  /** The announce's torrent, created if need be; undefined for `stopped` on a torrent we do not hold. */
  private torrentFor(a: SwarmAnnounce): Torrent | undefined {
    const h = this.hash20(a.infoHash, 0, 0);
    const found = this.find(a.infoHash, h);
    if (found !== undefined || a.event === 'stopped') return found;
    if (this.torrentCount >= this.maxTorrents) throw new TrackerError('TRACKER_FULL', { detail: `${this.maxTorrents} torrents` });
    const id = this.freeIds.pop() ?? this.ids++;
    const t = this.t.create(id, a.infoHash);
    this.table.insert(h, id);
    this.torrentCount++;
    return t;
  }

  /**
   * Records the announce in `t` and returns the peer's table value (`slot << 2 | bucket`); on
   * `stopped` removes the peer and returns STOPPED; a newcomer that finds the swarm or the store
   * full is not recorded (nor its `completed`, which could not be told from a repeat) and gets
   * NOT_STORED.
   */
  private record(t: Torrent, a: SwarmAnnounce): number {
    const ip = a.ip.bytes;
    const port = a.port;
    const kind: Kind = port === 0 ? URL : a.ip.family === 4 ? V4 : V6;
    const idHash = this.hash20(a.peerId, 0, 5);
    const h = this.peerHash(idHash, ip, port, kind);
    let found = t.find(h, kind, ip, port);
    if (a.event === 'stopped') {
      if (found >= 0) {
        t.remove((found & 3) as Kind, found >> 2, t.cell);
        this.peerCount--;
        this.changes++;
      }
      return STOPPED;
    }
    const seeder = a.left === 0;
    const now = this.tick(a.nowMs);
    if (found < 0) {
      if (t.size >= this.maxPeersPerTorrent || this.peerCount >= this.maxPeers) return NOT_STORED;
      const flags = (seeder ? F_SEEDER : 0) | (kind === URL && ip.length === 4 ? F_V4 : 0);
      const n = t.add(kind, h, ip, port, a.peerId, flags, now);
      this.peerCount++;
      this.changes++;
      if (a.url !== undefined) t.setUrl(kind, n, a.url);
      // A random permutation: the newcomer swaps places with a random member (or stays last).
      const j = Math.floor(this.random() * (n + 1));
      if (j !== n) t.swap(kind, j, n);
      found = (j << 2) | kind;
    } else {
      const k = (found & 3) as Kind;
      const r = t.rec(k, found >> 2);
      const m = t.m;
      m[r + R_SEEN] = now;
      const flags = m[r + R_FLAGS]!;
      if (((flags & F_SEEDER) !== 0) !== seeder) {
        m[r + R_FLAGS] = flags ^ F_SEEDER;
        m[t.o + H_SEEDERS] = m[t.o + H_SEEDERS]! + (seeder ? 1 : -1);
        m[t.o + H_LEECHERS] = m[t.o + H_LEECHERS]! + (seeder ? -1 : 1);
        this.changes++;
      }
      if (a.url !== undefined || t.hasUrls()) t.setUrl(k, found >> 2, a.url);
    }
    if (a.event === 'completed') {
      const m = t.m;
      const r = t.rec((found & 3) as Kind, found >> 2) + R_FLAGS;
      if ((m[r]! & F_COMPLETED) === 0) {
        m[r] = m[r]! | F_COMPLETED;
        m[t.o + H_DOWNLOADED] = m[t.o + H_DOWNLOADED]! + 1;
        this.changes++;
      }
    }
    return found;
  }

  /** A random window over the three buckets seen as one sequence. */
  private sampleList(t: Torrent, want: number, self: number): SwarmPeer[] {
    const n0 = t.n(V4);
    const n1 = t.n(V6);
    const all = n0 + n1 + t.n(URL);
    const k = Math.min(want, all - 1);
    const out: SwarmPeer[] = [];
    let i = Math.floor(this.random() * all);
    for (let seen = 0; out.length < k && seen < all; seen++, i = i + 1 === all ? 0 : i + 1) {
      const kind: Kind = i < n0 ? V4 : i < n0 + n1 ? V6 : URL;
      const slot = kind === V4 ? i : kind === V6 ? i - n0 : i - n0 - n1;
      if (((slot << 2) | kind) !== self) out.push(t.peer(kind, slot));
    }
    return out;
  }

  private dropTorrent(t: Torrent): void {
    const h = this.hash20(t.infoHash(), 0, 0);
    this.table.removeAt(this.table.positionOf(h, t.id));
    t.drop();
    this.freeIds.push(t.id);
    this.torrentCount--;
    this.changes++; // its `completed` count goes with it
  }

  scrape(infoHashes: readonly Uint8Array[]): Promise<ScrapeEntry[]> {
    return Promise.resolve(infoHashes.map((infoHash) => {
      const t = infoHash.length === 20 ? this.find(infoHash, this.hash20(infoHash, 0, 0)) : undefined;
      return { infoHash, complete: t?.seeders ?? 0, downloaded: t?.downloaded ?? 0, incomplete: t?.leechers ?? 0 };
    }));
  }

  fullScrape(limit: number): Promise<ScrapeEntry[]> {
    const out: ScrapeEntry[] = [];
    for (const id of this.live()) {
      if (out.length >= limit) break;
      const t = this.t.at(id);
      out.push({ infoHash: t.infoHash(), complete: t.seeders, downloaded: t.downloaded, incomplete: t.leechers });
    }
    return Promise.resolve(out);
  }

  stats(): Promise<SwarmStats> {
    let seeders = 0;
    let leechers = 0;
    let completed = 0;
    for (const id of this.live()) {
      const t = this.t.at(id);
      seeders += t.seeders;
      leechers += t.leechers;
      completed += t.downloaded;
    }
    return Promise.resolve({ torrents: this.torrentCount, peers: this.peerCount, seeders, leechers, completed });
  }

  /** See `SwarmStore.version`. */
  version(): number {
    return this.changes;
  }

  expire(nowMs: number): Promise<number> {
    if (Number.isNaN(this.epochMs)) return Promise.resolve(0);
    const cutoff = nowMs - this.peerTimeoutMs - this.epochMs;
    // Every peer kept was seen at or after the cutoff: moving the epoch there keeps times small.
    const shift = cutoff > TICK_LIMIT / 2 ? cutoff : 0;
    let dropped = 0;
    for (const id of this.live()) {
      const t = this.t.at(id);
      t.forEachRecord((m, r) => {
        if (m[r + R_SEEN]! < cutoff) {
          dropped++;
          return false;
        }
        m[r + R_SEEN] = m[r + R_SEEN]! - shift;
        return true;
      });
      if (t.size === 0) this.dropTorrent(t);
    }
    this.peerCount -= dropped;
    if (dropped > 0) this.changes++;
    this.epochMs += shift;
    return Promise.resolve(dropped);
  }

  close(): Promise<void> {
    this.blocks.clear();
    this.ids = 0;
    this.freeIds.length = 0;
    this.table = new ProbeTable(1024);
    this.torrentCount = 0;
    this.peerCount = 0;
    this.changes++;
    return Promise.resolve();
  }
}

import { randomBytes } from 'node:crypto';
import { TorrenttpError } from '../../errors/index.js';
import { TrackerError } from '../errors.js';
import type { ScrapeEntry } from '../http-scrape.js';
import { formatIPv4, formatIPv6 } from '../ip.js';
import { ProbeTable } from './probe-table.js';
import type { SwarmAnnounce, SwarmAnnounceCounts, SwarmAnnounceResult, SwarmPeer, SwarmStats, SwarmStore } from './swarm-store.js';

/**
 * The default `SwarmStore`: everything in this process, built for announce rate. A tracker's
 * working set is hundreds of thousands of peers touched at random, so the layout is about cache
 * lines: no object, string or heap number per peer, only typed arrays.
 *
 * - Torrents: a `ProbeTable` from a keyed hash of the info-hash to a torrent number; the
 *   info-hashes themselves sit in one byte array by number.
 * - Peers of a torrent live in up to three buckets (IPv4, IPv6, URL-only). A bucket is parallel
 *   arrays by slot: a slab of the 6/18-byte compact entries, a 4-int record (peer-id hash,
 *   last-seen time, flags, key hash) and the 20-byte peer ids. The slab's order is a random
 *   permutation (a newcomer swaps places with a random member, a leaver is replaced by the last),
 *   so a reply is a copy of a window starting at a random slot: O(numwant), no allocation per
 *   peer, and a random sample.
 * - A peer is found through its torrent's `ProbeTable`, keyed by a hash of peer id, address and
 *   port, whose value names the bucket and slot. A lookup reads the table cell and the slot's
 *   record and slab entry: three cache lines.
 * - Hashes are keyed with random words chosen per store, so nobody can pick info-hashes or peer
 *   ids that fall on one probe run without knowing them.
 * - Bounded: peers expire `peerTimeoutMs` after their last announce (`expire()` sweeps), and
 *   `maxTorrents`, `maxPeersPerTorrent` and `maxPeers` refuse new entries with `TRACKER_FULL`.
 */
export interface MemorySwarmStoreOptions {
  /** Default 3,600,000 ms: twice the server's default 1800 s interval. */
  readonly peerTimeoutMs?: number;
  /** Default 1,000,000 torrents. */
  readonly maxTorrents?: number;
  /** Default 100,000: far past any real swarm, small enough that one swarm cannot eat the heap. */
  readonly maxPeersPerTorrent?: number;
  /** Default 10,000,000 peers: about 1 GiB at the ~100 bytes a peer costs here. */
  readonly maxPeers?: number;
  /** Uniform [0, 1). Default `Math.random`; tests inject a seeded one. */
  readonly random?: () => number;
}

export const MEMORY_STORE_DEFAULTS = {
  peerTimeoutMs: 3_600_000,
  maxTorrents: 1_000_000,
  maxPeersPerTorrent: 100_000,
  maxPeers: 10_000_000,
} as const;

const ID_BYTES = 20;
/** Int32s per slot record. */
const REC = 4;
/** Record fields. */
const R_ID = 0;
const R_SEEN = 1;
const R_FLAGS = 2;
const R_KEY = 3;
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

/** A bucket: the peers of one address kind in one torrent, by slot. */
class Bucket {
  n = 0;
  slab: Uint8Array;
  rec: Int32Array;
  ids: Uint8Array;
  urls: (string | undefined)[] | undefined;

  /** `entryBytes`: 6 (IPv4), 18 (IPv6 and URL-only: 16 address bytes and a port). */
  constructor(readonly entryBytes: number, readonly kind: Kind, capacity = 2) {
    this.slab = new Uint8Array(capacity * entryBytes);
    this.rec = new Int32Array(capacity * REC);
    this.ids = new Uint8Array(capacity * ID_BYTES);
  }

  /** Room for one more slot. */
  reserve(): void {
    const cap = this.rec.length / REC;
    if (this.n < cap) return;
    const slab = new Uint8Array(2 * cap * this.entryBytes);
    slab.set(this.slab);
    this.slab = slab;
    const rec = new Int32Array(2 * cap * REC);
    rec.set(this.rec);
    this.rec = rec;
    const ids = new Uint8Array(2 * cap * ID_BYTES);
    ids.set(this.ids);
    this.ids = ids;
  }

  /** Moves slot `from` into slot `to` (overwriting it). */
  move(from: number, to: number): void {
    const e = this.entryBytes;
    this.slab.copyWithin(to * e, from * e, from * e + e);
    this.rec.copyWithin(to * REC, from * REC, from * REC + REC);
    this.ids.copyWithin(to * ID_BYTES, from * ID_BYTES, from * ID_BYTES + ID_BYTES);
    if (this.urls !== undefined) this.urls[to] = this.urls[from];
  }

  /** Exchanges two slots. */
  swap(x: number, y: number): void {
    swapRuns(this.slab, x * this.entryBytes, y * this.entryBytes, this.entryBytes);
    swapRuns(this.rec, x * REC, y * REC, REC);
    swapRuns(this.ids, x * ID_BYTES, y * ID_BYTES, ID_BYTES);
    const u = this.urls;
    if (u !== undefined) {
      const ux = u[x];
      u[x] = u[y];
      u[y] = ux;
    }
  }

  /** How many entries a sample of `want` gives, `self` (a slot, or -1) excluded. */
  count(want: number, self: number): number {
    return Math.min(want, self >= 0 ? this.n - 1 : this.n);
  }

  /** Up to `want` compact entries from a random window, skipping slot `self`. */
  sample(want: number, self: number, random: () => number): Uint8Array {
    const k = this.count(want, self);
    if (k <= 0) return EMPTY;
    const out = new Uint8Array(k * this.entryBytes);
    this.sampleInto(want, self, random, out, 0);
    return out;
  }

  /** `sample` written into `out` from byte `at` (room for `count(want, self)` entries); returns the bytes written. */
  sampleInto(want: number, self: number, random: () => number, out: Uint8Array, at: number): number {
    const n = this.n;
    const k = this.count(want, self);
    if (k <= 0) return 0;
    const start = Math.floor(random() * n);
    // Slots spanned: k, plus the announcer's own if it falls inside the window.
    const end = start + (self >= 0 && (self - start + n) % n < k ? k + 1 : k);
    if (end <= n) return this.copy(out, at, start, end, self) - at;
    return this.copy(out, this.copy(out, at, start, n, self), 0, end - n, self) - at;
  }

  /** Copies the entries of slots [from, to) except `skip` into `out` at byte `at`; returns the next byte. */
  private copy(out: Uint8Array, at: number, from: number, to: number, skip: number): number {
    const e = this.entryBytes;
    const s = this.slab;
    if (skip >= from && skip < to) {
      copyBytes(out, at, s, from * e, skip * e);
      copyBytes(out, at + (skip - from) * e, s, (skip + 1) * e, to * e);
      return at + (to - from - 1) * e;
    }
    copyBytes(out, at, s, from * e, to * e);
    return at + (to - from) * e;
  }

  peer(slot: number): SwarmPeer {
    const e = this.entryBytes;
    const at = slot * e;
    const v4 = this.kind === V4 || (this.kind === URL && (this.rec[slot * REC + R_FLAGS]! & F_V4) !== 0);
    const ip = v4 ? formatIPv4(this.slab, at) : formatIPv6(this.slab, at);
    const port = (this.slab[at + e - 2]! << 8) | this.slab[at + e - 1]!;
    const peerId = this.ids.slice(slot * ID_BYTES, slot * ID_BYTES + ID_BYTES);
    const url = this.urls?.[slot];
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

/** `out.set(src.subarray(from, to), at)` without the view: a loop for the few bytes of a short run. */
function copyBytes(out: Uint8Array, at: number, src: Uint8Array, from: number, to: number): void {
  if (to - from > 64) {
    out.set(src.subarray(from, to), at);
    return;
  }
  for (let i = from; i < to; i++) out[at++] = src[i]!;
}

const EMPTY: Uint8Array = new Uint8Array(0);

class Torrent {
  readonly peers = new ProbeTable(4);
  readonly buckets: [Bucket, Bucket | undefined, Bucket | undefined] = [new Bucket(6, V4), undefined, undefined];
  seeders = 0;
  leechers = 0;
  downloaded = 0;
  constructor(readonly id: number) {}

  bucket(kind: Kind): Bucket {
    let b = this.buckets[kind];
    if (b === undefined) {
      b = new Bucket(18, kind);
      this.buckets[kind] = b;
    }
    return b;
  }

  get size(): number {
    return this.peers.size;
  }
}

export class MemorySwarmStore implements SwarmStore {
  /** Keyed hash of an info-hash → torrent number. */
  private readonly table = new ProbeTable(1024);
  private torrents: (Torrent | undefined)[] = [];
  /** Info-hash of torrent number `i` at `20 i`. */
  private infoHashes = new Uint8Array(1024 * 20);
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

  private rebase(shift: number): void {
    for (const t of this.torrents) {
      if (t === undefined) continue;
      for (const b of t.buckets) {
        if (b === undefined) continue;
        for (let s = 0; s < b.n; s++) b.rec[s * REC + R_SEEN] = Math.max(-(2 ** 31), b.rec[s * REC + R_SEEN]! - shift);
      }
    }
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
    if (me < 0) return { complete: t.seeders, incomplete: t.leechers, peers4: EMPTY, peers6: EMPTY, peers: [] };
    const want = a.numwant;
    const self4 = (me & 3) === V4 ? me >> 2 : -1;
    const self6 = (me & 3) === V6 ? me >> 2 : -1;
    const b6 = t.buckets[V6];
    let peers4: Uint8Array = EMPTY;
    let peers6: Uint8Array = EMPTY;
    let peers: SwarmPeer[] = [];
    switch (a.reply) {
      case 'compact4':
        peers4 = t.buckets[V4].sample(want, self4, this.random);
        break;
      case 'compact6':
        peers6 = b6?.sample(want, self6, this.random) ?? EMPTY;
        break;
      case 'compact':
        peers4 = t.buckets[V4].sample(want, self4, this.random);
        peers6 = b6?.sample(want, self6, this.random) ?? EMPTY;
        break;
      case 'list':
        peers = this.sampleList(t, want, me);
        break;
    }
    return { complete: t.seeders, incomplete: t.leechers, peers4, peers6, peers };
  }

  /** See `SwarmStore.announceInto`: the sample goes straight from the bucket's slab into `out`. */
  announceInto(a: SwarmAnnounce, out: Uint8Array, at: number): SwarmAnnounceCounts {
    const t = this.torrentFor(a);
    if (t === undefined) return { complete: 0, incomplete: 0, peerBytes: 0 };
    const me = this.record(t, a);
    let peerBytes = 0;
    if (me >= 0) {
      const kind = a.reply === 'compact6' ? V6 : V4;
      const b = t.buckets[kind];
      if (b !== undefined) {
        const self = (me & 3) === kind ? me >> 2 : -1;
        if (out.length - at < b.count(a.numwant, self) * b.entryBytes) throw new TorrenttpError('INVALID_ARGUMENT', { detail: 'announceInto: no room for numwant peers' });
        peerBytes = b.sampleInto(a.numwant, self, this.random, out, at);
      }
    }
    return { complete: t.seeders, incomplete: t.leechers, peerBytes };
  }

  /** The torrent number of an info-hash, or -1. */
  private find(infoHash: Uint8Array, h: number): number {
    const tb = this.table;
    const hashes = this.infoHashes;
    for (let p = tb.start(h); ; p = tb.next(p)) {
      const id = tb.valueAt(p);
      if (id < 0) return -1;
      if (tb.hashAt(p) !== h) continue;
      const at = id * 20;
      let i = 0;
      while (i < 20 && hashes[at + i] === infoHash[i]) i++;
      if (i === 20) return id;
    }
  }

  /** The announce's torrent, created if need be; undefined for `stopped` on a torrent we do not hold. */
  private torrentFor(a: SwarmAnnounce): Torrent | undefined {
    const h = this.hash20(a.infoHash, 0, 0);
    const id = this.find(a.infoHash, h);
    if (id >= 0) return this.torrents[id];
    if (a.event === 'stopped') return undefined;
    if (this.torrentCount >= this.maxTorrents) throw new TrackerError('TRACKER_FULL', { detail: `${this.maxTorrents} torrents` });
    const nid = this.freeIds.pop() ?? this.torrents.length;
    if ((nid + 1) * 20 > this.infoHashes.length) {
      const grown = new Uint8Array(this.infoHashes.length * 2);
      grown.set(this.infoHashes);
      this.infoHashes = grown;
    }
    this.infoHashes.set(a.infoHash.subarray(0, 20), nid * 20);
    const t = new Torrent(nid);
    this.torrents[nid] = t;
    this.table.insert(h, nid);
    this.torrentCount++;
    return t;
  }

  /**
   * Records the announce in `t` and returns the peer's table value (`slot << 2 | bucket`); on
   * `stopped` removes the peer and returns -1.
   */
  private record(t: Torrent, a: SwarmAnnounce): number {
    const ip = a.ip.bytes;
    const port = a.port;
    const kind: Kind = port === 0 ? URL : a.ip.family === 4 ? V4 : V6;
    const idHash = this.hash20(a.peerId, 0, 5);
    const h = this.peerHash(idHash, ip, port, kind);
    const table = t.peers;
    let found = -1;
    let cell = -1;
    for (let p = table.start(h); ; p = table.next(p)) {
      const v = table.valueAt(p);
      if (v < 0) break;
      if (table.hashAt(p) === h && this.holds(t, v, idHash, ip, port)) {
        found = v;
        cell = p;
        break;
      }
    }
    if (a.event === 'stopped') {
      if (found >= 0) this.remove(t, found >> 2, t.buckets[found & 3]!, cell);
      return -1;
    }
    const seeder = a.left === 0;
    const now = this.tick(a.nowMs);
    let b: Bucket;
    let slot: number;
    if (found < 0) {
      if (table.size >= this.maxPeersPerTorrent) throw new TrackerError('TRACKER_FULL', { detail: `${this.maxPeersPerTorrent} peers in this torrent` });
      if (this.peerCount >= this.maxPeers) throw new TrackerError('TRACKER_FULL', { detail: `${this.maxPeers} peers` });
      b = t.bucket(kind);
      slot = this.insert(t, b, h, idHash, a, seeder, now);
      found = (slot << 2) | kind;
    } else {
      b = t.buckets[found & 3]!;
      slot = found >> 2;
      const r = slot * REC;
      b.rec[r + R_SEEN] = now;
      const flags = b.rec[r + R_FLAGS]!;
      if (((flags & F_SEEDER) !== 0) !== seeder) {
        b.rec[r + R_FLAGS] = flags ^ F_SEEDER;
        t.seeders += seeder ? 1 : -1;
        t.leechers += seeder ? -1 : 1;
      }
      if (a.url !== undefined || b.urls !== undefined) this.setUrl(b, slot, a.url);
    }
    if (a.event === 'completed') {
      const r = slot * REC + R_FLAGS;
      if ((b.rec[r]! & F_COMPLETED) === 0) {
        b.rec[r] = b.rec[r]! | F_COMPLETED;
        t.downloaded++;
      }
    }
    return found;
  }

  /** Does table value `v` name the peer with this id hash, address and port? */
  private holds(t: Torrent, v: number, idHash: number, ip: Uint8Array, port: number): boolean {
    const b = t.buckets[v & 3]!;
    const slot = v >> 2;
    if (b.rec[slot * REC + R_ID] !== idHash) return false;
    const s = b.slab;
    const at = slot * b.entryBytes;
    if (b.kind === URL && ((b.rec[slot * REC + R_FLAGS]! & F_V4) !== 0) !== (ip.length === 4)) return false;
    for (let i = 0; i < ip.length; i++) if (s[at + i] !== ip[i]) return false;
    const p = b.entryBytes - 2;
    return s[at + p] === port >> 8 && s[at + p + 1] === (port & 0xff);
  }

  /** Adds a peer at a random slot of `b`; returns its slot. */
  private insert(t: Torrent, b: Bucket, h: number, idHash: number, a: SwarmAnnounce, seeder: boolean, now: number): number {
    b.reserve();
    const n = b.n;
    const e = b.entryBytes;
    const ip = a.ip.bytes;
    b.slab.fill(0, n * e, n * e + e);
    b.slab.set(ip, n * e);
    b.slab[n * e + e - 2] = a.port >> 8;
    b.slab[n * e + e - 1] = a.port & 0xff;
    const r = n * REC;
    b.rec[r + R_ID] = idHash;
    b.rec[r + R_SEEN] = now;
    b.rec[r + R_FLAGS] = (seeder ? F_SEEDER : 0) | (b.kind === URL && ip.length === 4 ? F_V4 : 0);
    b.rec[r + R_KEY] = h;
    b.ids.set(a.peerId.subarray(0, ID_BYTES), n * ID_BYTES);
    if (b.urls !== undefined) b.urls[n] = undefined;
    if (a.url !== undefined) this.setUrl(b, n, a.url);
    b.n = n + 1;
    t.peers.insert(h, (n << 2) | b.kind);
    this.peerCount++;
    if (seeder) t.seeders++;
    else t.leechers++;
    const j = Math.floor(this.random() * (n + 1));
    if (j === n) return n;
    this.swap(t, b, j, n);
    return j;
  }

  private setUrl(b: Bucket, slot: number, url: string | undefined): void {
    b.urls ??= [];
    b.urls[slot] = url;
  }

  /** Swaps two slots of `b`, and their table values. */
  private swap(t: Torrent, b: Bucket, x: number, y: number): void {
    const table = t.peers;
    const px = table.positionOf(b.rec[x * REC + R_KEY]!, (x << 2) | b.kind);
    const py = table.positionOf(b.rec[y * REC + R_KEY]!, (y << 2) | b.kind);
    table.setValueAt(px, (y << 2) | b.kind);
    table.setValueAt(py, (x << 2) | b.kind);
    b.swap(x, y);
  }

  /** Removes the peer at `slot` of `b` whose table cell is `cell`: the last slot takes its place. */
  private remove(t: Torrent, slot: number, b: Bucket, cell: number): void {
    const table = t.peers;
    table.removeAt(cell);
    const flags = b.rec[slot * REC + R_FLAGS]!;
    if ((flags & F_SEEDER) !== 0) t.seeders--;
    else t.leechers--;
    this.peerCount--;
    const last = b.n - 1;
    if (slot !== last) {
      table.setValueAt(table.positionOf(b.rec[last * REC + R_KEY]!, (last << 2) | b.kind), (slot << 2) | b.kind);
      b.move(last, slot);
    }
    if (b.urls !== undefined) b.urls[last] = undefined;
    b.n = last;
  }

  /** A random window over the three buckets seen as one sequence. */
  private sampleList(t: Torrent, want: number, self: number): SwarmPeer[] {
    const bs = t.buckets;
    const n0 = bs[V4].n;
    const n1 = bs[V6]?.n ?? 0;
    const all = n0 + n1 + (bs[URL]?.n ?? 0);
    const k = Math.min(want, all - 1);
    const out: SwarmPeer[] = [];
    let i = Math.floor(this.random() * all);
    for (let seen = 0; out.length < k && seen < all; seen++, i = i + 1 === all ? 0 : i + 1) {
      const kind: Kind = i < n0 ? V4 : i < n0 + n1 ? V6 : URL;
      const slot = kind === V4 ? i : kind === V6 ? i - n0 : i - n0 - n1;
      if (((slot << 2) | kind) !== self) out.push(bs[kind]!.peer(slot));
    }
    return out;
  }

  private dropTorrent(t: Torrent): void {
    const h = this.hash20(this.infoHashes, t.id * 20, 0);
    this.table.removeAt(this.table.positionOf(h, t.id));
    this.torrents[t.id] = undefined;
    this.freeIds.push(t.id);
    this.torrentCount--;
  }

  scrape(infoHashes: readonly Uint8Array[]): Promise<ScrapeEntry[]> {
    return Promise.resolve(infoHashes.map((infoHash) => {
      const id = infoHash.length === 20 ? this.find(infoHash, this.hash20(infoHash, 0, 0)) : -1;
      const t = id < 0 ? undefined : this.torrents[id];
      return { infoHash, complete: t?.seeders ?? 0, downloaded: t?.downloaded ?? 0, incomplete: t?.leechers ?? 0 };
    }));
  }

  fullScrape(limit: number): Promise<ScrapeEntry[]> {
    const out: ScrapeEntry[] = [];
    for (const t of this.torrents) {
      if (out.length >= limit) break;
      if (t === undefined) continue;
      const infoHash = this.infoHashes.slice(t.id * 20, t.id * 20 + 20);
      out.push({ infoHash, complete: t.seeders, downloaded: t.downloaded, incomplete: t.leechers });
    }
    return Promise.resolve(out);
  }

  stats(): Promise<SwarmStats> {
    let seeders = 0;
    let leechers = 0;
    let completed = 0;
    for (const t of this.torrents) {
      if (t === undefined) continue;
      seeders += t.seeders;
      leechers += t.leechers;
      completed += t.downloaded;
    }
    return Promise.resolve({ torrents: this.torrentCount, peers: this.peerCount, seeders, leechers, completed });
  }

  expire(nowMs: number): Promise<number> {
    if (Number.isNaN(this.epochMs)) return Promise.resolve(0);
    const cutoff = nowMs - this.peerTimeoutMs - this.epochMs;
    // Every peer kept was seen at or after the cutoff: moving the epoch there keeps times small.
    const shift = cutoff > TICK_LIMIT / 2 ? cutoff : 0;
    let dropped = 0;
    for (const t of this.torrents) {
      if (t === undefined) continue;
      for (const b of t.buckets) {
        if (b === undefined) continue;
        // Downwards: a removal moves the last slot, already seen, into the hole.
        for (let s = b.n - 1; s >= 0; s--) {
          const r = s * REC + R_SEEN;
          if (b.rec[r]! < cutoff) {
            const cell = t.peers.positionOf(b.rec[s * REC + R_KEY]!, (s << 2) | b.kind);
            this.remove(t, s, b, cell);
            dropped++;
          } else {
            b.rec[r] = b.rec[r]! - shift;
          }
        }
      }
      if (t.size === 0) this.dropTorrent(t);
    }
    this.epochMs += shift;
    return Promise.resolve(dropped);
  }

  close(): Promise<void> {
    this.torrents = [];
    this.freeIds.length = 0;
    this.table.cells.fill(0);
    this.table.size = 0;
    this.torrentCount = 0;
    this.peerCount = 0;
    return Promise.resolve();
  }
}

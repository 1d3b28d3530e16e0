import { lstat, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { Client, type Torrent } from '../engine/index.js';
import { toTorrenttpError } from '../errors/index.js';
import type { Metainfo, PieceIndex } from '../metainfo/index.js';
import { DiskPool, makeFolders, StorageError } from '../storage/index.js';
import { createWebSeed, type PeerLink } from '../transport/index.js';
import { GatewayError } from './errors.js';
import { loneStreamUrl, streamWhileAlone } from './lone-stream.js';
import { plainSeeds } from './negotiate-client.js';
import { fetchFirstPiece, memoryPieceLink, type FirstAnswer, type FirstPiece } from './proxy-early.js';
import { RangeSender, whenClosed } from './proxy-send.js';
import { silentGatewayLogger, type GatewayLogger } from './logger.js';
import type { FileFacts, Prepared, Verdict } from './proxy-offer.js';

/**
 * The proxy's cache: one engine Client, one folder per info-hash (`<dir>/<infoHash>/data`, no
 * resume file), every torrent seeded while the proxy runs. Rules:
 *
 * - One torrent per info-hash, shared by every program asking for it: concurrent requests are
 *   readers of one download (`Torrent.read`, each with its own deadline window), never a second
 *   download. The whole file is fetched even for a `Range` (what Squid does with
 *   `range_offset_limit -1`): the next request is then a cache hit. A cold `Range` is fetched
 *   from its first piece on first (the lone stream), the earlier pieces after.
 * - A URL's offer (its torrent and the origin's `Content-Type`/`ETag`/`Last-Modified`) is trusted
 *   for `freshMs` without asking the origin (Squid's `refresh_pattern` minimum); after that the
 *   proxy negotiates again, which costs a torrent request and a `HEAD`, never the file's bytes
 *   when the info-hash is unchanged.
 * - Pieces reach a program only after their SHA-1 passed (the engine's reader), in this process:
 *   a data file from before (an earlier run, one killed mid-download) is hashed as it loads.
 * - Web seeds are off at first: the swarm carries the file. When a torrent with readers gets no
 *   byte for `stallMs`, the origin joins as a web seed (BEP 19: plain HTTP ranges for the missing
 *   pieces). When nothing arrives for another `stallMs`, the readers waiting are told to give
 *   up (their programs' connections are cut short).
 * - Over `sizeBytes` (whole torrent lengths), the least recently used torrents without readers
 *   are removed, folder and all.
 */
export interface ProxyCacheOptions {
  readonly dir: string;
  readonly sizeBytes: number;
  readonly freshMs: number;
  readonly stallMs: number;
  /** BitTorrent listening port; 0 any. */
  readonly peerPort?: number;
  /** The proxy's undici dispatcher, for a cold start's first piece: its connections to the origin are open from the negotiation. */
  readonly dispatcher?: Dispatcher;
  readonly logger?: GatewayLogger;
  readonly now?: () => number;
}

export interface KnownUrl {
  readonly metainfo: Metainfo;
  readonly file: FileFacts;
  readonly origin: string;
  /** Wire peers the origin named (its seed), dialled as the torrent opens. */
  readonly peers: readonly string[];
  readonly checkedAt: number;
  /**
   * On a cold fetch, the verdict on the origin's first piece, once its body is in: `mismatch`
   * when it failed its SHA-1 check (the URL's bytes are not the torrent's, found after the
   * headers went out on the strength of its head), `changed` when its head is of another file
   * than the one the torrent's answer announced (proxy-offer.ts): `pump` then sends nothing and
   * says so.
   */
  readonly sameFile?: Promise<Verdict>;
}

interface Held {
  readonly infoHash: string;
  metainfo: Metainfo | undefined;
  torrent: Promise<Torrent> | undefined;
  /** Reserved bytes: the torrent's length, or the folder's allocated bytes when not loaded. */
  bytes: number;
  readers: number;
  lastUsed: number;
  /** A URL of the file at the origin, for the web seed. */
  origin: string | undefined;
  /** The origin's named seed(s), for the torrent's first dial. */
  peers: readonly string[];
  fallback: PeerLink | undefined;
  /** The origin was asked for a cold start's first piece (once per load of the torrent). */
  primed: boolean;
  /**
   * A cold fetch's first piece, asked of the origin as the torrent arrived (proxy-early.ts):
   * verified bytes to send from memory, until the engine has the piece.
   */
  first: Promise<FirstPiece | undefined> | undefined;
  /**
   * A cold fetch of a torrent new to the cache, whose origin named its seed: where the origin's
   * file is streamed from (the piece under the program's first byte to the end) while nobody
   * else downloads it (lone-stream.ts, `streamWhileAlone`, started as the torrent opens), and
   * the stream once started.
   */
  lone: { readonly url: string; readonly headers: Record<string, string>; readonly fromPiece: number; readonly alone: boolean } | undefined;
  streaming: { stop(): Promise<void> } | undefined;
  lastDownloaded: number;
  lastMoveMs: number;
  readonly dead: Set<() => void>;
  /** Its URL was discarded while readers held it (`discard`): removed once the last one leaves, unless a URL is remembered for it again. */
  discarded: boolean;
}

/** How often stalls are looked for. */
const WATCH_MS = 500;
const DATA_NAME = 'data';
/**
 * Bytes ahead of a program's position whose pieces get deadlines (picked before anything else):
 * 16 MiB, so that with small pieces (64 KiB: 256 of them) the download runs in order about as
 * far ahead as a peer's pipeline reaches, and the program's stream keeps up with it instead of
 * waiting for the download's random order to fill the gap at its position.
 */
const WINDOW_BYTES = 16 * 1024 * 1024;

function windowPieces(pieceLength: number): number {
  return Math.max(8, Math.ceil(WINDOW_BYTES / pieceLength));
}

export interface PumpResult {
  /**
   * `unopened`: the torrent could not be opened (cache folder, storage); `error` says why.
   * `broken`: the torrent failed under the reader (its storage: the cache's disk full or a write
   * refused), or the data file failed a read (removed or cut short under the proxy: the torrent
   * is then dropped once no reader holds it); `error` says why, `bytes` were verified and sent,
   * and the caller may get the rest another way, as for `unopened`.
   * `mismatch`: the origin's first piece failed its hash check (`KnownUrl.sameFile`): nothing
   * was sent, and the torrent is dropped once no reader holds it. `changed`: likewise, the
   * first piece's head named another file than the head the program got.
   */
  readonly end: 'complete' | 'failed' | 'gone' | 'unopened' | 'broken' | 'mismatch' | 'changed';
  /** Bytes written to the output. */
  readonly bytes: number;
  readonly error?: unknown;
}

export class ProxyCache {
  readonly client: Client;
  /**
   * The disk threads of every torrent in the cache, started with the proxy: a torrent that opens
   * per cold fetch would otherwise start threads of its own, and the first commits waited for
   * them (150 to 400 ms under load, on the way to the program's second piece).
   */
  private readonly pool = new DiskPool();
  private readonly urls = new Map<string, KnownUrl | { readonly plain: true; readonly checkedAt: number }>();
  private readonly held = new Map<string, Held>();
  private readonly logger: GatewayLogger;
  private readonly now: () => number;
  private readonly watch: NodeJS.Timeout;

  private constructor(private readonly opts: ProxyCacheOptions) {
    this.logger = opts.logger ?? silentGatewayLogger;
    this.now = opts.now ?? Date.now;
    // Buffered: every piece is read back at once for the program (docs/storage.md, Write modes).
    this.client = new Client({ port: opts.peerPort ?? 0, diskPool: this.pool, writeMode: 'buffered' });
    this.client.on('warning', (message) => this.logger.warn({ message }, 'swarm warning'));
    this.client.on('error', (err) => this.logger.warn({ err: err.message, code: err.code }, 'torrent failed'));
    this.watch = setInterval(() => this.lookForStalls(), WATCH_MS);
    this.watch.unref();
  }

  /** Opens the folder; torrents already in it count against the size and are used when asked for again. */
  static async open(opts: ProxyCacheOptions): Promise<ProxyCache> {
    const cache = new ProxyCache(opts);
    try {
      await makeFolders(opts.dir);
      // Resolves once every disk thread is up (a forget of nothing reaches each of them).
      await cache.pool.forget([opts.dir]);
      for (const name of await readdir(opts.dir)) {
        if (!/^[0-9a-f]{40}$/.test(name)) continue;
        const st = await stat(join(opts.dir, name, DATA_NAME)).catch(() => undefined);
        cache.held.set(name, cache.newHeld(name, st === undefined ? 0 : st.blocks * 512, st?.mtimeMs ?? 0));
      }
    } catch (cause) {
      await cache.close();
      // A system error on the folder itself (a name too long, permission denied) is said by its
      // code, in the CLI's words (program.ts), the path once: node's message, and storage's
      // around it, said it twice more. ENOENT's is storage's own ("does not allow new folders").
      const own = (cause instanceof StorageError ? cause.cause : cause) as NodeJS.ErrnoException | undefined;
      const onFolder = typeof own?.code === 'string' && own.code !== 'ENOENT' && typeof own.path === 'string' && resolve(own.path) === resolve(opts.dir);
      throw new GatewayError('GATEWAY_PROXY_CACHE_IO', onFolder ? { detail: opts.dir, cause: own } : { detail: `${opts.dir}: ${toTorrenttpError(cause).message}`, cause });
    }
    await cache.evict();
    return cache;
  }

  get port(): number {
    return this.client.port;
  }

  /** What is known of a URL within `freshMs`: its torrent, or that it has none. */
  fresh(url: string): KnownUrl | 'plain' | undefined {
    const k = this.urls.get(url);
    if (k === undefined || this.now() - k.checkedAt > this.opts.freshMs) return undefined;
    return 'plain' in k ? 'plain' : k;
  }

  remember(url: string, metainfo: Metainfo, file: FileFacts, peers: readonly string[] = [], sameFile?: Promise<Verdict>): KnownUrl {
    const k: KnownUrl = { metainfo, file, origin: url, peers, checkedAt: this.now(), ...(sameFile === undefined ? {} : { sameFile }) };
    this.urls.set(url, k);
    const h = this.held.get(metainfo.infoHash);
    if (h !== undefined) h.discarded = false;
    return k;
  }

  rememberPlain(url: string): void {
    this.urls.set(url, { plain: true, checkedAt: this.now() });
  }

  forget(url: string): void {
    this.urls.delete(url);
  }

  /**
   * Forgets a URL and removes its torrent, folder and all (the proxy's warm-up fetch): now, or,
   * while a reader holds it (a warm-up that timed out with its response still being served),
   * once the last reader leaves.
   */
  async discard(url: string): Promise<void> {
    const k = this.urls.get(url);
    this.urls.delete(url);
    const h = k === undefined || 'plain' in k ? undefined : this.held.get(k.metainfo.infoHash);
    if (h === undefined) return;
    if (h.readers === 0) await this.drop(h);
    else h.discarded = true;
  }

  /** Whether the cache holds the torrent (loaded, opening, or a folder from before). */
  holds(infoHash: string): boolean {
    return this.held.has(infoHash);
  }

  /** Whether bytes `start..end` of a torrent are all verified on disk now. */
  has(k: KnownUrl, start: number, end: number): boolean {
    const loaded = this.loaded.get(k.metainfo.infoHash);
    if (loaded === undefined) return false;
    const g = k.metainfo.geometry;
    for (let i = Math.floor(start / g.pieceLength); i <= Math.floor(end / g.pieceLength); i++) if (!loaded.have.has(i)) return false;
    return true;
  }

  private readonly loaded = new Map<string, Torrent>();
  /** Torrents being opened, held or not any more (a changed file drops its entry): `close` waits for them. */
  private readonly opening = new Set<Promise<Torrent>>();
  private readonly dropping = new Set<Promise<void>>();
  /** Torrents that failed (a storage error: the cache's disk full, a write refused), with why: their readers end `broken`. */
  private readonly failures = new WeakMap<Torrent, unknown>();

  /**
   * Streams bytes `start..end` (inclusive) of the URL's file to `out` in order, each piece once
   * verified. Resolves `complete`, `failed` (swarm and origin both stalled: the caller cuts the
   * connection), `gone` (the program left), `unopened` (the torrent could not be opened) or
   * `broken` (it failed meanwhile): for those two the caller may still get the rest, after
   * `bytes`, another way.
   *
   * A cold fetch's first piece, when the origin sent it while the offer was confirmed, goes out
   * from memory at once (its SHA-1 checked by proxy-early.ts), before the torrent's storage is
   * even open; the rest follows the engine's reader.
   */
  async pump(k: KnownUrl, start: number, end: number, out: Writable): Promise<PumpResult> {
    const h = this.hold(k);
    let mismatch = false;
    try {
      const verdict = await k.sameFile;
      if (verdict === 'mismatch' || verdict === 'changed') {
        mismatch = true;
        return { end: verdict, bytes: 0 };
      }
      let bytes = 0;
      if (end >= start && h.first !== undefined) {
        const sent = await this.sendFirstPiece(h.first, k, start, end, out);
        if (sent === 'gone') return { end: 'gone', bytes };
        bytes = sent;
        start += sent;
        if (end < start) return { end: 'complete', bytes };
      }
      let t: Torrent;
      try {
        t = await this.torrentOf(h, k.metainfo);
      } catch (error) {
        return { end: 'unopened', bytes, error };
      }
      if (end < start) return { end: 'complete', bytes };
      if (this.has(k, start, end)) {
        const r = await this.fromDisk(h, start, end, out);
        return { ...r, bytes: bytes + r.bytes };
      }
      // A torrent held from before, not one byte in yet: its first piece from the origin too.
      if (h.origin !== undefined && !t.complete && t.stats().downloaded === 0 && !t.have.has(Math.floor(start / k.metainfo.pieceLength))) {
        void this.askFirstPiece(h, k.metainfo, h.origin, start, Promise.resolve(t))?.catch(() => undefined);
      }
      let onDead!: () => void;
      const dead = new Promise<'dead'>((resolve) => (onDead = () => resolve('dead')));
      h.dead.add(onDead);
      const gone = new Promise<'gone'>((resolve) => whenClosed(out, () => resolve('gone')));
      // The engine says which bytes are verified (with deadlines on the pieces just ahead); the
      // bytes come from the data file in large reads into a few reused buffers, as for a cache
      // hit: no read-back of each piece through the store's worker and no copy per piece.
      const it = t.verifiedRanges({ start, end, windowPieces: windowPieces(k.metainfo.pieceLength) });
      let file: FileHandle | undefined;
      let sender: RangeSender | undefined;
      const fromMemory = bytes;
      /** A data file's open or read is under way: its failure is the file's, not the reader's. */
      let reading = true;
      try {
        file = await open(join(this.opts.dir, h.infoHash, DATA_NAME), 'r');
        sender = new RangeSender(file.fd, out, h.infoHash, end - start + 1);
        reading = false;
        for (;;) {
          const next = it.next();
          const r = await Promise.race([next, dead, gone]);
          if (r === 'dead' || r === 'gone') {
            next.catch(() => undefined);
            // Queued behind the pending wait: ends the reader (and its deadlines) once that settles.
            it.return(undefined).catch(() => undefined);
            const failure = this.failures.get(t);
            if (r === 'dead' && failure !== undefined) return { end: 'broken', bytes, error: failure };
            return { end: r === 'dead' ? 'failed' : 'gone', bytes };
          }
          if (r.done === true) return { end: (await sender.flushed()) === 'sent' ? 'complete' : 'gone', bytes };
          reading = true;
          const sent = await sender.send(r.value.start, r.value.end);
          reading = false;
          if (sent === 'gone') {
            await it.return(undefined).catch(() => undefined);
            return { end: 'gone', bytes };
          }
          bytes += r.value.end - r.value.start + 1;
        }
      } catch (err) {
        it.return(undefined).catch(() => undefined);
        const failure = this.failures.get(t);
        if (failure !== undefined) return { end: 'broken', bytes: fromMemory + (sender?.queued ?? 0), error: failure };
        if (!reading) {
          this.logger.warn({ err: toTorrenttpError(err).message, infoHash: h.infoHash }, 'swarm read failed');
          return { end: 'failed', bytes };
        }
        // The data file failed a read of verified pieces (removed or cut short under us, a disk
        // error): those bytes cannot be had from it, so the torrent goes, folder and all, once no
        // reader holds it, and the next request downloads anew; this one may get the rest elsewhere.
        this.logger.warn({ err: toTorrenttpError(err).message, infoHash: h.infoHash }, 'cache read failed: the torrent is dropped from the cache');
        h.discarded = true;
        return { end: 'broken', bytes: fromMemory + (sender?.queued ?? 0), error: err };
      } finally {
        h.dead.delete(onDead);
        sender?.release();
        await file?.close().catch(() => undefined);
      }
    } finally {
      h.readers--;
      h.lastUsed = this.now();
      if ((mismatch || h.discarded) && h.readers === 0 && this.held.get(h.infoHash) === h) void this.drop(h);
      else void this.evict();
    }
  }

  /**
   * The first piece, from memory, when it is the one under `start` and it arrived verified:
   * resolves the bytes written (0 when it is not there), or `gone` if the program left.
   */
  private async sendFirstPiece(first: Promise<FirstPiece | undefined>, k: KnownUrl, start: number, end: number, out: Writable): Promise<number | 'gone'> {
    const p = await first;
    const g = k.metainfo.geometry;
    if (p === undefined || p.index !== Math.floor(start / g.pieceLength)) return 0;
    const at = g.pieceOffset(p.index);
    const last = Math.min(end, at + p.data.length - 1);
    if (out.destroyed || out.writableEnded) return 'gone';
    out.write(p.data.subarray(start - at, last - at + 1));
    return last - start + 1;
  }

  /**
   * A range whose pieces are all verified (a cache hit): straight from the data file, as a
   * static file server would (`RangeSender`: 1 MiB reads into shared buffers), rather than piece
   * by piece through the engine's reader (a worker round trip and a copy per piece: 64 MiB took
   * 3× as long). The bytes are the ones the engine verified; the torrent stays loaded (and its
   * folder kept) while this reader holds it.
   */
  private async fromDisk(h: Held, start: number, end: number, out: Writable): Promise<PumpResult> {
    let file: FileHandle | undefined;
    let sender: RangeSender | undefined;
    try {
      file = await open(join(this.opts.dir, h.infoHash, DATA_NAME), 'r');
      sender = new RangeSender(file.fd, out, h.infoHash, end - start + 1);
      const sent = await sender.send(start, end);
      const flushed = sent === 'sent' ? await sender.flushed() : sent;
      return { end: flushed === 'sent' ? 'complete' : 'gone', bytes: flushed === 'sent' ? end - start + 1 : 0 };
    } catch (err) {
      // As in `pump`: a data file that fails a read of verified pieces is dropped.
      this.logger.warn({ err: toTorrenttpError(err).message, infoHash: h.infoHash }, 'cache read failed: the torrent is dropped from the cache');
      h.discarded = true;
      return { end: 'broken', bytes: sender?.queued ?? 0, error: err };
    } finally {
      sender?.release();
      await file?.close().catch(() => undefined);
    }
  }

  /**
   * Starts opening the torrent of an offer the origin is still confirming, so that the storage's
   * open and the first announce overlap that round trip. When nothing of it is held (a cold
   * fetch), the piece under `start` is asked of the origin at once (`askFirstPiece`, with the
   * program's `headers`): its answer is the offer's confirmation (proxy-offer.ts) and its bytes
   * the program's first. `undo` is for an offer that falls through (a torrent of other bytes): a
   * torrent this call added, with no reader, is removed, folder and all. `alone`: the origin said
   * nobody else downloads it (`TorrentTTP-Swarm-Peers: 0`): the stream starts as the torrent
   * opens, not after the first tracker answer.
   */
  prepare(metainfo: Metainfo, origin: string, peers: readonly string[] = [], start = 0, headers: readonly string[] = [], alone = false): Prepared {
    let h = this.held.get(metainfo.infoHash);
    const added = h === undefined;
    if (h === undefined) this.held.set(metainfo.infoHash, (h = this.newHeld(metainfo.infoHash, metainfo.length, this.now())));
    if (h.metainfo === undefined) {
      h.metainfo = metainfo;
      h.bytes = metainfo.length;
    }
    h.origin ??= origin;
    if (h.peers.length === 0) h.peers = peers;
    // Nothing of it held: streamed while alone (lone-stream.ts) from the piece under the
    // program's first byte (byte 0, or its `Range`'s start) to the end, the program's bytes
    // first; the swarm fills the earlier pieces once the stream is over.
    const programHeaders = flatHeaders(headers);
    if (added && start < metainfo.length && programHeaders !== undefined) {
      const lone = loneStreamUrl(metainfo, h.peers, programHeaders, 0, Math.floor(start / metainfo.pieceLength));
      h.lone = lone === undefined ? undefined : { ...lone, alone };
    }
    // The piece is asked before the open starts: its request is the program's first byte's path.
    let open!: (t: Promise<Torrent>) => void;
    const opening = new Promise<Torrent>((resolve) => (open = resolve));
    opening.catch(() => undefined);
    const first = added && start < metainfo.length ? this.askFirstPiece(h, metainfo, origin, start, opening, headers) : undefined;
    open(this.torrentOf(h, metainfo));
    const held = h;
    const undo = (): void => {
      if (added && held.readers === 0 && this.held.get(held.infoHash) === held) void this.drop(held);
    };
    return first === undefined ? { undo } : { undo, first };
  }

  /** Torrents held (loaded or on disk) and their reserved bytes. */
  usage(): { torrents: number; bytes: number } {
    let bytes = 0;
    for (const h of this.held.values()) bytes += h.bytes;
    return { torrents: this.held.size, bytes };
  }

  /** The loaded torrent of an info-hash, for stats. */
  torrent(infoHash: string): Torrent | undefined {
    return this.loaded.get(infoHash);
  }

  async close(): Promise<void> {
    clearInterval(this.watch);
    for (const h of this.held.values()) for (const d of h.dead) d();
    // A torrent being opened (its folder made, then added) ends first: run after the close, its
    // `makeFolders` would make the cache folder again once its owner removed it.
    await Promise.allSettled([...this.opening]);
    // So does a torrent being dropped: its folder is removed before the client and its threads close.
    await Promise.allSettled([...this.dropping]);
    await Promise.all([...this.held.values()].map((h) => h.streaming?.stop()));
    await this.client.close();
    await this.pool.close();
  }

  private newHeld(infoHash: string, bytes: number, lastUsed: number): Held {
    return { infoHash, metainfo: undefined, torrent: undefined, bytes, readers: 0, lastUsed, origin: undefined, peers: [], fallback: undefined, primed: false, first: undefined, lone: undefined, streaming: undefined, lastDownloaded: 0, lastMoveMs: this.now(), dead: new Set(), discarded: false };
  }

  private hold(k: KnownUrl): Held {
    let h = this.held.get(k.metainfo.infoHash);
    if (h === undefined) this.held.set(k.metainfo.infoHash, (h = this.newHeld(k.metainfo.infoHash, k.metainfo.length, this.now())));
    h.readers++;
    h.lastUsed = this.now();
    h.origin = k.origin;
    if (k.peers.length > 0) h.peers = k.peers;
    if (h.metainfo === undefined) {
      h.metainfo = k.metainfo;
      h.bytes = k.metainfo.length;
    }
    if (h.readers === 1) h.lastMoveMs = this.now(); // a stall counts from when someone waits
    return h;
  }

  private torrentOf(h: Held, metainfo: Metainfo): Promise<Torrent> {
    h.torrent ??= (async () => {
      const folder = join(this.opts.dir, h.infoHash);
      const plainPeers = plainSeeds({ from: h.origin ?? '', peers: h.peers });
      const add = async (): Promise<Torrent> => {
        // The entry's own folder is never followed elsewhere: storage resolves the symlinks of the
        // folder it is given (a user's download folder may be one).
        if ((await lstat(folder).catch(() => undefined))?.isSymbolicLink() === true) {
          throw new StorageError('STORAGE_PATH_ESCAPE', { detail: `${folder} is a symlink, not the cache's own folder` });
        }
        try {
          await makeFolders(folder);
        } catch (cause) {
          throw new GatewayError('GATEWAY_PROXY_CACHE_IO', { detail: `${folder}: ${toTorrenttpError(cause).message}`, cause });
        }
        // No resume file: every piece already in the data file is hashed as the torrent loads, never
        // taken on a resume file's word. That word rests on the file's size and mtime (docs/storage.md,
        // Limits), which an edit that keeps both, a disk that rots, or a resume file that lies about
        // the data beside it would pass, and the proxy sends what it holds to programs that cannot
        // check it. The cost is one read and SHA-1 of the file per load (docs/proxy.md, Cache).
        return this.client.add(metainfo, { path: folder, storeAs: DATA_NAME, resumeDir: false, webSeeds: false, peers: h.peers, plainPeers });
      };
      let t: Torrent;
      try {
        t = await add();
      } catch (err) {
        // The folder is the cache's own: what in it cannot be a torrent's folder (a data file
        // longer than the torrent, a file or a symlink, dangling or not, where the folder or the data file goes)
        // is removed and the torrent downloaded anew. Storage leaves such a file untouched for a
        // user's download folder, which here made every request for the URL a pass-through.
        const code = brokenEntry(err);
        if (code === undefined) throw err;
        this.logger.warn({ infoHash: h.infoHash, code, err: toTorrenttpError(err).message }, `cache entry ${folder} is broken (${code}): removed, downloading the file anew`);
        await rm(folder, { recursive: true, force: true }).catch(() => undefined);
        t = await add();
      }
      this.loaded.set(h.infoHash, t);
      // Held at once (before a peer can be asked), until the first tracker answer says whether it is alone (or at once when the origin said so).
      const lone = h.lone;
      h.lone = undefined;
      if (lone !== undefined) {
        h.streaming = streamWhileAlone(this.client, t, lone.url, h.peers, lone.headers, (message) => this.logger.warn({ infoHash: h.infoHash, message }, 'origin stream failed'), { fromPiece: lone.fromPiece, alone: lone.alone });
        if (h.streaming !== undefined) this.logger.debug({ infoHash: h.infoHash, url: lone.url, fromPiece: lone.fromPiece, alone: lone.alone }, 'streaming the origin while alone');
      }
      void this.evict();
      t.done.catch(() => undefined);
      t.on('error', (err) => {
        this.failures.set(t, err);
        // The client removed it: the next request starts afresh.
        this.loaded.delete(h.infoHash);
        void h.streaming?.stop();
        h.streaming = undefined;
        h.torrent = undefined;
        h.fallback = undefined;
        h.primed = false;
        h.first = undefined;
        for (const d of h.dead) d();
      });
      const t0 = performance.now();
      const ms = () => Math.round(performance.now() - t0);
      t.on('peer', (link) => this.logger.debug({ infoHash: h.infoHash, peer: link.id, kind: link.kind, ms: ms() }, 'peer connected'));
      t.on('done', () => this.logger.debug({ infoHash: h.infoHash, ms: ms() }, 'download done'));
      t.on('peerClosed', (link) => {
        if (link === h.fallback) h.fallback = undefined;
      });
      return t;
    })();
    const opening = h.torrent;
    this.opening.add(opening);
    void opening.then(
      () => this.opening.delete(opening),
      () => {
        this.opening.delete(opening);
        if (h.torrent === opening) h.torrent = undefined;
      },
    );
    return h.torrent;
  }

  /**
   * The load's one piece from the origin (`primed`): the piece under `start`, one ranged GET
   * (proxy-early.ts), held in memory once verified (`first`) for `pump` to send before the
   * storage is even open; once the torrent is open, the engine gets it too, from a link that
   * holds it in memory, so the swarm need not send it and the cache keeps it. Asked as an offer
   * is confirmed on a cold fetch (`prepare`), else, for a torrent held from before (a folder from
   * an earlier run), once it is open and while no peer has delivered a byte (`pump`). Resolves
   * the origin's answer, or undefined when the load already asked.
   */
  private askFirstPiece(h: Held, metainfo: Metainfo, origin: string, start: number, opening: Promise<Torrent>, headers: readonly string[] = []): Promise<FirstAnswer | undefined> | undefined {
    if (h.primed) return undefined;
    h.primed = true;
    const index = Math.floor(start / metainfo.pieceLength) as PieceIndex;
    const t0 = performance.now();
    const answer = fetchFirstPiece(origin, metainfo, index, {
      headers,
      timeoutMs: this.opts.stallMs,
      onMiss: (why) => this.logger.debug({ infoHash: h.infoHash, piece: index, why }, 'first piece from the origin not used'),
      ...(this.opts.dispatcher === undefined ? {} : { dispatcher: this.opts.dispatcher }),
    });
    const first = answer.then(async (a) => {
      if (a !== undefined) this.logger.debug({ infoHash: h.infoHash, piece: index, status: a.status, ms: Math.round(performance.now() - t0) }, "first piece's head from the origin");
      return (await a?.body)?.piece;
    });
    h.first = first;
    this.logger.debug({ infoHash: h.infoHash, piece: index }, 'first piece asked of the origin');
    // The piece stays in memory when the torrent fails to open: `pump` still sends it.
    void Promise.all([first, opening]).then(
      ([p, t]) => {
        if (p !== undefined) this.logger.debug({ infoHash: h.infoHash, piece: index, ms: Math.round(performance.now() - t0) }, 'first piece verified from the origin');
        if (p === undefined || t.have.has(p.index) || this.loaded.get(h.infoHash) !== t) {
          if (h.first === first) h.first = undefined;
          return;
        }
        const link = t.addPeer((onEvent) => memoryPieceLink(`${origin}#piece-${p.index}`, metainfo.pieceCount, p, onEvent));
        closeOnPiece(t, link, p.index, () => {
          if (h.first === first) h.first = undefined; // on disk now: the memory goes
        });
      },
      () => undefined,
    );
    return answer;
  }

  private lookForStalls(): void {
    const now = this.now();
    for (const h of this.held.values()) {
      const t = this.loaded.get(h.infoHash);
      if (t === undefined || h.readers === 0 || t.complete) continue;
      const downloaded = t.stats().downloaded;
      if (downloaded !== h.lastDownloaded) {
        h.lastDownloaded = downloaded;
        h.lastMoveMs = now;
        continue;
      }
      if (now - h.lastMoveMs < this.opts.stallMs) continue;
      h.lastMoveMs = now;
      if (h.fallback === undefined && h.origin !== undefined && h.metainfo !== undefined) {
        this.logger.info({ infoHash: h.infoHash, origin: h.origin }, `no byte from the swarm for ${this.opts.stallMs} ms: asking the origin (web seed)`);
        const origin = h.origin;
        const metainfo = h.metainfo;
        h.fallback = t.addPeer((onEvent) => createWebSeed(origin, metainfo, { onEvent }));
      } else {
        this.logger.warn({ infoHash: h.infoHash }, `no byte from the swarm or the origin for ${this.opts.stallMs} ms: cutting ${h.dead.size} response(s) short`);
        for (const d of [...h.dead]) d();
      }
    }
  }

  /** Removes least recently used torrents without readers until the cache fits. */
  private async evict(): Promise<void> {
    let total = this.usage().bytes;
    if (total <= this.opts.sizeBytes) return;
    const idle = [...this.held.values()].filter((h) => h.readers === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const h of idle) {
      if (total <= this.opts.sizeBytes) break;
      if (h.readers > 0 || this.held.get(h.infoHash) !== h) continue;
      total -= h.bytes;
      this.logger.info({ infoHash: h.infoHash, bytes: h.bytes }, 'evicted from the cache');
      await this.drop(h);
    }
  }

  /** Removes a torrent without readers from the client and the folder (`close` waits for it). */
  private drop(h: Held): Promise<void> {
    const dropping = this.dropNow(h);
    this.dropping.add(dropping);
    void dropping.finally(() => this.dropping.delete(dropping));
    return dropping;
  }

  private async dropNow(h: Held): Promise<void> {
    this.held.delete(h.infoHash);
    this.loaded.delete(h.infoHash);
    for (const [url, k] of this.urls) if ('metainfo' in k && k.metainfo.infoHash === h.infoHash) this.urls.delete(url);
    try {
      await h.torrent?.catch(() => undefined); // a torrent still opening is removed once it is in
      await h.streaming?.stop();
      await this.client.remove(h.infoHash);
      await rm(join(this.opts.dir, h.infoHash), { recursive: true, force: true });
    } catch (err) {
      this.logger.warn({ err: toTorrenttpError(err).message, infoHash: h.infoHash }, 'removing a torrent from the cache failed');
    }
  }
}

/** Storage codes of a cache entry that cannot be a torrent's folder as it stands (`torrentOf`). */
const BROKEN_ENTRY_CODES: ReadonlySet<string> = new Set(['STORAGE_FILE_TOO_LONG', 'STORAGE_PATH_CONFLICT', 'STORAGE_PATH_ESCAPE']);

/** The storage code of a failed open when it is about what the entry's folder holds, else undefined. */
function brokenEntry(err: unknown): string | undefined {
  const e = toTorrenttpError(err);
  const code = e.code === 'GATEWAY_PROXY_CACHE_IO' ? toTorrenttpError(e.cause).code : e.code;
  return BROKEN_ENTRY_CODES.has(code) ? code : undefined;
}

/** Flat header lines (name, value, …) as one record, or undefined when a name repeats (not sent on a hand-written request). */
function flatHeaders(flat: readonly string[]): Record<string, string> | undefined {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const k = flat[i]!.toLowerCase();
    if (out.has(k)) return undefined;
    out.set(k, flat[i + 1]!);
  }
  return Object.fromEntries(out);
}

/** A link that is there for one piece: closed once `index` is in (from whichever peer), `then` run first. */
function closeOnPiece(t: Torrent, link: PeerLink, index: number, then: () => void): void {
  const onPiece = (i: number): void => {
    if (i !== index) return;
    then();
    link.close();
  };
  const onClosed = (closed: PeerLink): void => {
    if (closed !== link) return;
    t.off('piece', onPiece);
    t.off('peerClosed', onClosed);
  };
  t.on('piece', onPiece);
  t.on('peerClosed', onClosed);
}

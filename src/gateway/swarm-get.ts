import { createWriteStream } from 'node:fs';
import { lstat, mkdtemp, realpath, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Torrent, TorrentStats } from '../engine/index.js';
import type { Metainfo } from '../metainfo/index.js';
import { DiskPool, makeFolders } from '../storage/index.js';
import { TorrenttpError } from '../errors/index.js';
import { GatewayError } from './errors.js';
import { DEFAULT_STALL_MS, drained, GetFailure, partNameOf, refuseFolder, sizeOf, swarmNameFromUrl } from './get-io.js';
import type { GetResult, GetUrlOptions } from './get-url.js';
import type { OriginConnection } from './lone-stream.js';

/**
 * The swarm half of `getUrl`: the engine's Client on the offered torrent (its trackers, wire
 * peers and web seeds), into `<path>.part` renamed when complete, a folder, or a stream fed
 * with verified pieces in order.
 */

/**
 * The web seed (the origin's HTTP) joins only once the swarm has given nothing for this long: the
 * origin's seed and the other downloaders go first, so concurrent gets do not each pull the file
 * over HTTP besides the swarm. The origin's seed answers on its first round trip; a second and a
 * half covers the tracker's answer and a dial on a loaded machine.
 */
export const DEFAULT_WEB_SEED_FALLBACK_MS = 1500;
/**
 * The same when the server named its seed (`TorrentTTP-Seed`): that seed is dialled at once, and
 * a `serve` seed super-seeds, holding pieces back (each offer at most 5 s) so that the downloaders
 * trade. A web seed started in such a pause pulls the origin's bytes over HTTP after all (and in
 * the endgame, ranges that a peer answers first): it waits out two offer timeouts.
 */
export const SEED_NAMED_WEB_SEED_FALLBACK_MS = 10_000;

/**
 * A finished download that was uploading to its peers just before (within `LINGER_IDLE_MS`)
 * stays until they stop pulling from it for that long, at most this long, before it closes: the
 * gets of a crowd finish close together, and each one that left at once took pieces with it that
 * the slower ones then had to fetch from the origin again (its seed treats a piece whose holders
 * all left as fresh). A lone get, which uploads nothing, leaves at once.
 */
export const DEFAULT_LINGER_MS = 5000;
export const LINGER_IDLE_MS = 1000;

/**
 * A get that ends early (interrupted, its output failed, the swarm failed) still tells its trackers
 * `stopped` (else `serve`'s tracker keeps the dead peer and sends the next gets to dial it, on the
 * wire path instead of a lone stream, until it expires), but waits at most this long for each
 * answer: longer would hold the exit of a Ctrl-C. A finished get waits the announcer's usual 3 s.
 */
export const EARLY_STOP_MS = 1000;

/**
 * A get's disk jobs run inline (`DiskPoolOptions.inline`): SHA-1 on the event loop, writes and
 * reads through libuv's pool, no disk threads. A get has one storage and nothing else to keep
 * responsive; the threads cost a V8 isolate each to start and, per piece, a structured clone and
 * two buffer transfers. 20 gets of 256 MiB at once: CPU per get 0.90-0.96× of two threads
 * (docs/storage.md, "Inline disk jobs"). Before, two threads: one cost the same CPU as two and
 * 1.07× the wall of a lone get.
 */
export const GET_DISK_POOL = { inline: true } as const;

/**
 * How a get's swarm writes its pieces: into the page cache, as its lone stream does
 * (`STREAM_WRITE_MODE`) and as curl does (a get keeps no resume file, so nothing `fdatasync`s
 * them). In a crowd a get uploads what it downloads, and a piece the piece cache dropped is read
 * back for a peer: buffered, that read is a copy from the page cache; `O_DIRECT`, it went to the
 * device. And a direct write pins the piece's pages and waits for the device while the pieces
 * behind it wait in memory: 8 gets of 128 MiB at once, `O_DIRECT` held ~140 pieces (18 MiB) in
 * commits at the peak, buffered ~95 (fewer new piece buffers to fault in). CPU per get
 * 0.85-0.87×, the last get done 0.56-0.98× (3 rounds; docs/storage.md, "Write modes"). The
 * kernel's writeback is CPU the get does not count, but the last get's wall time does.
 */
export const GET_WRITE_MODE = 'buffered';

/**
 * The swarm's MSE/PE policy when the caller names none: `off` when the URL and the one the
 * torrent came from (after redirects) are `http:`, else `prefer`. The swarm then hides the bytes from the network as much as the request it replaces
 * did: a download that came over plain HTTP gains nothing from RC4 between its peers but the
 * cost, and RC4 was the largest part of a get's CPU in a crowd (each byte decrypted once on the
 * way in and encrypted once per peer it goes on to; with 20 gets of one file on 2 cores, CPU is
 * what the last one waits for). `off` dials plain and answers an encrypted dial with plaintext
 * (transport's `cryptoSelect`), or RC4 for a peer that insists.
 */
export function swarmEncryptionOf(urls: readonly string[]): 'prefer' | 'off' {
  return urls.every((u) => u.slice(0, 5).toLowerCase() === 'http:') ? 'off' : 'prefer';
}

/**
 * `peers`: wire peers the server named beside the torrent (its seed), dialled at once.
 * `swarmPeers`: the peers besides them the server's tracker knows (`TorrentTTP-Swarm-Peers`), when
 * it said; 0: alone, a lone stream starts at once. `o.encryption`: as get-url.ts decided it (the
 * user's, or `swarmEncryptionOf`).
 */
export async function swarmGet(o: GetUrlOptions & Required<Pick<GetUrlOptions, 'encryption'>>, metainfo: Metainfo, via: 'accept' | 'link', started: number, peers: readonly string[] = [], swarmPeers?: number): Promise<GetResult> {
  const output = o.output;
  if (output.kind !== 'file' || !(await isDevice(output.path))) return swarmGetTo(o, metainfo, via, started, peers, swarmPeers);
  // A device or FIFO (`-o /dev/null`, as curl writes to it) is written through in order, as a
  // stream: the `.part` beside it renamed over it replaced /dev/null with a regular file (as root).
  const device = createWriteStream(output.path);
  try {
    await once(device, 'open');
  } catch (cause) {
    throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: output.path, cause });
  }
  try {
    const r = await swarmGetTo({ ...o, output: { kind: 'stream', stream: device } }, metainfo, via, started, peers, swarmPeers);
    return { ...r, name: basename(output.path), path: output.path };
  } finally {
    device.end();
    await finished(device).catch(() => undefined);
  }
}

/** `path`, or the file a symlink there leads to (`realpath`); `path` itself for anything else (a dangling link is replaced). */
async function linkTarget(path: string): Promise<string> {
  if ((await lstat(path).catch(() => undefined))?.isSymbolicLink() !== true) return path;
  const target = await realpath(path).catch(() => undefined);
  return target !== undefined && (await stat(target)).isFile() ? target : path;
}

/** Whether `path` is there and neither a regular file nor a folder: a device, a FIFO, a socket. */
async function isDevice(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  return st !== undefined && !st.isFile() && !st.isDirectory();
}

async function swarmGetTo(o: GetUrlOptions & Required<Pick<GetUrlOptions, 'encryption'>>, metainfo: Metainfo, via: 'accept' | 'link', started: number, peers: readonly string[], swarmPeers: number | undefined): Promise<GetResult> {
  const stream = o.output.kind === 'stream' ? o.output.stream : undefined;
  if (stream !== undefined && metainfo.multiFile) {
    throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: `${metainfo.name} is a torrent of ${metainfo.files.length} files: give a folder with -o, not a stream` });
  }
  // A stream's pieces wait in a temporary folder; a file's go beside it (`.part`), and no resume
  // state is kept anywhere (`resumeDir: false`).
  const work = stream === undefined ? undefined : await mkdtemp(join(o.tmpDir ?? tmpdir(), 'torrenttp-get-'));
  // Made before the engine is even loaded (inline: no threads to boot, the pool is ready at once),
  // and the engine is imported only now, once the negotiation said a swarm: a plain get never
  // compiles it.
  const diskPool = new DiskPool(GET_DISK_POOL);
  let engine: typeof import('../engine/index.js');
  let loneMod: typeof import('./lone-stream.js');
  let early: OriginConnection | undefined;
  try {
    // Alone (the server said so) and a fresh download: the stream's connection opens now, and the
    // origin's answer waits in the socket while the engine compiles and the torrent is added.
    loneMod = await import('./lone-stream.js');
    early = swarmPeers === 0 && o.loneStream !== false && o.resume !== true ? connectEarly(loneMod, metainfo, peers, o.headers) : undefined;
    engine = await import('../engine/index.js');
  } catch (err) {
    early?.close();
    await diskPool.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
    throw err;
  }
  const { Client } = engine;
  const { loneStreamUrl, streamWhileAlone } = loneMod;
  const client = new Client({ ...(o.port === undefined ? {} : { port: o.port }), ...(o.limitRate === undefined ? {} : { downloadLimit: o.limitRate }), encryption: o.encryption, diskPool, writeMode: GET_WRITE_MODE });
  client.on('warning', (message, err) => o.onEvent?.({ type: 'warning', message, ...(err?.code === 'ENGINE_PEER_BANNED' ? { notable: true } : {}) }));
  let finished = false;
  try {
    // Where the engine writes: its folder, and the name it gives the file (or folder).
    let dir = work ?? '';
    let name = metainfo.name;
    let finalPath: string | undefined;
    let moved = false;
    if (o.output.kind !== 'stream') {
      // A URL that names the torrent (its info-hash in a TorrentTTP torrent URL, a `.torrent`) does not name the file.
      // `-o LINK`, a symlink to a file the user named, is written through, as curl's and wget's
      // open does: its target is the file renamed into place (renamed over the link, the link
      // became a file, the target stale). A name from the URL is not followed: a link planted
      // under it is replaced, never a way to write elsewhere.
      finalPath = o.output.kind === 'file' ? await linkTarget(o.output.path) : join(o.output.dir, swarmNameFromUrl(o.url, metainfo) ?? metainfo.name);
      dir = dirname(finalPath);
      name = metainfo.multiFile ? basename(finalPath) : partNameOf(basename(finalPath));
      await makeFolders(dir);
      if (!metainfo.multiFile) moved = await preparePart(finalPath, join(dir, name), o.resume === true);
    }
    // No tracker, web seed or peer (a bare `.torrent` on a plain web server): nothing could ever
    // arrive (a get runs no DHT), so say so now rather than after DEFAULT_STALL_MS of "no byte".
    // The output is checked first; a resume may find everything in the `.part` already.
    if (o.resume !== true && peers.length === 0 && metainfo.urlList.length === 0 && metainfo.announceList.every((tier) => tier.length === 0)) {
      throw new GatewayError('GATEWAY_GET_FAILED', { detail: `the torrent of ${o.url} names no tracker, web seed or peer to download ${metainfo.name} from` });
    }
    let t: Torrent;
    try {
      const adding = client.add(metainfo, { path: dir, storeAs: name, resumeDir: false, peers, webSeedFallbackMs: o.webSeedFallbackMs ?? (peers.length > 0 ? SEED_NAMED_WEB_SEED_FALLBACK_MS : DEFAULT_WEB_SEED_FALLBACK_MS), ...(stream === undefined ? {} : { sequential: true }) });
      t = await adding;
    } catch (err) {
      // Not this torrent's data after all (longer than the torrent, unreadable): give the file back its name,
      // and name it so in the error (not `FILE.part`, a name it had for a moment).
      if (moved && finalPath !== undefined) {
        const part = join(dir, name);
        await rename(part, finalPath).catch(() => undefined);
        if (err instanceof TorrenttpError && err.detail?.includes(part) === true) throw new TorrenttpError(err.code, { detail: err.detail.replaceAll(part, finalPath), cause: err.cause });
      }
      throw err;
    }
    const resumedBytes = t.stats().verifiedBytes;
    const lone = o.loneStream === false ? undefined : loneStreamUrl(metainfo, peers, o.headers, resumedBytes, 0, true);
    const connection = early !== undefined && lone !== undefined && early.url === lone.url && early.fromPiece === lone.fromPiece ? early : undefined;
    if (connection === undefined) early?.close();
    const onRoute = (message: string): void => o.onEvent?.({ type: 'route', message });
    if (lone === undefined) onRoute(`the swarm's peers and web seeds${o.loneStream === false ? '' : ' (no lone stream: no seed named by the server, several files, no http: or https: web seed, or resumed)'}`);
    const loneStream = lone === undefined ? undefined : streamWhileAlone(client, t, lone.url, peers, lone.headers, (message) => o.onEvent?.({ type: 'warning', message }), { alone: swarmPeers === 0, onRoute, ...(connection === undefined ? {} : { connection }) });
    o.onEvent?.({
      type: 'start',
      mode: 'swarm',
      reason: via === 'accept' ? 'the server offered a torrent' : 'the server linked a torrent (rel=describedby)',
      name: finalPath === undefined ? metainfo.name : basename(finalPath),
      path: finalPath,
      totalBytes: metainfo.length,
      resumedBytes,
      infoHash: metainfo.infoHash,
      port: client.port,
    });
    const progress = (s: TorrentStats): void =>
      o.onEvent?.({ type: 'progress', doneBytes: s.verifiedBytes, totalBytes: s.length, rateBytesPerSec: s.downloadRate, uploadRateBytesPerSec: s.uploadRate, peers: s.peers });
    t.on('progress', progress);
    // A swarm with nobody in it (the seed gone, the web seed refusing) would wait forever.
    let stallFail!: (e: GatewayError) => void;
    const stalled = new Promise<never>((_, reject) => (stallFail = reject));
    stalled.catch(() => undefined);
    let lastBytes = 0;
    let lastMoveMs = Date.now();
    const watchStall = (s: TorrentStats): void => {
      const now = Date.now();
      if (s.downloaded !== lastBytes || s.done) {
        lastBytes = s.downloaded;
        lastMoveMs = now;
      } else if (now - lastMoveMs > (o.stallMs ?? DEFAULT_STALL_MS)) {
        const detail = `no byte from the swarm of ${o.url} for ${Math.round((now - lastMoveMs) / 1000)} s (${s.peers} peers)`;
        stallFail(new GatewayError('GATEWAY_GET_FAILED', { detail, cause: new GetFailure('ETIMEDOUT', detail) }));
      }
    };
    t.on('progress', watchStall);
    const uploads = uploadWatch(t);

    const abort = abortPromise(o.signal);
    void abort.promise.then(() => loneStream?.stop());
    const downloaded = stream === undefined ? t.done : Promise.all([t.done, pumpInOrder(t, stream, abort.promise)]);
    const how = await Promise.race([downloaded.then(() => 'complete' as const), abort.promise.then(() => 'interrupted' as const), stalled]);
    t.off('progress', watchStall);
    await loneStream?.stop();
    // A stream's reader waits for its end, and a seeding get stays anyway.
    if (how === 'complete' && stream === undefined && o.seed !== true) {
      const lingerMs = o.lingerMs ?? DEFAULT_LINGER_MS;
      if (uploads.pulling()) o.onEvent?.({ type: 'lingering', maxSeconds: lingerMs / 1000 });
      await Promise.race([uploads.linger(lingerMs), abort.promise]);
    }
    uploads.dispose();
    const stats = t.stats();
    let uploaded = stats.uploaded;
    let seeding: Torrent | undefined = t;
    if (how === 'complete' && finalPath !== undefined && !metainfo.multiFile) {
      // Close the store (flushed), then the rename makes the whole file appear at once.
      await client.remove(t.infoHash);
      // An old FILE is unlinked first: renamed over, ext4 (auto_da_alloc) allocates and starts
      // writing back the new file's delayed blocks in the rename itself, 0.2-0.27 s for 256 MiB
      // buffered (the unlink: 0.06-0.09 s, what curl's O_TRUNC of it costs).
      await rm(finalPath, { force: true }).catch(() => undefined);
      await rename(join(dir, name), finalPath).catch((cause: unknown) => {
        throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: `rename to ${finalPath}`, cause });
      });
      seeding = undefined;
      if (o.seed === true) seeding = await client.add(metainfo, { path: dir, storeAs: basename(finalPath), resumeDir: false, skipVerify: true });
    }
    // The download's time, not the seeding's after it (the summary's rate is bytes over this).
    const seconds = (performance.now() - started) / 1000;
    if (how === 'complete' && o.seed === true && seeding !== undefined) {
      o.onEvent?.({ type: 'seeding' });
      seeding.on('progress', progress);
      await abort.promise;
      uploaded = seeding === t ? t.stats().uploaded : stats.uploaded + seeding.stats().uploaded;
    }
    abort.dispose();
    finished = how === 'complete' && o.signal?.aborted !== true;
    return {
      mode: 'swarm',
      status: how,
      name: finalPath === undefined ? metainfo.name : basename(finalPath),
      // Interrupted, one file: what is on disk is `FILE.part` (for -C -), not FILE.
      path: how === 'interrupted' && finalPath !== undefined && !metainfo.multiFile ? join(dir, name) : finalPath,
      totalBytes: metainfo.length,
      // The payload the file got; blocks that came twice or failed their hash, apart.
      downloadedBytes: stats.downloaded - stats.wasted,
      wastedBytes: stats.wasted,
      sources: { plain: 0, ...stats.downloadedByKind },
      uploadedBytes: uploaded,
      seconds,
      infoHash: metainfo.infoHash,
    };
  } finally {
    early?.close(); // unless the stream took it
    await client.close(finished ? undefined : EARLY_STOP_MS);
    await diskPool.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  }
}

/** The lone stream's connection, opened early (`connectOrigin`), when the download may stream at all. */
function connectEarly(lone: typeof import('./lone-stream.js'), metainfo: Metainfo, peers: readonly string[], headers: Readonly<Record<string, string>> | undefined): OriginConnection | undefined {
  const to = lone.loneStreamUrl(metainfo, peers, headers, 0, 0, true);
  return to === undefined ? undefined : lone.connectOrigin(metainfo, to.url, { headers: to.headers, fromPiece: to.fromPiece });
}

/**
 * When `t` last uploaded, from its progress ticks; `linger(maxMs)` resolves once it uploaded
 * nothing for `LINGER_IDLE_MS` (at once if it had not within that before), or after `maxMs`;
 * `pulling()` says whether `linger` would wait.
 */
export function uploadWatch(t: Pick<Torrent, 'stats' | 'closed' | 'on' | 'off'>, now: () => number = Date.now): { pulling(): boolean; linger(maxMs: number): Promise<void>; dispose(): void } {
  let last = t.stats().uploaded;
  let lastMoveMs = -Infinity;
  let check = (): void => undefined;
  const onProgress = (s: TorrentStats): void => {
    if (s.uploaded !== last) {
      last = s.uploaded;
      lastMoveMs = now();
    }
    check();
  };
  t.on('progress', onProgress);
  const pulling = (): boolean => now() - lastMoveMs < LINGER_IDLE_MS && !t.closed;
  return {
    pulling,
    linger: (maxMs) =>
      new Promise<void>((resolve) => {
        const until = now() + maxMs;
        check = () => {
          if (!pulling() || now() >= until) resolve();
        };
        check();
      }),
    dispose: () => t.off('progress', onProgress),
  };
}

/**
 * Fresh: drop an old `.part`. Resume: keep it, or start from a plain partial of the final file
 * (moved to the `.part` name; true when it was).
 */
async function preparePart(finalPath: string, partPath: string, resume: boolean): Promise<boolean> {
  await refuseFolder(finalPath);
  if (!resume) {
    await rm(partPath, { force: true });
    return false;
  }
  if ((await sizeOf(partPath)) > 0 || (await sizeOf(finalPath)) === 0) return false;
  await rename(finalPath, partPath);
  return true;
}

/**
 * Writes the torrent's bytes to `out` in order, each piece only once it verified: the engine's
 * reader (`Torrent.read`), which gives the pieces ahead of it deadlines. Resolves when the last
 * byte is written; rejects when the torrent fails. Once `stop` settles it writes nothing more (the
 * caller then closes the torrent, which ends a reader still waiting for a piece).
 */
async function pumpInOrder(t: Torrent, out: Writable, stop: Promise<void>): Promise<void> {
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  for await (const chunk of t.read()) {
    if (stopped) return;
    if (!out.write(chunk)) await drained(out);
  }
}

function abortPromise(signal: AbortSignal | undefined): { promise: Promise<void>; dispose(): void } {
  if (signal === undefined) return { promise: new Promise<void>(() => undefined), dispose: () => undefined };
  let onAbort!: () => void;
  const promise = new Promise<void>((resolve) => {
    onAbort = resolve;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

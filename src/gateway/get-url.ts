import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { Client, RateMeter, type Torrent, type TorrentStats } from '../engine/index.js';
import { toTorrenttpError, TorrenttpError } from '../errors/index.js';
import { fromBase64, type Metainfo } from '../metainfo/index.js';
import { GatewayError } from './errors.js';
import { discard, loadUndici, negotiate, requestOk, type OpenResponse, type Offer } from './negotiate-client.js';

/**
 * `torrenttp get URL`: the download half of transparent BitTorrent. One negotiating GET
 * (`negotiate-client.ts`); then either the swarm (the engine's Client with the torrent's
 * trackers, its wire peers and its web seed, which is the server's own URL, every piece
 * verified) or the plain body, with one progress stream for both.
 *
 * Files:
 * - Plain: written to the output path itself, as curl and wget do, so `resume` continues it
 *   with `Range: bytes=<size>-` and `If-Range`.
 * - Swarm, one file: written to `<path>.part` and renamed over `<path>` once every piece is
 *   verified, so a half-swarmed file (full length, holes of zeros) never looks complete to a
 *   later plain resume. `resume` continues `<path>.part`, or a plain partial `<path>` (its
 *   pieces are hashed, the rest fetched).
 * - Swarm, several files: into the folder `<path>` (the torrent's name by default); what is
 *   there already is hashed and kept where it matches.
 * - A stream (stdout): the swarm downloads sequentially into a temporary folder, and each piece
 *   is written out, in order, only once it is verified. A plain body is copied as it comes.
 * Resume state of the engine goes to a temporary folder removed at the end: resuming hashes the
 * partial file instead, so nothing but the output is ever left beside it.
 */
export interface GetUrlOptions {
  readonly url: string;
  readonly output: GetOutput;
  /** Continue a partial download (`-C -`). */
  readonly resume?: boolean;
  /** Keep seeding after a swarm download completes, until `signal` aborts. */
  readonly seed?: boolean;
  /** Never ask for the torrent (`--no-swarm`). */
  readonly plainOnly?: boolean;
  /** Extra request headers (`-H`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** BitTorrent listening port; default any free port. */
  readonly port?: number;
  /** Where temporary folders go; default the OS temp folder. */
  readonly tmpDir?: string;
  /** Aborting stops the download: the result is then `interrupted` (the partial file stays). */
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: GetEvent) => void;
  /** A swarm download that receives no byte for this long fails. Default 60 s. */
  readonly stallMs?: number;
}

export type GetOutput =
  | { readonly kind: 'file'; readonly path: string }
  /** In `dir`, named after the URL's last segment, else the torrent's name, else `index.html` (wget). */
  | { readonly kind: 'named'; readonly dir: string }
  | { readonly kind: 'stream'; readonly stream: Writable };

export type GetMode = 'swarm' | 'plain';

export type GetEvent =
  | {
      readonly type: 'start';
      readonly mode: GetMode;
      readonly reason: string;
      readonly name: string;
      readonly path: string | undefined;
      readonly totalBytes: number | undefined;
      readonly resumedBytes: number;
      readonly infoHash?: string;
      readonly port?: number;
    }
  | { readonly type: 'progress'; readonly doneBytes: number; readonly totalBytes: number | undefined; readonly rateBytesPerSec: number; readonly uploadRateBytesPerSec: number; readonly peers: number | undefined }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'seeding' };

/** Payload bytes by where they came from. */
export interface GetSources {
  readonly plain: number;
  readonly wire: number;
  readonly webseed: number;
  readonly http: number;
}

export interface GetResult {
  readonly mode: GetMode;
  readonly status: 'complete' | 'interrupted';
  readonly name: string;
  /** The file or folder written; undefined for a stream. */
  readonly path: string | undefined;
  readonly totalBytes: number | undefined;
  /** Bytes this run received (payload). */
  readonly downloadedBytes: number;
  readonly sources: GetSources;
  readonly uploadedBytes: number;
  readonly seconds: number;
  readonly infoHash?: string;
  /** The SHA-256 the server sent (`Repr-Digest`) was checked against the bytes. */
  readonly digestVerified?: boolean;
}

const PROGRESS_EVERY_MS = 250;
const DEFAULT_STALL_MS = 60_000;
/** Bytes queued to the output file before the body waits: a few of undici's chunks per write(v). */
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

export async function getUrl(o: GetUrlOptions): Promise<GetResult> {
  const started = performance.now();
  const undici = await loadUndici();
  // One keep-alive pool for the negotiation and the plain body; the web seed opens its own.
  const dispatcher = new undici.Agent({ keepAliveTimeout: 10_000 });
  try {
    const offer: Offer = await negotiate(o.url, {
      dispatcher,
      ...(o.headers === undefined ? {} : { headers: o.headers }),
      ...(o.signal === undefined ? {} : { signal: o.signal }),
      ...(o.plainOnly === undefined ? {} : { plainOnly: o.plainOnly }),
    });
    if (offer.kind === 'torrent') return await swarmGet(o, offer.metainfo, offer.via, started);
    return await plainGet(o, offer.response, offer.reason, dispatcher, started);
  } catch (err) {
    if (o.signal?.aborted === true && !(err instanceof TorrenttpError)) return interrupted(o, started);
    throw err;
  } finally {
    await dispatcher.destroy().catch(() => undefined);
  }
}

function interrupted(o: GetUrlOptions, started: number): GetResult {
  const none = { plain: 0, wire: 0, webseed: 0, http: 0 };
  return { mode: 'plain', status: 'interrupted', name: '', path: o.output.kind === 'file' ? o.output.path : undefined, totalBytes: undefined, downloadedBytes: 0, sources: none, uploadedBytes: 0, seconds: (performance.now() - started) / 1000 };
}

/**
 * The file name a URL gives (curl `-O`, wget): its last path segment, percent-decoded once.
 * Undefined when there is none or it could name something else (`.`, `..`, a separator, NUL).
 */
export function nameFromUrl(url: string): string | undefined {
  let segment: string;
  try {
    segment = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  } catch {
    return undefined;
  }
  if (segment === '' || segment === '.' || segment === '..' || /[/\\\0]/.test(segment)) return undefined;
  return segment;
}

// ── plain ─────────────────────────────────────────────────────────────────────────────────
async function plainGet(o: GetUrlOptions, first: OpenResponse, reason: string, dispatcher: Dispatcher, started: number): Promise<GetResult> {
  const path = o.output.kind === 'file' ? o.output.path : o.output.kind === 'named' ? join(o.output.dir, nameFromUrl(o.url) ?? 'index.html') : undefined;
  let res = first;
  let offset = 0;
  const have = path !== undefined && o.resume === true ? await sizeOf(path) : 0;
  if (have > 0) {
    // Continue from the bytes on disk, only if the file is still the same (If-Range, RFC 9110 §13.1.5).
    const validator = strongEtag(res.headers.etag) ?? header(res.headers['last-modified']);
    await discard(res);
    res = await requestOk(res.url, { dispatcher, ...(o.headers === undefined ? {} : { headers: o.headers }), ...(o.signal === undefined ? {} : { signal: o.signal }) }, {
      range: `bytes=${have}-`,
      ...(validator === undefined ? {} : { 'if-range': validator }),
    });
    if (res.status === 416) {
      await discard(res);
      const total = /^bytes \*\/(\d+)$/.exec(header(res.headers['content-range']) ?? '');
      if (total === null || Number(total[1]) !== have) throw new GatewayError('GATEWAY_GET_BAD_ANSWER', { detail: `416 for bytes=${have}- of ${res.url}, and ${path} is not the whole file` });
      o.onEvent?.({ type: 'start', mode: 'plain', reason: 'already complete', name: basename(path!), path, totalBytes: have, resumedBytes: have });
      return plainResult(path, have, 0, false, 'complete', started);
    }
    if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(res.headers['content-range']) ?? '');
      if (m === null || Number(m[1]) !== have) {
        await discard(res);
        throw new GatewayError('GATEWAY_GET_BAD_ANSWER', { detail: `asked for bytes=${have}-, got Content-Range ${String(res.headers['content-range'])}` });
      }
      offset = have;
    } else {
      o.onEvent?.({ type: 'warning', message: 'the server sent the whole file (no range, or the file changed): starting over' });
    }
  }
  const length = Number(header(res.headers['content-length']));
  const totalBytes = Number.isSafeInteger(length) ? offset + length : undefined;
  const name = path === undefined ? (nameFromUrl(o.url) ?? 'index.html') : basename(path);
  o.onEvent?.({ type: 'start', mode: 'plain', reason, name, path, totalBytes, resumedBytes: offset });

  const expected = sha256Of(res.headers['repr-digest']);
  let hash: Hash | undefined;
  if (expected !== undefined && (path !== undefined || offset === 0)) {
    hash = createHash('sha256');
    if (offset > 0) for await (const chunk of createReadStream(path!, { start: 0, end: offset - 1 })) hash.update(chunk as Buffer);
  }

  let file: WriteStream | undefined;
  let fileError: unknown;
  let received = 0;
  const meter = new RateMeter();
  const report = (): void => o.onEvent?.({ type: 'progress', doneBytes: offset + received, totalBytes, rateBytesPerSec: meter.rate(Date.now()), uploadRateBytesPerSec: 0, peers: undefined });
  const timer = setInterval(report, PROGRESS_EVERY_MS);
  try {
    if (path !== undefined) {
      await mkdir(dirname(path), { recursive: true });
      // Writes are not awaited one by one: the stream queues them (writev) up to its high-water mark.
      file = createWriteStream(path, { flags: offset > 0 ? 'a' : 'w', highWaterMark: WRITE_BUFFER_BYTES });
      file.on('error', (err) => (fileError ??= err));
      await once(file, 'open');
    }
    const sink = file ?? (o.output.kind === 'stream' ? o.output.stream : undefined);
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (fileError !== undefined) throw fileError;
      received += chunk.length;
      meter.add(chunk.length, Date.now());
      hash?.update(chunk);
      if (sink !== undefined && !sink.write(chunk)) await drained(sink);
    }
  } catch (err) {
    if (path !== undefined && (fileError !== undefined || file === undefined)) throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: path, cause: fileError ?? err });
    if (o.signal?.aborted === true) {
      await closeFile(file);
      return plainResult(path, totalBytes, received, false, 'interrupted', started);
    }
    if (err instanceof TorrenttpError) throw err;
    throw new GatewayError('GATEWAY_GET_FAILED', { detail: `${res.url} after ${offset + received} bytes: ${toTorrenttpError(err).message}`, cause: err });
  } finally {
    clearInterval(timer);
    // Everything received is on disk before we return, also when interrupted: `-C -` continues from the file's size.
    await closeFile(file);
  }
  if (fileError !== undefined) throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: path, cause: fileError });
  report();
  if (totalBytes !== undefined && offset + received !== totalBytes) {
    throw new GatewayError('GATEWAY_GET_BAD_ANSWER', { detail: `${res.url} ended after ${offset + received} of ${totalBytes} bytes (run again with -C - to continue)` });
  }
  if (hash !== undefined && !hash.digest().equals(Buffer.from(expected!))) {
    throw new GatewayError('GATEWAY_GET_DIGEST_MISMATCH', { detail: `${path ?? 'stdout'} (Repr-Digest sha-256 of ${res.url})` });
  }
  return plainResult(path, offset + received, received, hash !== undefined, 'complete', started, name);
}

function plainResult(path: string | undefined, totalBytes: number | undefined, received: number, digestVerified: boolean, status: GetResult['status'], started: number, name?: string): GetResult {
  return {
    mode: 'plain',
    status,
    name: name ?? (path === undefined ? '' : basename(path)),
    path,
    totalBytes,
    downloadedBytes: received,
    sources: { plain: received, wire: 0, webseed: 0, http: 0 },
    uploadedBytes: 0,
    seconds: (performance.now() - started) / 1000,
    digestVerified,
  };
}

// ── swarm ─────────────────────────────────────────────────────────────────────────────────
async function swarmGet(o: GetUrlOptions, metainfo: Metainfo, via: 'accept' | 'link', started: number): Promise<GetResult> {
  const stream = o.output.kind === 'stream' ? o.output.stream : undefined;
  if (stream !== undefined && metainfo.multiFile) {
    throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: `${metainfo.name} is a torrent of ${metainfo.files.length} files: give a folder with -o, not a stream` });
  }
  const work = await mkdtemp(join(o.tmpDir ?? tmpdir(), 'torrenttp-get-'));
  const client = new Client({ ...(o.port === undefined ? {} : { port: o.port }) });
  client.on('warning', (message) => o.onEvent?.({ type: 'warning', message }));
  try {
    // Where the engine writes: its folder, and the name it gives the file (or folder).
    let dir = work;
    let name = metainfo.name;
    let finalPath: string | undefined;
    let moved = false;
    if (o.output.kind !== 'stream') {
      finalPath = o.output.kind === 'file' ? o.output.path : join(o.output.dir, (metainfo.multiFile ? undefined : nameFromUrl(o.url)) ?? metainfo.name);
      dir = dirname(finalPath);
      name = metainfo.multiFile ? basename(finalPath) : `${basename(finalPath)}.part`;
      await mkdir(dir, { recursive: true });
      if (!metainfo.multiFile) moved = await preparePart(finalPath, join(dir, name), o.resume === true);
    }
    let t: Torrent;
    try {
      t = await client.add(metainfo, { path: dir, storeAs: name, resumeDir: work, ...(stream === undefined ? {} : { sequential: true }) });
    } catch (err) {
      // Not this torrent's data after all (longer than the torrent, unreadable): give the file back its name.
      if (moved && finalPath !== undefined) await rename(join(dir, name), finalPath).catch(() => undefined);
      throw err;
    }
    const resumedBytes = t.stats().verifiedBytes;
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
        stallFail(new GatewayError('GATEWAY_GET_FAILED', { detail: `no byte from the swarm of ${o.url} for ${Math.round((now - lastMoveMs) / 1000)} s (${s.peers} peers)` }));
      }
    };
    t.on('progress', watchStall);

    const abort = abortPromise(o.signal);
    const finished = stream === undefined ? t.done : Promise.all([t.done, pumpInOrder(t, join(dir, name), stream, abort.promise)]);
    const how = await Promise.race([finished.then(() => 'complete' as const), abort.promise.then(() => 'interrupted' as const), stalled]);
    t.off('progress', watchStall);
    const stats = t.stats();
    let uploaded = stats.uploaded;
    let seeding: Torrent | undefined = t;
    if (how === 'complete' && finalPath !== undefined && !metainfo.multiFile) {
      // Close the store (flushed), then the rename makes the whole file appear at once.
      await client.remove(t.infoHash);
      await rename(join(dir, name), finalPath).catch((cause: unknown) => {
        throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: `rename to ${finalPath}`, cause });
      });
      seeding = undefined;
      if (o.seed === true) seeding = await client.add(metainfo, { path: dir, storeAs: basename(finalPath), resumeDir: work, skipVerify: true });
    }
    if (how === 'complete' && o.seed === true && seeding !== undefined) {
      o.onEvent?.({ type: 'seeding' });
      seeding.on('progress', progress);
      await abort.promise;
      uploaded = seeding === t ? t.stats().uploaded : stats.uploaded + seeding.stats().uploaded;
    }
    abort.dispose();
    return {
      mode: 'swarm',
      status: how,
      name: finalPath === undefined ? metainfo.name : basename(finalPath),
      path: finalPath,
      totalBytes: metainfo.length,
      downloadedBytes: stats.downloaded,
      sources: { plain: 0, ...stats.downloadedByKind },
      uploadedBytes: uploaded,
      seconds: (performance.now() - started) / 1000,
      infoHash: metainfo.infoHash,
    };
  } finally {
    await client.close();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Fresh: drop an old `.part`. Resume: keep it, or start from a plain partial of the final file
 * (moved to the `.part` name; true when it was).
 */
async function preparePart(finalPath: string, partPath: string, resume: boolean): Promise<boolean> {
  if (!resume) {
    await rm(partPath, { force: true });
    return false;
  }
  if ((await sizeOf(partPath)) > 0 || (await sizeOf(finalPath)) === 0) return false;
  await rename(finalPath, partPath);
  return true;
}

/**
 * Writes verified pieces to `out` in order: waits for piece `next`, reads it back from the file
 * the store wrote it to (only verified pieces are ever marked), writes it, and goes on. Resolves
 * when the last piece is written; rejects when the torrent fails.
 */
async function pumpInOrder(t: Torrent, file: string, out: Writable, stop: Promise<void>): Promise<void> {
  const g = t.metainfo.geometry;
  let wake: (() => void) | undefined;
  let failed: TorrenttpError | undefined;
  let stopped = false;
  const kick = (): void => {
    wake?.();
    wake = undefined;
  };
  const onError = (err: TorrenttpError): void => {
    failed = err;
    kick();
  };
  t.on('piece', kick);
  t.on('error', onError);
  void stop.then(() => {
    stopped = true;
    kick();
  });
  const fh = await open(file, 'r');
  try {
    for (let next = 0; next < g.pieceCount; ) {
      if (failed !== undefined) throw failed;
      if (stopped) return;
      if (!t.have.has(next)) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const length = g.pieceLengthOf(next);
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, next * g.pieceLength + got);
        if (bytesRead === 0) throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: `${file} is shorter than piece ${next}` });
        got += bytesRead;
      }
      if (!out.write(buf)) await drained(out);
      next++;
    }
  } finally {
    t.off('piece', kick);
    t.off('error', onError);
    await fh.close();
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

// ── helpers ───────────────────────────────────────────────────────────────────────────────
async function sizeOf(path: string): Promise<number> {
  try {
    const st = await stat(path);
    return st.isFile() ? st.size : 0;
  } catch {
    return 0;
  }
}

async function closeFile(file: WriteStream | undefined): Promise<void> {
  if (file === undefined || file.closed) return;
  const closed = once(file, 'close').catch(() => undefined);
  file.end();
  await closed;
}

async function drained(out: Writable): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([once(out, 'drain', { signal: ac.signal }), once(out, 'close', { signal: ac.signal }).then(() => {
      throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: 'the output stream closed' });
    })]);
  } finally {
    ac.abort();
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Only a strong ETag may go in If-Range (RFC 9110 §13.1.5). */
function strongEtag(v: string | string[] | undefined): string | undefined {
  const e = header(v);
  return e !== undefined && e.startsWith('"') ? e : undefined;
}

/** `sha-256=:<base64>:` from a `Repr-Digest` (RFC 9530) field, if present and well formed. */
function sha256Of(v: string | string[] | undefined): Uint8Array | undefined {
  const m = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/=]+):/i.exec(header(v) ?? '');
  if (m === null) return undefined;
  try {
    const d = fromBase64(m[1]!);
    return d?.length === 32 ? d : undefined;
  } catch {
    return undefined;
  }
}

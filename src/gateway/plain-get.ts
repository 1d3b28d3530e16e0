import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { finished, type Readable, type Writable } from 'node:stream';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TorrenttpError } from '../errors/index.js';
import { GatewayError } from './errors.js';
import { DEFAULT_STALL_MS, drained, GetFailure, isConnectionReset, nameFromUrl, PROGRESS_EVERY_MS, refuseFolder, sizeOf, SampledRate } from './get-io.js';
import type { GetResult, GetUrlOptions } from './get-url.js';
import { causeText, discard, requestResume, type NodeAgents, type OpenResponse, type ResponseHead } from './negotiate-client.js';
import { headersFor } from './redirect-headers.js';
import { dispositionName } from './disposition.js';
import { makeFolders } from '../storage/folders.js';
import { readContentRange } from '../transport/http-fetch.js';

/**
 * The plain half of `getUrl`: the body of the negotiating GET (or of a `Range` request that
 * continues the file on disk) to the file or stream, checked against `Repr-Digest` when sent.
 */

/** Bytes queued to the output file before the body waits: a few of undici's chunks per write(v). */
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

export async function plainGet(o: GetUrlOptions, first: OpenResponse, reason: string, agents: NodeAgents, started: number): Promise<GetResult> {
  // Read from here on, before any file is looked at or opened: the bytes that came with the head
  // are not lost if the connection closes meanwhile (`readEarly`).
  // Under `--limit-rate` only the first chunk: the rest is received at the rate.
  const earlyBytes = o.limitRate === undefined ? WRITE_BUFFER_BYTES : 1;
  let early = readEarly(first.body, earlyBytes);
  const named = o.output.kind === 'named' ? await namedPath(o, o.output.dir, first, early) : undefined;
  const path = o.output.kind === 'file' ? o.output.path : named?.path;
  let res = first;
  let offset = 0;
  const have = path !== undefined && o.resume === true ? await sizeOf(path) : 0;
  if (have > 0) {
    // Continue from the bytes on disk, only if the file is still the same (If-Range, RFC 9110 §13.1.5).
    const validator = validatorOf(res.headers);
    early.stop();
    await discard(res);
    // The answer's URL, after redirects: the user's credentials go there only on the URL's own origin.
    const headers = headersFor(o.headers, o.url, res.url);
    const onHead = (head: ResponseHead): void => o.onEvent?.({ type: 'response', head });
    res = await requestResume(res.url, { agents, onHead, ...(headers === undefined ? {} : { headers }), ...(o.signal === undefined ? {} : { signal: o.signal }) }, {
      range: `bytes=${have}-`,
      ...(validator === undefined ? {} : { 'if-range': validator }),
    });
    early = readEarly(res.body, earlyBytes);
    if (res.status === 416) {
      early.stop();
      await discard(res);
      const cr = readContentRange(header(res.headers['content-range']));
      if (cr === undefined || !('unsatisfied' in cr) || cr.complete !== have) {
        // Most often a local file longer than the server's (another file of that name): say both sizes.
        const sizes = cr !== undefined && 'unsatisfied' in cr ? `${path} has ${have} bytes, the server's file ${cr.complete}` : `${path} is not the whole file`;
        const detail = `416 for bytes=${have}- of ${res.url}: ${sizes}`;
        throw new GatewayError('GATEWAY_GET_BAD_ANSWER', { detail, cause: new GetFailure('ERR_GET_RANGE', detail) });
      }
      o.onEvent?.({ type: 'start', mode: 'plain', reason: 'already complete', name: basename(path!), path, totalBytes: have, resumedBytes: have });
      return plainResult(path, have, 0, false, 'complete', started);
    }
    if (res.status === 206) {
      const cr = readContentRange(header(res.headers['content-range']));
      if (cr === undefined || 'unsatisfied' in cr || cr.first !== have) {
        early.stop();
        await discard(res);
        throw new GatewayError('GATEWAY_GET_BAD_ANSWER', { detail: `asked for bytes=${have}-, got Content-Range ${String(res.headers['content-range'])}` });
      }
      offset = have;
    } else if (res.status === 200 && validator !== undefined && validatorOf(res.headers) === validator && Number(header(res.headers['content-length'])) === have) {
      // The whole file, its length what is on disk and its validator the one If-Range named: a
      // server that ignores ranges (and If-Range with them), the file unchanged. curl takes a 200
      // of the length it has for "already downloaded" (exit 0); a changed file's 200 (another
      // validator, or none to tell) starts over below.
      early.stop();
      await discard(res);
      o.onEvent?.({ type: 'start', mode: 'plain', reason: 'already complete', name: basename(path!), path, totalBytes: have, resumedBytes: have });
      return plainResult(path, have, 0, false, 'complete', started);
    } else {
      // Said in the normal output too (wget says it; curl fails with 33): the user asked to continue.
      o.onEvent?.({ type: 'warning', message: 'the server sent the whole file (no range, or the file changed): starting over', notable: true });
    }
  }
  const length = Number(header(res.headers['content-length']));
  const totalBytes = Number.isSafeInteger(length) ? offset + length : undefined;
  const name = path === undefined ? (nameFromUrl(o.url) ?? 'index.html') : basename(path);
  if (path !== undefined) {
    try {
      await refuseFolder(path);
    } catch (err) {
      early.stop();
      await discard(res);
      throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: path, cause: err });
    }
  }
  o.onEvent?.({ type: 'start', mode: 'plain', reason, name, path, totalBytes, resumedBytes: offset });

  const expected = sha256Of(res.headers['repr-digest']);
  let hash: Hash | undefined;
  // Repr-Digest is the whole file's: checked when the bytes are the whole file (a 200, or our own
  // continuation's 206 after the bytes on disk), not a range the caller asked for.
  if (expected !== undefined && (path !== undefined || offset === 0) && (res.status === 200 || offset > 0)) {
    hash = createHash('sha256');
    if (offset > 0) for await (const chunk of createReadStream(path!, { start: 0, end: offset - 1 })) hash.update(chunk as Buffer);
  }

  let file: WriteStream | undefined;
  let fileError: unknown;
  const got = { bytes: 0 };
  // The rate is sampled with the progress, not per chunk: the body loop only counts.
  const meter = new SampledRate();
  meter.sample(0, Date.now()); // the body's start: the first progress line has a rate to show
  const report = (): void => o.onEvent?.({ type: 'progress', doneBytes: offset + got.bytes, totalBytes, rateBytesPerSec: meter.sample(got.bytes, Date.now()), uploadRateBytesPerSec: 0, peers: undefined });
  // A body that stops coming fails, as a swarm that gives nothing does (wget's read timeout), instead of hanging for ever.
  const stallMs = o.stallMs ?? DEFAULT_STALL_MS;
  let lastBytes = 0;
  let lastMoveMs = Date.now();
  const timer = setInterval(() => {
    report();
    const now = Date.now();
    // Paused, the body waits for the output (a slow reader of stdout, a slow disk), not for the server.
    if (got.bytes !== lastBytes || res.body.isPaused()) {
      lastBytes = got.bytes;
      lastMoveMs = now;
    } else if (now - lastMoveMs > stallMs) {
      res.body.destroy(new GetFailure('ETIMEDOUT', `no byte of the body for ${Math.round((now - lastMoveMs) / 1000)} s`));
    }
  }, PROGRESS_EVERY_MS);
  try {
    if (path !== undefined) {
      await makeFolders(dirname(path));
      // Writes are not awaited one by one: the stream queues them (writev) up to its high-water mark.
      // A name the server chose is opened exclusively (O_EXCL, as curl's -J): nothing that came
      // under it since the check (a file, a planted symlink) is replaced or written through.
      file = createWriteStream(path, { flags: offset > 0 ? 'a' : named?.exclusive === true ? 'wx' : 'w', highWaterMark: WRITE_BUFFER_BYTES });
      file.on('error', (err) => (fileError ??= err));
      await once(file, 'open');
    }
    const sink = file ?? (o.output.kind === 'stream' ? o.output.stream : undefined);
    await copyBody(res.body, early, sink, hash, got, () => fileError, o.limitRate);
  } catch (err) {
    if (path !== undefined && (fileError !== undefined || file === undefined)) {
      const cause = fileError ?? err;
      if (named?.exclusive === true && (cause as { code?: unknown }).code === 'EEXIST') throw outputExists(path);
      throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: path, cause });
    }
    if (o.signal?.aborted === true) {
      await closeFile(file);
      return plainResult(path, totalBytes, got.bytes, false, 'interrupted', started);
    }
    if (err instanceof TorrenttpError) throw err;
    // The body failed (cut, stalled, malformed, reset): what came is on disk for `-C -`. A
    // connection reset under it stays what it is (curl's 56); a close before its end is partial (18).
    const of = totalBytes === undefined ? '' : ` of ${totalBytes}`;
    const again = path === undefined ? '' : ' (run again with -C - to continue)';
    const detail = `${res.url} ended after ${offset + got.bytes}${of} bytes: ${causeText(err)}${again}`;
    throw new GatewayError('GATEWAY_GET_BAD_ANSWER', { detail, cause: err instanceof GetFailure || isConnectionReset(err) ? err : new GetFailure('ERR_GET_PARTIAL', detail, { cause: err }) });
  } finally {
    clearInterval(timer);
    // Everything received is on disk before we return, also when interrupted: `-C -` continues from the file's size.
    await closeFile(file);
  }
  if (fileError !== undefined) throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: path, cause: fileError });
  report();
  if (totalBytes !== undefined && offset + got.bytes !== totalBytes) {
    const detail = `${res.url} ended after ${offset + got.bytes} of ${totalBytes} bytes (run again with -C - to continue)`;
    throw new GatewayError('GATEWAY_GET_BAD_ANSWER', { detail, cause: new GetFailure('ERR_GET_PARTIAL', detail) });
  }
  if (hash !== undefined && !hash.digest().equals(Buffer.from(expected!))) {
    throw new GatewayError('GATEWAY_GET_DIGEST_MISMATCH', { detail: `${path ?? 'stdout'} (Repr-Digest sha-256 of ${res.url})` });
  }
  return plainResult(path, offset + got.bytes, got.bytes, hash !== undefined, 'complete', started, name);
}

/**
 * The file of a plain download named by nobody on the command line: the URL's last segment (else
 * `index.html`, wget's), or with `-J` the answer's `Content-Disposition` name, which the server
 * chose: then, as curl's `-J`, it never replaces what is there (`GATEWAY_GET_OUTPUT_EXISTS`).
 */
async function namedPath(o: GetUrlOptions, dir: string, res: OpenResponse, early: EarlyBody): Promise<{ path: string; exclusive: boolean }> {
  const chosen = o.remoteHeaderName === true ? dispositionName(res.headers['content-disposition']) : undefined;
  if (chosen === undefined) return { path: join(dir, nameFromUrl(o.url) ?? 'index.html'), exclusive: false };
  const path = join(dir, chosen);
  if (await lstat(path).then(() => true, () => false)) {
    early.stop();
    await discard(res);
    throw outputExists(path);
  }
  return { path, exclusive: true };
}

function outputExists(path: string): GatewayError {
  return new GatewayError('GATEWAY_GET_OUTPUT_EXISTS', { detail: `${path} (the name the server chose, Content-Disposition; -J): give -o` });
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

async function closeFile(file: WriteStream | undefined): Promise<void> {
  if (file === undefined || file.closed) return;
  const closed = once(file, 'close').catch(() => undefined);
  file.end();
  await closed;
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** What a resume's If-Range names: the answer's strong ETag, else its Last-Modified. */
function validatorOf(h: OpenResponse['headers']): string | undefined {
  return strongEtag(h.etag) ?? header(h['last-modified']);
}

/** Only a strong ETag may go in If-Range (RFC 9110 §13.1.5). */
function strongEtag(v: string | string[] | undefined): string | undefined {
  const e = header(v);
  return e !== undefined && e.startsWith('"') ? e : undefined;
}

/**
 * `sha-256=:<base64>:` from a `Repr-Digest` (RFC 9530) field, if present and well formed: 32
 * bytes in canonical base64 (44 characters, no stray bits in the last one).
 */
function sha256Of(v: string | string[] | undefined): Uint8Array | undefined {
  const m = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/]{43}=):/i.exec(header(v) ?? '');
  if (m === null) return undefined;
  const d = Buffer.from(m[1]!, 'base64');
  return d.length === 32 && d.toString('base64') === m[1] ? d : undefined;
}

/** A body read into memory until its output is open (`readEarly`). */
interface EarlyBody {
  /** Stops reading (the body paused) and hands over what came. */
  take(): Buffer[];
  /** Stops reading, for a body that is dropped. */
  stop(): void;
}

/**
 * `body` read from now into memory, until `take`: node destroys an answer whose connection
 * closes before its end (`aborted`, or a reset) and with it whatever it had buffered, so the
 * bytes that came with the head and the server's close (a short body in the head's packet)
 * were lost while the output file was looked at and opened. Once `maxBytes` are held the body
 * waits, paused, as for a slow disk. An error is left to the body's `errored` (`copyBody` reads
 * it), not thrown.
 */
function readEarly(body: Readable, maxBytes: number): EarlyBody {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    bytes += chunk.length;
    if (bytes >= maxBytes) body.pause();
  };
  body.on('error', () => undefined);
  body.on('data', onData);
  const stop = (): void => {
    body.pause();
    body.off('data', onData);
  };
  return {
    take: () => {
      stop();
      return chunks.splice(0);
    },
    stop,
  };
}

/** `--limit-rate`: the body is paused when it is ahead of the rate by more than this. */
const LIMIT_SLACK_MS = 50;

/**
 * The body to `sink` (`early`'s bytes first) by 'data' events, pausing while the sink is full: no promise per chunk (an
 * async iterator costs one per chunk), no copy (undici's chunks go to write() as they are).
 * Counts into `got` as it goes; rejects with the body's error or the sink's. `limit` (bytes/s,
 * `--limit-rate`): paused while the bytes so far are ahead of it (curl's average, from the start
 * of the body).
 */
function copyBody(body: Readable, early: EarlyBody, sink: Writable | undefined, hash: Hash | undefined, got: { bytes: number }, sinkError: () => unknown, limit?: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    // Pauses held (the sink full, the rate ahead): the body resumes when the last is let go.
    let holds = 0;
    const hold = (): void => {
      if (holds++ === 0) body.pause();
    };
    const release = (): void => {
      if (--holds === 0 && !settled) body.resume();
    };
    const startMs = performance.now();
    let throttle: NodeJS.Timeout | undefined;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(throttle);
      body.off('data', onData);
      body.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      const err = sinkError();
      if (err !== undefined) return fail(err);
      got.bytes += chunk.length;
      hash?.update(chunk);
      if (sink !== undefined && !sink.write(chunk)) {
        hold();
        drained(sink).then(release, fail);
      }
      if (limit !== undefined && throttle === undefined) {
        const aheadMs = (got.bytes / limit) * 1000 - (performance.now() - startMs);
        if (aheadMs > LIMIT_SLACK_MS) {
          hold();
          throttle = setTimeout(() => {
            throttle = undefined;
            release();
          }, aheadMs);
        }
      }
    };
    // What came before the output was open first, then the body as it comes (unless the sink is full already).
    for (const chunk of early.take()) onData(chunk);
    if (settled) return;
    body.on('data', onData);
    if (holds === 0) body.resume();
    // `finished`, not 'error' and 'end': a body that failed before we listened (undici destroys
    // it at a malformed chunk while the output file opens) emits neither again, and waiting for
    // them hung the get for ever, deaf to Ctrl-C.
    finished(body, (err) => {
      if (err !== undefined && err !== null) return fail(body.errored ?? err);
      if (settled) return;
      settled = true;
      clearTimeout(throttle);
      resolve();
    });
  });
}

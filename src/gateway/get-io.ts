import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { sep } from 'node:path';
import type { Writable } from 'node:stream';
import { NAME_MAX_BYTES } from '../storage/folders.js';
import { GatewayError } from './errors.js';
import { TLS_HANDSHAKE_FAILED } from '../transport/http-fetch.js';

/** `GetUrlOptions.stallMs`'s default: no answer, no plain body byte, or no swarm byte for this long fails the get. */
export const DEFAULT_STALL_MS = 60_000;

/** What the plain and swarm halves of `getUrl` share. */
export const PROGRESS_EVERY_MS = 250;

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

/**
 * The file name a URL gives a swarm download of `metainfo`: `nameFromUrl`, unless the URL names
 * the torrent rather than its file: a torrent of several files, the info-hash of a TorrentTTP
 * torrent URL, a `….torrent` file (`get http://host/x.iso.torrent` downloads x.iso, as aria2
 * does; writing the payload under the `.torrent`'s name would be neither curl's nor aria2's).
 * Undefined then: the torrent's name is used.
 */
export function swarmNameFromUrl(url: string, metainfo: { readonly multiFile: boolean; readonly infoHash: string }): string | undefined {
  const fromUrl = metainfo.multiFile ? undefined : nameFromUrl(url);
  return fromUrl === undefined || fromUrl.toLowerCase() === metainfo.infoHash || /\.torrent$/i.test(fromUrl) ? undefined : fromUrl;
}

/**
 * The partial file of a swarm download saved as `name`: `name.part`; when that is longer than
 * NAME_MAX_BYTES (a name of 251-255 bytes, which curl and wget save), the name cut at a character
 * boundary, `~` and 8 hex digits of its SHA-1, then `.part`: the same for the same name (`-C -`
 * finds it again), not one `.part` for two long names that start alike. Before, `name.part`
 * failed its open (ENAMETOOLONG, exit 23) where curl saved the file.
 */
export function partNameOf(name: string): string {
  const part = `${name}.part`;
  // A name too long itself keeps `.part`: its open fails (ENAMETOOLONG) before the download,
  // not the rename after it.
  if (Buffer.byteLength(part) <= NAME_MAX_BYTES || Buffer.byteLength(name) > NAME_MAX_BYTES) return part;
  const tail = `~${createHash('sha1').update(name).digest('hex').slice(0, 8)}.part`;
  let cut = '';
  let bytes = Buffer.byteLength(tail);
  for (const ch of name) {
    bytes += Buffer.byteLength(ch);
    if (bytes > NAME_MAX_BYTES) break;
    cut += ch;
  }
  return cut + tail;
}

/**
 * A folder where the file goes (`-o DIR`) fails the get before its start line, with the error the
 * file's open would give (EISDIR: exit 23), rather than after the answer (plain) or the whole
 * download (a swarm's rename). So does a path that ends with a separator (`-o new/`), which names a
 * folder whether or not it exists (curl's and wget's open fail on it too): before, the file was
 * saved as `new`, the name without its slash.
 */
export async function refuseFolder(path: string): Promise<void> {
  if (path.endsWith('/') || path.endsWith(sep) || (await stat(path).catch(() => undefined))?.isDirectory() === true) {
    throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${path}'`), { code: 'EISDIR', syscall: 'open', path });
  }
}

export async function sizeOf(path: string): Promise<number> {
  try {
    const st = await stat(path);
    return st.isFile() ? st.size : 0;
  } catch {
    return 0;
  }
}

export async function drained(out: Writable): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([once(out, 'drain', { signal: ac.signal }), once(out, 'close', { signal: ac.signal }).then(() => {
      throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: 'the output stream closed' });
    })]);
  } finally {
    ac.abort();
  }
}

/** Bytes per second over the last few progress samples (a rate for the bar, not for accounting). */
export class SampledRate {
  private readonly samples: { readonly bytes: number; readonly ms: number }[] = [];

  constructor(private readonly windowMs = 5000) {}

  /** Records the running total `bytes` at `nowMs` and returns the rate over the window. */
  sample(bytes: number, nowMs: number): number {
    this.samples.push({ bytes, ms: nowMs });
    while (this.samples.length > 2 && nowMs - this.samples[0]!.ms > this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const sec = (nowMs - first.ms) / 1000;
    return sec <= 0 ? 0 : (bytes - first.bytes) / sec;
  }
}

/**
 * Why a get failed, where the code of its `GatewayError` does not say it: that error's `cause`.
 * `get`'s exit code (cli/get-exit.ts) and `--retry` (get-retry.ts) read it, as they read node's
 * own `code`s (`ECONNREFUSED`, `ENOTFOUND`) further down the chain. The codes stay inside a get:
 * the error a user sees keeps its `GATEWAY_GET_*` code.
 * - `ETIMEDOUT`: no answer, no byte of the body or none from the swarm within the get's stall
 *   time, or no connection within `--connect-timeout` (node's own code for a connect timeout).
 * - `ERR_GET_PARTIAL`: the body ended before its length (curl's "partial file").
 * - `ERR_GET_REDIRECTS`: more redirects than the get follows.
 * - `ERR_GET_STATUS`: an HTTP error status, with its `Retry-After`.
 * - `ERR_GET_EMPTY_REPLY`: the server closed the connection without a byte of answer (node's
 *   `socket hang up`; curl's "empty reply from server"), as opposed to a reset one.
 * - `ERR_GET_RANGE`: `-C -` asked for the rest of the file and the server refused the range (a
 *   `416` for a file that is not whole on disk; curl's "HTTP server doesn't seem to support
 *   byte ranges").
 */
export type GetFailureCode = 'ETIMEDOUT' | 'ERR_GET_PARTIAL' | 'ERR_GET_REDIRECTS' | 'ERR_GET_STATUS' | 'ERR_GET_EMPTY_REPLY' | 'ERR_GET_RANGE';

export class GetFailure extends Error {
  readonly code: GetFailureCode;
  readonly status: number | undefined;
  readonly retryAfter: string | undefined;

  constructor(code: GetFailureCode, message: string, opts: { readonly status?: number; readonly retryAfter?: string; readonly cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GetFailure';
    this.code = code;
    this.status = opts.status;
    this.retryAfter = opts.retryAfter;
  }
}

/**
 * A code of a failed TLS handshake: node's and OpenSSL's (`ERR_SSL_*`, `ERR_TLS_*`, `EPROTO`) and a
 * handshake that a reset or close ended (`TLS_HANDSHAKE_FAILED`, its `ECONNRESET` under it). curl's
 * 35 (cli/get-exit.ts, after its certificate row's 60), which `--retry` never retries (get-retry.ts).
 */
export const TLS_FAILURE = new RegExp(`^(?:${TLS_HANDSHAKE_FAILED}|EPROTO)$|^ERR_SSL_|^ERR_TLS_`);

/** The `code`s down `err`'s cause chain (at most 6 deep), outermost first: what a get's failure is classified by. */
export function causeCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (let e = err as { code?: unknown; cause?: unknown } | null | undefined, depth = 0; e !== null && e !== undefined && depth < 6; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string') codes.push(e.code);
  }
  return codes;
}

/**
 * Whether `err` is the connection reset under a body (`read ECONNRESET`, a write's `EPIPE`), as
 * opposed to node's `aborted` for a connection that closed before the body's end (both coded
 * `ECONNRESET`; only the reset names its `syscall`): curl's 56, not a partial file's 18.
 */
export function isConnectionReset(err: unknown): boolean {
  const e = err as { code?: unknown; syscall?: unknown } | null | undefined;
  return (e?.code === 'ECONNRESET' || e?.code === 'EPIPE') && typeof e.syscall === 'string';
}

/** The first `GetFailure` down `err`'s cause chain. */
export function getFailureOf(err: unknown): GetFailure | undefined {
  for (let e = err as { cause?: unknown } | null | undefined, depth = 0; e !== null && e !== undefined && depth < 6; e = e.cause as typeof e, depth++) {
    if (e instanceof GetFailure) return e;
  }
  return undefined;
}

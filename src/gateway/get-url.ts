import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Metainfo } from '../metainfo/index.js';
import { TorrenttpError } from '../errors/index.js';
import { GatewayError } from './errors.js';
import { ttpTorrentUrlInfoHash } from './media-type.js';
import { headersForAll } from './redirect-headers.js';
import { causeText, discard, negotiate, NodeAgents, requestOk, type Offer, type ResponseHead } from './negotiate-client.js';
import { retryDelayMs, sleep } from './get-retry.js';
import { plainGet } from './plain-get.js';

import { DEFAULT_STALL_MS, GetFailure, nameFromUrl, swarmNameFromUrl } from './get-io.js';

export { nameFromUrl };

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
  /** MSE/PE policy with wire peers (ClientOptions.encryption). Default 'off' when the URL and the torrent's (after redirects) are http:, else 'prefer' (swarm-get.ts `swarmEncryptionOf`). */
  readonly encryption?: 'prefer' | 'require' | 'off';
  /** Where temporary folders go; default the OS temp folder. */
  readonly tmpDir?: string;
  /** Aborting stops the download: the result is then `interrupted` (the partial file stays). */
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: GetEvent) => void;
  /** A swarm download or a plain body that receives no byte for this long fails, and so does a server whose answer does not come within it. Default 60 s. */
  readonly stallMs?: number;
  /** The web seed joins once the swarm has given nothing for this long. Default 1500 ms, 10 s when the server named its seed; 0: at once. */
  readonly webSeedFallbackMs?: number;
  /**
   * Alone in the swarm (the first tracker answer names only the seed the server named), stream
   * the file from the origin in one GET, every piece verified (lone-stream.ts). Default true;
   * false: the swarm's peers only (a test of the wire path).
   */
  readonly loneStream?: boolean;
  /** Most ms a finished swarm download keeps serving peers that still pull from it (swarm-get.ts `DEFAULT_LINGER_MS`); 0: leave at once. */
  readonly lingerMs?: number;
  /** Each connection of the negotiation and the plain body is made within this (curl's `--connect-timeout`), else the get fails (`ETIMEDOUT`). */
  readonly connectTimeoutMs?: number;
  /** Attempts after a transient failure (curl's `--retry`; get-retry.ts says which are, and how long each waits). Default 0. */
  readonly retry?: number;
  /**
   * Most bytes per second received (curl's `--limit-rate`): the plain body, and the swarm's
   * download (ClientOptions.downloadLimit: its peers, web seeds and HTTP peers together; no lone
   * stream, which reads the origin past the engine's limiter).
   */
  readonly limitRate?: number;
  /**
   * `HEAD` only (curl's `-I`): each response's head is told (`response` events), nothing is
   * written; the swarm is not asked for (no torrent's `Accept`), so `serve` answers with the
   * file's head, not its torrent's.
   */
  readonly head?: boolean;
  /**
   * Name a `named` output as the server does (curl's `-J`): a plain answer's `Content-Disposition`
   * file name (plain-get.ts `namedPath`), a swarm's torrent name; neither replaces what is there.
   */
  readonly remoteHeaderName?: boolean;
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
  /** `notable`: said in the normal output too (a peer banned for lying, a `-C -` the server made start over); the others are routine swarm trouble, shown under `--json`. */
  | { readonly type: 'warning'; readonly message: string; readonly notable?: boolean }
  | { readonly type: 'seeding' }
  /** Done, but peers are still pulling pieces from us: we stay up to `maxSeconds` for them. */
  | { readonly type: 'lingering'; readonly maxSeconds: number }
  /** Attempt `attempt` failed transiently (`--retry`): the next starts in `delayMs`; `left` retries are left, that one included (curl's count). */
  | { readonly type: 'retry'; readonly attempt: number; readonly left: number; readonly delayMs: number; readonly message: string }
  /** A response's head, before its body: each hop of a redirect, the torrent's answer, a resuming request (`-I`, `-D`, `-v`, `-w`). */
  | { readonly type: 'response'; readonly head: ResponseHead }
  /** Where a swarm download's bytes come from, as it changes: a lone stream from the origin, the swarm's peers and web seeds (`-v`). */
  | { readonly type: 'route'; readonly message: string };

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
  /** Payload bytes this run received: what the file got. */
  readonly downloadedBytes: number;
  /** A swarm's bytes received besides the payload: blocks that came twice (endgame), pieces that failed their hash. */
  readonly wastedBytes?: number;
  readonly sources: GetSources;
  readonly uploadedBytes: number;
  /** From the start to the end of the download (with `seed`, not the seeding after it). */
  readonly seconds: number;
  readonly infoHash?: string;
  /** The SHA-256 the server sent (`Repr-Digest`) was checked against the bytes. */
  readonly digestVerified?: boolean;
}

export async function getUrl(o: GetUrlOptions): Promise<GetResult> {
  const started = performance.now();
  let resume = o.resume === true;
  for (let attempt = 1; ; attempt++) {
    // What this attempt began writing: a retry continues it (`-C -`'s way: a plain file with
    // `Range` and `If-Range`, a swarm's `.part` hashed), rather than a file that was there before.
    let wrote = false;
    const onEvent = (e: GetEvent): void => {
      if (e.type === 'start') wrote = true;
      o.onEvent?.(e);
    };
    try {
      return await getOnce({ ...o, resume, onEvent }, started);
    } catch (err) {
      const left = (o.retry ?? 0) - attempt + 1;
      // A stream cannot take its bytes back: once it had its first, no retry.
      if (left <= 0 || o.signal?.aborted === true || (wrote && o.output.kind === 'stream')) throw err;
      const delayMs = retryDelayMs(err, attempt);
      if (delayMs === undefined) throw err;
      o.onEvent?.({ type: 'retry', attempt, left, delayMs, message: causeText(err) });
      if (!(await sleep(delayMs, o.signal))) return interrupted(o, started);
      resume ||= wrote && o.output.kind !== 'stream';
    }
  }
}

async function getOnce(o: GetUrlOptions, started: number): Promise<GetResult> {
  // node's own HTTP client, keep-alive, for the negotiation and the plain body: undici (the web
  // seed's and the trackers' client) is not compiled before the first byte.
  const agents = new NodeAgents(o.connectTimeoutMs);
  const onHead = o.onEvent === undefined ? undefined : (head: ResponseHead): void => o.onEvent?.({ type: 'response', head });
  try {
    if (o.head === true) return await headOnly(o, agents, onHead, started);
    // A server that takes the connection and never answers would hold the get for ever: its
    // answer (redirects and a torrent's body included) must come within `stallMs`.
    const answer = new AbortController();
    const stallMs = o.stallMs ?? DEFAULT_STALL_MS;
    const timer = setTimeout(() => answer.abort(), stallMs);
    // A Range of the caller's (`get -H 'Range: bytes=0-99'`, curl's -r) asks for those bytes, not
    // the file: plainly (the swarm would fetch and write the whole file).
    const ranged = o.plainOnly !== true && Object.keys(o.headers ?? {}).some((name) => name.toLowerCase() === 'range');
    let offer: Offer;
    try {
      offer = await negotiate(o.url, {
        agents,
        join: true,
        ...(onHead === undefined ? {} : { onHead }),
        signal: o.signal === undefined ? answer.signal : AbortSignal.any([o.signal, answer.signal]),
        ...(o.headers === undefined ? {} : { headers: o.headers }),
        ...(o.plainOnly === undefined && !ranged ? {} : { plainOnly: o.plainOnly === true || ranged }),
      });
    } catch (err) {
      if (answer.signal.aborted && o.signal?.aborted !== true) {
        const detail = `no answer from ${o.url} within ${Math.round(stallMs / 1000)} s`;
        throw new GatewayError('GATEWAY_GET_FAILED', { detail, cause: new GetFailure('ETIMEDOUT', detail) });
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (offer.kind === 'torrent') {
      // Several files have no one stream to write: said before anything is downloaded, not as a write failure.
      if (o.output.kind === 'stream' && offer.metainfo.multiFile) {
        throw new GatewayError('GATEWAY_GET_NOT_ONE_FILE', { detail: `${offer.metainfo.name} is a torrent of ${offer.metainfo.files.length} files (${offer.from}): give a folder with -o instead of stdout` });
      }
      // The engine (storage, wire, trackers) is compiled only for a swarm download: `--no-swarm` and
      // servers without torrents never pay for it.
      const output = await serverNamedOutput(o, offer.metainfo);
      const { swarmEncryptionOf, swarmGet } = await import('./swarm-get.js');
      const encryption = o.encryption ?? swarmEncryptionOf([o.url, offer.from]);
      // A TorrentTTP torrent URL is a peer too (`seed --http-port`, serve's /ttp/v1/), as `download URL` takes it:
      // its metainfo's trackers may not list it, or list nobody.
      const ttpPeer = ttpTorrentUrlInfoHash(offer.from) === offer.metainfo.infoHash && !offer.peers.includes(offer.from) ? [offer.from] : [];
      // The user's -H go to the torrent's web seeds too (the lone stream): credentials only to the URL's own origin.
      const headers = headersForAll(o.headers, o.url, offer.metainfo.urlList);
      // A rate limit is the engine's: the lone stream would read the origin past it.
      const limited = o.limitRate === undefined ? {} : { loneStream: false };
      return await swarmGet({ ...o, ...limited, output, encryption, ...(headers === undefined ? {} : { headers }) }, offer.metainfo, offer.via, started, [...offer.peers, ...ttpPeer], offer.swarmPeers).catch((err: unknown) => {
        // A file system call on the output that failed untyped (preparing `FILE.part` in a folder we
        // may not write): the output's error, as the plain path says it (exit 23).
        const e = err as NodeJS.ErrnoException;
        if (!(err instanceof TorrenttpError) && typeof e?.syscall === 'string' && typeof e.path === 'string') throw new GatewayError('GATEWAY_GET_OUTPUT', { detail: e.path, cause: err });
        throw err;
      });
    }
    return await plainGet(o, offer.response, ranged ? 'a byte range was asked for (Range)' : offer.reason, agents, started);
  } catch (err) {
    if (o.signal?.aborted === true && !(err instanceof TorrenttpError)) return interrupted(o, started);
    throw err;
  } finally {
    agents.destroy();
  }
}

/**
 * The output of a swarm download that the user did not name and the URL does not name either (a
 * torrent of several files, a URL without a last segment, a TorrentTTP torrent URL, a `.torrent` file's URL): the
 * torrent's name, which the server chose. Such a name never starts with a dot (`.ssh`,
 * `.bashrc`: the dots are dropped), and never replaces or fills what is already there unless
 * `resume` says to continue it, as curl's `-J` refuses to overwrite (with `-J`, always the torrent's name): `get URL` run in the home
 * folder must not write `~/.ssh/authorized_keys` because a server said so (wget's CVE-2016-4971
 * was a name taken from a redirect). Any other output: as it is.
 */
async function serverNamedOutput(o: GetUrlOptions, metainfo: Metainfo): Promise<GetOutput> {
  if (o.output.kind !== 'named') return o.output;
  if (o.remoteHeaderName !== true && swarmNameFromUrl(o.url, metainfo) !== undefined) return o.output;
  const name = metainfo.name.replace(/^\.+/, '') || metainfo.infoHash;
  const path = join(o.output.dir, name);
  if (o.resume !== true && (await lstat(path).then(() => true, () => false))) {
    throw new GatewayError('GATEWAY_GET_OUTPUT_EXISTS', { detail: `${path} (the torrent's name, chosen by the server): give -o, or -C - to continue it` });
  }
  return { kind: 'file', path };
}

/** `-I`: one HEAD (redirects followed), its body-less answer dropped; an error status fails as a GET's does. */
async function headOnly(o: GetUrlOptions, agents: NodeAgents, onHead: ((head: ResponseHead) => void) | undefined, started: number): Promise<GetResult> {
  const res = await requestOk(o.url, { agents, method: 'HEAD', ...(o.headers === undefined ? {} : { headers: o.headers }), ...(o.signal === undefined ? {} : { signal: o.signal }), ...(onHead === undefined ? {} : { onHead }) }, o.headers?.accept === undefined ? { accept: '*/*' } : {});
  await discard(res);
  const length = Number(res.headers['content-length']);
  const none = { plain: 0, wire: 0, webseed: 0, http: 0 };
  return { mode: 'plain', status: 'complete', name: nameFromUrl(o.url) ?? '', path: undefined, totalBytes: Number.isSafeInteger(length) ? length : undefined, downloadedBytes: 0, sources: none, uploadedBytes: 0, seconds: (performance.now() - started) / 1000 };
}

function interrupted(o: GetUrlOptions, started: number): GetResult {
  const none = { plain: 0, wire: 0, webseed: 0, http: 0 };
  return { mode: 'plain', status: 'interrupted', name: '', path: o.output.kind === 'file' ? o.output.path : undefined, totalBytes: undefined, downloadedBytes: 0, sources: none, uploadedBytes: 0, seconds: (performance.now() - started) / 1000 };
}

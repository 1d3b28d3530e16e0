import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { clip, TorrenttpError } from '../errors/index.js';
import { ttpTorrentUrlInfoHash } from '../metainfo/media-type.js';
import { MAX_METAINFO_BYTES, parseMagnet, parseMetainfoJson, parseTorrent, type Magnet, type Metainfo } from '../metainfo/index.js';

/**
 * What a user may name on the command line: a .torrent, a JSON metainfo document or a magnet URI.
 * `peerUrl`: the input was a TorrentTTP torrent URL (`…/torrents/<40 hex>`), a peer to download from.
 */
export type LoadedInput =
  | { readonly kind: 'torrent' | 'json'; readonly metainfo: Metainfo; readonly peerUrl?: string }
  | { readonly kind: 'magnet'; readonly magnet: Magnet };

/** Largest input we read, from a file or a URL (the metainfo layer's one limit). */
export const MAX_INPUT_BYTES = MAX_METAINFO_BYTES;

/** Fetching a torrent by URL: redirects followed (curl -L, aria2 alike) and the whole fetch bounded. */
const FETCH = { maxRedirections: 5, timeoutMs: 30_000 } as const;

export interface LoadOptions {
  /** Byte limit, for tests; default MAX_INPUT_BYTES. */
  readonly maxBytes?: number;
}

export async function loadInput(input: string, cwd: string, opts: LoadOptions = {}): Promise<LoadedInput> {
  if (/^magnet:/i.test(input)) return { kind: 'magnet', magnet: parseMagnet(input) };
  // An empty argument ("$TORRENT" unset) would resolve to the current folder: say what it is.
  if (input.trim() === '') throw new TorrenttpError('CLI_UNKNOWN_INPUT', { detail: 'an empty argument (give a .torrent file, a magnet URI or a URL)' });
  const maxBytes = opts.maxBytes ?? MAX_INPUT_BYTES;
  const isUrl = /^https?:\/\//i.test(input);
  const where = isUrl ? input : resolve(cwd, input);
  const bytes = isUrl ? await fetchInput(input, maxBytes) : await readInput(where, maxBytes);
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  let loaded: { kind: 'torrent' | 'json'; metainfo: Metainfo };
  if (bytes[i] === 0x7b) {
    const text = new TextDecoder().decode(bytes);
    // `curl -H 'Accept: application/x-bittorrent' -o x.torrent URL` while serve hashes the file
    // saves its 503 problem document (RFC 9457): say so, not "metainfo version undefined".
    const problem = problemOf(text);
    if (problem !== undefined) throw new TorrenttpError('CLI_UNKNOWN_INPUT', { detail: `${where} is an HTTP error answer (${problem}), not a torrent` });
    loaded = { kind: 'json', metainfo: parseMetainfoJson(text) };
  }
  else if (bytes[0] === 0x64) loaded = { kind: 'torrent', metainfo: parseTorrent(bytes) };
  else throw new TorrenttpError('CLI_UNKNOWN_INPUT', { detail: where });
  const ttp = isUrl ? ttpTorrentUrlInfoHash(input) : undefined;
  if (ttp === undefined) return loaded;
  // §4: the metainfo a peer sends must be the torrent its URL names (parsing checked info → infoHash).
  if (loaded.metainfo.infoHash !== ttp) {
    throw new TorrenttpError('CLI_FETCH_FAILED', { detail: `${input}: the metainfo served is for ${loaded.metainfo.infoHash}, not the info-hash in the URL` });
  }
  return { ...loaded, peerUrl: input };
}

/** An RFC 9457 problem document's status, title and code (`503 …; retry later [GATEWAY_HASHING]`), or undefined. */
function problemOf(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined; // parseMetainfoJson says what is wrong
  }
  if (typeof doc !== 'object' || doc === null || 'info' in doc) return undefined;
  const { status, title, code } = doc as { status?: unknown; title?: unknown; code?: unknown };
  if (typeof status !== 'number' || typeof title !== 'string') return undefined;
  return clip(`${status} ${title}${typeof code === 'string' ? ` [${code}]` : ''}`);
}

async function readCounted(path: string, maxBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    bytes += (chunk as Buffer).length;
    if (bytes > maxBytes) throw new TorrenttpError('CLI_UNKNOWN_INPUT', { detail: `${path} is larger than any torrent` });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readInput(path: string, maxBytes: number): Promise<Uint8Array> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) {
      throw new TorrenttpError('CLI_UNKNOWN_INPUT', { detail: `${path} is a folder (to make a torrent of it: torrenttp create ${path})` });
    }
    if (st.size > maxBytes) throw new TorrenttpError('CLI_UNKNOWN_INPUT', { detail: `${path} is larger than any torrent` });
    // A pipe or device has no size to check first (`info <(curl …)`, `/dev/stdin`; `/dev/zero`
    // never ends): counted as it is read.
    if (!st.isFile()) return await readCounted(path, maxBytes);
    return await readFile(path);
  } catch (cause) {
    if (cause instanceof TorrenttpError) throw cause;
    const code = (cause as { code?: string }).code;
    if (code === 'ENOENT') throw new TorrenttpError('CLI_INPUT_NOT_FOUND', { detail: path, cause });
    // A system error is said by its code, in words where the CLI has them (`: file name too long
    // (ENAMETOOLONG)`); node's message would say the path a second time.
    const errno = typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
    throw new TorrenttpError('CLI_INPUT_UNREADABLE', { detail: errno ? path : `${path}: ${(cause as Error).message}`, cause });
  }
}

/**
 * GETs a torrent with node's own HTTP client (`nodeGet`: no undici, whose whole package, loaded
 * for this one GET, was ~30 MiB of a download's peak RSS; interim answers are node's to skip):
 * redirects followed (at most `FETCH.maxRedirections`, http and https only), status 200, at most
 * `maxBytes` (by Content-Length first, then counted), within the time limit.
 */
async function fetchInput(url: string, maxBytes: number): Promise<Uint8Array> {
  const { nodeGet } = await import('../transport/http-fetch.js');
  const fail = (detail: string, cause?: unknown) => new TorrenttpError('CLI_FETCH_FAILED', { detail: `${url}: ${detail}`, ...(cause === undefined ? {} : { cause }) });
  const signal = AbortSignal.timeout(FETCH.timeoutMs);
  let at = new URL(url);
  try {
    for (let hop = 0; ; hop++) {
      const res = await nodeGet(at, { signal, headers: { accept: 'application/x-bittorrent, application/json;q=0.9, */*;q=0.1' } });
      try {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if ([301, 302, 303, 307, 308].includes(status) && location !== undefined) {
          if (hop >= FETCH.maxRedirections) throw fail(`more than ${FETCH.maxRedirections} redirects`);
          at = new URL(location, at);
          if (at.protocol !== 'http:' && at.protocol !== 'https:') throw fail(`redirected to ${at.protocol} URL`);
          continue;
        }
        if (status !== 200) throw fail(`HTTP ${status}`);
        const declared = Number(res.headers['content-length'] ?? Number.NaN);
        if (declared > maxBytes) throw fail(`${declared} bytes is larger than any torrent (limit ${maxBytes})`);
        const chunks: Uint8Array[] = [];
        let total = 0;
        for await (const chunk of res as AsyncIterable<Uint8Array>) {
          total += chunk.length;
          if (total > maxBytes) throw fail(`more than ${maxBytes} bytes: larger than any torrent`);
          chunks.push(chunk);
        }
        return Buffer.concat(chunks, total);
      } finally {
        // A redirect's, refused or oversized body is not read to its end: dropped with its connection.
        res.on('error', () => undefined).destroy();
      }
    }
  } catch (err) {
    if (err instanceof TorrenttpError) throw err;
    throw fail((err as Error).message, err);
  }
}

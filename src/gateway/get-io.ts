import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { GatewayError } from './errors.js';

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

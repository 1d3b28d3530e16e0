import type { ServerResponse } from 'node:http';
import { TokenBucket } from '../engine/index.js';

/**
 * `serve --max-upload-rate`: one token bucket for every body byte serve sends, so the server's
 * uplink behaves as one link of that rate. The same bucket is
 * - the seed's upload limiter (`ClientOptions.uploadLimiter`): its wire peers' blocks and its
 *   TorrentTTP piece responses (`Torrent.lease`, 429 with `Retry-After` when spent), and
 * - consulted by the plain path (`sendFileRange`, the in-memory small files): plain downloads and
 *   web-seed ranges wait for tokens before each chunk is read.
 * Headers, the status page, torrents and tracker answers are not counted (a few KiB).
 *
 * Bursts: at most `burstSec` of the rate (default half a second) builds up while idle. Half a
 * second, not the engine's default second: a link has no credit to spend, yet the seed's wire
 * queue retries a spent bucket only on the client's 250 ms tick, and a burst shorter than two
 * ticks would leave it idle between them (the cap would then undercut its own rate).
 */
export const DEFAULT_CAP_BURST_SEC = 0.5;

export interface UploadCapOptions {
  /** Clock in ms; must be the engine client's (`Date.now`, the default) when the bucket is shared with one. */
  readonly now?: () => number;
  /** Runs `fn` after `ms`; returns a cancel. Default `setTimeout`. Tests drive it by hand. */
  readonly after?: (ms: number, fn: () => void) => () => void;
  readonly burstSec?: number;
}

export class UploadCap {
  readonly bucket: TokenBucket;
  readonly now: () => number;
  private readonly after: (ms: number, fn: () => void) => () => void;

  /** `bytesPerSec` > 0. */
  constructor(readonly bytesPerSec: number, opts: UploadCapOptions = {}) {
    if (!(bytesPerSec > 0) || !Number.isFinite(bytesPerSec)) throw new RangeError(`upload cap ${bytesPerSec} is not a positive rate`);
    this.now = opts.now ?? Date.now;
    this.after =
      opts.after ??
      ((ms, fn) => {
        const t = setTimeout(fn, ms);
        return () => clearTimeout(t);
      });
    this.bucket = new TokenBucket(bytesPerSec, this.now(), Math.max(bytesPerSec * (opts.burstSec ?? DEFAULT_CAP_BURST_SEC), 256 * 1024));
  }

  /**
   * `bytes` may go now: taken (the bucket may go into debt, a chunk is never split) and true; or
   * false, and `retry` runs once the bucket has refilled (unless the returned cancel ran first).
   */
  admit(bytes: number, retry: () => void): { ok: true } | { ok: false; cancel: () => void } {
    const now = this.now();
    const wait = this.bucket.waitMs(now);
    if (wait > 0) return { ok: false, cancel: this.after(wait, retry) };
    this.bucket.take(bytes, now);
    return { ok: true };
  }

  /** Runs `send` once `bytes` may go; never if `res` closes first. */
  whenAdmitted(bytes: number, res: ServerResponse, send: () => void): void {
    let cancel: (() => void) | undefined;
    const onClose = (): void => cancel?.();
    const attempt = (): void => {
      const a = this.admit(bytes, attempt);
      if (a.ok) {
        res.off('close', onClose);
        send();
      } else cancel = a.cancel;
    };
    res.once('close', onClose);
    attempt();
  }
}

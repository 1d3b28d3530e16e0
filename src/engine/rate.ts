/**
 * Rates and limits, on an injected clock (ms). No timers here: callers ask.
 */

/** Bytes per second over a sliding window of one-second buckets (default 5 s, like libtorrent's stat window). */
export class RateMeter {
  private readonly buckets: Float64Array;
  private headSec = 0;
  private total = 0;
  private firstMs: number | undefined;

  constructor(private readonly windowSec = 5) {
    this.buckets = new Float64Array(windowSec);
  }

  add(bytes: number, nowMs: number): void {
    this.firstMs ??= nowMs;
    this.advance(nowMs);
    this.buckets[this.headSec % this.windowSec]! += bytes;
    this.total += bytes;
  }

  /** Bytes per second over the window. */
  rate(nowMs: number): number {
    this.advance(nowMs);
    let sum = 0;
    for (const b of this.buckets) sum += b;
    // The current bucket is partly filled: divide by the elapsed part of the window, or by the
    // meter's age when it is younger than the window (at least one second, so a first burst
    // does not read as an absurd rate).
    const elapsed = Math.min(this.windowSec - 1 + ((nowMs / 1000) % 1), (nowMs - (this.firstMs ?? nowMs)) / 1000);
    return sum / Math.max(elapsed, 1);
  }

  get totalBytes(): number {
    return this.total;
  }

  private advance(nowMs: number): void {
    const sec = Math.floor(nowMs / 1000);
    if (sec <= this.headSec) return;
    const steps = Math.min(sec - this.headSec, this.windowSec);
    for (let i = 1; i <= steps; i++) this.buckets[(this.headSec + i) % this.windowSec] = 0;
    this.headSec = sec;
  }
}

/**
 * Token bucket for rate limits: `rate` bytes per second, bursts up to `burstBytes`. `take` may
 * go into debt (a block is never split); `waitMs` says how long until the bucket is positive.
 * It starts full, or with `initialTokens`.
 */
export class TokenBucket {
  private tokens: number;
  /** Undefined until the first use, for a bucket whose clock starts then (`fromFirstUse`). */
  private lastMs: number | undefined;

  constructor(
    public rate: number,
    nowMs: number | undefined,
    private readonly burstBytes = Math.max(rate, 256 * 1024),
    initialTokens = burstBytes,
  ) {
    this.tokens = Math.min(initialTokens, burstBytes);
    this.lastMs = nowMs;
  }

  /**
   * Empty, its clock started by its first use: the rate holds from the transfer's start (curl's
   * --limit-rate, an average from the start), not from when the limit was set up, and there is
   * no first burst.
   */
  static fromFirstUse(rate: number): TokenBucket {
    return new TokenBucket(rate, undefined, undefined, 0);
  }

  /** The tokens there are now: negative in debt. */
  available(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens;
  }

  take(bytes: number, nowMs: number): void {
    this.refill(nowMs);
    this.tokens -= bytes;
  }

  /** 0 when tokens are available now. */
  waitMs(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens > 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000) + 1;
  }

  private refill(nowMs: number): void {
    const dt = this.lastMs === undefined ? 0 : Math.max(0, nowMs - this.lastMs);
    this.lastMs = nowMs;
    this.tokens = Math.min(this.burstBytes, this.tokens + (dt / 1000) * this.rate);
  }
}

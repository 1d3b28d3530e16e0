/**
 * Per-IP token buckets for incoming packets: `ratePerSec` sustained, `burst` at once. The map of
 * addresses is bounded (`maxAddresses`, oldest forgotten first), so spoofed sources cannot grow
 * it. A packet over the limit is dropped unanswered: answering a flood amplifies it.
 */
export interface RateLimitOptions {
  /** Default 50 packets/s per IP: a busy public node sees a few per second from one peer. */
  readonly ratePerSec?: number;
  /** Default 200. */
  readonly burst?: number;
  /** Default 10,000. */
  readonly maxAddresses?: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxAddresses: number;

  constructor(opts: RateLimitOptions = {}) {
    this.rate = opts.ratePerSec ?? 50;
    this.burst = opts.burst ?? 200;
    this.maxAddresses = opts.maxAddresses ?? 10_000;
  }

  /** True when a packet from `ip` at `nowMs` may be handled. */
  allow(ip: string, nowMs: number): boolean {
    let b = this.buckets.get(ip);
    if (b === undefined) {
      if (this.buckets.size >= this.maxAddresses) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.burst, at: nowMs };
      this.buckets.set(ip, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.at) * this.rate) / 1000);
      b.at = nowMs;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }
}

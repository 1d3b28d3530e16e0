import { parseIp } from '../tracker/index.js';

/**
 * Per-host token buckets for incoming packets: `ratePerSec` sustained, `burst` at once. A host is
 * an IPv4 address or an IPv6 /64 (`hostKey`). The map of hosts is bounded (`maxAddresses`, oldest
 * forgotten first), so spoofed sources cannot grow it. A packet over the limit is dropped
 * unanswered: answering a flood amplifies it.
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
    const host = hostKey(ip);
    let b = this.buckets.get(host);
    if (b === undefined) {
      if (this.buckets.size >= this.maxAddresses) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.burst, at: nowMs };
      this.buckets.set(host, b);
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

/**
 * The key per-host limits count under: an IPv4 address as it is, an IPv6 address as its /64. One
 * IPv6 host is normally given a whole /64 (RFC 4291's interface identifiers), so counting single
 * addresses would let one host take any number of places by rotating the low 64 bits.
 */
export function hostKey(ip: string): string {
  const parsed = parseIp(ip);
  if (parsed === undefined || parsed.family === 4) return ip;
  const b = parsed.bytes;
  let key = '';
  for (let i = 0; i < 8; i += 2) key += `${((b[i]! << 8) | b[i + 1]!).toString(16)}:`;
  return `${key}:/64`;
}

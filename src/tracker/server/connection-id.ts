import { createHmac, randomBytes } from 'node:crypto';

/**
 * BEP 15 connection ids without per-client state: the id is a keyed MAC,
 * HMAC-SHA256(secret, address | port | time bucket) truncated to 64 bits. A server restart (new
 * secret) invalidates every id, which clients handle by connecting again.
 *
 * Buckets are 2 minutes and the current and previous bucket are accepted, so an id lives at
 * least 2 minutes (BEP 15 asks servers to accept an id for 2 minutes, clients to use it for 1)
 * and at most 4. Guessing one takes 2^64 tries per source address and port.
 */
export const CONNECTION_ID_BUCKET_MS = 120_000;

/**
 * Most ids a bucket caches. One per source address and port: a busy tracker sees that many
 * clients per 2 minutes; past it (a spoofed flood) ids are computed uncached, so memory stays bounded.
 */
export const CONNECTION_ID_CACHE_ENTRIES = 65_536;

export class ConnectionIds {
  private readonly secret: Uint8Array;
  /** Ids of `cacheBucket` and the bucket before, per `address|port`: an HMAC costs ~2 µs, a lookup ~50 ns. */
  private cacheBucket = Number.NaN;
  private current = new Map<string, bigint>();
  private previous = new Map<string, bigint>();

  constructor(secret?: Uint8Array, private readonly bucketMs = CONNECTION_ID_BUCKET_MS) {
    this.secret = secret ?? randomBytes(32);
  }

  private mac(address: string, port: number, bucket: number): bigint {
    return createHmac('sha256', this.secret).update(`${address}|${port}|${bucket}`).digest().readBigUInt64BE(0);
  }

  private cached(address: string, port: number, bucket: number): bigint {
    // The cache only moves forward; a reading from before the previous bucket is computed uncached.
    if (bucket > this.cacheBucket || Number.isNaN(this.cacheBucket)) {
      this.previous = bucket === this.cacheBucket + 1 ? this.current : new Map();
      this.current = new Map();
      this.cacheBucket = bucket;
    }
    const map = bucket === this.cacheBucket ? this.current : bucket === this.cacheBucket - 1 ? this.previous : undefined;
    const key = `${address}|${port}`;
    let id = map?.get(key);
    if (id === undefined) {
      id = this.mac(address, port, bucket);
      if (map !== undefined && map.size < CONNECTION_ID_CACHE_ENTRIES) map.set(key, id);
    }
    return id;
  }

  issue(address: string, port: number, nowMs: number): bigint {
    return this.cached(address, port, Math.floor(nowMs / this.bucketMs));
  }

  verify(id: bigint, address: string, port: number, nowMs: number): boolean {
    const bucket = Math.floor(nowMs / this.bucketMs);
    return id === this.cached(address, port, bucket) || id === this.cached(address, port, bucket - 1);
  }
}

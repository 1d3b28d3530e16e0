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

export class ConnectionIds {
  private readonly secret: Uint8Array;

  constructor(secret?: Uint8Array, private readonly bucketMs = CONNECTION_ID_BUCKET_MS) {
    this.secret = secret ?? randomBytes(32);
  }

  private mac(address: string, port: number, bucket: number): bigint {
    return createHmac('sha256', this.secret).update(`${address}|${port}|${bucket}`).digest().readBigUInt64BE(0);
  }

  issue(address: string, port: number, nowMs: number): bigint {
    return this.mac(address, port, Math.floor(nowMs / this.bucketMs));
  }

  verify(id: bigint, address: string, port: number, nowMs: number): boolean {
    const bucket = Math.floor(nowMs / this.bucketMs);
    return id === this.mac(address, port, bucket) || id === this.mac(address, port, bucket - 1);
  }
}

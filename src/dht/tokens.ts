import { createHash, randomBytes } from 'node:crypto';
import type { DhtClock } from './clock.js';
import { bytesEqual } from './distance.js';

/**
 * announce_peer tokens (BEP 5 "Tokens"): SHA-1 of the asker's IP and a secret that changes every
 * `rotateMs` (5 minutes); a token made with the current or the previous secret is accepted, so
 * a token lives 5 to 10 minutes, as BEP 5 asks. Only the one who asked get_peers from that IP
 * can announce with it: no one else can plant peers.
 */
export class TokenStore {
  private current: Uint8Array;
  private previous: Uint8Array;
  private rotatedAt: number;

  constructor(
    private readonly clock: DhtClock,
    private readonly rotateMs = 5 * 60_000,
    private readonly random: (n: number) => Uint8Array = (n) => randomBytes(n),
  ) {
    this.current = this.random(16);
    this.previous = this.random(16);
    this.rotatedAt = clock.now();
  }

  make(ip: string): Uint8Array {
    this.rotate();
    return tokenOf(this.current, ip);
  }

  check(ip: string, token: Uint8Array): boolean {
    this.rotate();
    return bytesEqual(token, tokenOf(this.current, ip)) || bytesEqual(token, tokenOf(this.previous, ip));
  }

  private rotate(): void {
    const now = this.clock.now();
    const periods = Math.floor((now - this.rotatedAt) / this.rotateMs);
    if (periods <= 0) return;
    // Two periods or more idle: both secrets are stale.
    this.previous = periods === 1 ? this.current : this.random(16);
    this.current = this.random(16);
    this.rotatedAt += periods * this.rotateMs;
  }
}

function tokenOf(secret: Uint8Array, ip: string): Uint8Array {
  // 8 bytes are plenty against guessing within 10 minutes and keep replies small (libtorrent: 4).
  return new Uint8Array(createHash('sha1').update(secret).update(ip).digest().subarray(0, 8));
}

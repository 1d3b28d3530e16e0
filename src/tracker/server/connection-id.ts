import { createHash, randomBytes } from 'node:crypto';
import { TrackerError } from '../errors.js';
import { parseIpNormalized, type ParsedIp } from '../ip.js';

/**
 * BEP 15 connection ids without per-client state: the id is a keyed MAC,
 * SipHash-2-4(key, time bucket | address), 64 bits. A server restart (new secret)
 * invalidates every id, which clients handle by connecting again.
 *
 * The source port is not in the MAC: some clients connect once per tracker and announce from
 * several sockets (one per listening port or torrent session) with the same id, and opentracker,
 * which ties its ids to the address alone, accepts them. What the id proves is that the source
 * address received our reply (BEP 15's purpose: no announce with a spoofed address); the port adds
 * nothing to that, since whoever sees replies to an address can connect from any port of it.
 *
 * Buckets are 2 minutes and the current and previous bucket are accepted, so an id lives at
 * least 2 minutes (BEP 15 asks servers to accept an id for 2 minutes, clients to use it for 1)
 * and at most 4. Guessing one takes 2^64 tries per source address; the key is 128 bits.
 *
 * SipHash rather than HMAC-SHA256: it is a PRF built for short inputs, and costs ~0.1 µs in
 * plain JavaScript against ~2 µs for an HMAC, so it runs on every packet with no cache (the HMAC
 * needed one, keyed by a string built per packet). The address is hashed as
 * parsed and IPv4-mapped IPv6 folded to IPv4 (`parseIpNormalized`), as the swarm sees it.
 */
export const CONNECTION_ID_BUCKET_MS = 120_000;

/**
 * Domain separation: the SipHash key is derived from the secret, never the secret itself. v3: the
 * MAC input lost the port (v2 ids do not verify; each client reconnects once).
 */
const KEY_LABEL = 'torrenttp BEP 15 connection id v3\0';

export class ConnectionIds {
  /** SipHash key: k0 = words 0 (low), 1 (high); k1 = words 2, 3. */
  private readonly key: Uint32Array;
  /** Per-packet scratch: the MAC input (4 + up to 16 bytes) and output (high, low word). */
  private readonly input = new Uint8Array(20);
  private readonly out = new Uint32Array(2);

  /** `secret`: any length (a store's `sharedSecret()`, or 32 random bytes by default). */
  constructor(secret?: Uint8Array, private readonly bucketMs = CONNECTION_ID_BUCKET_MS) {
    const digest = createHash('sha256').update(KEY_LABEL).update(secret ?? randomBytes(32)).digest();
    this.key = new Uint32Array(4);
    for (let i = 0; i < 4; i++) this.key[i] = digest.readUInt32LE(4 * i);
  }

  /** MAC of (bucket, address) into `this.out`. */
  private mac(ip: Uint8Array, bucket: number): void {
    const m = this.input;
    m[0] = bucket;
    m[1] = bucket >>> 8;
    m[2] = bucket >>> 16;
    m[3] = bucket >>> 24;
    const n = ip.length;
    for (let i = 0; i < n; i++) m[4 + i] = ip[i]!;
    sipHash24(this.key, m, 4 + n, this.out);
  }

  /** The id for a source address in the bucket of `nowMs`. */
  issueFor(ip: ParsedIp, nowMs: number): bigint {
    this.mac(ip.bytes, Math.floor(nowMs / this.bucketMs));
    return (BigInt(this.out[0]!) << 32n) | BigInt(this.out[1]!);
  }

  /** The hot path: the id as its two big-endian words, straight from the packet. */
  verifyWords(high: number, low: number, ip: ParsedIp, nowMs: number): boolean {
    const bucket = Math.floor(nowMs / this.bucketMs);
    const out = this.out;
    this.mac(ip.bytes, bucket);
    if (out[0] === high >>> 0 && out[1] === low >>> 0) return true;
    this.mac(ip.bytes, bucket - 1);
    return out[0] === high >>> 0 && out[1] === low >>> 0;
  }

  /** `issueFor` from an address literal. Throws `TrackerError('TRACKER_BAD_IP')`. */
  issue(address: string, nowMs: number): bigint {
    return this.issueFor(parsed(address), nowMs);
  }

  /** `verifyWords` from an address literal and the id as a bigint. */
  verify(id: bigint, address: string, nowMs: number): boolean {
    if (id < 0n || id >= 1n << 64n) return false;
    return this.verifyWords(Number(id >> 32n), Number(id & 0xffffffffn), parsed(address), nowMs);
  }
}

function parsed(address: string): ParsedIp {
  const ip = parseIpNormalized(address);
  if (ip === undefined) throw new TrackerError('TRACKER_BAD_IP', { detail: address });
  return ip;
}

/**
 * SipHash-2-4 (Aumasson and Bernstein) of `m[0, length)` under a 128-bit key, the 64-bit result
 * written to `out` as [high word, low word]. 64-bit lanes as pairs of uint32 (h = high, l = low),
 * all in locals: no BigInt and no allocation. Checked against the reference vectors in the tests.
 */
export function sipHash24(key: Uint32Array, m: Uint8Array, length: number, out: Uint32Array): void {
  const k0l = key[0]!;
  const k0h = key[1]!;
  const k1l = key[2]!;
  const k1h = key[3]!;
  // "somepseudorandomlygeneratedbytes"
  let v0h = (k0h ^ 0x736f6d65) >>> 0;
  let v0l = (k0l ^ 0x70736575) >>> 0;
  let v1h = (k1h ^ 0x646f7261) >>> 0;
  let v1l = (k1l ^ 0x6e646f6d) >>> 0;
  let v2h = (k0h ^ 0x6c796765) >>> 0;
  let v2l = (k0l ^ 0x6e657261) >>> 0;
  let v3h = (k1h ^ 0x74656462) >>> 0;
  let v3l = (k1l ^ 0x79746573) >>> 0;
  let t = 0;
  let mh = 0;
  let ml = 0;
  // Blocks of 8 bytes little-endian; the last holds the tail and `length mod 256` in its top
  // byte; then finalization. Every lane half stays a uint32 (`>>> 0`) so carries compare right.
  const full = length & ~7;
  for (let at = 0; ; at += 8) {
    let rounds = 2;
    if (at < full) {
      ml = (m[at]! | (m[at + 1]! << 8) | (m[at + 2]! << 16) | (m[at + 3]! << 24)) >>> 0;
      mh = (m[at + 4]! | (m[at + 5]! << 8) | (m[at + 6]! << 16) | (m[at + 7]! << 24)) >>> 0;
    } else if (at === full) {
      ml = 0;
      mh = (length & 0xff) << 24;
      for (let i = 0; i < length - full; i++) {
        if (i < 4) ml |= m[at + i]! << (8 * i);
        else mh |= m[at + i]! << (8 * (i - 4));
      }
      ml >>>= 0;
      mh >>>= 0;
    } else {
      v2l = (v2l ^ 0xff) >>> 0;
      rounds = 4;
    }
    if (rounds === 2) {
      v3h = (v3h ^ mh) >>> 0;
      v3l = (v3l ^ ml) >>> 0;
    }
    for (let r = 0; r < rounds; r++) {
      v0l = (v0l + v1l) >>> 0; v0h = (v0h + v1h + (v0l < v1l ? 1 : 0)) >>> 0;
      t = (v1h << 13) | (v1l >>> 19); v1l = (((v1l << 13) | (v1h >>> 19)) ^ v0l) >>> 0; v1h = (t ^ v0h) >>> 0;
      t = v0h; v0h = v0l; v0l = t;
      v2l = (v2l + v3l) >>> 0; v2h = (v2h + v3h + (v2l < v3l ? 1 : 0)) >>> 0;
      t = (v3h << 16) | (v3l >>> 16); v3l = (((v3l << 16) | (v3h >>> 16)) ^ v2l) >>> 0; v3h = (t ^ v2h) >>> 0;
      v0l = (v0l + v3l) >>> 0; v0h = (v0h + v3h + (v0l < v3l ? 1 : 0)) >>> 0;
      t = (v3h << 21) | (v3l >>> 11); v3l = (((v3l << 21) | (v3h >>> 11)) ^ v0l) >>> 0; v3h = (t ^ v0h) >>> 0;
      v2l = (v2l + v1l) >>> 0; v2h = (v2h + v1h + (v2l < v1l ? 1 : 0)) >>> 0;
      t = (v1h << 17) | (v1l >>> 15); v1l = (((v1l << 17) | (v1h >>> 15)) ^ v2l) >>> 0; v1h = (t ^ v2h) >>> 0;
      t = v2h; v2h = v2l; v2l = t;
    }
    if (rounds === 4) break;
    v0h = (v0h ^ mh) >>> 0;
    v0l = (v0l ^ ml) >>> 0;
  }
  out[0] = v0h ^ v1h ^ v2h ^ v3h;
  out[1] = v0l ^ v1l ^ v2l ^ v3l;
}

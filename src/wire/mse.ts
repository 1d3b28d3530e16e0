/**
 * Message Stream Encryption (MSE, also "Protocol Encryption", PE): the RC4 obfuscation layer
 * that aria2, Transmission, libtorrent and Vuze speak before the BEP 3 handshake. The spec
 * ("Message Stream Encryption protocol", Ludde/uau/The_8472/Parg/Nolar) in five steps, A the
 * side that opened the TCP connection, B the one that accepted it:
 *
 *   1 A→B  Ya, PadA
 *   2 B→A  Yb, PadB
 *   3 A→B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *          ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 *   4 B→A  ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
 *   5 A→B  ENCRYPT2(payload)
 *
 * Ya, Yb: 96-byte big-endian Diffie-Hellman public keys over the 768-bit prime P, G = 2; S the
 * shared secret (96 bytes). SKEY is the info-hash, HASH is SHA-1, VC is 8 zero bytes, lengths
 * are 2-byte big-endian, crypto_provide/select are 32-bit bitfields (0x01 plaintext, 0x02 RC4).
 * ENCRYPT is RC4 keyed with HASH('keyA', S, SKEY) for A's bytes and HASH('keyB', S, SKEY) for
 * B's, each keystream's first 1024 bytes discarded; ENCRYPT2 is the method B selected: RC4
 * going on, or plaintext after the handshake.
 *
 * Rules of this state machine (h11's habit: no sockets, no timers, no randomness):
 * - Bytes in (`push`), bytes to send and at most one `done` out. Any split of the input gives
 *   the same result. Everything random (the private key, PadA/PadB) is given by the caller.
 * - The pads have no length field in steps 1 and 2, so each side finds its place by scanning:
 *   B for HASH('req1', S) within 96 + 512 + 20 = 628 bytes of the connection's start, A for
 *   ENCRYPT(VC) within 96 + 512 + 8 = 616 (the spec's own "early termination" bounds). Past
 *   either bound, a pad over 512 bytes, or an IA over `maxInitialPayloadBytes`: a `WireError`.
 * - Once `push` has thrown, the handshake stays failed: every later call throws the same error.
 * - DH, SHA-1 and RC4 come from node:crypto (mse-crypto.ts). RC4 sits in OpenSSL 3's legacy
 *   provider: without it (`mseAvailable()` false) the handshake throws WIRE_MSE_UNAVAILABLE.
 */
import { WireError } from './errors.js';
import { INFO_HASH_BYTES } from './handshake.js';
import { ascii, MSE_KEY_BYTES, MSE_PLAINTEXT, MSE_RC4, mseAvailable, mseTorrentKey, publicKey, Rc4Stream, sha1, sharedSecret, type Rc4Position } from './mse-crypto.js';

export { MSE_KEY_BYTES, MSE_PRIVATE_KEY_BYTES, MSE_PLAINTEXT, MSE_RC4, mseAvailable, mseTorrentKey, rc4, type Rc4Position } from './mse-crypto.js';

export const MSE_LIMITS = {
  /** PadA, PadB, PadC, PadD: "a random length of 0 to 512 bytes" (the spec; Transmission's PadX_MAXLEN). */
  maxPadBytes: 512,
  /** IA: its length field is 2 bytes, so 65535 is the format's own bound (a BEP 3 handshake is 68). */
  maxInitialPayloadBytes: 65535,
} as const;

const VC_BYTES = 8;
const HASH_BYTES = 20;

export interface MseLimits {
  readonly maxPadBytes?: number;
  readonly maxInitialPayloadBytes?: number;
}

export interface MseInitiatorOptions {
  /** SKEY: the torrent's info-hash. */
  readonly infoHash: Uint8Array;
  /** crypto_provide: MSE_RC4, MSE_PLAINTEXT or both. */
  readonly provide: number;
  /** `MSE_PRIVATE_KEY_BYTES` random bytes (Xa). */
  readonly privateKey: Uint8Array;
  /** PadA: random bytes, 0..512 of them. */
  readonly pad: Uint8Array;
  /** IA, sent encrypted in step 3 (typically our BEP 3 handshake). Default none. */
  readonly initialPayload?: Uint8Array;
  readonly limits?: MseLimits;
}

export interface MseReceiverOptions {
  /** The info-hash whose HASH('req2', infoHash) is `req2`, or undefined for a torrent we do not serve. */
  readonly skeyFor: (req2: Uint8Array) => Uint8Array | undefined;
  /** crypto_select: one bit of what A provides, or undefined for none acceptable. */
  readonly select: (provide: number) => number | undefined;
  /** `MSE_PRIVATE_KEY_BYTES` random bytes (Xb). */
  readonly privateKey: Uint8Array;
  /** PadB: random bytes, 0..512 of them. */
  readonly pad: Uint8Array;
  readonly limits?: MseLimits;
}

/** The payload stream once the handshake is done: RC4 both ways, or plaintext (identity). */
export interface MseSession {
  readonly method: 'rc4' | 'plaintext';
  /** SKEY: the info-hash both sides named. */
  readonly infoHash: Uint8Array;
  /** Our outgoing bytes, as they go on the wire: a new buffer for RC4, `bytes` itself for plaintext. */
  encrypt(bytes: Uint8Array): Uint8Array;
  /** The peer's bytes as read: a new buffer for RC4, `bytes` itself for plaintext. */
  decrypt(bytes: Uint8Array): Uint8Array;
  /**
   * RC4: where both keystreams stand now (key and bytes used past the 1024 discarded), for a
   * cipher thread to go on from; `encrypt` and `decrypt` then throw, so no byte is handled twice.
   * Undefined for plaintext.
   */
  handOff(): { encrypt: Rc4Position; decrypt: Rc4Position } | undefined;
}

export interface MseOutput {
  /** Bytes to write to the peer, in order (may be empty). */
  readonly send: Uint8Array[];
  /** Set once, when the handshake is complete. */
  readonly done?: {
    readonly session: MseSession;
    /**
     * The peer's payload that came with the handshake, decrypted, in fresh memory: for B it
     * starts with A's IA. Feed it to the wire decoder before any later chunk.
     */
    readonly payload: Uint8Array;
  };
}

function u16(n: number): Uint8Array {
  return Uint8Array.of((n >>> 8) & 0xff, n & 0xff);
}

function u32(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Index of `needle` in `hay[from..to)` (the needle wholly inside), or -1. */
function indexOf(hay: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  const last = Math.min(to, hay.length) - needle.length;
  outer: for (let i = from; i <= last; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function checkLength(name: string, b: Uint8Array, min: number, max: number): void {
  if (!(b instanceof Uint8Array) || b.length < min || b.length > max) {
    throw new WireError('WIRE_UNENCODABLE', { detail: `MSE ${name} must be ${min === max ? min : `${min}..${max}`} bytes` });
  }
}

type State =
  | 'readPeerKey' // both: the peer's 96-byte public key
  | 'syncReq1' // B: scanning for HASH('req1', S)
  | 'readProvide' // B: req2^req3, VC, crypto_provide, len(PadC)
  | 'readPadC' // B: PadC, len(IA)
  | 'readIA' // B
  | 'syncVc' // A: scanning for ENCRYPT(VC)
  | 'readSelect' // A: crypto_select, len(PadD)
  | 'readPadD' // A
  | 'done';

class Session implements MseSession {
  private handedOff = false;
  constructor(
    readonly method: 'rc4' | 'plaintext',
    readonly infoHash: Uint8Array,
    private readonly out: Rc4Stream,
    private readonly in_: Rc4Stream,
  ) {}
  encrypt(bytes: Uint8Array): Uint8Array {
    if (this.method !== 'rc4') return bytes;
    this.checkHere();
    return this.out.update(bytes);
  }
  decrypt(bytes: Uint8Array): Uint8Array {
    if (this.method !== 'rc4') return bytes;
    this.checkHere();
    return this.in_.update(bytes);
  }
  handOff(): { encrypt: Rc4Position; decrypt: Rc4Position } | undefined {
    if (this.method !== 'rc4') return undefined;
    this.checkHere();
    this.handedOff = true;
    return { encrypt: this.out.position, decrypt: this.in_.position };
  }
  private checkHere(): void {
    if (this.handedOff) throw new Error('MSE session used after its hand-off to a cipher thread');
  }
}

/**
 * One side of one handshake. `start()` gives the bytes to send first (A: Ya and PadA; B:
 * nothing, it speaks once Ya is in); then `push` every chunk the peer sends until `done`.
 */
export class MseHandshake {
  private state: State = 'readPeerKey';
  /** What ended the handshake: a WireError (the peer's fault), or anything else (a bug of ours). */
  private failed: unknown;
  /** Bytes received and not yet consumed: `buf[at..]`. Small (≤ ~1.3 KiB plus IA) until done. */
  private buf = new Uint8Array(0);
  private at = 0;
  /** Bytes consumed before `buf[0]`, so errors carry the absolute stream offset. */
  private base = 0;
  private readonly maxPad: number;
  private readonly maxIA: number;
  private secret: Uint8Array | undefined;
  private skey: Uint8Array | undefined;
  private outCipher: Rc4Stream | undefined;
  private inCipher: Rc4Stream | undefined;
  /** A: ENCRYPT(VC) as B's keystream will show it. B: HASH('req1', S). */
  private marker: Uint8Array | undefined;
  private method: 'rc4' | 'plaintext' | undefined;
  private padLength = 0;
  private started = false;

  private constructor(
    private readonly initiator: MseInitiatorOptions | undefined,
    private readonly receiver: MseReceiverOptions | undefined,
  ) {
    const o = initiator ?? receiver!;
    this.maxPad = o.limits?.maxPadBytes ?? MSE_LIMITS.maxPadBytes;
    this.maxIA = o.limits?.maxInitialPayloadBytes ?? MSE_LIMITS.maxInitialPayloadBytes;
    checkLength('private key', o.privateKey, 16, 64);
    checkLength('pad', o.pad, 0, MSE_LIMITS.maxPadBytes);
    if (initiator !== undefined) {
      checkLength('info-hash', initiator.infoHash, INFO_HASH_BYTES, INFO_HASH_BYTES);
      checkLength('initial payload', initiator.initialPayload ?? new Uint8Array(0), 0, MSE_LIMITS.maxInitialPayloadBytes);
      if ((initiator.provide & (MSE_RC4 | MSE_PLAINTEXT)) === 0) throw new WireError('WIRE_UNENCODABLE', { detail: 'MSE crypto_provide names no method' });
    }
    if (!mseAvailable()) throw new WireError('WIRE_MSE_UNAVAILABLE', { detail: 'start node with --openssl-legacy-provider' });
  }

  /** A, the side that dialled. */
  static initiator(opts: MseInitiatorOptions): MseHandshake {
    return new MseHandshake(opts, undefined);
  }

  /** B, the side that accepted; it learns the torrent from step 3. */
  static receiver(opts: MseReceiverOptions): MseHandshake {
    return new MseHandshake(undefined, opts);
  }

  /** The first bytes to send: A's Ya and PadA; nothing for B. Call once, before `push`. */
  start(): Uint8Array {
    if (this.started) return new Uint8Array(0);
    this.started = true;
    if (this.initiator === undefined) return new Uint8Array(0);
    return concat([publicKey(this.initiator.privateKey), this.initiator.pad]);
  }

  get isDone(): boolean {
    return this.state === 'done';
  }

  push(chunk: Uint8Array): MseOutput {
    if (this.failed !== undefined) throw this.failed;
    if (this.state === 'done') throw new WireError('WIRE_UNENCODABLE', { detail: 'MSE handshake already done' });
    this.append(chunk);
    try {
      return this.run();
    } catch (err) {
      // Not re-labelled: an error other than a WireError is a bug, and callers (and the fuzz
      // suite) must see it as one; the transport turns it into INTERNAL for that peer alone.
      this.failed = err;
      throw err;
    }
  }

  private append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const left = this.buf.length - this.at;
    const next = new Uint8Array(left + chunk.length);
    next.set(this.buf.subarray(this.at), 0);
    next.set(chunk, left);
    this.base += this.at;
    this.buf = next;
    this.at = 0;
  }

  private get available(): number {
    return this.buf.length - this.at;
  }

  private take(n: number): Uint8Array {
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  private run(): MseOutput {
    const send: Uint8Array[] = [];
    for (;;) {
      switch (this.state) {
        case 'readPeerKey': {
          if (this.available < MSE_KEY_BYTES) return { send };
          const own = (this.initiator ?? this.receiver!).privateKey;
          this.secret = sharedSecret(own, this.take(MSE_KEY_BYTES), this.base);
          if (this.initiator !== undefined) {
            send.push(this.step3(this.initiator));
            this.state = 'syncVc';
          } else {
            send.push(concat([publicKey(own), this.receiver!.pad]));
            this.marker = sha1(ascii('req1'), this.secret);
            this.state = 'syncReq1';
          }
          continue;
        }
        case 'syncReq1': {
          // B: req1 ends within 96 + 512 + 20 bytes of the stream's start.
          const limit = MSE_KEY_BYTES + this.maxPad + HASH_BYTES;
          const found = indexOf(this.buf, this.marker!, this.at, limit - this.base);
          if (found < 0) {
            if (this.base + this.buf.length >= limit) throw new WireError('WIRE_MSE_NO_SYNC', { detail: `no HASH('req1', S) within ${limit} bytes`, offset: limit });
            return { send };
          }
          this.at = found + HASH_BYTES;
          this.state = 'readProvide';
          continue;
        }
        case 'readProvide': {
          if (this.available < HASH_BYTES + VC_BYTES + 4 + 2) return { send };
          const offset = this.base + this.at;
          const xored = this.take(HASH_BYTES);
          const req3 = sha1(ascii('req3'), this.secret!);
          const req2 = new Uint8Array(HASH_BYTES);
          for (let i = 0; i < HASH_BYTES; i++) req2[i] = xored[i]! ^ req3[i]!;
          const skey = this.receiver!.skeyFor(req2);
          if (skey === undefined) throw new WireError('WIRE_MSE_UNKNOWN_TORRENT', { offset });
          this.skey = skey;
          this.inCipher = new Rc4Stream(sha1(ascii('keyA'), this.secret!, skey));
          this.outCipher = new Rc4Stream(sha1(ascii('keyB'), this.secret!, skey));
          const plain = this.inCipher.update(this.take(VC_BYTES + 4 + 2));
          this.checkVc(plain, offset + HASH_BYTES);
          const provide = (plain[8]! << 24) | (plain[9]! << 16) | (plain[10]! << 8) | plain[11]!;
          const select = this.receiver!.select(provide >>> 0);
          if (select === undefined || (select !== MSE_RC4 && select !== MSE_PLAINTEXT) || (provide & select) === 0) {
            throw new WireError('WIRE_MSE_NO_METHOD', { detail: `crypto_provide 0x${(provide >>> 0).toString(16)}`, offset: offset + HASH_BYTES + VC_BYTES });
          }
          this.method = select === MSE_RC4 ? 'rc4' : 'plaintext';
          this.padLength = this.padLengthOf(plain, 12, offset + HASH_BYTES + 12);
          this.state = 'readPadC';
          continue;
        }
        case 'readPadC': {
          if (this.available < this.padLength + 2) return { send };
          const offset = this.base + this.at + this.padLength;
          const plain = this.inCipher!.update(this.take(this.padLength + 2));
          const ia = (plain[this.padLength]! << 8) | plain[this.padLength + 1]!;
          if (ia > this.maxIA) throw new WireError('WIRE_MSE_TOO_LONG', { detail: `IA of ${ia} bytes, limit ${this.maxIA}`, offset });
          this.padLength = ia;
          this.state = 'readIA';
          continue;
        }
        case 'readIA': {
          if (this.available < this.padLength) return { send };
          const ia = this.inCipher!.update(this.take(this.padLength));
          const select = this.method === 'rc4' ? MSE_RC4 : MSE_PLAINTEXT;
          // PadD: zero-length, as libtorrent and Transmission send it; the spec allows it.
          send.push(this.outCipher!.update(concat([new Uint8Array(VC_BYTES), u32(select), u16(0)])));
          return { send, done: this.finish(ia) };
        }
        case 'syncVc': {
          // A: ENCRYPT(VC) ends within 96 + 512 + 8 bytes of the stream's start.
          const limit = MSE_KEY_BYTES + this.maxPad + VC_BYTES;
          const found = indexOf(this.buf, this.marker!, this.at, limit - this.base);
          if (found < 0) {
            if (this.base + this.buf.length >= limit) throw new WireError('WIRE_MSE_NO_SYNC', { detail: `no ENCRYPT(VC) within ${limit} bytes`, offset: limit });
            return { send };
          }
          this.at = found + VC_BYTES; // inCipher is already past VC: the marker was its first 8 bytes
          this.state = 'readSelect';
          continue;
        }
        case 'readSelect': {
          if (this.available < 4 + 2) return { send };
          const offset = this.base + this.at;
          const plain = this.inCipher!.update(this.take(6));
          const select = ((plain[0]! << 24) | (plain[1]! << 16) | (plain[2]! << 8) | plain[3]!) >>> 0;
          if ((select !== MSE_RC4 && select !== MSE_PLAINTEXT) || (select & this.initiator!.provide) === 0) {
            throw new WireError('WIRE_MSE_NO_METHOD', { detail: `crypto_select 0x${select.toString(16)}, provided 0x${this.initiator!.provide.toString(16)}`, offset });
          }
          this.method = select === MSE_RC4 ? 'rc4' : 'plaintext';
          this.padLength = this.padLengthOf(plain, 4, offset + 4);
          this.state = 'readPadD';
          continue;
        }
        case 'readPadD': {
          if (this.available < this.padLength) return { send };
          this.inCipher!.update(this.take(this.padLength));
          return { send, done: this.finish(new Uint8Array(0)) };
        }
        case 'done':
          return { send };
      }
    }
  }

  /** Step 3 (A), once S is known: also sets up both ciphers and the VC marker to sync on. */
  private step3(o: MseInitiatorOptions): Uint8Array {
    const s = this.secret!;
    this.skey = o.infoHash;
    this.outCipher = new Rc4Stream(sha1(ascii('keyA'), s, o.infoHash));
    this.inCipher = new Rc4Stream(sha1(ascii('keyB'), s, o.infoHash));
    this.marker = this.inCipher.update(new Uint8Array(VC_BYTES)); // RC4 of zeros is the keystream
    const req2 = mseTorrentKey(o.infoHash);
    const req3 = sha1(ascii('req3'), s);
    const xored = new Uint8Array(HASH_BYTES);
    for (let i = 0; i < HASH_BYTES; i++) xored[i] = req2[i]! ^ req3[i]!;
    const ia = o.initialPayload ?? new Uint8Array(0);
    // PadC: zero-length (the spec: "current implementations may choose to set them to 0-length").
    const encrypted = this.outCipher.update(concat([new Uint8Array(VC_BYTES), u32(o.provide), u16(0), u16(ia.length), ia]));
    return concat([sha1(ascii('req1'), s), xored, encrypted]);
  }

  private checkVc(plain: Uint8Array, offset: number): void {
    for (let i = 0; i < VC_BYTES; i++) {
      if (plain[i] !== 0) throw new WireError('WIRE_MSE_BAD_VC', { offset: offset + i });
    }
  }

  private padLengthOf(plain: Uint8Array, at: number, offset: number): number {
    const n = (plain[at]! << 8) | plain[at + 1]!;
    if (n > this.maxPad) throw new WireError('WIRE_MSE_TOO_LONG', { detail: `pad of ${n} bytes, limit ${this.maxPad}`, offset });
    return n;
  }

  private finish(head: Uint8Array): NonNullable<MseOutput['done']> {
    this.state = 'done';
    const session = new Session(this.method!, this.skey!, this.outCipher!, this.inCipher!);
    const rest = this.take(this.available);
    // Fresh memory either way: `head` is a cipher's output, `rest` a view of our own buffer.
    const payload = head.length === 0 ? (rest.length === 0 ? new Uint8Array(0) : session.decrypt(rest.slice())) : concat([head, session.decrypt(rest)]);
    this.buf = new Uint8Array(0);
    this.at = 0;
    return { session, payload };
  }
}

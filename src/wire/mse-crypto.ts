/**
 * The primitives of MSE (mse.ts), all from node:crypto: the spec's 768-bit Diffie-Hellman group,
 * SHA-1, and RC4 with the first 1024 bytes of keystream discarded. RC4 lives in OpenSSL 3's
 * legacy provider, which Node loads only when started with `--openssl-legacy-provider` (or an
 * OpenSSL config that activates it; it cannot be loaded later): `mseAvailable()` tells.
 */
import { createCipheriv, createDiffieHellman, createHash, getCiphers, type Cipher, type DiffieHellman } from 'node:crypto';
import { WireError } from './errors.js';

/** The 768-bit safe prime of the spec (not RFC 2409's group 1, whose tail differs). */
const PRIME_HEX =
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563';
const PRIME = Uint8Array.from(PRIME_HEX.match(/../g)!, (h) => parseInt(h, 16));
const GENERATOR = 2;

/** Bytes of Ya, Yb and S. */
export const MSE_KEY_BYTES = 96;
/** The spec recommends 160-bit private keys ("anything beyond 180 bit is not believed to add any further security"). */
export const MSE_PRIVATE_KEY_BYTES = 20;
/** crypto_provide / crypto_select bits. */
export const MSE_PLAINTEXT = 0x01;
export const MSE_RC4 = 0x02;

/** RC4's first 1024 bytes of keystream are discarded (its known biases). */
const DISCARD_BYTES = 1024;

/** True when this Node.js has RC4 (OpenSSL's legacy provider is loaded). */
export function mseAvailable(): boolean {
  rc4Available ??= getCiphers().includes('rc4');
  return rc4Available;
}
let rc4Available: boolean | undefined;

/** HASH('req2', SKEY): how an encrypted handshake names its torrent (B keeps one per info-hash it serves). */
export function mseTorrentKey(infoHash: Uint8Array): Uint8Array {
  return sha1(ascii('req2'), infoHash);
}

/** One DH object for the process: creating one checks the prime (tens of ms); each use sets its private key first, synchronously. */
let dhShared: DiffieHellman | undefined;
function dh(privateKey: Uint8Array): DiffieHellman {
  dhShared ??= createDiffieHellman(PRIME, GENERATOR);
  dhShared.setPrivateKey(privateKey);
  return dhShared;
}

export function publicKey(privateKey: Uint8Array): Uint8Array {
  const d = dh(privateKey);
  d.generateKeys(); // recomputes the public key from the private key just set
  return leftPad(d.getPublicKey(), MSE_KEY_BYTES);
}

/** 1 < y < P - 1 (NIST SP 800-56A's range check): OpenSSL lets a key ≥ P through, which would make S predictable. */
function validPeerKey(y: Uint8Array): boolean {
  let last = 0;
  for (let i = 0; i < MSE_KEY_BYTES - 1; i++) last |= y[i]!;
  if (last === 0 && y[MSE_KEY_BYTES - 1]! <= 1) return false;
  // Compare with P - 1: P ends in 0x63, so P - 1 differs from P only in its last byte.
  for (let i = 0; i < MSE_KEY_BYTES; i++) {
    const p = i === MSE_KEY_BYTES - 1 ? PRIME[i]! - 1 : PRIME[i]!;
    if (y[i]! !== p) return y[i]! < p;
  }
  return false;
}

export function sharedSecret(privateKey: Uint8Array, peerKey: Uint8Array, offset: number): Uint8Array {
  if (!validPeerKey(peerKey)) throw new WireError('WIRE_MSE_BAD_KEY', { detail: 'not in 2..P-2', offset });
  try {
    return leftPad(dh(privateKey).computeSecret(peerKey), MSE_KEY_BYTES);
  } catch (err) {
    // OpenSSL refuses 0, 1, P-1 and anything ≥ P ("Supplied key is too small/large").
    throw new WireError('WIRE_MSE_BAD_KEY', { detail: (err as Error).message, offset, cause: err });
  }
}

export function leftPad(b: Uint8Array, n: number): Uint8Array {
  if (b.length === n) return b;
  const out = new Uint8Array(n);
  out.set(b.subarray(Math.max(0, b.length - n)), Math.max(0, n - b.length));
  return out;
}

export function ascii(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export function sha1(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Where a payload stream's RC4 keystream stands: its key and the bytes used past the 1024 discarded. */
export interface Rc4Position {
  readonly key: Uint8Array;
  readonly offset: number;
}

/** RC4 keyed with `key`, its first 1024 bytes and then `offset` more discarded: the keystream at `offset`. */
export function rc4(key: Uint8Array, offset = 0): Cipher {
  if (!mseAvailable()) throw new WireError('WIRE_MSE_UNAVAILABLE', { detail: 'start node with --openssl-legacy-provider' });
  const c = createCipheriv('rc4', key, null);
  c.update(new Uint8Array(DISCARD_BYTES + offset));
  return c;
}

/** An RC4 stream that counts what it used, so another thread can go on from where it stands (`position`). */
export class Rc4Stream {
  private readonly cipher: Cipher;
  private used = 0;

  constructor(private readonly key: Uint8Array) {
    this.cipher = rc4(key);
  }

  update(bytes: Uint8Array): Uint8Array {
    this.used += bytes.length;
    return this.cipher.update(bytes);
  }

  get position(): Rc4Position {
    return { key: this.key, offset: this.used };
  }
}

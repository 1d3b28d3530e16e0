/**
 * MSE handshake: the two sides against each other (any chunking, both methods), and hostile
 * input against each side. A reference step 3 built here from the spec's formulas (node:crypto
 * only, not the module's code) checks the wire format and lets tests send what our side never
 * would: a pad over the limit, a method nobody provided.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDiffieHellman, createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { TorrenttpError } from '../../src/errors/index.js';
import { MseHandshake, mseAvailable, mseTorrentKey, MSE_PLAINTEXT, MSE_RC4, WireError, type MseOutput, type MseSession } from '../../src/wire/index.js';
import { errorCode } from '../helpers/errors.js';

const P =
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563';
const infoHash = new Uint8Array(20).map((_, i) => i + 1);
const other = new Uint8Array(20).fill(0xee);
const key = (n: number): Uint8Array => new Uint8Array(20).fill(n);

test('RC4 is available: node runs with the OpenSSL legacy provider (npm test passes --openssl-legacy-provider)', () => {
  assert.equal(mseAvailable(), true);
});

function receiver(o: { select?: (p: number) => number | undefined; pad?: Uint8Array; limits?: { maxPadBytes?: number; maxInitialPayloadBytes?: number } } = {}): MseHandshake {
  const known = new Map([infoHash, other].map((ih) => [Buffer.from(mseTorrentKey(ih)).toString('hex'), ih]));
  return MseHandshake.receiver({
    skeyFor: (req2) => known.get(Buffer.from(req2).toString('hex')),
    select: o.select ?? ((p) => ((p & MSE_RC4) !== 0 ? MSE_RC4 : (p & MSE_PLAINTEXT) !== 0 ? MSE_PLAINTEXT : undefined)),
    privateKey: key(7),
    pad: o.pad ?? new Uint8Array(33).fill(0x55),
    ...(o.limits === undefined ? {} : { limits: o.limits }),
  });
}

function initiator(o: { provide?: number; pad?: Uint8Array; ia?: Uint8Array; ih?: Uint8Array } = {}): MseHandshake {
  return MseHandshake.initiator({
    infoHash: o.ih ?? infoHash,
    provide: o.provide ?? MSE_RC4 | MSE_PLAINTEXT,
    privateKey: key(9),
    pad: o.pad ?? new Uint8Array(100).fill(0xaa),
    initialPayload: o.ia ?? new TextEncoder().encode('initial payload'),
  });
}

/** Splits `bytes` at the given cut points (each taken modulo the length). */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

interface Side {
  session?: MseSession;
  payload?: Uint8Array;
}

/** Feeds `bytes` into `h` in the given pieces; returns what it sends and records `done`. */
function feed(h: MseHandshake, pieces: readonly Uint8Array[], side: Side): Uint8Array {
  const sent: Uint8Array[] = [];
  for (const p of pieces) {
    if (side.session !== undefined) {
      // Done: what follows is the payload stream, which the caller decrypts itself.
      side.payload = concat([side.payload!, side.session.decrypt(p)]);
      continue;
    }
    const out: MseOutput = h.push(p);
    sent.push(...out.send);
    if (out.done !== undefined) {
      side.session = out.done.session;
      side.payload = out.done.payload;
    }
  }
  return concat(sent);
}

/** Runs a whole handshake, each direction chunked by `cuts`. */
function run(a: MseHandshake, b: MseHandshake, cuts: readonly number[] = []): { a: Side; b: Side } {
  const sa: Side = {};
  const sb: Side = {};
  const step1 = a.start();
  assert.equal(b.start().length, 0, 'B speaks only after Ya');
  const step2 = feed(b, split(step1, cuts), sb);
  const step3 = feed(a, split(step2, cuts), sa);
  const step4 = feed(b, split(step3, cuts), sb);
  feed(a, split(step4, cuts), sa);
  return { a: sa, b: sb };
}

test('both sides agree: RC4 selected, IA arrives decrypted, payload round-trips both ways', () => {
  const { a, b } = run(initiator(), receiver());
  assert.equal(a.session?.method, 'rc4');
  assert.equal(b.session?.method, 'rc4');
  assert.deepEqual(b.session?.infoHash, infoHash, 'B found the torrent from HASH(req2)');
  assert.equal(new TextDecoder().decode(b.payload), 'initial payload');
  assert.equal(a.payload?.length, 0);
  const msg = new TextEncoder().encode('\x13BitTorrent protocol and then some');
  const wire = a.session!.encrypt(msg);
  assert.notDeepEqual(Uint8Array.from(wire), msg, 'RC4 changes the bytes');
  assert.deepEqual(Uint8Array.from(b.session!.decrypt(wire)), msg);
  assert.deepEqual(Uint8Array.from(a.session!.decrypt(b.session!.encrypt(msg))), msg);
});

test('plaintext selected: the payload after the handshake goes as is', () => {
  const { a, b } = run(initiator({ provide: MSE_PLAINTEXT }), receiver());
  assert.equal(a.session?.method, 'plaintext');
  assert.equal(b.session?.method, 'plaintext');
  const msg = Uint8Array.of(1, 2, 3);
  assert.equal(a.session!.encrypt(msg), msg);
  assert.equal(new TextDecoder().decode(b.payload), 'initial payload', 'IA is RC4 even then');
});

test('property: any chunking, any pad and IA length, gives the same sessions; bytes that came with the handshake are payload', () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat(2000), { maxLength: 12 }),
      fc.integer({ min: 0, max: 512 }),
      fc.integer({ min: 0, max: 512 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ minLength: 1, maxLength: 200 }),
      (cuts, padA, padB, ia, after) => {
        const a = initiator({ pad: new Uint8Array(padA).fill(3), ia });
        const b = receiver({ pad: new Uint8Array(padB).fill(4) });
        const sa: Side = {};
        const sb: Side = {};
        const step2 = feed(b, split(a.start(), cuts), sb);
        const step3 = feed(a, split(step2, cuts), sa);
        const step4 = feed(b, split(step3, cuts), sb);
        // B's payload in the same segments as step 4.
        const bPayload = sb.session!.encrypt(after);
        feed(a, split(concat([step4, bPayload]), cuts), sa);
        assert.deepEqual(Uint8Array.from(sb.payload!), ia);
        assert.deepEqual(Uint8Array.from(sa.payload!), after);
        const next = Uint8Array.of(9, 8, 7);
        assert.deepEqual(Uint8Array.from(sb.session!.decrypt(sa.session!.encrypt(next))), next);
      },
    ),
    { numRuns: 60 },
  );
});

test('a torrent B does not serve: WIRE_MSE_UNKNOWN_TORRENT', () => {
  const a = initiator({ ih: new Uint8Array(20).fill(0x42) });
  const b = receiver();
  const step3 = a.push(b.push(a.start()).send[0]!).send[0]!;
  assert.equal(errorCode(() => b.push(step3), WireError), 'WIRE_MSE_UNKNOWN_TORRENT');
});

test('garbage or a plain BitTorrent handshake: NO_SYNC once past the spec bound, and failed stays failed', () => {
  const b = receiver();
  b.push(randomBytes(96)); // any 96 bytes are a public key (OpenSSL refuses only 0, 1, ≥ P-1)
  b.push(randomBytes(500)); // within 628: keep scanning, no answer yet
  assert.equal(errorCode(() => b.push(randomBytes(40)), WireError), 'WIRE_MSE_NO_SYNC');
  assert.equal(errorCode(() => b.push(Uint8Array.of(1)), WireError), 'WIRE_MSE_NO_SYNC');

  const a = initiator();
  a.start();
  a.push(randomBytes(96 + 400));
  assert.equal(errorCode(() => a.push(randomBytes(200)), WireError), 'WIRE_MSE_NO_SYNC');
});

test('a handshake that never completes stays pending (the transport times it out), no error', () => {
  const b = receiver();
  const out = b.push(randomBytes(96 + 527)); // Ya and a pad 1 byte short of the sync bound
  assert.equal(out.send.length, 1, 'Yb went out');
  assert.equal(out.done, undefined);
  assert.equal(b.isDone, false);
});

test('a public key of 0 or ≥ P: WIRE_MSE_BAD_KEY', () => {
  assert.equal(errorCode(() => receiver().push(new Uint8Array(96)), WireError), 'WIRE_MSE_BAD_KEY');
  assert.equal(errorCode(() => receiver().push(new Uint8Array(96).fill(0xff)), WireError), 'WIRE_MSE_BAD_KEY');
});

test('property: random bytes into either side never hang and throw only TorrenttpError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1500 }), fc.array(fc.nat(1500), { maxLength: 6 }), fc.boolean(), (bytes, cuts, asA) => {
      const h = asA ? initiator() : receiver();
      h.start();
      try {
        for (const p of split(bytes, cuts)) h.push(p);
      } catch (err) {
        assert.ok(err instanceof TorrenttpError, String(err));
      }
    }),
    { numRuns: 80 },
  );
});

// ── a reference initiator, written from the spec's formulas ────────────────────────────────
function sha1(...parts: (string | Uint8Array)[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
  return h.digest();
}

function rc4(k: Uint8Array): ReturnType<typeof createCipheriv> {
  const c = createCipheriv('rc4', k, null);
  c.update(Buffer.alloc(1024));
  return c;
}

/** Steps 1 and 3 of an initiator with free choice of crypto_provide, len(PadC) and a VC. */
function referenceA(b: MseHandshake, o: { provide: number; padC: number; vc?: Uint8Array; ia?: Uint8Array }): { step3: Buffer; keyB: ReturnType<typeof createCipheriv> } {
  const dh = createDiffieHellman(Buffer.from(P, 'hex'), 2);
  dh.setPrivateKey(key(5));
  const ya = Buffer.alloc(96);
  const pub = dh.generateKeys();
  pub.copy(ya, 96 - pub.length);
  const yb = Buffer.from(b.push(ya).send[0]!).subarray(0, 96);
  const s = Buffer.alloc(96);
  const sec = dh.computeSecret(yb);
  sec.copy(s, 96 - sec.length);
  const req2 = sha1('req2', infoHash);
  const req3 = sha1('req3', s);
  const xored = Buffer.from(req2.map((x, i) => x ^ req3[i]!));
  const ia = o.ia ?? Buffer.alloc(0);
  const head = Buffer.alloc(8 + 4 + 2 + o.padC + 2);
  (o.vc ?? Buffer.alloc(8)).forEach((v, i) => (head[i] = v));
  head.writeUInt32BE(o.provide, 8);
  head.writeUInt16BE(o.padC, 12);
  head.writeUInt16BE(ia.length, 14 + o.padC);
  const step3 = Buffer.concat([sha1('req1', s), xored, rc4(sha1('keyA', s, infoHash)).update(Buffer.concat([head, ia]))]);
  return { step3, keyB: rc4(sha1('keyB', s, infoHash)) };
}

test('the reference initiator (spec formulas) completes with our receiver, and step 4 decodes as the spec says', () => {
  const b = receiver();
  const { step3, keyB } = referenceA(b, { provide: MSE_RC4, padC: 17, ia: Buffer.from('hello') });
  const out = b.push(step3);
  assert.equal(new TextDecoder().decode(out.done!.payload), 'hello');
  const step4 = keyB.update(out.send[0]!);
  assert.deepEqual([...step4.subarray(0, 8)], [0, 0, 0, 0, 0, 0, 0, 0], 'VC');
  assert.equal(step4.readUInt32BE(8), MSE_RC4, 'crypto_select');
  assert.equal(step4.readUInt16BE(12), 0, 'len(PadD)');
});

test('limits: PadC, IA, VC and crypto_provide', () => {
  let b = receiver();
  assert.equal(errorCode(() => b.push(referenceA(b, { provide: MSE_RC4, padC: 513 }).step3), WireError), 'WIRE_MSE_TOO_LONG');
  b = receiver({ limits: { maxInitialPayloadBytes: 68 } });
  assert.equal(errorCode(() => b.push(referenceA(b, { provide: MSE_RC4, padC: 0, ia: Buffer.alloc(69) }).step3), WireError), 'WIRE_MSE_TOO_LONG');
  b = receiver();
  assert.equal(errorCode(() => b.push(referenceA(b, { provide: MSE_RC4, padC: 0, vc: Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]) }).step3), WireError), 'WIRE_MSE_BAD_VC');
  b = receiver();
  assert.equal(errorCode(() => b.push(referenceA(b, { provide: 0x04, padC: 0 }).step3), WireError), 'WIRE_MSE_NO_METHOD');
  b = receiver({ select: () => undefined });
  assert.equal(errorCode(() => b.push(referenceA(b, { provide: MSE_PLAINTEXT, padC: 0 }).step3), WireError), 'WIRE_MSE_NO_METHOD');
});

test('A refuses a crypto_select it did not provide, and a PadD over the limit', () => {
  // B that selects plaintext although A provided RC4 only: answer step 3 by hand.
  const a = initiator({ provide: MSE_RC4 });
  const b = receiver({ select: () => MSE_RC4 });
  const step3 = a.push(b.push(a.start()).send[0]!).send[0]!;
  const step4 = b.push(step3).send[0]!;
  // RC4 is a xor with the keystream: flipping ciphertext bits flips the same plaintext bits.
  const forged = Uint8Array.from(step4);
  forged[11] = forged[11]! ^ MSE_RC4 ^ MSE_PLAINTEXT; // select 0x02 → 0x01
  assert.equal(errorCode(() => a.push(forged), WireError), 'WIRE_MSE_NO_METHOD');
  const a2 = initiator({ provide: MSE_RC4 });
  const b2 = receiver();
  const s4 = Uint8Array.from(b2.push(a2.push(b2.push(a2.start()).send[0]!).send[0]!).send[0]!);
  s4[12] = s4[12]! ^ 0x03; // len(PadD) 0 → 0x0300 = 768
  assert.equal(errorCode(() => a2.push(s4), WireError), 'WIRE_MSE_TOO_LONG');
});

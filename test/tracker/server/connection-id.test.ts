import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { CONNECTION_ID_BUCKET_MS, ConnectionIds } from '../../../src/tracker/index.js';
import { sipHash24 } from '../../../src/tracker/server/connection-id.js';
import { parseIpNormalized } from '../../../src/tracker/ip.js';

const B = CONNECTION_ID_BUCKET_MS;

/** SipHash-2-4 reference vectors (the authors' `vectors.h`): key 00..0f, message i = bytes 00..i-1,
 *  each result as its 8 little-endian bytes. */
const SIPHASH_VECTORS = [
  '310e0edd47db6f72', 'fd67dc93c539f874', '5a4fa9d909806c0d', '2d7efbd796666785',
  'b7877127e09427cf', '8da699cd64557618', 'cee3fe586e46c9cb', '37d1018bf50002ab',
  '6224939a79f5f593', 'b0e4a90bdf82009e', 'f3b9dd94c5bb5d7a', 'a7ad6b22462fb3f4',
  'fbe50e86bc8f1e75', '903d84c02756ea14', 'eef27a8e90ca23f7', 'e545be4961ca29a1',
  'db9bc2577fcc2a3f', '9447be2cf5e99a69', '9cd38d96f0b3c14b', 'bd6179a71dc96dbb',
  '98eea21af25cd6be', 'c7673b2eb0cbf2d0', '883ea3e395675393', 'c8ce5ccd8c030ca8',
  '94af49f6c650adb8', 'eab8858ade92e1bc', 'f315bb5bb835d817', 'adcf6b0763612e2f',
  'a5c91da7acaa4dde', '716595876650a2a6', '28ef495c53a387ad', '42c341d8fa92d832',
  'ce7cf2722f512771', 'e37859f94623f3a7', '381205bb1ab0e012', 'ae97a10fd434e015',
  'b4a31508beff4d31', '81396229f0907902', '4d0cf49ee5d4dcca', '5c73336a76d8bf9a',
  'd0a704536ba93e0e', '925958fcd6420cad', 'a915c29bc8067318', '952b79f3bc0aa6d4',
  'f21df2e41d4535f9', '87577519048f53a9', '10a56cf5dfcd9adb', 'eb75095ccd986cd0',
  '51a9cb9ecba312e6', '96afadfc2ce666c7', '72fe52975a4364ee', '5a1645b276d592a1',
  'b274cb8ebf87870a', '6f9bb4203de7b381', 'eaecb2a30b22a87f', '9924a43cc1315724',
  'bd838d3aafbf8db7', '0b1a2a3265d51aea', '135079a3231ce660', '932b2846e4d70666',
  'e1915f5cb1eca46c', 'f325965ca16d629f', '575ff28e60381be5', '724506eb4c328a95',
];

test('SipHash-2-4 gives the reference vectors for every message length 0–63', () => {
  const keyBytes = Uint8Array.from({ length: 16 }, (_, i) => i);
  const key = new Uint32Array(4);
  for (let i = 0; i < 4; i++) key[i] = Buffer.from(keyBytes).readUInt32LE(4 * i);
  const msg = Uint8Array.from({ length: 64 }, (_, i) => i);
  const out = new Uint32Array(2);
  SIPHASH_VECTORS.forEach((want, len) => {
    sipHash24(key, msg, len, out);
    const le = Buffer.alloc(8);
    le.writeUInt32LE(out[1]!, 0);
    le.writeUInt32LE(out[0]!, 4);
    assert.equal(le.toString('hex'), want, `length ${len}`);
  });
});

test('connection ids live 2–4 minutes, per address (any port), whatever order the clock is read in', () => {
  const secret = new Uint8Array(32).fill(7);
  const ids = new ConnectionIds(secret);
  const t0 = 10 * B + 1;
  const id = ids.issue('192.0.2.1', t0);
  assert.ok(ids.verify(id, '192.0.2.1', t0));
  assert.ok(!ids.verify(id, '192.0.2.2', t0));
  assert.ok(!ids.verify(id ^ 1n, '192.0.2.1', t0));
  assert.ok(!ids.verify(id ^ (1n << 63n), '192.0.2.1', t0));
  assert.ok(ids.verify(id, '192.0.2.1', t0 + B)); // next bucket: still valid
  assert.ok(ids.verify(id, '192.0.2.1', t0)); // an older reading after a newer one
  assert.ok(!ids.verify(id, '192.0.2.1', t0 + 2 * B)); // two buckets on: expired
  assert.ok(!ids.verify(id, '192.0.2.1', t0 + 50 * B)); // a jump
  assert.ok(ids.verify(id, '192.0.2.1', t0)); // and back: same answer
  assert.ok(!ids.verify(id, '192.0.2.1', t0 - B)); // not valid before it was issued
  // a fresh instance with the same secret agrees (trackers sharing a store's secret)
  const other = new ConnectionIds(secret);
  assert.equal(other.issue('192.0.2.1', t0 + B - 2), id);
  assert.notEqual(new ConnectionIds(new Uint8Array(32)).issue('192.0.2.1', t0), id);
  // a dual-stack socket's IPv4-mapped form is the same source as plain IPv4
  assert.ok(ids.verify(id, '::ffff:192.0.2.1', t0));
  assert.ok(!ids.verify(id, '2001:db8::1', t0));
  assert.throws(() => ids.issue('not an address', t0), { code: 'TRACKER_BAD_IP' });
  assert.ok(!ids.verify(-1n, '192.0.2.1', t0));
  assert.ok(!ids.verify(id + (1n << 64n), '192.0.2.1', t0));
});

test('a connection id is SipHash-2-4(SHA-256(label | secret), bucket LE32 | address): no port in it', () => {
  const secret = new Uint8Array(32).fill(7);
  const digest = createHash('sha256').update('torrenttp BEP 15 connection id v3\0').update(secret).digest();
  const key = new Uint32Array(4);
  for (let i = 0; i < 4; i++) key[i] = digest.readUInt32LE(4 * i);
  const out = new Uint32Array(2);
  const idOf = (bucket: number, address: number[]): bigint => {
    const m = Buffer.alloc(4 + address.length);
    m.writeUInt32LE(bucket, 0);
    m.set(address, 4);
    sipHash24(key, m, m.length, out);
    return (BigInt(out[0]!) << 32n) | BigInt(out[1]!);
  };
  const ids = new ConnectionIds(secret);
  assert.equal(ids.issue('192.0.2.1', 10 * B + 1), idOf(10, [192, 0, 2, 1]));
  assert.equal(ids.issue('::ffff:192.0.2.1', 11 * B - 1), idOf(10, [192, 0, 2, 1]));
  assert.equal(ids.issue('2001:db8::1', 7 * B), idOf(7, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
});

test('connection ids: the word form agrees with the bigint form, and ids differ per address', () => {
  const ids = new ConnectionIds(new Uint8Array([1, 2, 3]));
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 2 ** 42 }), (address, otherAddress, now) => {
      const id = ids.issue(address, now);
      const high = Number(id >> 32n);
      const low = Number(id & 0xffffffffn);
      const v = Buffer.alloc(8);
      v.writeBigUInt64BE(id);
      assert.equal(v.readUInt32BE(0), high);
      assert.equal(v.readUInt32BE(4), low);
      assert.ok(ids.verify(id, address, now));
      const same = Buffer.from(parseIpNormalized(address)!.bytes).equals(Buffer.from(parseIpNormalized(otherAddress)!.bytes));
      assert.equal(ids.issue(otherAddress, now) === id, same);
    }),
  );
});

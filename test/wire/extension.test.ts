import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decode } from '../../src/bencode/index.js';
import { TorrenttpError } from '../../src/errors/index.js';
import { decodeExtendedHandshake, encodeExtendedHandshake, encodeMessage, EXTENDED_MESSAGE_ID, WireDecoder, WireError } from '../../src/wire/index.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const none = new Map<string, number>();
const payload = (s: string, ext = 0): Uint8Array => Uint8Array.from([ext, ...text(s)]);
const isCode = (code: string) => (e: unknown) => e instanceof WireError && e.code === code;

test('the BEP 10 extended handshake: id 20, extended id 0, a bencoded dict with m, reqq and v', () => {
  const m = encodeExtendedHandshake({ m: none, reqq: 256, v: 'torrenttp 0.1.0' });
  const bytes = encodeMessage(m);
  const body = 'd1:mde4:reqqi256e1:v15:torrenttp 0.1.0e';
  assert.deepEqual(bytes, Uint8Array.from([0, 0, 0, 2 + body.length, EXTENDED_MESSAGE_ID, 0, ...text(body)]));
  // What a peer decodes: an extension message (`unknown` to the BEP 3 codec) whose dict reads back.
  const [got] = new WireDecoder({ expectHandshake: false }).push(bytes);
  assert.ok(got?.type === 'unknown' && got.id === EXTENDED_MESSAGE_ID && got.payload[0] === 0);
  const dict = decode(got.payload.subarray(1));
  assert.ok(dict instanceof Map);
  assert.equal(dict.get('reqq'), 256);
});

test('every field: m, p, reqq, v, yourip and metadata_size, in sorted keys, and read back', () => {
  const h = { m: new Map([['ut_metadata', 1]]), p: 6881, reqq: 500, v: 'x', yourip: Uint8Array.from([127, 0, 0, 1]), metadataSize: 40_000 };
  const m = encodeExtendedHandshake(h);
  assert.ok(m.type === 'unknown');
  assert.equal(
    new TextDecoder('latin1').decode(m.payload.subarray(1)),
    'd1:md11:ut_metadatai1ee13:metadata_sizei40000e1:pi6881e4:reqqi500e1:v1:x6:yourip4:\x7f\x00\x00\x01e',
  );
  assert.deepEqual(decodeExtendedHandshake(m.payload), h);
});

test('torrenttp_max_request: written when given, read back; absent, zero or not a number reads as absent', () => {
  const m = encodeExtendedHandshake({ m: none, reqq: 256, maxRequest: 262144 });
  assert.ok(m.type === 'unknown');
  assert.equal(new TextDecoder().decode(m.payload.subarray(1)), 'd1:mde4:reqqi256e21:torrenttp_max_requesti262144ee');
  assert.equal(decodeExtendedHandshake(m.payload)?.maxRequest, 262144);
  for (const body of ['d4:reqqi256ee', 'd21:torrenttp_max_requesti0ee', 'd21:torrenttp_max_request3:abce']) {
    assert.equal(decodeExtendedHandshake(payload(body))?.maxRequest, undefined, body);
  }
});

test('encoding refuses values the wire cannot carry', () => {
  for (const h of [{ reqq: 0 }, { reqq: 2 ** 32 }, { reqq: 1.5 }, { p: 0 }, { p: 65536 }, { metadataSize: 0 }, { yourip: new Uint8Array(5) }]) {
    assert.throws(() => encodeExtendedHandshake({ m: none, ...h }), isCode('WIRE_UNENCODABLE'), JSON.stringify(h));
  }
  assert.throws(() => encodeExtendedHandshake({ m: new Map([['x', 256]]) }), isCode('WIRE_UNENCODABLE'));
});

test("a peer's handshake: unknown keys and extensions ignored, wrong-typed fields read as absent, disabled ids dropped", () => {
  const h = decodeExtendedHandshake(payload('d1:md6:ut_pexi1e11:ut_metadatai3e11:lt_donthavei0e3:bigi999ee4:reqqi512e1:v16:Transmission 3.05:e_fooi7ee'));
  assert.deepEqual(h, { m: new Map([['ut_pex', 1], ['ut_metadata', 3]]), reqq: 512, v: 'Transmission 3.0' });
  // Unsorted keys (seen from real clients): still read.
  assert.equal(decodeExtendedHandshake(payload('d4:reqqi250e1:md11:ut_metadatai2eee'))?.reqq, 250);
  for (const body of ['d1:mdee', 'd4:reqqi0ee', 'd4:reqqi-5ee', 'd4:reqq3:abce', 'd1:m3:abce', 'd13:metadata_sizei-1ee', 'd6:yourip3:abce', 'd1:pi70000ee']) {
    const got = decodeExtendedHandshake(payload(body));
    assert.ok(got !== undefined, body);
    assert.deepEqual({ ...got, m: [...got.m] }, { m: [] }, body);
  }
  // Extended id 3 is some extension's message, not the handshake.
  assert.equal(decodeExtendedHandshake(payload('d4:reqqi1ee', 3)), undefined);
});

test('a handshake that is no dict, not bencode, too large or with too many extensions is WIRE_BAD_EXTENSION', () => {
  for (const body of ['le', 'i1e', 'd4:reqq', '', 'xyz']) assert.throws(() => decodeExtendedHandshake(payload(body)), isCode('WIRE_BAD_EXTENSION'), body);
  assert.throws(() => decodeExtendedHandshake(payload(`d1:v${70000}:${'a'.repeat(70000)}e`)), isCode('WIRE_BAD_EXTENSION'));
  const many = Array.from({ length: 65 }, (_, i) => `e${String(i).padStart(3, '0')}`).map((k) => `4:${k}i1e`).join('');
  assert.throws(() => decodeExtendedHandshake(payload(`d1:md${many}ee`)), isCode('WIRE_BAD_EXTENSION'));
});

test('property: random payloads never hang and throw only TorrenttpError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        decodeExtendedHandshake(Uint8Array.from([0, ...bytes]));
      } catch (e) {
        assert.ok(e instanceof TorrenttpError);
      }
    }),
  );
});

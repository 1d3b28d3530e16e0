import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '../../src/bencode/index.js';
import { decodeExtendedHandshake, encodeExtendedHandshake, encodeMessage, EXTENDED_MESSAGE_ID, WireDecoder, WireError } from '../../src/wire/index.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

test('the BEP 10 extended handshake: id 20, extended id 0, a bencoded dict with m, reqq and v', () => {
  const m = encodeExtendedHandshake({ reqq: 256, v: 'torrenttp 0.1.0' });
  const bytes = encodeMessage(m);
  const body = 'd1:mde4:reqqi256e1:v15:torrenttp 0.1.0e';
  assert.deepEqual(bytes, Uint8Array.from([0, 0, 0, 2 + body.length, EXTENDED_MESSAGE_ID, 0, ...text(body)]));
  // What a peer decodes: an extension message (`unknown` to the BEP 3 codec) whose dict reads back.
  const [got] = new WireDecoder({ expectHandshake: false }).push(bytes);
  assert.ok(got?.type === 'unknown' && got.id === EXTENDED_MESSAGE_ID && got.payload[0] === 0);
  const dict = decode(got.payload.subarray(1));
  assert.ok(dict instanceof Map);
  assert.equal(dict.get('reqq'), 256);
  assert.deepEqual([...(dict.get('m') as Map<string, unknown>).keys()], []);
});

test('the extended handshake leaves v out when not given, and refuses a reqq that is not a positive u32', () => {
  const m = encodeExtendedHandshake({ reqq: 1 });
  assert.ok(m.type === 'unknown');
  assert.equal(new TextDecoder().decode(m.payload.subarray(1)), 'd1:mde4:reqqi1ee');
  for (const reqq of [0, -1, 1.5, 2 ** 32, Number.NaN]) {
    assert.throws(() => encodeExtendedHandshake({ reqq }), (e: unknown) => e instanceof WireError && e.code === 'WIRE_UNENCODABLE', String(reqq));
  }
});

test("a peer's extended handshake: reqq read leniently, other extension messages ignored", () => {
  const payload = (s: string, ext = 0): Uint8Array => Uint8Array.from([ext, ...text(s)]);
  assert.deepEqual(decodeExtendedHandshake(payload('d1:md6:ut_pexi1ee4:reqqi512e1:v16:Transmission 3.0e')), { reqq: 512 });
  // Unsorted keys (seen from real clients): still read.
  assert.deepEqual(decodeExtendedHandshake(payload('d4:reqqi250e1:md11:ut_metadatai2eee')), { reqq: 250 });
  // No reqq, a useless one, or a malformed dict: no limit, never an error.
  for (const body of ['d1:mdee', 'd4:reqqi0ee', 'd4:reqqi-5ee', 'd4:reqq3:abce', 'le', 'd4:reqq', '']) {
    assert.deepEqual(decodeExtendedHandshake(payload(body)), { reqq: undefined }, body);
  }
  // Extended id 3 is some extension's message, not the handshake.
  assert.equal(decodeExtendedHandshake(payload('d4:reqqi1ee', 3)), undefined);
  // What we send reads back.
  const ours = encodeExtendedHandshake({ reqq: 256, v: 'x' });
  assert.ok(ours.type === 'unknown');
  assert.deepEqual(decodeExtendedHandshake(ours.payload), { reqq: 256 });
});

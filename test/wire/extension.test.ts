import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '../../src/bencode/index.js';
import { encodeExtendedHandshake, encodeMessage, EXTENDED_MESSAGE_ID, WireDecoder, WireError } from '../../src/wire/index.js';

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

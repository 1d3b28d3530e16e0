import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encode } from '../../src/bencode/index.js';
import { TorrenttpError } from '../../src/errors/index.js';
import { decodeKrpc, DhtError, encodeError, encodeQuery, encodeResponse, KRPC_DEFAULTS } from '../../src/dht/index.js';

const id = new Uint8Array(20).fill(1);
const other = new Uint8Array(20).fill(2);
const t = Uint8Array.of(0, 0, 0, 7);

test('queries round-trip, with BEP 43 ro', () => {
  const m = decodeKrpc(encodeQuery(t, { method: 'announce_peer', id, infoHash: other, port: 6881, token: Uint8Array.of(9, 9), impliedPort: false }, true));
  assert.equal(m.y, 'q');
  assert.ok(m.y === 'q' && m.readOnly);
  assert.deepEqual(m.y === 'q' && m.query, { method: 'announce_peer', id, infoHash: other, port: 6881, token: Uint8Array.of(9, 9), impliedPort: false });
  const f = decodeKrpc(encodeQuery(t, { method: 'find_node', id, target: other }));
  assert.deepEqual(f.y === 'q' && f.query, { method: 'find_node', id, target: other });
  assert.ok(f.y === 'q' && !f.readOnly);
});

test('responses round-trip compact nodes and values', () => {
  const r = { id, nodes: [{ id: other, ip: '10.0.0.1', port: 6881 }], values: [{ ip: '1.2.3.4', port: 51413 }], token: Uint8Array.of(1, 2, 3) };
  const m = decodeKrpc(encodeResponse(t, r));
  assert.deepEqual(m.y === 'r' && m.response, r);
  const e = decodeKrpc(encodeError(t, 203, 'bad token'));
  assert.deepEqual(e, { y: 'e', t, code: 203, message: 'bad token' });
});

test('an unknown method decodes (to be answered with error 204), not a failure', () => {
  const m = decodeKrpc(encode({ a: { id }, q: 'vote', t, y: 'q' }));
  assert.deepEqual(m.y === 'q' && m.query, { method: 'unknown', id, name: 'vote' });
});

test('limits: oversize packet, deep nesting, too many values, long ids and tokens are typed errors', () => {
  const code = (b: Uint8Array) => {
    try {
      decodeKrpc(b);
    } catch (err) {
      assert.ok(err instanceof DhtError);
      return err.code;
    }
    return 'ok';
  };
  assert.equal(code(new Uint8Array(KRPC_DEFAULTS.maxPacketBytes + 1)), 'DHT_PACKET_TOO_LARGE');
  assert.equal(code(new TextEncoder().encode('l'.repeat(50) + 'e'.repeat(50))), 'DHT_BAD_PACKET');
  assert.equal(code(encode({ r: { id, values: Array.from({ length: 201 }, () => Uint8Array.of(1, 2, 3, 4, 0, 1)) }, t, y: 'r' })), 'DHT_BAD_MESSAGE'); // over maxValues
  assert.equal(code(encode({ r: { id, values: Array.from({ length: 600 }, () => Uint8Array.of(1)) }, t, y: 'r' })), 'DHT_BAD_PACKET'); // over the token limit
  assert.equal(code(encode({ a: { id: id.subarray(0, 19) }, q: 'ping', t, y: 'q' })), 'DHT_BAD_NODE_ID');
  assert.equal(code(encode({ a: { id }, q: 'ping', t: new Uint8Array(17), y: 'q' })), 'DHT_BAD_MESSAGE');
  assert.equal(code(encode({ a: { id, info_hash: other, port: 1, token: new Uint8Array(65) }, q: 'announce_peer', t, y: 'q' })), 'DHT_BAD_MESSAGE');
  assert.equal(code(encode({ a: { id, info_hash: other, port: 0, token: t }, q: 'announce_peer', t, y: 'q' })), 'DHT_BAD_MESSAGE');
  assert.equal(code(encode({ r: { id, nodes: new Uint8Array(25) }, t, y: 'r' })), 'DHT_BAD_MESSAGE');
  assert.equal(code(encode({ r: { id, values: Array.from({ length: 150 }, () => Uint8Array.of(1, 2, 3, 4, 0, 1)) }, t, y: 'r' }).subarray(0, 10)), 'DHT_BAD_PACKET');
  assert.equal(code(encode({ e: [201], t, y: 'e' })), 'DHT_BAD_MESSAGE');
  assert.equal(code(encode({ t, y: 'x' })), 'DHT_BAD_MESSAGE');
});

test('a values list over maxValues is refused', () => {
  const b = encode({ r: { id, values: Array.from({ length: 11 }, () => Uint8Array.of(1, 2, 3, 4, 0, 1)) }, t, y: 'r' });
  assert.throws(() => decodeKrpc(b, { maxValues: 10 }), (e: unknown) => e instanceof DhtError && e.code === 'DHT_BAD_MESSAGE');
});

test('random bytes never hang and throw only TorrenttpError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      try {
        decodeKrpc(b);
      } catch (err) {
        assert.ok(err instanceof TorrenttpError, String(err));
      }
    }),
    { numRuns: 2000 },
  );
});

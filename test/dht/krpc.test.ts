import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decode, encode } from '../../src/bencode/index.js';
import { TorrenttpError } from '../../src/errors/index.js';
import {
  COMPACT_NODE6_BYTES,
  decodeCompactNodes6,
  decodeKrpc,
  DhtError,
  encodeCompactNodes,
  encodeCompactNodes6,
  encodeError,
  encodeQuery,
  encodeResponse,
  KRPC_DEFAULTS,
} from '../../src/dht/index.js';

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

/** The code of the typed error decoding `b` throws, or 'ok'. */
function code(b: Uint8Array): string {
  try {
    decodeKrpc(b);
  } catch (err) {
    assert.ok(err instanceof DhtError);
    return err.code;
  }
  return 'ok';
}

test('an unknown method decodes (to be answered with error 204), not a failure', () => {
  const m = decodeKrpc(encode({ a: { id }, q: 'vote', t, y: 'q' }));
  assert.deepEqual(m.y === 'q' && m.query, { method: 'unknown', id, name: 'vote' });
});

test('limits: oversize packet, deep nesting, too many values, long ids and tokens are typed errors', () => {
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

// ── BEP 32 (IPv6) ─────────────────────────────────────────────────────────────────────────

test('BEP 32: nodes6 (38-byte entries) and 18-byte values round-trip beside nodes and 6-byte values', () => {
  const r = {
    id,
    nodes: [{ id: other, ip: '10.0.0.1', port: 6881 }],
    nodes6: [
      { id: other, ip: '2001:db8::1', port: 6881 },
      { id, ip: '::1', port: 1 },
    ],
    values: [{ ip: '1.2.3.4', port: 51413 }, { ip: '2001:db8:0:1::7', port: 6882 }],
    token: Uint8Array.of(1, 2, 3),
  };
  const packet = encodeResponse(t, r);
  const m = decodeKrpc(packet);
  assert.deepEqual(m.y === 'r' && m.response, r);
  // The wire form: exactly 2 × 38 bytes of nodes6, and one 18-byte value.
  const raw = decodeRaw(packet);
  assert.equal((raw.get('nodes6') as Uint8Array).length, 2 * COMPACT_NODE6_BYTES);
  assert.deepEqual(((raw.get('values') as Uint8Array[]).map((v) => v.length)), [6, 18]);
  const n6 = encodeCompactNodes6(r.nodes6);
  assert.deepEqual([...n6.subarray(20, 38)], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe1]);
  assert.deepEqual(decodeCompactNodes6(n6), r.nodes6);
});

function decodeRaw(packet: Uint8Array): Map<string, unknown> {
  const v = decode(packet) as Map<string, unknown>;
  return v.get('r') as Map<string, unknown>;
}

test('BEP 32: malformed nodes6 and values lengths are DHT_BAD_MESSAGE; a family in the wrong list is refused when encoding', () => {
  for (const len of [26, 37, 39, 76 - 1, 38 * 2 + 26]) {
    assert.equal(code(encode({ r: { id, nodes6: new Uint8Array(len) }, t, y: 'r' })), 'DHT_BAD_MESSAGE', `nodes6 of ${len} bytes`);
  }
  assert.equal(code(encode({ r: { id, nodes6: new Uint8Array(76) }, t, y: 'r' })), 'ok');
  assert.equal(code(encode({ r: { id, nodes6: 5 }, t, y: 'r' })), 'DHT_BAD_MESSAGE');
  for (const len of [0, 5, 7, 16, 17, 19, 38]) {
    assert.equal(code(encode({ r: { id, values: [new Uint8Array(len)] }, t, y: 'r' })), 'DHT_BAD_MESSAGE', `a value of ${len} bytes`);
  }
  assert.throws(() => encodeCompactNodes6([{ id, ip: '10.0.0.1', port: 1 }]), (e: unknown) => e instanceof DhtError && e.code === 'DHT_BAD_MESSAGE');
  assert.throws(() => encodeCompactNodes([{ id, ip: '::1', port: 1 }]), (e: unknown) => e instanceof DhtError && e.code === 'DHT_BAD_MESSAGE');
  assert.throws(() => encodeResponse(t, { id, nodes: [], values: [{ ip: 'not-an-ip', port: 1 }] }), (e: unknown) => e instanceof DhtError);
});

test('BEP 32: want (n4/n6) on find_node and get_peers round-trips; unknown flags are ignored, a non-list is refused', () => {
  const f = decodeKrpc(encodeQuery(t, { method: 'find_node', id, target: other, want: [4, 6] }));
  assert.deepEqual(f.y === 'q' && f.query, { method: 'find_node', id, target: other, want: [4, 6] });
  const g = decodeKrpc(encodeQuery(t, { method: 'get_peers', id, infoHash: other, want: [6] }));
  assert.deepEqual(g.y === 'q' && g.query, { method: 'get_peers', id, infoHash: other, want: [6] });
  const odd = decodeKrpc(encode({ a: { id, target: other, want: ['n6', 'x9', 'n6'] }, q: 'find_node', t, y: 'q' }));
  assert.deepEqual(odd.y === 'q' && odd.query, { method: 'find_node', id, target: other, want: [6] });
  assert.throws(() => decodeKrpc(encode({ a: { id, target: other, want: 'n6' }, q: 'find_node', t, y: 'q' })), (e: unknown) => e instanceof DhtError && e.code === 'DHT_BAD_MESSAGE');
  assert.throws(() => decodeKrpc(encode({ a: { id, target: other, want: [4] }, q: 'find_node', t, y: 'q' })), (e: unknown) => e instanceof DhtError && e.code === 'DHT_BAD_MESSAGE');
});

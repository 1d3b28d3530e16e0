/**
 * Property tests of the KRPC codec (BEP 5, BEP 32, BEP 43), beyond krpc.test.ts's random bytes
 * (which seldom even parse as bencode):
 * - every message we can encode decodes to itself (queries with `want`, responses with nodes,
 *   nodes6, values of both families and tokens, errors);
 * - hostile packets built from KRPC's own vocabulary (right keys, wrong types and sizes, nested
 *   junk, within and past the limits) and byte-level damage to valid packets either decode to a
 *   message that keeps every invariant the node relies on, or fail with a DhtError; nothing else
 *   is ever thrown, and the limits hold for any limits given.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encode, type BencodeValue } from '../../src/bencode/index.js';
import {
  decodeKrpc,
  DhtError,
  encodeError,
  encodeQuery,
  encodeResponse,
  KRPC_DEFAULTS,
  type CompactNode,
  type KrpcLimits,
  type KrpcMessage,
  type KrpcQuery,
  type PeerAddr,
} from '../../src/dht/index.js';

const id20 = fc.uint8Array({ minLength: 20, maxLength: 20 });
const tid = fc.uint8Array({ minLength: 1, maxLength: 16 });
const port = fc.integer({ min: 1, max: 65535 });
const ip4 = fc.ipV4();
/** IPv6 addresses as the codec prints them (formatIp: RFC 5952 compressed). */
const ip6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
  const groups = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16));
  return groups.join(':');
});
const node4 = fc.record({ id: id20, ip: ip4, port: fc.integer({ min: 0, max: 65535 }) });
const node6 = fc.record({ id: id20, ip: ip6, port: fc.integer({ min: 0, max: 65535 }) });
const peer: fc.Arbitrary<PeerAddr> = fc.record({ ip: fc.oneof(ip4, ip6), port: fc.integer({ min: 0, max: 65535 }) });
const want = fc.option(fc.subarray([4, 6] as const, { minLength: 0 }), { nil: undefined });

const query: fc.Arbitrary<Exclude<KrpcQuery, { method: 'unknown' }>> = fc.oneof(
  fc.record({ method: fc.constant('ping' as const), id: id20 }),
  fc.record({ method: fc.constant('find_node' as const), id: id20, target: id20, want }),
  fc.record({ method: fc.constant('get_peers' as const), id: id20, infoHash: id20, want }),
  fc.record({ method: fc.constant('announce_peer' as const), id: id20, infoHash: id20, port, token: fc.uint8Array({ minLength: 1, maxLength: 64 }), impliedPort: fc.boolean() }),
);

/** Addresses compared as the codec writes them back (IPv6 text normalised through encode/decode). */
const norm = (ip: string): string => (ip.includes(':') ? ip.split(':').map((g) => parseInt(g || '0', 16).toString(16)).join(':') : ip);
const normNodes = (ns: readonly CompactNode[] | undefined) => (ns ?? []).map((n) => ({ id: [...n.id], ip: norm(expandV6(n.ip)), port: n.port }));
const normPeers = (ps: readonly PeerAddr[]) => ps.map((p) => ({ ip: norm(expandV6(p.ip)), port: p.port }));
function expandV6(ip: string): string {
  if (!ip.includes('::')) return ip;
  const [head, tail] = ip.split('::') as [string, string];
  const h = head === '' ? [] : head.split(':');
  const tl = tail === '' ? [] : tail.split(':');
  return [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl].join(':');
}

test('property: every query we encode (want, ro, implied_port) decodes to itself', () => {
  fc.assert(
    fc.property(tid, query, fc.boolean(), (t, q, ro) => {
      const m = decodeKrpc(encodeQuery(t, q, ro));
      assert.ok(m.y === 'q');
      assert.deepEqual([...m.t], [...t]);
      assert.equal(m.readOnly, ro);
      const expected = q.method === 'announce_peer' && q.impliedPort ? q : q;
      const withoutUndefined = Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined));
      assert.deepEqual(m.query, withoutUndefined);
    }),
    { numRuns: 1000 },
  );
});

test('property: every response and error we encode decodes to itself', () => {
  fc.assert(
    fc.property(
      tid,
      id20,
      fc.array(node4.filter((n) => n.port > 0), { maxLength: 8 }),
      fc.array(node6.filter((n) => n.port > 0), { maxLength: 8 }),
      fc.array(peer, { maxLength: 100 }),
      fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 }), { nil: undefined }),
      (t, id, nodes, nodes6, values, token) => {
        const m = decodeKrpc(encodeResponse(t, { id, nodes, nodes6, values, ...(token === undefined ? {} : { token }) }));
        assert.ok(m.y === 'r');
        assert.deepEqual([...m.response.id], [...id]);
        assert.deepEqual(normNodes(m.response.nodes), normNodes(nodes));
        assert.deepEqual(normNodes(m.response.nodes6), normNodes(nodes6));
        assert.deepEqual(normPeers(m.response.values), normPeers(values));
        assert.deepEqual(m.response.token === undefined ? undefined : [...m.response.token], token === undefined ? undefined : [...token]);
      },
    ),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(tid, fc.integer({ min: 0, max: 1e6 }), fc.string({ maxLength: 100 }), (t, code, message) => {
      const m = decodeKrpc(encodeError(t, code, message));
      assert.ok(m.y === 'e' && m.code === code);
    }),
  );
});

/** Bencode values from KRPC's own vocabulary: the right keys, any types, sizes around the limits. */
const keys = ['t', 'y', 'q', 'a', 'r', 'e', 'id', 'target', 'info_hash', 'want', 'port', 'token', 'implied_port', 'nodes', 'nodes6', 'values', 'ro', 'v', 'x'];
const leaf: fc.Arbitrary<BencodeValue> = fc.oneof(
  fc.integer({ min: -70000, max: 70000 }),
  fc.constantFrom(0, 1, 65535, 65536, -1, Number.MAX_SAFE_INTEGER),
  fc.constantFrom('q', 'r', 'e', 'x', 'ping', 'find_node', 'get_peers', 'announce_peer', 'n4', 'n6', 'n5').map((s) => new TextEncoder().encode(s)),
  fc.integer({ min: 0, max: 80 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
  fc.constantFrom(6, 18, 20, 26, 38, 52, 76, 25, 37, 19, 21).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
);
const value: fc.Arbitrary<BencodeValue> = fc.letrec<{ v: BencodeValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('v'), { maxLength: 6 }),
    fc.array(leaf, { minLength: 0, maxLength: 260 }),
    fc.dictionary(fc.constantFrom(...keys), tie('v'), { maxKeys: 8 }).map((d) => new Map(Object.entries(d)) as BencodeValue),
  ),
})).v;
const envelope: fc.Arbitrary<BencodeValue> = fc
  .record(
    {
      t: fc.oneof(tid, value),
      y: fc.oneof(fc.constantFrom('q', 'r', 'e').map((s) => new TextEncoder().encode(s)), value),
      q: fc.oneof(fc.constantFrom('ping', 'find_node', 'get_peers', 'announce_peer', 'vote').map((s) => new TextEncoder().encode(s)), value),
      a: fc.oneof(fc.dictionary(fc.constantFrom(...keys), fc.oneof(id20, value), { maxKeys: 8 }).map((d) => new Map(Object.entries(d)) as BencodeValue), value),
      r: fc.oneof(fc.dictionary(fc.constantFrom(...keys), fc.oneof(id20, value), { maxKeys: 8 }).map((d) => new Map(Object.entries(d)) as BencodeValue), value),
      e: value,
      ro: value,
    },
    { requiredKeys: [] },
  )
  .map((d) => new Map(Object.entries(d)) as BencodeValue);

const limits: fc.Arbitrary<KrpcLimits> = fc.record(
  {
    maxPacketBytes: fc.integer({ min: 1, max: 8192 }),
    maxTokens: fc.integer({ min: 1, max: 1024 }),
    maxDepth: fc.integer({ min: 1, max: 6 }),
    maxTransactionBytes: fc.integer({ min: 1, max: 32 }),
    maxTokenBytes: fc.integer({ min: 1, max: 80 }),
    maxValues: fc.integer({ min: 0, max: 300 }),
  },
  { requiredKeys: [] },
);

/** What the node relies on in any message the decoder lets through. */
function invariants(m: KrpcMessage, packet: Uint8Array, l: Required<KrpcLimits>): void {
  assert.ok(packet.length <= l.maxPacketBytes);
  assert.ok(m.t.length >= 1 && m.t.length <= l.maxTransactionBytes, 'transaction id within the limit');
  if (m.y === 'q') {
    assert.equal(m.query.id.length, 20, 'a query carries a 20-byte id');
    const q = m.query;
    if (q.method === 'find_node') assert.equal(q.target.length, 20);
    if (q.method === 'get_peers' || q.method === 'announce_peer') assert.equal(q.infoHash.length, 20);
    if ((q.method === 'find_node' || q.method === 'get_peers') && q.want !== undefined) assert.ok(q.want.every((f) => f === 4 || f === 6) && new Set(q.want).size === q.want.length);
    if (q.method === 'announce_peer') {
      assert.ok(q.token.length >= 1 && q.token.length <= l.maxTokenBytes);
      assert.ok(q.impliedPort || (Number.isInteger(q.port) && q.port >= 1 && q.port <= 65535), 'a port to store');
    }
    if (q.method === 'unknown') assert.ok(q.name.length <= 32);
  } else if (m.y === 'r') {
    assert.equal(m.response.id.length, 20);
    assert.ok(m.response.values.length <= l.maxValues, 'values within the limit');
    for (const n of [...m.response.nodes, ...(m.response.nodes6 ?? [])]) {
      assert.equal(n.id.length, 20);
      assert.ok(Number.isInteger(n.port) && n.port >= 0 && n.port <= 65535);
    }
    assert.ok(m.response.nodes.every((n) => !n.ip.includes(':')), 'nodes are IPv4');
    assert.ok((m.response.nodes6 ?? []).every((n) => n.ip.includes(':')), 'nodes6 are IPv6');
    if (m.response.token !== undefined) assert.ok(m.response.token.length >= 1 && m.response.token.length <= l.maxTokenBytes);
  } else {
    assert.ok(Number.isFinite(m.code) && m.message.length <= 200);
  }
}

function decodeChecked(packet: Uint8Array, given: KrpcLimits = {}): void {
  const l: Required<KrpcLimits> = { ...KRPC_DEFAULTS, ...given };
  let m: KrpcMessage;
  try {
    m = decodeKrpc(packet, given);
  } catch (err) {
    assert.ok(err instanceof DhtError, `only DhtError is thrown, got ${String(err)}`);
    return;
  }
  invariants(m, packet, l);
}

test('property: hostile packets of KRPC vocabulary either keep every invariant or fail with a DhtError, under any limits', () => {
  fc.assert(
    fc.property(envelope, limits, (v, l) => {
      const packet = encode(v);
      decodeChecked(packet);
      decodeChecked(packet, l);
    }),
    { numRuns: 3000 },
  );
});

/** Near-valid messages: the right envelope and types, with sizes and counts around every limit and now and then one wrong part. */
const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const sized = (lengths: readonly number[]) => fc.constantFrom(...lengths).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));
const item = fc.oneof({ weight: 20, arbitrary: sized([6, 18]) }, { weight: 1, arbitrary: leaf });
const nearValid: fc.Arbitrary<BencodeValue> = fc.oneof(
  fc.record({
    t: fc.oneof({ weight: 9, arbitrary: tid }, { weight: 1, arbitrary: sized([0, 17, 32]) }),
    y: fc.constant(b('r')),
    r: fc
      .record(
        {
          id: fc.oneof({ weight: 9, arbitrary: id20 }, { weight: 1, arbitrary: sized([0, 19, 21]) }),
          nodes: sized([0, 26, 52, 208, 25, 27]),
          nodes6: sized([0, 38, 76, 304, 37, 39]),
          values: fc.array(item, { maxLength: 320 }),
          token: sized([1, 4, 20, 64, 65, 0]),
        },
        { requiredKeys: ['id'] },
      )
      .map((d) => new Map(Object.entries(d)) as BencodeValue),
  }).map((d) => new Map(Object.entries(d)) as BencodeValue),
  fc.record({
    t: tid,
    y: fc.constant(b('q')),
    q: fc.constantFrom('ping', 'find_node', 'get_peers', 'announce_peer', 'sample_infohashes').map(b),
    a: fc
      .record(
        {
          id: fc.oneof({ weight: 9, arbitrary: id20 }, { weight: 1, arbitrary: sized([19, 21]) }),
          target: id20,
          info_hash: fc.oneof({ weight: 9, arbitrary: id20 }, { weight: 1, arbitrary: sized([0, 40]) }),
          want: fc.oneof(fc.array(fc.constantFrom('n4', 'n6', 'n5', 'n4').map(b), { maxLength: 5 }), leaf),
          port: fc.oneof(port, fc.constantFrom(0, -1, 65536, 2 ** 40)),
          implied_port: fc.constantFrom(0, 1, 2),
          token: sized([1, 4, 64, 65, 0]),
        },
        { requiredKeys: ['id'] },
      )
      .map((d) => new Map(Object.entries(d)) as BencodeValue),
    ro: fc.constantFrom(0, 1),
  }).map((d) => new Map(Object.entries(d)) as BencodeValue),
);

test('property: near-valid packets (sizes and counts around every limit) keep every invariant or fail with a DhtError', () => {
  fc.assert(
    fc.property(nearValid, limits, (v, l) => {
      const packet = encode(v);
      decodeChecked(packet);
      decodeChecked(packet, l);
    }),
    { numRuns: 3000 },
  );
});

test('property: byte-level damage to valid packets (flips, cuts, inserts) fails only with a DhtError', () => {
  const valid = fc.oneof(
    fc.tuple(tid, query, fc.boolean()).map(([t, q, ro]) => encodeQuery(t, q, ro)),
    fc.tuple(tid, id20, fc.array(node4, { maxLength: 8 }), fc.array(peer, { maxLength: 30 })).map(([t, id, nodes, values]) => encodeResponse(t, { id, nodes, values, token: Uint8Array.of(1, 2, 3, 4) })),
  );
  const damage = fc.array(fc.tuple(fc.constantFrom('flip', 'cut', 'insert'), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 });
  fc.assert(
    fc.property(valid, damage, (packet, ops) => {
      let b = [...packet];
      for (const [op, at, byte] of ops) {
        const i = b.length === 0 ? 0 : at % b.length;
        if (op === 'flip') b[i] = byte;
        else if (op === 'cut') b = b.slice(0, i);
        else b.splice(i, 0, byte);
      }
      decodeChecked(Uint8Array.from(b));
    }),
    { numRuns: 3000 },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  WireDecoder,
  WIRE_DECODER_DEFAULTS,
  encodeHandshake,
  encodeMessage,
  encodeMessages,
  type PieceGeometry,
  type WireMessage,
} from '../../src/wire/index.js';
import { concat, cutsArb, decodeChunks, geometry, split, streamArb, trickle } from './arbitraries.js';

const infoHash = new Uint8Array(20).fill(0xab);
const peerId = new Uint8Array(20).fill(0x2d);
const handshake = encodeHandshake({ infoHash, peerId });

test('property: every chunking of a valid stream decodes to the same messages', () => {
  fc.assert(
    fc.property(
      streamArb.chain((messages) => {
        const bytes = encodeMessages(messages);
        return fc.tuple(fc.constant(messages), fc.constant(bytes), cutsArb(bytes.length));
      }),
      ([messages, bytes, cuts]) => {
        assert.deepEqual(decodeChunks([bytes]), messages);
        assert.deepEqual(decodeChunks(split(bytes, cuts)), messages);
      },
    ),
    { numRuns: 500 },
  );
});

test('property: reuseAssemblyBuffers, with each push\'s messages used before the next push (as the transport does), decodes the same', () => {
  /** Copies every byte field of `m`: what a consumer keeps must be copied before the next push. */
  const settled = (m: WireMessage): WireMessage => JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v))) as WireMessage;
  fc.assert(
    fc.property(
      streamArb.chain((messages) => {
        const bytes = encodeMessages(messages);
        return fc.tuple(fc.constant(bytes), cutsArb(bytes.length));
      }),
      ([bytes, cuts]) => {
        const chunks = split(bytes, cuts);
        const d = new WireDecoder({ reuseAssemblyBuffers: true });
        const got: WireMessage[] = [];
        for (const c of chunks) got.push(...d.push(c).map(settled));
        assert.deepEqual(got, decodeChunks(chunks).map(settled));
      },
    ),
    { numRuns: 500 },
  );
});

test('reuseAssemblyBuffers: straddling blocks take two decoder buffers in turn', () => {
  const g = geometry(4, 16384);
  const piece = (i: number): Uint8Array => encodeMessage({ type: 'piece', index: i, begin: 0, block: new Uint8Array(16384).fill(i + 1) });
  const bytes = concat(handshake, encodeMessage({ type: 'bitfield', bitfield: new Uint8Array([0]) }), piece(0), piece(1), piece(2), piece(3));
  const d = new WireDecoder({ torrent: g, reuseAssemblyBuffers: true });
  const blocks: Uint8Array[] = [];
  // Cut every message in two, so every block straddles a push.
  for (const c of split(bytes, [100, 100 + 16400, 100 + 2 * 16400, 100 + 3 * 16400])) {
    for (const m of d.push(c)) if (m.type === 'piece') blocks.push(m.block);
  }
  assert.equal(blocks.length, 4);
  assert.equal(blocks[0]!.buffer, blocks[2]!.buffer, 'the first buffer again');
  assert.equal(blocks[1]!.buffer, blocks[3]!.buffer, 'the second buffer again');
  assert.notEqual(blocks[0]!.buffer, blocks[1]!.buffer);
});

test('property: a 1-byte trickle decodes to the same messages', () => {
  fc.assert(
    fc.property(streamArb, (messages) => {
      assert.deepEqual(decodeChunks(trickle(encodeMessages(messages))), messages);
    }),
    { numRuns: 100 },
  );
});

test('push returns only the messages each chunk completes', () => {
  const d = new WireDecoder();
  assert.deepEqual(d.push(handshake.subarray(0, 67)), []);
  assert.equal(d.state, 'handshake');
  const rest = concat(handshake.subarray(67), encodeMessage({ type: 'interested' }), new Uint8Array([0, 0]));
  const got = d.push(rest);
  assert.deepEqual(got.map((m) => m.type), ['handshake', 'interested']);
  assert.deepEqual(d.push(new Uint8Array([0])), []);
  assert.deepEqual(d.push(new Uint8Array([0])), [{ type: 'keepAlive' }]);
  assert.deepEqual(d.push(new Uint8Array(0)), []);
});

test('the handshake is emitted first, with the reserved bytes kept', () => {
  const reserved = new Uint8Array([1, 2, 3, 4, 5, 0x10, 7, 0x05]);
  const d = new WireDecoder();
  const [m] = d.push(encodeHandshake({ infoHash, peerId, reserved }));
  assert.deepEqual(m, { type: 'handshake', reserved, infoHash, peerId });
});

test('states: handshake → firstMessage → messages', () => {
  const d = new WireDecoder();
  assert.equal(d.state, 'handshake');
  d.push(handshake);
  assert.equal(d.state, 'firstMessage');
  d.push(encodeMessages([{ type: 'keepAlive' }, { type: 'port', port: 1 }, { type: 'unknown', id: 20, payload: new Uint8Array(3) }]));
  assert.equal(d.state, 'firstMessage', 'keep-alive, port and extension messages may precede the bitfield');
  d.push(encodeMessage({ type: 'bitfield', bitfield: new Uint8Array(2) }));
  assert.equal(d.state, 'messages');

  const e = new WireDecoder({ expectHandshake: false });
  assert.equal(e.state, 'firstMessage');
  e.push(encodeMessage({ type: 'have', index: 1 }));
  assert.equal(e.state, 'firstMessage', 'a bitfield may still come (aria2 sends it late)');
  e.push(encodeMessage({ type: 'bitfield', bitfield: new Uint8Array(1) }));
  assert.equal(e.state, 'messages');
});

test('expectHandshake: false starts with messages', () => {
  const bytes = encodeMessages([{ type: 'bitfield', bitfield: new Uint8Array([0x80]) }, { type: 'unchoke' }]);
  assert.deepEqual(decodeChunks([bytes], { expectHandshake: false }), [
    { type: 'bitfield', bitfield: new Uint8Array([0x80]) },
    { type: 'unchoke' },
  ]);
});

test('unknown ids are returned, not fatal, with their payload', () => {
  const d = new WireDecoder({ expectHandshake: false });
  const messages = d.push(encodeMessages([
    { type: 'unknown', id: 20, payload: new Uint8Array([0x64, 0x65]) },
    { type: 'unknown', id: 13, payload: new Uint8Array(4) },
    { type: 'unknown', id: 255, payload: new Uint8Array(0) },
    { type: 'choke' },
  ]));
  assert.deepEqual(messages.map((m) => (m.type === 'unknown' ? m.id : m.type)), [20, 13, 255, 'choke']);
});

test('zero-copy: a block inside one chunk is a view of that chunk', () => {
  const block = new Uint8Array(16384).map((_, i) => i & 0xff);
  const chunk = concat(handshake, encodeMessage({ type: 'piece', index: 3, begin: 16384, block }), encodeMessage({ type: 'choke' }));
  const [, piece] = new WireDecoder().push(chunk);
  assert.ok(piece !== undefined && piece.type === 'piece');
  assert.equal(piece.block.buffer, chunk.buffer);
  assert.equal(piece.block.byteOffset, chunk.byteOffset + 68 + 13);
  assert.deepEqual(piece.block, block);
  chunk[68 + 13] = 0xee; // views alias the caller's chunk: documented, and asserted so it stays true
  assert.equal(piece.block[0], 0xee);
});

test('zero-copy also holds for a chunk that is a view into a larger buffer', () => {
  const backing = new Uint8Array(1000);
  const message = encodeMessage({ type: 'piece', index: 0, begin: 0, block: new Uint8Array([9, 8, 7]) });
  backing.set(message, 100);
  const [piece] = new WireDecoder({ expectHandshake: false }).push(backing.subarray(100, 100 + message.length));
  assert.ok(piece !== undefined && piece.type === 'piece');
  assert.equal(piece.block.buffer, backing.buffer);
  assert.equal(piece.block.byteOffset, 113);
});

test('a message that straddles chunks is assembled into a fresh buffer', () => {
  const block = new Uint8Array(1000).fill(7);
  const bytes = encodeMessage({ type: 'piece', index: 0, begin: 0, block });
  const a = bytes.slice(0, 500);
  const b = bytes.slice(500);
  const d = new WireDecoder({ expectHandshake: false });
  assert.deepEqual(d.push(a), []);
  const [piece] = d.push(b);
  assert.ok(piece !== undefined && piece.type === 'piece');
  assert.notEqual(piece.block.buffer, a.buffer);
  assert.notEqual(piece.block.buffer, b.buffer);
  assert.deepEqual(piece.block, block);
  b.fill(0); // the caller may reuse its chunks: an assembled message does not alias them
  assert.deepEqual(piece.block, block);
});

test('handshake fields are copies, so they do not pin the chunk', () => {
  const chunk = concat(handshake);
  const [m] = new WireDecoder().push(chunk);
  assert.ok(m !== undefined && m.type === 'handshake');
  assert.notEqual(m.infoHash.buffer, chunk.buffer);
});

test('geometry: torrent option, setTorrent and torrentFor', () => {
  const g = geometry(10, 32768, 1000);
  const have = encodeMessage({ type: 'have', index: 10 });
  assert.doesNotThrow(() => new WireDecoder({ expectHandshake: false }).push(have), 'no geometry, no range check');
  assert.throws(() => new WireDecoder({ expectHandshake: false, torrent: g }).push(have), { code: 'WIRE_OUT_OF_RANGE' });

  const later = new WireDecoder({ expectHandshake: false });
  later.push(encodeMessage({ type: 'have', index: 99 }));
  later.setTorrent(g); // e.g. once BEP 9 metadata arrives
  assert.throws(() => later.push(have), { code: 'WIRE_OUT_OF_RANGE' });

  const seen: Uint8Array[] = [];
  const torrentFor = (hash: Uint8Array): PieceGeometry | undefined => {
    seen.push(hash);
    return g;
  };
  // The bitfield arrives in the same chunk as the handshake and is still checked against `g`.
  const chunk = concat(handshake, encodeMessage({ type: 'bitfield', bitfield: new Uint8Array(1) }));
  assert.throws(() => new WireDecoder({ torrentFor }).push(chunk), { code: 'WIRE_BAD_BITFIELD' });
  assert.deepEqual(seen, [infoHash]);
  const ok = concat(handshake, encodeMessage({ type: 'bitfield', bitfield: new Uint8Array([0xff, 0xc0]) }));
  assert.equal(new WireDecoder({ torrentFor }).push(ok).length, 2);
  assert.equal(new WireDecoder({ torrentFor: () => undefined }).push(chunk).length, 2);
});

test('geometry: valid requests, pieces and bitfields pass, including the short last piece', () => {
  const g = geometry(10, 32768, 1000);
  const messages: WireMessage[] = [
    { type: 'bitfield', bitfield: new Uint8Array([0xff, 0xc0]) },
    { type: 'have', index: 9 },
    { type: 'request', index: 8, begin: 16384, length: 16384 },
    { type: 'request', index: 9, begin: 0, length: 1000 },
    { type: 'cancel', index: 9, begin: 999, length: 1 },
    { type: 'piece', index: 9, begin: 500, block: new Uint8Array(500) },
  ];
  assert.deepEqual(decodeChunks([encodeMessages(messages)], { expectHandshake: false, torrent: g }), messages);
  const exact = geometry(16, 16384);
  const bf: WireMessage = { type: 'bitfield', bitfield: new Uint8Array([0xff, 0xff]) };
  assert.deepEqual(decodeChunks([encodeMessage(bf)], { expectHandshake: false, torrent: exact }), [bf]);
});

test('a maximal message is accepted and a 1 MiB bitfield trickled byte by byte costs O(n)', { timeout: 60_000 }, () => {
  const max = WIRE_DECODER_DEFAULTS.maxMessageBytes;
  const bitfield = new Uint8Array(max - 1).fill(0xff);
  const bytes = encodeMessage({ type: 'bitfield', bitfield });
  const d = new WireDecoder({ expectHandshake: false });
  const out: WireMessage[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(...d.push(bytes.subarray(i, i + 1)));
  assert.equal(out.length, 1);
  assert.deepEqual(out[0], { type: 'bitfield', bitfield });
});

test('1 MiB of piece messages pushed one byte at a time decodes every block', { timeout: 60_000 }, () => {
  const blocks = 64;
  const messages: WireMessage[] = [];
  for (let i = 0; i < blocks; i++) {
    messages.push({ type: 'piece', index: i >> 2, begin: (i & 3) * 16384, block: new Uint8Array(16384).fill(i) });
  }
  const bytes = encodeMessages(messages);
  const d = new WireDecoder({ expectHandshake: false });
  const out: WireMessage[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(...d.push(bytes.subarray(i, i + 1)));
  assert.deepEqual(out, messages);
});

test('property: a run (a piece message past maxRequestBytes, up to maxRunBytes) comes out as one piece message per 16 KiB block, whatever the chunking', () => {
  const settled = (m: WireMessage): WireMessage => JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v))) as WireMessage;
  fc.assert(
    fc.property(
      fc.integer({ min: 16385, max: 4 * 16384 }).chain((length) =>
        fc.tuple(fc.constant(length), fc.integer({ min: 0, max: 7 }), cutsArb(4 + 9 + length + 5 + 4 + 9 + 100)),
      ),
      ([length, blockAt, cuts]) => {
        const run = Uint8Array.from({ length }, (_, i) => (i * 7 + length) & 0xff);
        const begin = blockAt * 16384;
        const small = new Uint8Array(100).fill(9);
        const bytes = encodeMessages([{ type: 'piece', index: 3, begin, block: run }, { type: 'have', index: 1 }, { type: 'piece', index: 2, begin: 0, block: small }]);
        const want: WireMessage[] = [];
        for (let off = 0; off < length; off += 16384) want.push({ type: 'piece', index: 3, begin: begin + off, block: run.subarray(off, Math.min(length, off + 16384)) });
        want.push({ type: 'have', index: 1 }, { type: 'piece', index: 2, begin: 0, block: small });
        const opts = { expectHandshake: false, maxRunBytes: 4 * 16384 };
        assert.deepEqual(decodeChunks([bytes], opts).map(settled), want.map(settled));
        assert.deepEqual(decodeChunks(split(bytes, cuts), opts).map(settled), want.map(settled));
        const d = new WireDecoder({ ...opts, reuseAssemblyBuffers: true });
        const got: WireMessage[] = [];
        for (const c of split(bytes, cuts)) got.push(...d.push(c).map(settled));
        assert.deepEqual(got, want.map(settled));
      },
    ),
    { numRuns: 300 },
  );
});

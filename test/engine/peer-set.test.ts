import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Torrent } from '../../src/engine/index.js';
import { Bitfield, parseTorrent, type PieceIndex } from '../../src/metainfo/index.js';
import { FakeLink, MemoryStore } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const PIECE = 32 * 1024;
const data = bytes(8 * PIECE, 5);
const metainfo = parseTorrent(torrentBytes({ name: 'f', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));
const tick = () => new Promise((r) => setImmediate(r));
const avail = (t: Torrent) => Array.from({ length: metainfo.pieceCount }, (_, i) => t.availability(i as PieceIndex));

test('a bitfield after haves replaces what was counted, never double counts; closing subtracts exactly that', async () => {
  const t = new Torrent(metainfo, new MemoryStore(metainfo), { rng: () => 0.5 });
  const link = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { has: () => false, stall: true })) as FakeLink;
  const other = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { has: (i) => i === 5, stall: true })) as FakeLink;
  await tick();
  const announce = (pieces: number[]) => {
    const b = new Bitfield(metainfo.pieceCount);
    for (const i of pieces) b.set(i);
    return b;
  };
  link.bitfield.set(3);
  link.emit({ type: 'have', index: 3 as PieceIndex });
  link.emit({ type: 'have', index: 3 as PieceIndex }); // a repeat is not news
  assert.deepEqual(avail(t), [0, 0, 0, 1, 0, 1, 0, 0]);
  // An HTTP peer re-polling its have-set sends the whole set again, with a new piece and one gone.
  link.emit({ type: 'bitfield', bitfield: announce([3, 5]) });
  assert.deepEqual(avail(t), [0, 0, 0, 1, 0, 2, 0, 0]);
  link.emit({ type: 'bitfield', bitfield: announce([5, 6]) });
  assert.deepEqual(avail(t), [0, 0, 0, 0, 0, 2, 1, 0]);
  link.emit({ type: 'have', index: 0 as PieceIndex });
  assert.deepEqual(avail(t), [1, 0, 0, 0, 0, 2, 1, 0]);
  link.close();
  await tick();
  assert.deepEqual(avail(t), [0, 0, 0, 0, 0, 1, 0, 0], 'only the other peer is left');
  other.close();
  await tick();
  assert.deepEqual(avail(t), [0, 0, 0, 0, 0, 0, 0, 0]);
  await t.close();
});

test('peers are chosen by capability: a web seed is dropped by a seed, every uploader is ranked by the choker', async () => {
  let now = 0;
  const t = new Torrent(metainfo, new MemoryStore(metainfo, data), { rng: () => 0.5, now: () => now, uploadSlots: 2 });
  const web = t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { kind: 'webseed', stall: true })) as FakeLink;
  const http = ['a', 'b', 'c'].map((id) => t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { kind: 'http', id, has: () => false })) as FakeLink);
  await tick();
  assert.ok(web.closed, 'nothing to trade with a web seed once complete');
  for (const l of http) l.emit({ type: 'interested' });
  assert.deepEqual(http.map((l) => l.amChoking), [false, false, true], 'HTTP peers fill free slots at once');
  now += 10_000;
  // Unchoked peers that ask for nothing lose their slots (upload snubbing): these ask.
  for (const l of http) if (!l.amChoking) l.emit({ type: 'request', req: { index: 0 as PieceIndex, begin: 0, length: 16384 } });
  t.tick();
  // Seeding, equal rates: the regular slot goes to 'a' (id order), the optimistic one to a choked peer.
  assert.deepEqual(http.map((l) => l.amChoking), [false, true, false], 'the choking round ranks HTTP peers too');
  await t.close();
});

test('one connection per peer id: of a connection each way the one the lower id dialled stays, in one direction the newer goes; ours and id-less links are never duplicates', async () => {
  const id = (b: number) => new Uint8Array(20).fill(b);
  const closedBy = (l: FakeLink) => (l.closed ? ((l.closeReason as { code?: string } | undefined)?.code ?? 'closed') : 'open');
  const run = async (own: number, links: { id: string; peerId?: number; dialled?: boolean; ip?: string; kind?: 'wire' | 'http' }[]) => {
    const t = new Torrent(metainfo, new MemoryStore(metainfo), { rng: () => 0.5, peerId: id(own) });
    const made = links.map((o) =>
      t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id: o.id, stall: true, kind: o.kind ?? 'wire', ...(o.peerId === undefined ? {} : { peerId: id(o.peerId) }), ...(o.dialled === undefined ? {} : { address: { ip: o.ip ?? '127.0.0.1', listenPort: undefined, dialled: o.dialled } }) })) as FakeLink,
    );
    await tick();
    return { t, made, states: made.map(closedBy) };
  };
  const both = [
    { id: 'in', peerId: 0x20, dialled: false },
    { id: 'out', peerId: 0x20, dialled: true },
  ];
  // We are the lower id: the connection we dialled stays (the peer, the higher, keeps the same one: its incoming).
  const low = await run(0x10, both);
  assert.deepEqual(low.states, ['ENGINE_DUPLICATE_PEER', 'open']);
  assert.equal(low.t.peerCount, 1);
  assert.equal(low.t.accepts('in'), false, 'the closed one is not taken again while its twin is connected');
  low.made[1]!.drop();
  await tick();
  assert.equal(low.t.accepts('in'), true, 'once the kept one is gone, the address may be dialled again');
  await low.t.close();
  // We are the higher id: the connection the peer dialled stays, whichever came first.
  const high = await run(0x30, both);
  assert.deepEqual(high.states, ['open', 'ENGINE_DUPLICATE_PEER']);
  await high.t.close();
  const highReversed = await run(0x30, [both[1]!, both[0]!]);
  assert.deepEqual(highReversed.states, ['ENGINE_DUPLICATE_PEER', 'open']);
  await highReversed.t.close();
  // Two connections the same way (or not saying who dialled): the newer goes.
  const same = await run(0x10, [{ id: 'a', peerId: 0x20, dialled: true }, { id: 'b', peerId: 0x20, dialled: true }]);
  assert.deepEqual(same.states, ['open', 'ENGINE_DUPLICATE_PEER']);
  await same.t.close();
  const unsaid = await run(0x10, [{ id: 'c', peerId: 0x20 }, { id: 'd', peerId: 0x20 }]);
  assert.deepEqual(unsaid.states, ['open', 'ENGINE_DUPLICATE_PEER']);
  await unsaid.t.close();
  // A stranger (another IP) naming a connected peer's id closes no one.
  const stranger = await run(0x10, [{ id: 'in', peerId: 0x20, dialled: false }, { id: 'evil', peerId: 0x20, dialled: true, ip: '192.0.2.9' }]);
  assert.deepEqual(stranger.states, ['open', 'open']);
  await stranger.t.close();
  // Links naming our own id are not duplicates of anyone (nor of each other); links with no id neither.
  const self = await run(0x10, [{ id: 'x', peerId: 0x10, dialled: true }, { id: 'y', peerId: 0x10, dialled: false }, { id: 'h1', kind: 'http' }, { id: 'h2', kind: 'http' }]);
  assert.deepEqual(self.states, ['open', 'open', 'open', 'open']);
  assert.equal(self.t.peerCount, 4);
  await self.t.close();
});

test('accepts: an address a link reaches already is refused, whichever side dialled (its id, its IP with its listen port, its IP with an announced peer id)', async () => {
  const id = (b: number) => new Uint8Array(20).fill(b);
  const t = new Torrent(metainfo, new MemoryStore(metainfo), { rng: () => 0.5, peerId: id(0x10) });
  // It dialled us from an ephemeral port and said it listens on 7000 (BEP 10 `p`).
  t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id: '10.0.0.2:51000', stall: true, peerId: id(0x20), address: { ip: '10.0.0.2', listenPort: 7000, dialled: false } }));
  // It dialled us and said no listen port.
  t.addPeer((onEvent) => new FakeLink(data, metainfo, onEvent, { id: '[2001:db8::3]:52000', stall: true, peerId: id(0x30), address: { ip: '2001:db8::3', listenPort: undefined, dialled: false } }));
  await tick();
  assert.equal(t.accepts('10.0.0.2:51000'), false, 'its link id');
  assert.equal(t.accepts('10.0.0.2:7000'), false, 'its IP and listen port');
  assert.equal(t.accepts('10.0.0.2:7001'), true, 'another port of that IP');
  assert.equal(t.accepts('10.0.0.9:7000'), true, 'that port at another IP');
  assert.equal(t.accepts('[2001:db8::3]:6881'), true, 'no listen port said, no peer id given');
  assert.equal(t.accepts('[2001:db8::3]:6881', id(0x30)), false, 'its IP and the peer id it announced');
  assert.equal(t.accepts('[2001:db8::4]:6881', id(0x30)), true, 'that peer id at another IP');
  assert.equal(t.accepts('[2001:db8::3]:6881', id(0x31)), true, 'another peer id at that IP');
  await t.close();
});

test('a complete torrent does not take back a seed that left (by its id or its IP and listen port); an incomplete one does', async () => {
  const seedLink = (id: string) => (onEvent: ConstructorParameters<typeof FakeLink>[2]) =>
    new FakeLink(data, metainfo, onEvent, { id, stall: true, address: { ip: '10.0.0.5', listenPort: 7000, dialled: false } });
  // Complete: the seed's id and listen address are remembered once it leaves.
  const full = new Torrent(metainfo, new MemoryStore(metainfo, data), { rng: () => 0.5 });
  const a = full.addPeer(seedLink('10.0.0.5:51000'));
  await tick();
  assert.equal(full.accepts('10.0.0.5:7000'), false, 'connected: its IP and listen port');
  (a as FakeLink).drop();
  await tick();
  assert.equal(full.accepts('10.0.0.5:51000'), false, 'a seed that left, by its id');
  assert.equal(full.accepts('10.0.0.5:7000'), false, 'a seed that left, by its IP and listen port');
  assert.equal(full.accepts('10.0.0.5:7001'), true, 'another port');
  await full.close();
  // Incomplete: a seed that left is what we need; it may be dialled again.
  const empty = new Torrent(metainfo, new MemoryStore(metainfo), { rng: () => 0.5 });
  const b = empty.addPeer(seedLink('10.0.0.5:51000'));
  await tick();
  (b as FakeLink).drop();
  await tick();
  assert.equal(empty.accepts('10.0.0.5:51000'), true);
  assert.equal(empty.accepts('10.0.0.5:7000'), true);
  await empty.close();
});

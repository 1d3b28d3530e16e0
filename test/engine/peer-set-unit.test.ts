/**
 * The peer set's rules (src/engine/peer-set.ts) on `PeerSet` alone: fake links (an id, an
 * address, a peer id), a picker that records what it is told, the clock as an argument. No
 * torrent, no sockets. Covers what the torrent-level tests (peer-set.test.ts, peer-eviction.test.ts)
 * do not reach: slots without a link yet, links without an address or a peer id, eviction's
 * order and exemptions, the bounded memory of seeds, and `duplicateVictim`'s every case.
 * Faults checked once: `evictable` without its room check fails the eviction test; `remove`
 * without its `closed` guard fails the remove test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockKey, duplicateVictim, PeerSet, type PeerState } from '../../src/engine/peer-set.js';
import type { PiecePicker } from '../../src/engine/picker.js';
import { Bitfield, BLOCK_LENGTH, type PieceIndex } from '../../src/metainfo/index.js';
import type { PeerLink, PeerSocketAddress } from '../../src/transport/index.js';

/** A 20-byte peer id: `fill` throughout, its last byte `last`. */
const id = (fill: number, last = fill): Uint8Array => Uint8Array.from({ length: 20 }, (_, i) => (i === 19 ? last : fill));

interface LinkOptions {
  readonly address?: PeerSocketAddress;
  readonly peerId?: Uint8Array;
}

const link = (name: string, o: LinkOptions = {}): PeerLink => ({ id: name, address: o.address, peerId: o.peerId }) as unknown as PeerLink;
const at = (ip: string, listenPort?: number, dialled = false): PeerSocketAddress => ({ ip, listenPort, dialled });

/** A picker that records the calls the set makes. */
function recordingPicker() {
  const calls: string[] = [];
  const picker = {
    addBitfield: (b: Bitfield) => calls.push(`addBitfield ${[...b].join(',')}`),
    removeBitfield: (b: Bitfield) => calls.push(`removeBitfield ${[...b].join(',')}`),
    addHave: (i: number) => calls.push(`addHave ${i}`),
    removeHave: (i: number) => calls.push(`removeHave ${i}`),
    release: (i: number, begin: number) => calls.push(`release ${i}:${begin}`),
  } as unknown as PiecePicker;
  return { picker, calls };
}

function set(maxPeers = 10, eviction: ConstructorParameters<typeof PeerSet>[3] = { silentMs: 10_000, idleMs: 60_000 }) {
  const { picker, calls } = recordingPicker();
  const peers = new PeerSet(picker, 8, maxPeers, eviction);
  const join = (now: number, l?: PeerLink): PeerState => {
    const p = peers.create(now);
    if (l !== undefined) peers.attach(p, l);
    return p;
  };
  return { peers, calls, join };
}

test('peer-set unit: a block key names one block of one piece, up to 1 GiB pieces and past 65,536 pieces', () => {
  // Pieces 0-15 and each power of two up to 2^17 with its neighbours; the first blocks and the last of a 1 GiB piece.
  const pieces = new Set<number>();
  for (let i = 0; i < 16; i++) pieces.add(i);
  for (let e = 4; e <= 17; e++) for (const d of [-1, 0, 1]) pieces.add(2 ** e + d);
  const blocks = [0, 1, 2, 3, 4, 65534, 65535];
  const keys = new Set<number>();
  for (const index of pieces) for (const b of blocks) keys.add(blockKey(index, b * BLOCK_LENGTH));
  assert.equal(keys.size, pieces.size * blocks.length);
});

test('peer-set unit: a new slot is "given", choked, uninterested both ways, silent since its creation', () => {
  const { peers } = set();
  const p = peers.create(1234);
  assert.equal(p.source, 'given');
  assert.equal(peers.create(0, 'dht').source, 'dht');
  assert.deepEqual(
    { link: p.link, amChoking: p.amChoking, amInterested: p.amInterested, peerInterested: p.peerInterested, spoke: p.spoke, closed: p.closed, joinedMs: p.joinedMs, lastUsefulMs: p.lastUsefulMs, trust: p.trust },
    { link: undefined, amChoking: true, amInterested: false, peerInterested: false, spoke: false, closed: false, joinedMs: 1234, lastUsefulMs: 1234, trust: 0 },
  );
  assert.equal(peers.size, 2, 'in the set from its creation');
});

test('peer-set unit: accepts copes with slots still dialling, links without an address or a peer id, and ids that are URLs', () => {
  const { peers, join } = set();
  join(0); // a dial in flight: no link yet
  join(0, link('http://peer.example/t/', {})); // an HTTP peer: no address, no peer id
  join(0, link('10.0.0.1:51000', { address: at('10.0.0.1', undefined) })); // dialled us, no listen port, no peer id
  join(0, link('10.0.0.2:6881', { address: at('10.0.0.2', 6881, true), peerId: id(0x20, 0x01) }));
  assert.equal(peers.accepts('http://other.example/t/'), true, 'a URL: no host:port to compare');
  assert.equal(peers.accepts('http://peer.example/t/'), false, 'that URL is connected');
  assert.equal(peers.accepts('10.0.0.1:7000'), true);
  assert.equal(peers.accepts('10.0.0.1:7000', id(0x20, 0x01)), true, 'its link named no peer id: not the one announced');
  assert.equal(peers.accepts('10.0.0.2:7000', id(0x20, 0x02)), true, 'peer ids that differ in their last byte are two peers');
  assert.equal(peers.accepts('10.0.0.2:7000', id(0x20, 0x01)), false, 'the same peer id at that IP');
  assert.equal(peers.accepts('10.0.0.2:6881'), false);
});

test('peer-set unit: duplicate looks only at linked peers naming the same id from the same IP, never at ours or at id-less links', () => {
  const { peers, join } = set();
  join(0); // a dial in flight
  const http = join(0, link('http://peer.example/t/')); // no peer id
  const a = join(0, link('a', { address: at('10.0.0.2'), peerId: id(0x20, 0x01) }));
  const b = join(0, link('b', { address: at('10.0.0.2'), peerId: id(0x20, 0x02) }));
  const c = join(0, link('c', { address: at('10.0.0.2'), peerId: id(0x20, 0x01) }));
  const slot = peers.create(0);
  assert.equal(peers.duplicate(slot, undefined), undefined, 'no link yet: no duplicate');
  assert.equal(peers.duplicate(http, undefined), undefined, 'no peer id: no duplicate');
  assert.equal(peers.duplicate(b, undefined), undefined, 'ids differing in the last byte');
  assert.equal(peers.duplicate(c, undefined), a, 'without our own id, duplicates are still found');
  assert.equal(peers.duplicate(c, id(0x20, 0x01)), undefined, 'a link naming our own id is nobody else');
  assert.equal(peers.duplicate(c, id(0x20, 0x03)), a);
});

test('peer-set unit: a complete torrent remembers the last 1000 seeds that left, by id and by listen address', () => {
  const { peers } = set();
  peers.noteSeed(link('10.0.0.9:51000', { address: at('10.0.0.9', 7000) }));
  assert.equal(peers.isSeed('10.0.0.9:51000'), true);
  assert.equal(peers.isSeed('10.0.0.9:7000'), true);
  for (let i = 0; i < 998; i++) peers.noteSeed(link(`s${i}`));
  assert.equal(peers.isSeed('10.0.0.9:51000'), true, '1000 remembered');
  peers.noteSeed(link('10.0.0.9:51000', { address: at('10.0.0.9', 7000) })); // leaves again: now the newest
  peers.noteSeed(link('s998'));
  assert.equal(peers.isSeed('s0'), false, 'the oldest is forgotten first');
  assert.equal(peers.isSeed('s1'), true);
  assert.equal(peers.isSeed('10.0.0.9:51000'), true, 'a seed noted again is new again');
  peers.noteSeed(link('s999'));
  assert.equal(peers.isSeed('s1'), false);
  assert.equal(peers.isSeed('s2'), true);
});

test('peer-set unit: eviction only when full; silent before idle, earliest first, ties by id; never a slot dialling or a peer we owe blocks', () => {
  const { peers, join } = set(4);
  const quiet = join(0, link('quiet'));
  quiet.spoke = true; // it spoke once, at 0, and exchanged nothing since
  const late = join(5000, link('late')); // silent since 5 s
  assert.equal(peers.evictable(100_000), undefined, 'room left: nobody needs to go');
  assert.equal(peers.acceptsEvicting('new', 0), true, 'room left');
  join(0); // a dial in flight: four in the set
  const owed = join(0, link('owed'));
  owed.uploads.push({ req: { index: 0 as PieceIndex, begin: 0, length: BLOCK_LENGTH }, cancelled: false });
  assert.equal(peers.evictable(14_999), undefined, 'late silent for 9.999 s; quiet idle for 15 s only');
  assert.equal(peers.acceptsEvicting('new', 14_999), false);
  assert.equal(peers.evictable(15_000), late, 'silent 10 s');
  assert.equal(peers.evictable(60_000), late, 'silent goes before idle, though quiet has been idle longer');
  late.spoke = true;
  late.lastUsefulMs = 30_000;
  assert.equal(peers.evictable(60_000), quiet, 'idle 60 s');
  assert.equal(peers.evictable(90_000), quiet, 'the one idle longest');
  owed.uploads.length = 0;
  const reading = { req: { index: 0 as PieceIndex, begin: 0, length: BLOCK_LENGTH }, cancelled: false };
  owed.reading.add(reading);
  quiet.lastUsefulMs = 60_000;
  assert.equal(peers.evictable(90_000), late, 'a block being read for owed is owed too');
  owed.reading.delete(reading);
  assert.equal(peers.evictable(90_000), owed, 'owed nothing: silent since 0, it goes first');

  const ties = set(2);
  const b1 = ties.join(0, link('b'));
  const a1 = ties.join(0, link('a'));
  assert.equal(ties.peers.evictable(10_000), a1, 'two silent since 0: by id');
  b1.spoke = a1.spoke = true;
  assert.equal(ties.peers.evictable(60_000), a1, 'two idle since 0: by id');
  const ties2 = set(2);
  const a2 = ties2.join(0, link('a'));
  ties2.join(0, link('b'));
  assert.equal(ties2.peers.evictable(10_000), a2, 'by id, whichever joined first');

  const off = set(1, false);
  off.join(0, link('x'));
  assert.equal(off.peers.evictable(1e9), undefined, 'eviction off');
  assert.equal(off.peers.acceptsEvicting('new', 1e9), false);
});

test('peer-set unit: acceptsEvicting refuses a banned id, a duplicate\'s id while its twin lives, and a connected id', () => {
  const { peers, join } = set(3);
  join(0); // a dial in flight
  const kept = join(0, link('kept'));
  peers.ban('bad');
  peers.alias('twin', kept);
  assert.equal(peers.acceptsEvicting('bad', 0), false);
  assert.equal(peers.acceptsEvicting('twin', 0), false);
  assert.equal(peers.acceptsEvicting('kept', 0), false);
  assert.equal(peers.acceptsEvicting('new', 0), true);
  assert.equal(peers.accepts('twin'), false);
  peers.remove(kept);
  assert.equal(peers.acceptsEvicting('twin', 0), true, 'its twin left');
  assert.equal(peers.accepts('twin'), true);
});

test('peer-set unit: remove gives back availability and requests once; drop forgets the link; anyInterested and outstanding', () => {
  const { peers, calls, join } = set();
  const l = link('a');
  const p = join(0, l);
  assert.equal(peers.of(l), p);
  const b = new Bitfield(8);
  b.set(1);
  b.set(4);
  peers.countBitfield(p, b);
  peers.countHave(p, 6 as PieceIndex);
  peers.countHave(p, 6 as PieceIndex);
  p.outstanding.set(blockKey(2, 0), { index: 2 as PieceIndex, begin: 0, length: BLOCK_LENGTH });
  p.outstanding.set(blockKey(2, BLOCK_LENGTH), { index: 2 as PieceIndex, begin: BLOCK_LENGTH, length: BLOCK_LENGTH });
  assert.equal(peers.outstanding(), 2);
  p.peerInterested = true;
  assert.equal(peers.anyInterested(), true);
  calls.length = 0;
  assert.equal(peers.remove(p), true);
  assert.equal(peers.remove(p), false, 'already gone');
  assert.deepEqual(calls, ['removeBitfield 1,4,6', `release 2:0`, `release 2:${BLOCK_LENGTH}`], 'once');
  assert.equal(peers.of(l), undefined);
  assert.equal(peers.size, 0);
  assert.equal(peers.outstanding(), 0);
  assert.equal(peers.anyInterested(), false);

  const q = join(0, link('q'));
  const ql = q.link!;
  peers.drop(q);
  assert.equal(peers.of(ql), undefined, 'a dropped link is not named any more');
  assert.equal(q.closed, true);
});

test('duplicateVictim: the newer goes unless both directions are known and the ids differ; then the lower id keeps what it dialled', () => {
  const { peers, join } = set();
  const p = (dialled: boolean | undefined, peerId: Uint8Array | undefined): PeerState =>
    join(0, link('x', { ...(dialled === undefined ? {} : { address: at('10.0.0.2', 6881, dialled) }), ...(peerId === undefined ? {} : { peerId }) }));
  const low = id(0x10);
  const high = id(0x30);
  const mid = id(0x20);
  const slot = peers.create(0);
  // We dialled `ours`, they dialled `theirs`.
  const ours = p(true, mid);
  const theirs = p(false, mid);
  assert.equal(duplicateVictim(low, ours, theirs), theirs, 'our id is lower: keep the one we dialled');
  assert.equal(duplicateVictim(high, ours, theirs), ours, 'our id is higher: keep the one they dialled');
  assert.equal(duplicateVictim(high, theirs, ours), ours, 'whichever came first');
  assert.equal(duplicateVictim(id(0x20, 0x7f), ours, theirs), ours, 'ids that differ only in the last byte: ours is higher');
  assert.equal(duplicateVictim(mid, ours, theirs), theirs, 'equal ids: the newer goes');
  assert.equal(duplicateVictim(undefined, ours, theirs), theirs, 'no own id: the newer goes');
  const anon = p(false, undefined);
  assert.equal(duplicateVictim(high, ours, anon), anon, 'the newer named no id');
  const unsaid = p(undefined, mid);
  assert.equal(duplicateVictim(high, unsaid, theirs), theirs, 'the older does not say who dialled');
  assert.equal(duplicateVictim(high, ours, unsaid), unsaid, 'the newer does not say who dialled');
  const again = p(true, mid);
  assert.equal(duplicateVictim(high, ours, again), again, 'both dialled by us: the newer goes');
  assert.equal(duplicateVictim(high, slot, theirs), theirs, 'a slot without a link');
  assert.equal(duplicateVictim(high, ours, slot), slot);
});

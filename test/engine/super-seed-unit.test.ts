/**
 * Super-seeding's offer rules (src/engine/super-seed.ts) on `SuperSeed` alone: fake peers (a
 * bitfield, a choke state, the `have`s we sent), availability counted from their bitfields plus
 * holders outside the offer set, and the clock as the `now` argument. No torrent, no links.
 * Each test names the rule it holds the class to (see the rules at the top of super-seed.ts).
 * Faults checked once: `fill` without its peer filter fails the fourth test; `seenAll` releasing
 * nothing fails the second.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_OFFER_BYTES, SuperSeed, type SuperSeedOptions } from '../../src/engine/super-seed.js';
import type { PeerState } from '../../src/engine/peer-set.js';
import { peerState } from '../helpers/peer-state.js';
import { Bitfield, type PieceIndex } from '../../src/metainfo/index.js';
import type { PeerLink } from '../../src/transport/index.js';

interface Fake {
  readonly state: PeerState;
  readonly bits: Bitfield;
  /** Every `have` we sent it (our offers), in order. */
  readonly haves: number[];
}

interface PeerOptions {
  readonly has?: readonly number[];
  readonly choked?: boolean;
  readonly canUpload?: boolean;
  readonly noLink?: boolean;
  readonly closed?: boolean;
}

/** A swarm of fake peers and one `SuperSeed` over them; `extra[i]` counts holders of i outside `peers` (a seed elsewhere). */
class Swarm {
  readonly peers: Fake[] = [];
  readonly extra: number[];
  readonly ss: SuperSeed;

  constructor(readonly pieceCount: number, opts: SuperSeedOptions & { pieceLength?: number } = {}) {
    this.extra = new Array<number>(pieceCount).fill(0);
    const { pieceLength = 1, ...ssOpts } = opts;
    this.ss = new SuperSeed(pieceCount, pieceLength, (i) => this.availability(i), () => this.peers.map((p) => p.state), ssOpts);
  }

  availability(i: number): number {
    let n = this.extra[i]!;
    for (const p of this.peers) if (!p.state.closed && p.state.link !== undefined && p.bits.has(i)) n++;
    return n;
  }

  add(name: string, o: PeerOptions = {}): Fake {
    const bits = new Bitfield(this.pieceCount);
    for (const i of o.has ?? []) bits.set(i);
    const haves: number[] = [];
    const link = { id: name, canUpload: o.canUpload ?? true, bitfield: bits, announceHave: (i: number) => haves.push(i) } as unknown as PeerLink;
    const state = peerState(o.noLink === true ? undefined : link, {
      amChoking: o.choked ?? false,
      closed: o.closed ?? false,
      unchokedMs: o.choked === true ? -Infinity : 0,
      lastRequestMs: -Infinity,
    });
    const fake = { state, bits, haves };
    this.peers.push(fake);
    return fake;
  }

  /** The peer leaves: gone from the set, then `remove`d (as Torrent.leave does). */
  leave(p: Fake): void {
    p.state.closed = true;
    this.peers.splice(this.peers.indexOf(p), 1);
    this.ss.remove(p.state);
  }

  /** The peer got piece `i` and says so (`have`). */
  gets(p: Fake, i: number, now: number): void {
    p.bits.set(i);
    this.ss.seen(p.state, i as PieceIndex, now);
  }

  offers(p: Fake): number[] {
    return this.ss.offersOf(p.state);
  }
}

test(`super-seed unit: by default a peer holds ${DEFAULT_OFFER_BYTES / 1024 / 1024} MiB of offers unchoked, one piece while choked`, () => {
  const s = new Swarm(20, { pieceLength: 1024 * 1024 });
  const open = s.add('open');
  const choked = s.add('choked', { choked: true });
  s.ss.fill(0);
  assert.equal(s.offers(open).length, 4, '4 MiB of 1 MiB pieces');
  assert.equal(s.offers(choked).length, 1);
  assert.deepEqual(open.haves, s.offers(open), 'each offer is one `have` on its link');
  const small = new Swarm(20, { pieceLength: 3 * 1024 * 1024 });
  const p = small.add('p');
  small.ss.fill(0);
  assert.equal(small.offers(p).length, 1, 'at least one piece, even when a piece is bigger than offerBytes');
});

test('super-seed unit: idle is "holds every piece offered to it"; offersOf names the unreleased offers', () => {
  const s = new Swarm(8, { offerBytes: 2 });
  const slot = s.add('slot', { noLink: true });
  const a = s.add('a');
  assert.equal(s.ss.idle(slot.state), false, 'a slot without a link is not idle: it is not a peer yet');
  assert.deepEqual(s.offers(a), [], 'no offers before the first fill');
  assert.equal(s.ss.idle(a.state), true, 'offered nothing: nothing to ask of us');
  s.ss.fill(0);
  const [x, y] = s.offers(a);
  assert.deepEqual(s.offers(a), [x, y]);
  assert.equal(s.ss.idle(a.state), false);
  a.bits.set(x!);
  assert.equal(s.ss.idle(a.state), false, 'one of two offers fetched: still something to ask');
  a.bits.set(y!);
  assert.equal(s.ss.idle(a.state), true, 'both fetched');
  assert.deepEqual(s.offers(s.add('late')), [], 'a peer never filled has no offers');
});

test('super-seed unit: a bitfield settles the offers of the pieces it holds (not its own), tops up its sender and those settled, no one else', () => {
  const R = 1000;
  const s = new Swarm(16, { offerBytes: 2, releaseAfterMs: R });
  const a = s.add('a');
  const b = s.add('b');
  s.ss.fill(0);
  assert.deepEqual([s.offers(a), s.offers(b)], [[0, 1], [2, 3]]);

  // a's own bitfield (an HTTP peer re-polls its have-set) with its offer 0: b lacks 0, so a waits to pass it on.
  a.bits.set(0);
  s.ss.seenAll(a.state, [0 as PieceIndex], 10);
  assert.deepEqual(s.offers(a), [0, 1], 'a peer does not settle its own offer');

  // At R, b still asks for blocks (it keeps its offers); a asked nothing (its offers could time out, at its next top-up).
  b.state.lastRequestMs = R - 100;
  const c = s.add('c', { has: [2] });
  s.ss.seenAll(c.state, [2 as PieceIndex], R);
  assert.deepEqual(s.offers(b), [3, 4], 'b: offer 2 settled by c, 3 kept, and topped up with a fresh piece');
  assert.deepEqual(s.offers(a), [0, 1], 'a was not concerned: no top-up (it would have lost both offers to time)');
  assert.equal(a.haves.length, 2, 'so no new `have` either');
  assert.deepEqual(s.offers(c), [5, 6], 'the sender of the bitfield is topped up at once, with fresh pieces');
});

test('super-seed unit: only live leechers that may ask for uploads are offered pieces, and only they hold an offer back', () => {
  const s = new Swarm(8, { offerBytes: 2 });
  const others = [
    s.add('slot', { noLink: true }),
    s.add('closed', { closed: true }),
    s.add('webseed', { canUpload: false }),
  ];
  const a = s.add('a');
  s.ss.fill(0);
  for (const o of others) assert.deepEqual(o.haves, [], `${o.state.link?.id ?? 'slot'}: no offer`);
  assert.deepEqual(s.offers(a), [0, 1]);
  s.gets(a, 0, 1); // none of the others will ever take 0 from a: no reason to wait
  assert.deepEqual(s.offers(a), [1, 2]);
});

test('super-seed unit: a peer that gains no piece is starved after releaseAfterMs (from its last gain); an empty bitfield is no gain', () => {
  const R = 1000;
  const s = new Swarm(4, { offerBytes: 1, releaseAfterMs: R });
  s.extra.fill(1); // a seed elsewhere has every piece: nothing is fresh
  const p = s.add('p'); // joined at 0…
  const q = s.add('q');
  s.ss.fill(0);
  assert.deepEqual([s.offers(p), s.offers(q)], [[], []], 'the swarm may feed them: no second upload yet');
  s.ss.seenAll(p.state, [], 500); // …its bitfield, empty: it gained nothing
  q.bits.set(3);
  s.ss.seenAll(q.state, [3 as PieceIndex], 500); // q's bitfield: it gained piece 3 at 500
  s.ss.fill(R - 1);
  assert.deepEqual([s.offers(p), s.offers(q)], [[], []]);
  s.ss.fill(R);
  assert.equal(s.offers(p).length, 1, 'p gained nothing since it joined at 0: one piece the swarm has');
  assert.deepEqual(s.offers(q), [], 'q gained a piece at 500: not starved');
  s.ss.fill(R + 499);
  assert.deepEqual(s.offers(q), []);
  s.ss.fill(R + 500);
  assert.equal(s.offers(q).length, 1, 'starved R after its last gain');
});

test('super-seed unit: pieces offered only to a peer that left are fresh again (its first offer too), whether or not every piece was offered', () => {
  const s = new Swarm(6, { offerBytes: 2 });
  const a = s.add('a');
  const b = s.add('b');
  s.ss.fill(0);
  assert.deepEqual([s.offers(a), s.offers(b)], [[0, 1], [2, 3]]);
  s.leave(a);
  s.gets(b, 2, 1); // nobody else lacks 2: released, and b gets the next fresh piece
  assert.deepEqual(s.offers(b), [3, 4]);
  const c = s.add('c');
  s.ss.fill(2);
  assert.deepEqual(s.offers(c), [5, 0], 'the last never-offered piece, then one whose only offeree left');
  const d = s.add('d');
  s.ss.fill(3);
  assert.deepEqual(s.offers(d), [1], 'the other one; then nothing fresh is left: one piece');
});

test('super-seed unit: any offer not downloaded is released after 12 × releaseAfterMs, even a choked peer\'s or one still asking', () => {
  const R = 1000;
  const s = new Swarm(8, { offerBytes: 2, releaseAfterMs: R });
  s.ss.fill(1000); // no one yet
  const choked = s.add('choked', { choked: true });
  const asking = s.add('asking');
  s.ss.fill(1000);
  assert.deepEqual([s.offers(choked), s.offers(asking)], [[0], [1, 2]]);
  for (let t = 1000; t < 1000 + 12 * R; t += R / 2) {
    asking.state.lastRequestMs = t;
    s.ss.fill(t);
  }
  asking.state.lastRequestMs = 1000 + 12 * R - 1;
  s.ss.fill(1000 + 12 * R - 1);
  assert.deepEqual([s.offers(choked), s.offers(asking)], [[0], [1, 2]], 'kept: a choked peer cannot ask, the other one asks');
  s.ss.fill(1000 + 12 * R);
  assert.deepEqual([s.offers(choked), s.offers(asking)], [[3], [4, 5]], 'released: fresh pieces instead');
});

test('super-seed unit: an unchoked peer that asks nothing loses its offers releaseAfterMs after its unchoke, not after the offer', () => {
  const R = 1000;
  const s = new Swarm(8, { offerBytes: 2, releaseAfterMs: R });
  const p = s.add('p', { choked: true });
  s.ss.fill(0);
  assert.deepEqual(s.offers(p), [0]);
  p.state.amChoking = false;
  p.state.unchokedMs = 900;
  s.ss.fill(900);
  assert.deepEqual(s.offers(p), [0, 1], 'unchoked: its whole offer');
  s.ss.fill(1899);
  assert.deepEqual(s.offers(p), [0, 1], 'offer 0 is 1899 ms old, but p could ask only since 900');
  s.ss.fill(1900);
  assert.deepEqual(s.offers(p), [2, 3]);
});

test('super-seed unit: a downloaded offer waits releaseAfterMs from the offer for another peer to take it', () => {
  const R = 1000;
  const s = new Swarm(8, { offerBytes: 1, releaseAfterMs: R });
  s.ss.fill(5000);
  const a = s.add('a');
  const b = s.add('b');
  s.ss.fill(5000);
  assert.deepEqual([s.offers(a), s.offers(b)], [[0], [1]]);
  s.gets(a, 0, 5500);
  s.ss.fill(5000 + R - 1);
  assert.deepEqual(s.offers(a), [0], 'b lacks 0: a keeps it to pass on');
  s.ss.fill(5000 + R);
  assert.deepEqual(s.offers(a), [2]);
});

test('super-seed unit: a peer holding no offer gets a piece nobody has (least offered first) before one the swarm has (least available, in turn from the last offer)', () => {
  const R = 1000;
  const s = new Swarm(4, { offerBytes: 1, releaseAfterMs: R });
  s.extra.splice(0, 4, 0, 1, 2, 1); // piece 0 nobody has; 1 and 3 one holder elsewhere; 2 two
  const p = s.add('p');
  s.ss.fill(0);
  assert.deepEqual(s.offers(p), [0], 'the one fresh piece');
  s.ss.fill(R); // p asked for nothing: released; p gained nothing: starved
  assert.deepEqual(p.haves, [0, 0], 'offered again: only we have it (a piece the swarm has would cost the same upload)');
  s.gets(p, 0, R + 100); // nobody else lacks it: released at once; p gained a piece, so it may trade for the rest
  assert.deepEqual(s.offers(p), []);
  s.ss.fill(2 * R + 99);
  assert.deepEqual(s.offers(p), []);
  s.ss.fill(2 * R + 100);
  assert.deepEqual(s.offers(p), [1], 'starved again: the least available piece, the first after the last offer of two as rare');
});

test('super-seed unit: a peer holding no offer and fed by the swarm still gets a released piece nobody has', () => {
  const R = 1000;
  const s = new Swarm(3, { offerBytes: 1, releaseAfterMs: R });
  s.extra[2] = 1;
  const a = s.add('a');
  const b = s.add('b');
  s.ss.fill(0);
  assert.deepEqual([s.offers(a), s.offers(b)], [[0], [1]]);
  s.gets(a, 2, 500); // a trades with the swarm
  s.ss.fill(R); // neither asked for its offer: both released
  assert.deepEqual(s.offers(a), [0], 'nobody else may have 0 but us: offered to a again though a is not starved');
});

test('super-seed unit: fresh offers go on from the last one (a rotating start), not from piece 0', () => {
  const s = new Swarm(4, { offerBytes: 1 });
  s.extra[0] = 1; // someone elsewhere has 0 for now
  const a = s.add('a');
  s.ss.fill(0);
  assert.deepEqual(s.offers(a), [1]);
  s.extra[0] = 0; // …and left: 0 is fresh
  const b = s.add('b');
  s.ss.fill(1);
  assert.deepEqual(s.offers(b), [2], 'the next piece after the last offer');
  const c = s.add('c');
  s.ss.fill(2);
  assert.deepEqual(s.offers(c), [3]);
  const d = s.add('d');
  s.ss.fill(3);
  assert.deepEqual(s.offers(d), [0], 'round to 0');
});

test('super-seed unit: a partial seed (never interested, its pieces in one bitfield) holds copies; a bystander that reveals pieces by `have` (another super-seed) does not', () => {
  const R = 1000;
  const s = new Swarm(10, { offerBytes: 2, releaseAfterMs: R });
  // A selective download, done: not interested in us, shows pieces 0-7 to every peer and uploads them.
  const partial = s.add('partial', { has: [0, 1, 2, 3, 4, 5, 6, 7], choked: true });
  partial.state.peerInterested = false;
  s.ss.seenAll(partial.state, [0, 1, 2, 3, 4, 5, 6, 7] as PieceIndex[], 0);
  assert.deepEqual(s.offers(partial), [8], 'choked: one offer, the one fresh piece after its own');
  // Another super-seed: not interested, reveals piece 9 to us with a `have` (it hides the rest).
  const other = s.add('other', { choked: true });
  other.state.peerInterested = false;
  s.gets(other, 9, 0);
  const a = s.add('a');
  s.ss.fill(R); // both connected R, never interested: bystanders
  // As libtorrent's super-seed counts every peer's pieces as copies (get_piece_to_super_seed),
  // the partial seed's 0-7 are not fresh; the other super-seed's reveal 9 is (it was an offer to
  // us, which the downloaders do not see). Ignoring the partial seed's copies offered 9 and 0;
  // counting the reveal too offered nothing.
  assert.deepEqual(s.offers(a), [9]);
});

test('super-seed unit: a fill looks at each bystander\'s pieces at most once, not once per piece it weighs (16,384 pieces x 200 bystanders)', () => {
  const P = 16_384;
  const R = 1000;
  const s = new Swarm(P, { offerBytes: 2, releaseAfterMs: R });
  let looks = 0;
  for (let b = 0; b < 200; b++) {
    const q = s.add(`bystander${b}`, { choked: true });
    q.state.peerInterested = false;
    s.gets(q, b, 0); // reveals one piece
    // What SuperSeed sees of its pieces (the swarm's availability reads `q.bits` itself).
    const seen = Object.create(q.bits) as Bitfield;
    seen.has = (i: number) => (looks++, q.bits.has(i));
    (q.state.link as unknown as { bitfield: Bitfield }).bitfield = seen;
  }
  // Every other piece is held by a leecher, so no piece is fresh: a leecher holding no offer weighs every piece.
  s.add('holder', { has: Array.from({ length: P - 200 }, (_, i) => i + 200) });
  const starved = s.add('starved');
  s.ss.fill(R);
  looks = 0;
  s.ss.fill(10 * R);
  assert.ok(s.offers(starved).length > 0, 'the starved leecher got an offer');
  assert.ok(looks < P, `${looks} looks at bystanders' pieces in one fill`);
});

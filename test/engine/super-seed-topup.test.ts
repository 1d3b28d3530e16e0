/**
 * Super-seeding's top-ups (src/engine/super-seed.ts) look only at the peers a `have` or bitfield
 * concerns, and make exactly the offers the old top-up made, which re-read every peer each time
 * (test/helpers/super-seed-before.ts, the class as it was). The property drives both over the
 * same random swarm the way Torrent does (a fill after a link attaches, after `interested`, each
 * tick; `seen` per `have`, `seenAll` per bitfield, `remove` per leave; the clock moving between
 * events) and compares every `have` we sent and every peer's offers after each step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SuperSeed } from '../../src/engine/super-seed.js';
import type { PeerState } from '../../src/engine/peer-set.js';
import { Bitfield, type PieceIndex } from '../../src/metainfo/index.js';
import type { PeerLink } from '../../src/transport/index.js';
import { peerState } from '../helpers/peer-state.js';
import { SuperSeedBefore } from '../helpers/super-seed-before.js';

const R = 1000;

type Op =
  | { readonly t: 'add'; readonly interested: boolean; readonly choked: boolean; readonly canUpload: boolean; readonly slot: boolean; readonly has: readonly number[] }
  | { readonly t: 'attach'; readonly peer: number }
  | { readonly t: 'have'; readonly peer: number; readonly piece: number }
  /** `peer` got a piece offered to `from` (itself: it fetched its offer) and says so. */
  | { readonly t: 'take'; readonly peer: number; readonly from: number; readonly offer: number }
  /** `peer` turns interested and its next message is a `have`, with no fill between. */
  | { readonly t: 'quietInterest'; readonly peer: number; readonly piece: number }
  | { readonly t: 'bitfield'; readonly peer: number; readonly pieces: readonly number[] }
  | { readonly t: 'interested'; readonly peer: number }
  | { readonly t: 'choke'; readonly peer: number; readonly choked: boolean }
  | { readonly t: 'request'; readonly peer: number }
  | { readonly t: 'leave'; readonly peer: number }
  | { readonly t: 'extra'; readonly piece: number }
  /** A holder outside the peers leaves, and the next tick's fill sees it. */
  | { readonly t: 'extraGone'; readonly piece: number; readonly ms: number }
  /** The clock moves on (or back: a top-up must then look again, as every one used to) with no fill. */
  | { readonly t: 'wait'; readonly ms: number }
  | { readonly t: 'tick'; readonly ms: number };

type Seeder = Pick<SuperSeed, 'fill' | 'seen' | 'seenAll' | 'remove' | 'offersOf' | 'idle'>;

interface Fake {
  readonly name: string;
  readonly state: PeerState;
  readonly link: PeerLink;
  readonly bits: Bitfield;
  /** Its bitfield, told once its link attaches (a slot's events wait for that, as in Torrent). */
  readonly pending: readonly number[];
}

/** One swarm of fake peers as Torrent would drive a super-seed over it; `log` is every `have` we sent, `name:piece`. */
class Sim {
  readonly peers: Fake[] = [];
  readonly extra: number[];
  readonly log: string[] = [];
  readonly ss: Seeder;
  now = 0;
  private made = 0;

  constructor(
    readonly pieceCount: number,
    make: (availability: (i: PieceIndex) => number, peers: () => Iterable<PeerState>) => Seeder,
  ) {
    this.extra = new Array<number>(pieceCount).fill(0);
    this.ss = make(
      (i) => this.availability(i),
      () => this.peers.map((p) => p.state),
    );
  }

  private availability(i: number): number {
    let n = this.extra[i]!;
    for (const p of this.peers) if (p.state.link !== undefined && p.bits.has(i)) n++;
    return n;
  }

  private pick(k: number): Fake | undefined {
    const live = this.peers.filter((p) => p.state.link !== undefined);
    return live.length === 0 ? undefined : live[k % live.length];
  }

  apply(op: Op): void {
    switch (op.t) {
      case 'add': {
        const name = `p${this.made++}`;
        const bits = new Bitfield(this.pieceCount);
        const link = { id: name, canUpload: op.canUpload, bitfield: bits, announceHave: (i: number) => this.log.push(`${name}:${i}`) } as unknown as PeerLink;
        const state = peerState(undefined, { peerInterested: op.interested, amChoking: op.choked, joinedMs: this.now, unchokedMs: op.choked ? -Infinity : this.now, lastRequestMs: -Infinity });
        const fake = { name, state, link, bits, pending: op.has };
        this.peers.push(fake);
        if (!op.slot) this.attach(fake);
        return;
      }
      case 'attach': {
        const slot = this.peers.filter((p) => p.state.link === undefined);
        if (slot.length > 0) this.attach(slot[op.peer % slot.length]!);
        return;
      }
      case 'have': {
        const p = this.pick(op.peer);
        if (p === undefined) return;
        const i = op.piece % this.pieceCount;
        p.bits.set(i);
        this.ss.seen(p.state, i as PieceIndex, this.now);
        return;
      }
      case 'take': {
        const p = this.pick(op.peer);
        const from = this.pick(op.from);
        if (p === undefined || from === undefined) return;
        const offers = this.ss.offersOf(from.state);
        if (offers.length === 0) return;
        const i = offers[op.offer % offers.length]!;
        p.bits.set(i);
        this.ss.seen(p.state, i, this.now);
        return;
      }
      case 'quietInterest': {
        const p = this.pick(op.peer);
        if (p === undefined) return;
        p.state.peerInterested = true;
        const i = op.piece % this.pieceCount;
        p.bits.set(i);
        this.ss.seen(p.state, i as PieceIndex, this.now);
        return;
      }
      case 'bitfield': {
        // A bitfield that replaces the one before (an HTTP peer's have-set, polled again): copies may fall.
        const p = this.pick(op.peer);
        if (p === undefined) return;
        for (const i of [...p.bits]) p.bits.clear(i);
        for (const i of op.pieces) p.bits.set(i % this.pieceCount);
        this.ss.seenAll(p.state, [...p.bits] as PieceIndex[], this.now);
        return;
      }
      case 'interested': {
        const p = this.pick(op.peer);
        if (p === undefined) return;
        p.state.peerInterested = true;
        this.ss.fill(this.now);
        return;
      }
      case 'choke': {
        // The choker (un)chokes between top-ups without one (a slot freed by `not interested`).
        const p = this.pick(op.peer);
        if (p === undefined) return;
        if (!op.choked && p.state.amChoking) p.state.unchokedMs = this.now;
        p.state.amChoking = op.choked;
        return;
      }
      case 'request': {
        const p = this.pick(op.peer);
        if (p !== undefined && !p.state.amChoking) p.state.lastRequestMs = this.now;
        return;
      }
      case 'leave': {
        const p = this.pick(op.peer);
        if (p === undefined) return;
        p.state.closed = true;
        this.peers.splice(this.peers.indexOf(p), 1);
        this.ss.remove(p.state);
        return;
      }
      case 'extra':
        this.extra[op.piece % this.pieceCount]!++; // a holder outside the peers
        return;
      case 'extraGone': {
        const i = op.piece % this.pieceCount;
        if (this.extra[i]! > 0) this.extra[i]!--;
        this.apply({ t: 'tick', ms: op.ms });
        return;
      }
      case 'wait':
        this.now += op.ms;
        return;
      case 'tick':
        this.now += op.ms;
        this.ss.fill(this.now);
        this.ss.fill(this.now); // Torrent.tick: before and after the choking round
        return;
    }
  }

  /** Torrent's attach: the link, its queued events (here its bitfield), then a fill. */
  private attach(p: Fake): void {
    p.state.link = p.link;
    if (p.pending.length > 0) {
      for (const i of p.pending) p.bits.set(i % this.pieceCount);
      this.ss.seenAll(p.state, [...p.bits] as PieceIndex[], this.now);
    }
    this.ss.fill(this.now);
  }

  snapshot(): string[] {
    return this.peers.map((p) => `${p.name}: [${this.ss.offersOf(p.state).join(',')}]${this.ss.idle(p.state) ? ' idle' : ''}`);
  }
}

const peerIx = fc.nat(15);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant('add' as const), interested: fc.boolean(), choked: fc.boolean(), canUpload: fc.nat(9).map((n) => n > 0), slot: fc.boolean(), has: fc.array(fc.nat(63), { maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('attach' as const), peer: peerIx }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('have' as const), peer: peerIx, piece: fc.nat(63) }) },
  { weight: 12, arbitrary: fc.record({ t: fc.constant('take' as const), peer: peerIx, from: peerIx, offer: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('quietInterest' as const), peer: peerIx, piece: fc.nat(63) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('bitfield' as const), peer: peerIx, pieces: fc.array(fc.nat(63), { maxLength: 12 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('interested' as const), peer: peerIx }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('choke' as const), peer: peerIx, choked: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('request' as const), peer: peerIx }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('leave' as const), peer: peerIx }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('extra' as const), piece: fc.nat(63) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('extraGone' as const), piece: fc.nat(63), ms: fc.integer({ min: 0, max: 1500 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 700 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: -700, max: -1 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 1500 }) }) },
);

test('super-seed top-up: the same offers, in the same order, as the top-up that re-read every peer, on random swarms', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 48 }), fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 150, size: 'max' }), (pieceCount, offerBytes, ops) => {
      const opts = { offerBytes, releaseAfterMs: R };
      const now = new Sim(pieceCount, (a, p) => new SuperSeed(pieceCount, 1, a, p, opts));
      const before = new Sim(pieceCount, (a, p) => new SuperSeedBefore(pieceCount, 1, a, p, opts));
      for (const [k, o] of ops.entries()) {
        now.apply(o);
        before.apply(o);
        assert.deepEqual(now.log, before.log, `the haves we sent, after step ${k} (${JSON.stringify(o)})`);
        assert.deepEqual(now.snapshot(), before.snapshot(), `the offers held, after step ${k} (${JSON.stringify(o)})`);
      }
    }),
    { numRuns: 1000 },
  );
});

test('super-seed top-up: a `have` looks at no peer but its sender and the peers whose offers it settles', () => {
  const pieceCount = 64;
  const peers: PeerState[] = [];
  const bits: Bitfield[] = [];
  let looks = 0;
  const ss = new SuperSeed(pieceCount, 1, () => 0, () => (looks++, peers), { offerBytes: 2, releaseAfterMs: R });
  for (let k = 0; k < 20; k++) {
    const b = new Bitfield(pieceCount);
    bits.push(b);
    const link = { id: `p${k}`, canUpload: true, bitfield: b, announceHave: () => undefined } as unknown as PeerLink;
    // Ten downloaders and ten peers never interested (bystanders from R on).
    peers.push(peerState(link, { peerInterested: k < 10, joinedMs: 0 }));
  }
  ss.fill(R);
  looks = 0;
  for (let k = 0; k < 10; k++) {
    const [i] = ss.offersOf(peers[k]!);
    bits[(k + 1) % 10]!.set(i!);
    ss.seen(peers[(k + 1) % 10]!, i!, R + 10 * k); // the next downloader got k's first offer
  }
  assert.equal(looks, 0, 'no `have` went through every peer');
  ss.fill(R + 100);
  assert.equal(looks, 1, 'a fill (a tick) does');
});

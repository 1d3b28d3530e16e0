import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TorrenttpError } from '../../src/errors/index.js';
import { BLOCK_LENGTH, type Metainfo, type PieceIndex } from '../../src/metainfo/index.js';
import { TransportError, type BlockRequest, type PeerEvent, type PeerEventHandler, type PeerLink } from '../../src/transport/index.js';

/**
 * The `PeerLink` rules (src/transport/peer-link.ts) as one suite that every link passes: the
 * engine's fake (test/helpers/engine-fakes.ts) as well as the real ones, so a test written
 * against the fake proves something about the real links. Each link brings a factory for a
 * connected link to a remote that has the whole torrent, plus hands on that remote.
 *
 * Checked in every test: no event is delivered while one of the link's methods runs (the suite
 * calls the link through a guard), none after `closed`, and every accepted request ends once.
 * One rule depends on a capability: a link that `pollsHaves` may send more than one `bitfield`.
 */
export interface LinkUnderTest {
  readonly link: PeerLink;
  readonly metainfo: Metainfo;
  readonly data: Uint8Array;
  /** The remote holds every request it gets from now on, until `resume`. */
  stall(): void;
  resume(): void;
  /** The remote stops serving us (wire `choke`, HTTP 503): the link chokes and rejects what is outstanding. */
  refuse(): void;
  /** The remote goes away, if the kind of link can tell (a wire socket closes). */
  readonly hangUp?: () => void;
  teardown(): Promise<void>;
}

export type LinkFactory = (onEvent: PeerEventHandler) => Promise<LinkUnderTest>;

interface Seen {
  readonly event: PeerEvent;
  /** Delivered while a link method was running: a broken rule. */
  readonly reentrant: boolean;
}

class Harness {
  readonly seen: Seen[] = [];
  private depth = 0;
  private waiters: (() => void)[] = [];
  subject!: LinkUnderTest;
  /** The link, called through a guard that notices events delivered during a call. */
  link!: PeerLink;

  readonly onEvent: PeerEventHandler = (event) => {
    // `block.data` may be a view of a read buffer that is reused after this turn: copy it now,
    // as the engine does (the rule is that it is valid until then, not longer).
    if (event.type === 'block') event = { ...event, data: event.data.slice() };
    this.seen.push({ event, reentrant: this.depth > 0 });
    for (const w of this.waiters.splice(0)) w();
  };

  attach(subject: LinkUnderTest): void {
    this.subject = subject;
    const target = subject.link;
    this.link = new Proxy(target, {
      get: (t, prop) => {
        const v: unknown = Reflect.get(t, prop, t);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          this.depth++;
          try {
            return (v as (...a: unknown[]) => unknown).apply(t, args);
          } finally {
            this.depth--;
          }
        };
      },
    });
  }

  events(): PeerEvent[] {
    return this.seen.map((s) => s.event);
  }

  of<T extends PeerEvent['type']>(type: T): Extract<PeerEvent, { type: T }>[] {
    return this.events().filter((e): e is Extract<PeerEvent, { type: T }> => e.type === type);
  }

  /** Waits until `pred` holds over the events seen (real network: bounded by a timeout). */
  async until(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: not within ${timeoutMs} ms; events: ${this.events().map((e) => e.type).join(',')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** How each request ended: `block`/`rejected` events for it, in order. */
  endings(req: BlockRequest): PeerEvent[] {
    return this.events().filter((e) => (e.type === 'block' || e.type === 'rejected') && same(e.req, req));
  }

  /** The rules checked after every test. */
  checkInvariants(): void {
    const bad = this.seen.filter((s) => s.reentrant).map((s) => s.event.type);
    assert.deepEqual(bad, [], 'events delivered from inside a link method');
    const closedAt = this.seen.findIndex((s) => s.event.type === 'closed');
    if (closedAt >= 0) assert.equal(closedAt, this.seen.length - 1, `events after closed: ${this.events().slice(closedAt).map((e) => e.type).join(',')}`);
    const bitfields = this.seen.map((s, i) => (s.event.type === 'bitfield' ? i : -1)).filter((i) => i >= 0);
    const firstHave = this.seen.findIndex((s) => s.event.type === 'have');
    // A link that polls the peer's pieces (`pollsHaves`: a TorrentTTP peer, docs/torrenttp.md §5)
    // may send a whole bitfield again (the set replaced, e.g. after a 404 for a piece it listed);
    // the PeerLink contract allows it. The first still comes before any have.
    if (!this.subject.link.pollsHaves) assert.ok(bitfields.length <= 1, 'at most one bitfield event');
    if (bitfields.length >= 1 && firstHave >= 0) assert.ok(bitfields[0]! < firstHave, 'the bitfield comes before any have');
  }
}

function same(a: BlockRequest, b: BlockRequest): boolean {
  return a.index === b.index && a.begin === b.begin && a.length === b.length;
}

/** Every block of the first `pieces` pieces. */
function blocksOf(metainfo: Metainfo, pieces: number): BlockRequest[] {
  const g = metainfo.geometry;
  const out: BlockRequest[] = [];
  for (let n = 0; n < Math.min(pieces, g.pieceCount); n++) {
    const index = g.pieceIndex(n);
    for (let b = 0; b < g.blockCount(index); b++) out.push({ index, begin: b * BLOCK_LENGTH, length: g.blockLength(index, b) });
  }
  return out;
}

function bytesOf(subject: LinkUnderTest, req: BlockRequest): Uint8Array {
  const at = subject.metainfo.geometry.pieceOffset(req.index) + req.begin;
  return subject.data.subarray(at, at + req.length);
}

/** A turn of the event loop and a little more, to see that nothing else comes. */
const quiet = () => new Promise((r) => setTimeout(r, 30));

/**
 * Registers the conformance tests for one kind of link. The remote must have the whole torrent,
 * of at least 3 pieces of 2+ blocks, and must unchoke us once we are interested.
 */
export function peerLinkConformance(name: string, factory: LinkFactory): void {
  const run = (title: string, body: (h: Harness) => Promise<void>) =>
    test(`${name} keeps the PeerLink rules: ${title}`, { timeout: 20_000 }, async () => {
      const h = new Harness();
      h.attach(await factory(h.onEvent));
      try {
        h.link.setInterested(true);
        await h.until('unchoke', () => !h.subject.link.peerChoking && h.of('unchoke').length > 0);
        await body(h);
        h.checkInvariants();
      } finally {
        await h.subject.teardown();
      }
    });

  run('the pieces it announces are in link.bitfield already, one bitfield object for the link’s life', async (h) => {
    const [bf] = h.of('bitfield');
    if (bf !== undefined) {
      assert.equal(bf.bitfield, h.link.bitfield, 'the event carries the link’s own bitfield object');
    }
    for (const have of h.of('have')) assert.ok(h.link.bitfield.has(have.index));
    assert.equal(h.link.bitfield.complete, true, 'the remote seeds the whole torrent');
  });

  run('each request ends exactly once, with the bytes asked for', async (h) => {
    const reqs = blocksOf(h.subject.metainfo, 3);
    for (const r of reqs) h.link.request(r);
    await h.until('every request ends', () => reqs.every((r) => h.endings(r).length > 0));
    await quiet();
    for (const r of reqs) {
      const ends = h.endings(r);
      assert.equal(ends.length, 1, `request ${r.index}:${r.begin} ended ${ends.length} times`);
      const end = ends[0]!;
      assert.equal(end.type, 'block', 'a remote with the piece serves it');
      if (end.type === 'block') {
        assert.deepEqual(end.req, r, 'the event carries the request');
        assert.deepEqual(Buffer.from(end.data), Buffer.from(bytesOf(h.subject, r)));
      }
    }
  });

  run('a request it cannot serve ends as rejected, carrying that request, never as a throw', async (h) => {
    const g = h.subject.metainfo.geometry;
    const last = g.pieceIndex(g.pieceCount - 1);
    const outside: BlockRequest[] = [
      { index: last, begin: g.pieceLengthOf(last), length: BLOCK_LENGTH }, // past the end
      { index: 0 as PieceIndex, begin: 0, length: BLOCK_LENGTH + 1 }, // wrong length
      { index: g.pieceCount as PieceIndex, begin: 0, length: BLOCK_LENGTH }, // no such piece
    ];
    h.subject.stall();
    const first = blocksOf(h.subject.metainfo, 1)[0]!;
    h.link.request(first);
    h.link.request({ ...first }); // the same block again while it is outstanding
    for (const r of outside) assert.doesNotThrow(() => h.link.request(r));
    await h.until('the bad requests end', () => outside.every((r) => h.endings(r).length > 0) && h.endings(first).length > 0);
    for (const r of outside) {
      assert.deepEqual(h.endings(r).map((e) => e.type), ['rejected']);
      assert.deepEqual((h.endings(r)[0] as { req: BlockRequest }).req, r);
    }
    assert.deepEqual(h.endings(first).map((e) => e.type), ['rejected'], 'the duplicate is rejected, the first stays outstanding');
    h.subject.resume();
    await h.until('the first request ends', () => h.endings(first).length === 2);
    assert.deepEqual(h.endings(first).map((e) => e.type), ['rejected', 'block']);
  });

  run('cancel ends a request silently: no event for it, even if the remote answers', async (h) => {
    const [a, b, c] = blocksOf(h.subject.metainfo, 2) as [BlockRequest, BlockRequest, BlockRequest];
    h.subject.stall();
    h.link.request(a);
    h.link.request(b);
    await quiet(); // the requests reach the remote
    h.link.cancel(a);
    h.subject.resume();
    await h.until('b ends', () => h.endings(b).length > 0);
    h.link.request(c); // one more round trip: a's answer would have come before c's
    await h.until('c ends', () => h.endings(c).length > 0);
    await quiet();
    assert.deepEqual(h.endings(a), [], 'a cancelled request ends with no event');
    assert.equal(h.endings(b).length, 1);
  });

  run('when the remote refuses: choke, every outstanding request rejected, requests while choked rejected', async (h) => {
    const reqs = blocksOf(h.subject.metainfo, 2);
    h.subject.stall();
    for (const r of reqs) h.link.request(r);
    await quiet();
    h.subject.refuse();
    await h.until('choke and every request ended', () => h.of('choke').length > 0 && reqs.every((r) => h.endings(r).length > 0));
    for (const r of reqs) assert.deepEqual(h.endings(r).map((e) => e.type), ['rejected'], `${r.index}:${r.begin}`);
    assert.equal(h.link.peerChoking, true);
    const later = blocksOf(h.subject.metainfo, 3).at(-1)!;
    h.link.request(later);
    await h.until('the request while choked ends', () => h.endings(later).length > 0);
    assert.deepEqual(h.endings(later).map((e) => e.type), ['rejected']);
  });

  run('close: one closed event with the reason, then nothing; outstanding requests end with it; methods are no-ops', async (h) => {
    const reqs = blocksOf(h.subject.metainfo, 1);
    h.subject.stall();
    for (const r of reqs) h.link.request(r);
    await quiet();
    const reason = new TransportError('TRANSPORT_ABORTED', { detail: 'conformance' });
    h.link.close(reason);
    await h.until('closed', () => h.of('closed').length > 0);
    const closed = h.of('closed');
    assert.equal(closed.length, 1);
    assert.equal(closed[0]!.reason, reason);
    h.subject.resume(); // a late answer must not come through
    let done = 0;
    assert.doesNotThrow(() => {
      h.link.request(reqs[0]!);
      h.link.cancel(reqs[0]!);
      h.link.setChoking(false);
      h.link.setInterested(false);
      h.link.announceHave(0 as PieceIndex);
      h.link.sendBlock(reqs[0]!, new Uint8Array(reqs[0]!.length), () => done++);
      h.link.close();
    });
    await quiet();
    assert.equal(done, 1, 'sendBlock after close still gives the buffer back, once');
    assert.equal(h.of('closed').length, 1);
    for (const r of reqs) assert.deepEqual(h.endings(r), [], 'no block or rejection after close');
  });

  run('sendBlock hands the buffer back exactly once, also for a block the peer never asked for', async (h) => {
    let done = 0;
    const req = blocksOf(h.subject.metainfo, 1)[0]!;
    h.link.sendBlock(req, bytesOf(h.subject, req), () => done++);
    await h.until('done', () => done > 0, 2000).catch(() => undefined);
    await quiet();
    assert.equal(done, 1);
  });

  run('when the remote goes away: closed with a typed reason, outstanding requests end with it', async (h) => {
    if (h.subject.hangUp === undefined) return; // a web seed has no connection to lose; its failures are choke/back-off
    const reqs = blocksOf(h.subject.metainfo, 1);
    h.subject.stall();
    for (const r of reqs) h.link.request(r);
    await quiet();
    h.subject.hangUp();
    await h.until('closed', () => h.of('closed').length > 0);
    const reason = h.of('closed')[0]!.reason;
    assert.ok(reason === undefined || reason instanceof TorrenttpError, 'a reason, if any, is typed');
    for (const r of reqs) assert.deepEqual(h.endings(r), [], 'closed ends them; no rejection follows');
  });
}

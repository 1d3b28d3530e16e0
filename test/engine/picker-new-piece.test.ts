import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PiecePicker } from '../../src/engine/index.js';
import { Bitfield, Geometry } from '../../src/metainfo/index.js';

const N = 200;
const g = new Geometry(16384, [N * 16384]); // 200 pieces of one block
const none = () => false;

/**
 * A new piece is picked by a pass over the bitfields' bytes (`peer & ~have`), not piece by piece:
 * the answer must be the piece-by-piece scan's, rarest first (availability 1 as the floor), ties
 * to the first met going round from the random start, the first met during the random first
 * pieces. Peers with few pieces (a super-seed's offers) and with many.
 */
test('property: a new piece is the one a scan of every piece would pick', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.uniqueArray(fc.integer({ min: 0, max: N - 1 }), { minLength: 1, maxLength: 20 }), fc.uniqueArray(fc.integer({ min: 0, max: N - 1 }), { minLength: 1, maxLength: N })),
      fc.uniqueArray(fc.integer({ min: 0, max: N - 1 }), { maxLength: 60 }),
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: N, maxLength: N }),
      fc.double({ min: 0, max: 0.999, noNaN: true }),
      fc.integer({ min: 0, max: 3 }),
      (peerPieces, havePieces, avail, draw, randomFirst) => {
        const have = new Bitfield(N);
        for (const i of havePieces) have.set(i);
        const peer = new Bitfield(N);
        for (const i of peerPieces) peer.set(i);
        const p = new PiecePicker(g, have, { rng: () => draw, randomFirstPieces: randomFirst });
        avail.forEach((a, i) => {
          for (let k = 0; k < a; k++) p.addHave(i);
        });
        const from = Math.floor(draw * N);
        const random = have.count < randomFirst;
        let want: number | undefined;
        let best: [number, number] = [Infinity, Infinity];
        for (const i of peerPieces) {
          if (have.has(i)) continue;
          const key: [number, number] = [random ? 0 : Math.max(1, avail[i]!), (i - from + N) % N];
          if (key[0] < best[0] || (key[0] === best[0] && key[1] < best[1])) {
            best = key;
            want = i;
          }
        }
        const got = p.pick(peer, 1, false, none)[0]?.index;
        assert.equal(got, want);
      },
    ),
    { numRuns: 500 },
  );
});

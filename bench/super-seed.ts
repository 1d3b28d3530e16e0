/**
 * CPU of super-seeding's offer rules (`SuperSeed`, src/engine/super-seed.ts) with many pieces and
 * many peers that never download from us (bystanders: connected, never interested), on fake peers
 * and a simulated clock: `--leechers` downloaders take every piece offered to them each round of
 * 100 ms and trade up to 16 pieces a round among themselves and with the bystanders' pieces
 * (a partial seed uploads them), until all are complete; the time
 * spent in `fill`/`seen`/`seenAll` is printed, and the offers made (bystanders, choked, get one each)
 * with a digest of their sequence (which peer, which piece, in order): two builds that make the
 * same offers print the same digest.
 *
 *   npm run build && node dist/bench/super-seed.js [--pieces 16384] [--bystanders 200] [--leechers 20] [--bystander-pieces 0] [--root DIR]
 *
 * `--bystander-pieces N`: each bystander holds N random pieces (a partial seed), told as its bitfield.
 * `--root` names another checkout whose dist/ `SuperSeed` to measure (before/after in one go).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Bitfield, type PieceIndex } from '../src/metainfo/index.js';
import type { PeerState } from '../src/engine/peer-set.js';
import type { SuperSeed as SuperSeedClass } from '../src/engine/super-seed.js';

const { values } = parseArgs({
  options: {
    pieces: { type: 'string', default: '16384' },
    bystanders: { type: 'string', default: '200' },
    leechers: { type: 'string', default: '20' },
    'bystander-pieces': { type: 'string', default: '0' },
    root: { type: 'string' },
  },
});
const P = Number(values.pieces);
const B = Number(values.bystanders);
const L = Number(values.leechers);
const BP = Number(values['bystander-pieces']);
const url = values.root === undefined ? new URL('../src/engine/super-seed.js', import.meta.url).href : pathToFileURL(resolve(values.root, 'dist/src/engine/super-seed.js')).href;
const { SuperSeed } = (await import(url)) as { SuperSeed: typeof SuperSeedClass };

let seed = 12345;
/** xorshift32: a fixed sequence, every run the same. */
const rand = (n: number): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

interface Fake {
  state: PeerState;
  bits: Bitfield;
  haves: number[];
}
const counts = new Uint32Array(P);
/** Peers that upload each piece to the leechers: leechers, and bystanders as partial seeds. */
const held = new Uint32Array(P);
/** Offers made (a piece uploaded each, as the leechers take every one). */
let offered = 0;
/** FNV-1a over each offer's peer number and piece, in the order made. */
let digest = 0x811c9dc5;
const mix = (n: number): void => {
  for (let k = 0; k < 4; k++) digest = Math.imul(digest ^ ((n >>> (8 * k)) & 0xff), 0x01000193) >>> 0;
};
/** Pieces the leechers downloaded from us (an offer each). */
let uploaded = 0;
const peers: Fake[] = [];
function add(interested: boolean): Fake {
  const bits = new Bitfield(P);
  const haves: number[] = [];
  const n = peers.length;
  const link = { id: `p${n}`, canUpload: true, bitfield: bits, announceHave: (i: number) => (offered++, mix(n), mix(i), haves.push(i)) };
  const state = { link, closed: false, amChoking: !interested, peerInterested: interested, joinedMs: 0, unchokedMs: 0, lastRequestMs: 0 } as unknown as PeerState;
  const f = { state, bits, haves };
  peers.push(f);
  return f;
}
const ss = new SuperSeed(P, 256 * 1024, (i) => counts[i]!, () => peers.map((p) => p.state));
let spent = 0;
const timed = (fn: () => void): void => {
  const t0 = performance.now();
  fn();
  spent += performance.now() - t0;
};
let now = 0;
for (let b = 0; b < B; b++) {
  const f = add(false);
  const got: PieceIndex[] = [];
  for (let k = 0; k < BP; k++) {
    const i = rand(P);
    if (f.bits.set(i)) {
      counts[i]!++;
      held[i]!++;
      got.push(i as PieceIndex);
    }
  }
  timed(() => ss.seenAll(f.state, got, now));
}
now = 10_000; // past releaseAfterMs: every peer never interested is a bystander
const leechers: Fake[] = [];
for (let l = 0; l < L; l++) leechers.push(add(true));
const gets = (f: Fake, i: number): void => {
  if (!f.bits.set(i)) return;
  counts[i]!++;
  held[i]!++;
  timed(() => ss.seen(f.state, i as PieceIndex, now));
};
let rounds = 0;
const wall = performance.now();
while (leechers.some((f) => !f.bits.complete) && rounds < 20_000) {
  rounds++;
  timed(() => ss.fill(now));
  for (const f of leechers) {
    for (const i of f.haves.splice(0)) if (!f.bits.has(i)) (uploaded++, gets(f, i));
    // Trade: up to 16 pieces other leechers have, from a random start.
    let traded = 0;
    const start = rand(P);
    for (let k = 0; k < P && traded < 16; k++) {
      const i = (start + k) % P;
      if (!f.bits.has(i) && held[i]! > 0) {
        gets(f, i);
        traded++;
      }
    }
  }
  now += 100;
}
console.log(
  `super-seed ${values.root ?? '.'}: ${P} pieces, ${B} bystanders (${BP} pieces each), ${L} leechers: ${rounds} rounds (${(now - 10_000) / 1000} s simulated), SuperSeed ${spent.toFixed(0)} ms of ${(performance.now() - wall).toFixed(0)} ms; ${offered} offers (digest ${digest.toString(16).padStart(8, '0')}), ${uploaded} pieces uploaded (${(uploaded / P).toFixed(2)}x the pieces)`,
);

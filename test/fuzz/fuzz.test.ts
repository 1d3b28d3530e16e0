/**
 * A seeded slice of `npm run fuzz` (test/fuzz/run.ts) and the saved corpus, in the suite: every
 * parser gets mutated, random and size-targeted inputs and must answer with a value or a
 * `TorrenttpError`, each call under a second. The full run is a million inputs per parser.
 * Fault checked once: `decodeAnnounceResponse` throwing a bare RangeError (for one input length
 * in 97) fails 'http-announce-response' here at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, corpusOf, fuzz, rngOf } from './engine.js';
import { TARGETS } from './targets.js';

const COUNT = Number(process.env['FUZZ_COUNT'] ?? 1500);

for (const [k, target] of TARGETS.entries()) {
  test(`fuzz ${target.name}: ${COUNT} seeded inputs and the corpus give a value or a typed error`, { timeout: 60_000 }, () => {
    for (const seed of target.seeds) assert.equal(check(target, seed, rngOf(1), 1000), undefined, 'a seed itself parses');
    const failures = fuzz(target, { count: COUNT, seed: 18_000 + k, maxBytes: 256 * 1024 });
    assert.deepEqual(failures.map((f) => `input ${f.index} (${f.input.length} bytes): ${f.problem}`), []);
    for (const { file, input } of corpusOf(target.name)) assert.equal(check(target, input, rngOf(1), 1000), undefined, file);
  });
}

/**
 * `npm run fuzz`: every parser against mutated, random and size-targeted inputs.
 *   npm run fuzz                      1,000,000 inputs per target, seed from the clock
 *   npm run fuzz -- --count 20000 --seed 7 --target magnet,wire-stream
 * Asserts for each input: a value or a `TorrenttpError`, and no call over 1 s. Failures are
 * printed with their seed and index and saved in test/fixtures/fuzz/<target>/ (replayed by
 * `npm test`). Exit code 1 if anything failed.
 */
import { fuzz } from './engine.js';
import { TARGETS } from './targets.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

const count = Number(arg('count') ?? process.env['FUZZ_COUNT'] ?? 1_000_000);
const seed = Number(arg('seed') ?? Date.now() % 2 ** 31);
const only = arg('target')?.split(',');
const targets = TARGETS.filter((t) => only === undefined || only.includes(t.name));
if (!Number.isSafeInteger(count) || count < 1 || targets.length === 0) {
  console.error(`usage: npm run fuzz -- [--count N] [--seed S] [--target ${TARGETS.map((t) => t.name).join(',')}]`);
  process.exit(2);
}
console.log(`fuzz: ${count} inputs per target, seed ${seed}, ${targets.length} targets`);
let failed = 0;
for (const [k, t] of targets.entries()) {
  const t0 = performance.now();
  const failures = fuzz(t, { count, seed: seed + k, save: true });
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  const heapMb = (process.memoryUsage().heapUsed / 2 ** 20).toFixed(0);
  console.log(`${t.name.padEnd(24)} ${failures.length === 0 ? 'ok    ' : 'FAILED'} ${count} inputs in ${s} s, heap ${heapMb} MiB`);
  for (const f of failures) console.log(`  input ${f.index} (${f.input.length} bytes, seed ${seed + k}): ${f.problem}`);
  failed += failures.length;
}
if (failed > 0) {
  console.log(`${failed} failing inputs saved under test/fixtures/fuzz/`);
  process.exit(1);
}

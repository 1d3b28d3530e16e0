/**
 * A small mutation fuzzer (AFL's havoc stage, without coverage): each input is random bytes, a
 * mutation stack over a seed, or a size-targeted input (a seed with one part repeated thousands
 * of times, a huge length prefix, deep nesting). Seeded (xorshift128+), so a failure is
 * replayed from its seed and index; failing inputs are also written to the corpus.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTyped, type FuzzTarget } from './targets.js';

/** The corpus lives in the sources (dist/ is rebuilt). */
export const CORPUS_DIR = fileURLToPath(new URL('../../../test/fixtures/fuzz/', import.meta.url));

export function rngOf(seed: number): () => number {
  let a = (seed ^ 0x9e3779b9) >>> 0 || 1;
  let b = (seed * 0x85ebca6b) >>> 0 || 2;
  return () => {
    // xorshift64-ish on two 32-bit halves; plenty for input generation.
    let x = a;
    const y = b;
    a = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    b = x >>> 0;
    return ((a + b) >>> 0) / 4294967296;
  };
}

const INTERESTING = ['0', '-1', '4294967295', '4294967296', '9007199254740993', '99999999999999999999', 'e', 'd', 'l', 'i', ':', '"', '{', '[', '\\u0000', '%', '%ff', ',', ';', '='];

export function mutate(seed: Uint8Array, rng: () => number, maxBytes: number): Uint8Array {
  let b = Array.from(seed);
  const int = (n: number) => Math.floor(rng() * n);
  const rounds = 1 + int(8);
  for (let r = 0; r < rounds; r++) {
    const at = int(b.length + 1);
    switch (int(9)) {
      case 0: // flip a bit
        if (b.length > 0) b[at % b.length]! ^= 1 << int(8);
        break;
      case 1: // random byte
        if (b.length > 0) b[at % b.length] = int(256);
        break;
      case 2: // delete a run
        b.splice(at, 1 + int(16));
        break;
      case 3: // insert random bytes
        b.splice(at, 0, ...Array.from({ length: 1 + int(8) }, () => int(256)));
        break;
      case 4: // insert a token that parsers branch on
        b.splice(at, 0, ...Array.from(INTERESTING[int(INTERESTING.length)]!, (c) => c.charCodeAt(0)));
        break;
      case 5: {
        // duplicate a run somewhere else
        const from = int(b.length + 1);
        const run = b.slice(from, from + 1 + int(32));
        b.splice(int(b.length + 1), 0, ...run);
        break;
      }
      case 6: // truncate
        b = b.slice(0, at);
        break;
      case 7: {
        // a digit run becomes a big or odd number
        const digits = /\d+/g;
        const str = String.fromCharCode(...b.slice(0, 4096));
        const found = [...str.matchAll(digits)];
        if (found.length > 0) {
          const m = found[int(found.length)]!;
          const v = INTERESTING[int(6)]!;
          b.splice(m.index!, m[0].length, ...Array.from(v, (c) => c.charCodeAt(0)));
        }
        break;
      }
      default: // overwrite 4 bytes with a u32 edge value (length prefixes, counts)
        if (b.length >= 4) {
          const v = [0, 1, 0x7fffffff, 0xffffffff, 0x4000, 0x4001][int(6)]!;
          const p = int(b.length - 3);
          b[p] = v >>> 24;
          b[p + 1] = (v >>> 16) & 255;
          b[p + 2] = (v >>> 8) & 255;
          b[p + 3] = v & 255;
        }
    }
  }
  return Uint8Array.from(b.length > maxBytes ? b.slice(0, maxBytes) : b);
}

/** A seed with one slice repeated until the input is large (many values, long strings, deep nesting). */
export function sizeTargeted(seed: Uint8Array, rng: () => number, maxBytes: number): Uint8Array {
  const int = (n: number) => Math.floor(rng() * n);
  const kind = int(3);
  const target = 1024 + int(maxBytes - 1024);
  if (kind === 0) {
    // Nesting: a container opener repeated, then the seed.
    const open = ['l', 'd', '[', '{"a":'][int(4)]!;
    const n = Math.floor(target / open.length);
    const out = new Uint8Array(n * open.length + seed.length);
    for (let i = 0; i < n; i++) for (let j = 0; j < open.length; j++) out[i * open.length + j] = open.charCodeAt(j);
    out.set(seed, n * open.length);
    return out;
  }
  // Repeat a slice of the seed in place.
  const from = int(Math.max(1, seed.length));
  const len = kind === 1 ? 1 + int(8) : 1 + int(64);
  const slice = seed.subarray(from, from + len);
  if (slice.length === 0) return seed;
  const times = Math.floor(target / slice.length);
  const out = new Uint8Array(from + slice.length * times + (seed.length - from));
  out.set(seed.subarray(0, from), 0);
  for (let i = 0; i < times; i++) out.set(slice, from + i * slice.length);
  out.set(seed.subarray(from), from + slice.length * times);
  return out;
}

export interface FuzzOptions {
  readonly count: number;
  readonly seed: number;
  /** Largest size-targeted input. Default 2 MiB. */
  readonly maxBytes?: number;
  /** A call slower than this fails (inputs under 10 MB must parse in under 1 s). Default 1000. */
  readonly maxCallMs?: number;
  /** Save failing inputs to the corpus. */
  readonly save?: boolean;
}

export interface FuzzFailure {
  readonly target: string;
  readonly index: number;
  readonly input: Uint8Array;
  readonly problem: string;
}

/** Runs `count` inputs through `target`; returns the failures (at most 10). */
export function fuzz(target: FuzzTarget, o: FuzzOptions): FuzzFailure[] {
  const rng = rngOf(o.seed);
  const maxBytes = o.maxBytes ?? 2 * 1024 * 1024;
  const maxCallMs = o.maxCallMs ?? 1000;
  const failures: FuzzFailure[] = [];
  for (let i = 0; i < o.count && failures.length < 10; i++) {
    const roll = rng();
    const seed = target.seeds[Math.floor(rng() * target.seeds.length)]!;
    const input =
      roll < 0.1
        ? Uint8Array.from({ length: Math.floor(rng() * 256) }, () => Math.floor(rng() * 256))
        : roll < 0.1 + 0.0005 // size-targeted inputs are slow: one in 2,000
          ? sizeTargeted(seed, rng, maxBytes)
          : mutate(seed, rng, 64 * 1024);
    const problem = check(target, input, rng, maxCallMs);
    if (problem !== undefined) {
      failures.push({ target: target.name, index: i, input, problem });
      if (o.save === true) saveToCorpus(target.name, input);
    }
  }
  return failures;
}

/** undefined, or what went wrong: an untyped throw, or a call over `maxCallMs`. */
export function check(target: FuzzTarget, input: Uint8Array, rng: () => number, maxCallMs: number): string | undefined {
  const t0 = performance.now();
  try {
    target.run(input, rng);
  } catch (err) {
    if (!isTyped(err)) return `untyped ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
  }
  const ms = performance.now() - t0;
  return ms > maxCallMs ? `took ${ms.toFixed(0)} ms for ${input.length} bytes` : undefined;
}

export function saveToCorpus(target: string, input: Uint8Array): string {
  const dir = join(CORPUS_DIR, target);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${createHash('sha1').update(input).digest('hex')}.bin`);
  writeFileSync(file, input);
  return file;
}

/** Every saved input of `target`. */
export function corpusOf(target: string): { file: string; input: Uint8Array }[] {
  let names: string[];
  try {
    names = readdirSync(join(CORPUS_DIR, target));
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.bin')).map((n) => ({ file: n, input: new Uint8Array(readFileSync(join(CORPUS_DIR, target, n))) }));
}

/**
 * Bencode throughput on a 10 MB torrent-like document (a 10 MiB `pieces` string and 20,000
 * files): median of several runs of `decode` and `encode`, printed in ms and MB/s.
 *
 *   npx tsc -p . && node dist/bench/bencode.js [runs]
 *
 * The document is the one test/bencode/large.test.ts checks round-trips byte for byte.
 */
import { performance } from 'node:perf_hooks';
import { decode, decodeDocument, encode, type BencodeValue } from '../src/bencode/index.js';
import { buildTorrentLike } from '../test/bencode/torrent-like.js';

const runs = Number(process.argv[2] ?? 15);
const input = buildTorrentLike();
const mb = input.length / 1e6;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function time(name: string, f: () => unknown): void {
  for (let i = 0; i < 3; i++) f(); // warm up the JIT
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  const m = median(ms);
  console.log(
    `${name.padEnd(16)} median ${m.toFixed(2).padStart(8)} ms  ${(mb / (m / 1000)).toFixed(0).padStart(6)} MB/s  ` +
      `(min ${Math.min(...ms).toFixed(2)}, max ${Math.max(...ms).toFixed(2)} ms, ${runs} runs)`,
  );
}

const value: BencodeValue = decode(input);
console.log(`document: ${input.length} bytes (${mb.toFixed(2)} MB), 20,000 files; node ${process.version}`);
time('decode', () => decode(input));
time('decode lenient', () => decode(input, { strict: false }));
time('decodeDocument', () => decodeDocument(input));
time('encode', () => encode(value));

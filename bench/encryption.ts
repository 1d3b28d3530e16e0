/**
 * RC4 (node:crypto, OpenSSL 3's legacy provider) in one thread, for the sizes an MSE link uses:
 *
 *   node --openssl-legacy-provider dist/bench/encryption.js [--mib 256] [--json]
 *
 * For each size, `--mib` MiB run through one cipher in calls of that size, two ways:
 * - `update`: `cipher.update(bytes)`, the output dropped: OpenSSL's RC4 plus node's new output
 *   buffer per call;
 * - `in place`: `bytes.set(cipher.update(bytes))`, as the cipher thread does (cipher-worker.ts):
 *   the output copied back over the input.
 * Sizes: 16 KiB (a block), 64 KiB (the cipher thread's update), 256 KiB (a socket read, a seal
 * batch) and 1 MiB. Each figure is the best of 3 passes, in MB/s of this thread's CPU time
 * (`process.threadCpuUsage` is not in Node 20: the process's CPU, which for this one busy thread
 * is the thread's), so a loaded machine slows the wall clock, not the figure. `--json` prints
 * one line, `{ "<size>": { "update": MB/s, "inPlace": MB/s } }`, for bench/transfer.ts.
 */
import { createCipheriv, getCiphers, randomFillSync } from 'node:crypto';
import { numberArg } from './args.js';

export const RC4_CHUNK_SIZES: readonly number[] = [16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024];

export type Rc4Speeds = Record<string, { readonly update: number; readonly inPlace: number }>;

/** `n` bytes as a size label: 16K, 64K, 1M. */
export const sizeLabel = (n: number): string => (n >= 1024 * 1024 ? `${n / (1024 * 1024)}M` : `${n / 1024}K`);

function pass(total: number, size: number, inPlace: boolean): number {
  const cipher = createCipheriv('rc4', randomFillSync(new Uint8Array(16)), null);
  const buf = randomFillSync(new Uint8Array(size));
  const start = process.cpuUsage();
  for (let done = 0; done < total; done += size) {
    const out = cipher.update(buf);
    if (inPlace) buf.set(out);
  }
  const used = process.cpuUsage(start);
  return total / 1e6 / ((used.user + used.system) / 1e6);
}

export function rc4Speeds(mib: number): Rc4Speeds {
  const total = mib * 1024 * 1024;
  const out: Rc4Speeds = {};
  for (const size of RC4_CHUNK_SIZES) {
    const best = (inPlace: boolean): number => Math.max(...[0, 1, 2].map(() => pass(total, size, inPlace)));
    out[sizeLabel(size)] = { update: best(false), inPlace: best(true) };
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!getCiphers().includes('rc4')) {
    console.error('no RC4 here: start node with --openssl-legacy-provider');
    process.exit(2);
  }
  const mib = numberArg('mib', 256);
  const speeds = rc4Speeds(mib);
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(speeds));
  } else {
    console.log(`RC4 in one thread, ${mib} MiB per pass, best of 3, MB/s of CPU time (CPU s per GiB):`);
    for (const [size, s] of Object.entries(speeds)) {
      const perGiB = (mbs: number): string => `${mbs.toFixed(0)} MB/s (${(1073.741824 / mbs).toFixed(2)} s)`;
      console.log(`  ${size.padStart(4)}: update ${perGiB(s.update)}, in place ${perGiB(s.inPlace)}`);
    }
  }
}

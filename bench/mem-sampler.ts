/**
 * Where a process's memory is, over its life: preloaded into a bench's child with
 * `node --import <this file's URL>` and `TTP_BENCH_MEM_OUT=<file>` in its environment. Every
 * 20 ms it reads `/proc/self/status` (resident: anonymous and file-backed, and the high-water
 * mark) and V8's heap (each space's committed size, `malloc`ed memory, `ArrayBuffer`s); when the
 * high-water mark rises, that sample is kept as the one "at the peak". At exit it writes, as
 * JSON: that sample, the peak of each figure, the median of each over the second half of the
 * process's life (the steady state), and when the peak came (share of the wall time). Nothing
 * happens without the variable. The sampling costs the process the same in every mode.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/** One sample, KiB: resident (`rss`, `anon`, `file`), V8 (`heap`: committed, `phys`: of that, resident, `young`/`old`/`code`/`large`: spaces committed, `live`: used), `malloc`, `ab` (ArrayBuffers), `ext` (external, ArrayBuffers included). */
export interface MemSample {
  readonly t: number;
  readonly hwm: number;
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
  readonly heap: number;
  readonly phys: number;
  readonly live: number;
  readonly young: number;
  readonly old: number;
  readonly code: number;
  readonly large: number;
  readonly malloc: number;
  readonly ext: number;
  readonly ab: number;
}

export interface MemReport {
  readonly wallMs: number;
  /** The sample where the high-water mark was last raised, and when (share of the wall time). */
  readonly atPeak: MemSample;
  readonly peakAt: number;
  /** Each figure's largest value over the life. */
  readonly max: Omit<MemSample, 't'>;
  /** Each figure's median over the second half (the steady state of a download). */
  readonly steady: Omit<MemSample, 't'>;
  /** V8's own peak of `malloc`ed memory (compilers, parsers), KiB. */
  readonly peakMalloc: number;
  /** Every sample, when `TTP_BENCH_MEM_TIMELINE` is set. */
  readonly samples?: readonly MemSample[];
}

export const MEM_FIELDS = ['hwm', 'rss', 'anon', 'file', 'heap', 'phys', 'live', 'young', 'old', 'code', 'large', 'malloc', 'ext', 'ab'] as const;

const OUT = process.env['TTP_BENCH_MEM_OUT'];
if (OUT !== undefined && OUT !== '') {
  delete process.env['TTP_BENCH_MEM_OUT']; // not for the process's own children
  const TIMELINE = process.env['TTP_BENCH_MEM_TIMELINE'] !== undefined;
  const t0 = performance.now();
  const samples: MemSample[] = [];
  let hwm = 0;
  let atPeak: MemSample | undefined;
  const kib = (status: string, key: string): number => Number(new RegExp(`^${key}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  const sample = (): void => {
    const status = readFileSync('/proc/self/status', 'latin1');
    const spaces = new Map(getHeapSpaceStatistics().map((s) => [s.space_name, s]));
    const committed = (...names: string[]): number => Math.round(names.reduce((a, n) => a + (spaces.get(n)?.space_size ?? 0), 0) / 1024);
    const h = getHeapStatistics();
    const mu = process.memoryUsage();
    const s: MemSample = {
      t: Math.round(performance.now() - t0),
      hwm: kib(status, 'VmHWM'),
      rss: kib(status, 'VmRSS'),
      anon: kib(status, 'RssAnon'),
      file: kib(status, 'RssFile'),
      heap: Math.round(h.total_heap_size / 1024),
      phys: Math.round(h.total_physical_size / 1024),
      live: Math.round(h.used_heap_size / 1024),
      young: committed('new_space', 'new_large_object_space'),
      old: committed('old_space', 'map_space'),
      code: committed('code_space', 'code_large_object_space'),
      large: committed('large_object_space'),
      malloc: Math.round(h.malloced_memory / 1024),
      ext: Math.round(mu.external / 1024),
      ab: Math.round(mu.arrayBuffers / 1024),
    };
    samples.push(s);
    if (s.hwm > hwm) {
      hwm = s.hwm;
      atPeak = s;
    }
  };
  sample();
  setInterval(sample, 20).unref();
  process.on('exit', () => {
    sample();
    const wallMs = performance.now() - t0;
    const pick = (xs: readonly MemSample[], f: (v: number[]) => number): Omit<MemSample, 't'> =>
      Object.fromEntries(MEM_FIELDS.map((k) => [k, f(xs.map((x) => x[k]))])) as unknown as Omit<MemSample, 't'>;
    const med = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
    const report: MemReport = {
      wallMs: Math.round(wallMs),
      atPeak: atPeak!,
      peakAt: atPeak!.t / wallMs,
      max: pick(samples, (v) => Math.max(...v)),
      steady: pick(samples.slice(Math.floor(samples.length / 2)), med),
      peakMalloc: Math.round(getHeapStatistics().peak_malloced_memory / 1024),
      ...(TIMELINE ? { samples } : {}),
    };
    writeFileSync(OUT, JSON.stringify(report));
  });
}

/**
 * Whole transfers over loopback, torrenttp beside aria2, same file, same run:
 *
 *   npm run bench:transfer -- [--size-mib 1024] [--runs 1] [--piece-kib N] [--only 1,2,3,4] [--encryption off] [--help]
 *                             [--node-flags '--cpu-prof --cpu-prof-dir=DIR']
 *
 *   1. torrenttp seed → torrenttp leech (`torrenttp seed --port`, `torrenttp download --peer`)
 *   2. aria2c seed    → torrenttp leech (`--peer` the aria2c listening port)
 *   3. torrenttp seed → aria2c leech    (aria2c finds the seed through `torrenttp tracker`)
 *   4. aria2c seed    → aria2c leech    (same tracker): the reference
 *   5. case 1 with `--encryption require` on both sides: MSE/PE with RC4 (`--only 1,5 --runs N`
 *      for the encrypted/plain ratios of wall time, CPU and peak RSS, printed as "5 vs 1"; the
 *      cases alternate within each run)
 *   6. case 4 with RC4 required on both sides (`--bt-require-crypto=true --bt-min-crypto-level=arc4`):
 *      aria2's own encrypted/plain ratio, "6 vs 4", and ours against it, "5 vs 6"
 *
 * With cases 1 and 5 (`--only 1,4,5,6` for everything), each run also measures RC4 in one
 * thread (bench/encryption.ts, in a child node with the legacy provider) and prints what 2 cores
 * allow: the plain run's idle CPU (2 × wall − seed CPU − leech CPU) and the lower bound of the
 * encrypted wall, max(plain wall, (plain CPU + 2 × RC4 CPU for the payload) / 2), with its ratio
 * to plain. torrenttp's processes are sampled per thread (/proc/PID/task, every 100 ms): the main
 * thread's CPU and the busiest other threads' (cipher, disk, V8's helpers; node names them all
 * "node"), as "main + others".
 *
 * `--encryption P` is the policy of torrenttp's processes in cases 1-3 (default `off`, plain,
 * as the figures before MSE were). They run under `node --openssl-legacy-provider`, as the
 * `torrenttp` command does (RC4 lives in OpenSSL 3's legacy provider).
 *
 * Every side is its own process under `/usr/bin/time -f '%e %M %U %S'`, so each one's peak RSS
 * and CPU time are the kernel's figures. The clock runs from the spawn of the leech process to
 * its exit: it exits by itself when complete (`torrenttp download` without `--seed`, aria2c with
 * `--seed-time=0`), so node or aria2c start-up, the announce and the final flush are all in it.
 * Seeds start first, trust their data (`--skip-verify`, `--bt-seed-unverified`) and, for the
 * tracker cases, have announced before the leech starts. A seed is stopped with SIGTERM to its
 * own pid (not /usr/bin/time's) so time can report it.
 *
 * The random payload is made once under the OS temp folder and reused (`torrenttp-bench-transfer/`);
 * each case downloads into a fresh folder, which is compared with the payload (SHA-1) and removed.
 * With `--runs N`, every figure printed is the median of N.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RC4_CHUNK_SIZES, sizeLabel, type Rc4Speeds } from './encryption.js';
import { ARIA_COMMON, CLI_NODE_FLAG, freePort, median, payloadFile, sha1File, startTracker, timed, trackerSeeders, until, writeBenchTorrent, type Timed, type Usage } from './usage.js';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    runs: { type: 'string', default: '1' },
    'piece-kib': { type: 'string' },
    only: { type: 'string', default: '1,2,3,4' },
    encryption: { type: 'string', default: 'off' },
    'node-flags': { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  // The usage is this file's first comment.
  console.log(readFileSync(fileURLToPath(import.meta.url).replace(/\/dist\/bench\/transfer\.js$/, '/bench/transfer.ts'), 'utf8').split('*/')[0]!.replace(/^\/\*\*\n?| ?\* ?/gm, ''));
  process.exit(0);
}
const SIZE_MIB = Number(values['size-mib']);
const RUNS = Number(values.runs);
const ONLY = new Set(values.only.split(',').map(Number));
if (!(SIZE_MIB > 0) || !Number.isInteger(RUNS) || RUNS < 1) {
  console.error('usage: transfer.js [--size-mib N] [--runs N] [--piece-kib N] [--only 1,2,3,4,5,6] [--help]');
  process.exit(2);
}
const ENCRYPTION = values.encryption;
if (!['prefer', 'require', 'off'].includes(ENCRYPTION)) {
  console.error('--encryption: prefer, require or off');
  process.exit(2);
}
const SIZE_BYTES = SIZE_MIB * 1024 * 1024;

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
/** `--node-flags '--cpu-prof --cpu-prof-dir=/tmp/prof'`: more flags for torrenttp's node processes (profiles of both sides). */
const NODE_FLAGS = values['node-flags'].split(' ').filter((f) => f !== '');
/** A leech that takes longer than this is killed and the case reported as failed. */
const LEECH_TIMEOUT_MS = 10 * 60_000;

// ── processes ─────────────────────────────────────────────────────────────────────────────
// ── the payload ───────────────────────────────────────────────────────────────────────────

// ── the cases ─────────────────────────────────────────────────────────────────────────────
interface Setup {
  readonly work: string;
  readonly data: string;
  readonly dataDir: string;
  readonly name: string;
  readonly torrent: string;
  readonly trackerPort: number;
}

type Side = 'torrenttp' | 'aria2';

/** CPU seconds of a node process's threads: its main thread, and the others, busiest first. */
interface Threads {
  readonly main: number;
  readonly others: readonly number[];
}

interface Result {
  readonly leech: Usage;
  readonly seed: Usage;
  readonly leechThreads?: Threads;
  readonly seedThreads?: Threads;
}

/** aria2c's flags for RC4 only (MSE required, arc4 the least), as `--encryption require` is ours. */
const ARIA_RC4: readonly string[] = ['--bt-require-crypto=true', '--bt-min-crypto-level=arc4'];

/**
 * The CPU time of each thread of `proc`'s program (the child of /usr/bin/time), read from
 * /proc every 100 ms until it exits: the last reading, at most 100 ms before its end.
 */
function sampleThreads(proc: Timed): () => Threads | undefined {
  const ticks = new Map<number, number>();
  let pid: number | undefined;
  const read = (): void => {
    try {
      pid ??= Number(readFileSync(`/proc/${proc.child.pid}/task/${proc.child.pid}/children`, 'utf8').trim().split(' ')[0]) || undefined;
      if (pid === undefined) return;
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        ticks.set(Number(tid), Number(f[11]) + Number(f[12]));
      }
    } catch {
      // exited between two reads
    }
  };
  const timer = setInterval(read, 100);
  read();
  void proc.done.then(() => clearInterval(timer));
  return () => {
    if (pid === undefined) return undefined;
    const others = [...ticks].filter(([tid]) => tid !== pid).map(([, t]) => t / 100).sort((a, b) => b - a);
    return { main: (ticks.get(pid) ?? 0) / 100, others };
  };
}

async function startSeed(s: Setup, kind: Side, encryption: string, ariaRc4: boolean): Promise<{ proc: Timed; port: number }> {
  const port = await freePort();
  if (kind === 'torrenttp') {
    const proc = timed(s.work, process.execPath, [CLI_NODE_FLAG, ...NODE_FLAGS, CLI, 'seed', s.torrent, s.data, '--port', String(port), '--skip-verify', '--encryption', encryption]);
    await until('the torrenttp seed to start', () => / on port \d+/.test(proc.output), 60_000, proc);
    return { proc, port };
  }
  const proc = timed(s.work, 'aria2c', [
    `--dir=${s.dataDir}`, '--bt-seed-unverified=true', '--seed-ratio=0.0', `--listen-port=${port}`, '--console-log-level=notice', ...ARIA_COMMON, ...(ariaRc4 ? ARIA_RC4 : []), s.torrent,
  ]);
  await until('the aria2c seed to listen', () => proc.output.includes('listening on TCP port'), 60_000, proc);
  return { proc, port };
}

async function startLeech(s: Setup, kind: Side, dir: string, seedPort: number, encryption: string, ariaRc4: boolean): Promise<Timed> {
  if (kind === 'torrenttp') {
    // Dials the seed it is given; the tracker would only name the same seed.
    return timed(s.work, process.execPath, [CLI_NODE_FLAG, ...NODE_FLAGS, CLI, 'download', s.torrent, '-o', dir, '--peer', `127.0.0.1:${seedPort}`, '--no-trackers', '--encryption', encryption]);
  }
  return timed(s.work, 'aria2c', [
    `--dir=${dir}`, '--seed-time=0', '--file-allocation=none', `--listen-port=${await freePort()}`, '--console-log-level=warn', ...ARIA_COMMON, ...(ariaRc4 ? ARIA_RC4 : []), s.torrent,
  ]);
}

/** `ariaRc4`: aria2c sides require RC4 (case 6); torrenttp sides run under `encryption`. */
async function runCase(s: Setup, seedKind: Side, leechKind: Side, sourceSha1: string, encryption: string, ariaRc4: boolean): Promise<Result> {
  const dir = mkdtempSync(join(s.work, 'dl-'));
  // A fresh tracker per case on the torrent's port: no peer from an earlier case is in the swarm.
  const tracker = await startTracker(s.work, CLI, s.trackerPort);
  const seed = await startSeed(s, seedKind, encryption, ariaRc4);
  try {
    const seedThreads = seedKind === 'torrenttp' ? sampleThreads(seed.proc) : undefined;
    // aria2c finds its seed only through the tracker: make sure the seed is there first.
    if (leechKind === 'aria2') await until('the seed to announce', async () => (await trackerSeeders(s.trackerPort)) >= 1, 30_000, seed.proc);
    const leech = await startLeech(s, leechKind, dir, seed.port, encryption, ariaRc4);
    const leechThreads = leechKind === 'torrenttp' ? sampleThreads(leech) : undefined;
    const timer = setTimeout(() => void leech.stop(), LEECH_TIMEOUT_MS);
    const leechUsage = await leech.done;
    clearTimeout(timer);
    if (leechUsage.code !== 0) throw new Error(`the ${leechKind} leech exited with ${leechUsage.code}:\n${leech.output}\n--- seed:\n${seed.proc.output}`);
    const seedUsage = await seed.proc.stop();
    const got = join(dir, s.name);
    if (statSync(got).size !== SIZE_BYTES || (await sha1File(got)) !== sourceSha1) throw new Error(`${got} differs from the payload`);
    const lt = leechThreads?.();
    const st = seedThreads?.();
    return { leech: leechUsage, seed: seedUsage, ...(lt === undefined ? {} : { leechThreads: lt }), ...(st === undefined ? {} : { seedThreads: st }) };
  } finally {
    if (seed.proc.child.exitCode === null) await seed.proc.stop();
    await tracker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** RC4 in one thread (bench/encryption.ts in a node with the legacy provider), MB/s of CPU by call size. */
function measureRc4(): Rc4Speeds {
  const r = spawnSync(process.execPath, [CLI_NODE_FLAG, join(dirname(fileURLToPath(import.meta.url)), 'encryption.js'), '--mib', '128', '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/encryption.js failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Rc4Speeds;
}

// ── main ──────────────────────────────────────────────────────────────────────────────────
const CASES: readonly { readonly n: number; readonly label: string; readonly seed: Side; readonly leech: Side; readonly encryption?: string }[] = [
  { n: 1, label: 'torrenttp → torrenttp', seed: 'torrenttp', leech: 'torrenttp' },
  { n: 2, label: 'aria2c    → torrenttp', seed: 'aria2', leech: 'torrenttp' },
  { n: 3, label: 'torrenttp → aria2c', seed: 'torrenttp', leech: 'aria2' },
  { n: 4, label: 'aria2c    → aria2c', seed: 'aria2', leech: 'aria2' },
  { n: 5, label: 'torrenttp → torrenttp, MSE RC4', seed: 'torrenttp', leech: 'torrenttp', encryption: 'require' },
  { n: 6, label: 'aria2c    → aria2c, MSE RC4', seed: 'aria2', leech: 'aria2', encryption: 'require' },
];


/**
 * What 2 cores allow, run by run (the figures of one run share its load): the plain run's CPU
 * and the idle CPU it leaves, RC4's CPU for the payload on both sides (64 KiB updates copied back,
 * as the cipher thread does), the bound max(plain wall, (plain CPU + RC4 CPU) / 2) and its ratio
 * to plain, against what the encrypted run took.
 */
function printBound(plain: readonly Result[], encrypted: readonly Result[], rc4: readonly Rc4Speeds[]): void {
  const cores = availableParallelism();
  console.log(`bound on ${cores} cores (s; CPU = seed + leech; RC4 = 2 sides × ${SIZE_MIB} MiB at the 64K in-place speed):`);
  const bounds: number[] = [];
  for (let i = 0; i < plain.length; i++) {
    const p = plain[i]!;
    const e = encrypted[i]!;
    const pCpu = p.seed.cpuSec + p.leech.cpuSec;
    const eCpu = e.seed.cpuSec + e.leech.cpuSec;
    const rc4Cpu = (2 * SIZE_BYTES) / 1e6 / rc4[i]![sizeLabel(RC4_CHUNK_SIZES[1]!)]!.inPlace;
    const bound = Math.max(p.leech.wallSec, (pCpu + rc4Cpu) / cores);
    bounds.push(bound / p.leech.wallSec);
    const use = (cpu: number, wall: number): string => `${((100 * cpu) / (cores * wall)).toFixed(0)}%`;
    console.log(
      `  run ${i + 1}: plain wall ${p.leech.wallSec.toFixed(2)}, CPU ${pCpu.toFixed(2)} (${use(pCpu, p.leech.wallSec)} of ${cores} cores, idle ${(cores * p.leech.wallSec - pCpu).toFixed(2)});` +
        ` RC4 ${rc4Cpu.toFixed(2)}; bound ${bound.toFixed(2)} = ${(bound / p.leech.wallSec).toFixed(2)}× plain;` +
        ` encrypted wall ${e.leech.wallSec.toFixed(2)} = ${(e.leech.wallSec / p.leech.wallSec).toFixed(2)}×, CPU ${eCpu.toFixed(2)} (${use(eCpu, e.leech.wallSec)}; +${(eCpu - pCpu).toFixed(2)} over plain, RC4 ${rc4Cpu.toFixed(2)} of it)`,
    );
  }
  console.log(`  bound/plain median ${median(bounds).toFixed(2)}×`);
}

const data = payloadFile(SIZE_MIB);
const work = mkdtempSync(join(tmpdir(), 'torrenttp-bench-transfer-run-'));
const trackerPort = await freePort();
try {
  const trackerUrl = `http://127.0.0.1:${trackerPort}/announce`;
  const { metainfo, torrentPath } = await writeBenchTorrent(data, work, trackerUrl, values['piece-kib']);
  const sourceSha1 = await sha1File(data);
  const setup: Setup = { work, data, dataDir: dirname(data), name: metainfo.name, torrent: torrentPath, trackerPort };
  console.log(
    `transfer: ${SIZE_MIB} MiB in ${metainfo.pieceCount} pieces of ${metainfo.pieceLength / 1024} KiB over 127.0.0.1, ${RUNS} run(s)${RUNS > 1 ? ', medians' : ''}`,
  );

  const results = new Map<number, Result[]>();
  const analyse = ONLY.has(1) && ONLY.has(5);
  const rc4: Rc4Speeds[] = [];
  for (let run = 0; run < RUNS; run++) {
    if (analyse) {
      rc4.push(measureRc4());
      console.log(`  run ${run + 1} RC4 in one thread, MB/s of CPU (update / in place): ${Object.entries(rc4[run]!).map(([k, v]) => `${k} ${v.update.toFixed(0)}/${v.inPlace.toFixed(0)}`).join(', ')}`);
    }
    for (const c of CASES) {
      if (!ONLY.has(c.n)) continue;
      const r = await runCase(setup, c.seed, c.leech, sourceSha1, c.encryption ?? ENCRYPTION, c.encryption !== undefined);
      results.set(c.n, [...(results.get(c.n) ?? []), r]);
      const threads = (t: Threads | undefined): string => (t === undefined ? '' : ` ${t.main.toFixed(2)} + ${t.others.slice(0, 3).map((x) => x.toFixed(2)).join(', ')}`);
      console.log(
        `  run ${run + 1} case ${c.n} ${c.label}: ${r.leech.wallSec.toFixed(2)} s; CPU s leech ${r.leech.cpuSec.toFixed(2)}${threads(r.leechThreads)}, seed ${r.seed.cpuSec.toFixed(2)}${threads(r.seedThreads)}`,
      );
    }
  }

  const mb = SIZE_BYTES / 1e6;
  const ref = results.get(4);
  const refWall = ref === undefined ? undefined : median(ref.map((r) => r.leech.wallSec));
  const rows = [['case', 'leech wall s', 'MB/s', 'vs 4', 'leech peak RSS MiB', 'leech CPU s', 'seed peak RSS MiB', 'seed CPU s']];
  for (const c of CASES) {
    const rs = results.get(c.n);
    if (rs === undefined) continue;
    const wall = median(rs.map((r) => r.leech.wallSec));
    rows.push([
      `${c.n}. ${c.label}`,
      wall.toFixed(2),
      (mb / wall).toFixed(0),
      refWall === undefined ? '-' : `${(wall / refWall).toFixed(2)}×`,
      median(rs.map((r) => r.leech.rssMiB)).toFixed(0),
      median(rs.map((r) => r.leech.cpuSec)).toFixed(2),
      median(rs.map((r) => r.seed.rssMiB)).toFixed(0),
      median(rs.map((r) => r.seed.cpuSec)).toFixed(2),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
  console.log('vs 4: leech wall time over aria2c → aria2c (lower is faster). CPU s is user + system.');
  const plain = results.get(1);
  const encrypted = results.get(5);
  if (plain !== undefined && encrypted !== undefined) {
    const ratio = (f: (r: Result) => number): string => `${(median(encrypted.map(f)) / median(plain.map(f))).toFixed(2)}×`;
    console.log(
      `5 vs 1: MSE RC4 over ${ENCRYPTION === 'off' ? 'plain' : `--encryption ${ENCRYPTION}`} torrenttp → torrenttp, leech wall time ${ratio((r) => r.leech.wallSec)}` +
        ` (CPU: leech ${ratio((r) => r.leech.cpuSec)}, seed ${ratio((r) => r.seed.cpuSec)}; peak RSS: leech ${ratio((r) => r.leech.rssMiB)}, seed ${ratio((r) => r.seed.rssMiB)})`,
    );
  }
  if (analyse && plain !== undefined && encrypted !== undefined) printBound(plain, encrypted, rc4);
  const ariaPlain = results.get(4);
  const ariaRc4 = results.get(6);
  if (ariaPlain !== undefined && ariaRc4 !== undefined) {
    const wall = (rs: readonly Result[]): number => median(rs.map((r) => r.leech.wallSec));
    const perRun = (a: readonly Result[], b: readonly Result[]): string => a.map((r, i) => (r.leech.wallSec / b[i]!.leech.wallSec).toFixed(2)).join(', ');
    console.log(`6 vs 4: aria2c's MSE RC4 over its plain, leech wall time ${(wall(ariaRc4) / wall(ariaPlain)).toFixed(2)}× (runs: ${perRun(ariaRc4, ariaPlain)})`);
    if (encrypted !== undefined) console.log(`5 vs 6: torrenttp's MSE RC4 over aria2c's, leech wall time ${(wall(encrypted) / wall(ariaRc4)).toFixed(2)}× (runs: ${perRun(encrypted, ariaRc4)})`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

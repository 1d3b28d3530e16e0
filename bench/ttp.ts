/**
 * TorrentTTP beside the wire protocol, between two torrenttp processes on loopback:
 *
 *   npm run bench:ttp -- [--size-mib 64] [--runs 3] [--piece-kib N] [--modes wire,http] [--rps-seconds 5] [--alt-cli PATH] [--mem]
 *
 * Each round runs every mode once, in turn, the order reversed every other round (wire, http,
 * http, wire, …), so a machine that speeds up or slows down costs each mode alike. Each leech
 * gets a seed of its own (`torrenttp seed --port P --http-port H --skip-verify`, both ports, the
 * same command line in every mode), started before it and stopped after it, so the seed's peak
 * RSS and CPU are those of serving that one leech. A leech is a fresh `torrenttp download` into
 * a fresh folder that exits when complete and is then compared with the payload (SHA-1):
 *   wire  `--peer 127.0.0.1:P`                       (the BitTorrent wire protocol only)
 *   http  `--peer http://127.0.0.1:H/ttp/v1/torrents/<infohash>` (TorrentTTP only)
 *   both  both `--peer`s
 *   alt   as http, but the leech is another build's CLI (`--alt-cli path/to/dist/src/cli/main.js`,
 *         e.g. the main branch's): a before/after of the TorrentTTP client in the same run
 * All use `--no-trackers --no-dht`. The clock runs from the spawn of the leech to its exit (node
 * start-up included, the same for every mode). Printed: the median wall time, MB/s, peak RSS and
 * CPU of each mode's leech and seed; then, against wire, the median of the ratios of each round
 * (the two runs of a pair are minutes apart at most, so a loaded machine's drift mostly cancels)
 * and the median of the peak-RSS differences in MiB.
 *
 * `--mem`: each leech runs with bench/mem-sampler.ts preloaded (`--import`), which samples its
 * memory every 20 ms (resident: anonymous and file-backed; V8's heap, committed and resident, by
 * space; `malloc`; `ArrayBuffer`s). Printed for each leech: those figures where its peak RSS was
 * reached (and when, as a share of its life) and their median over its second half; then, against
 * wire, the median of the rounds' differences of each figure, at the peak and in the steady state.
 * `TTP_BENCH_MEM_TIMELINE=1` keeps every sample in the sampler's JSON.
 *
 * Then requests per second (autocannon, 10 connections, `--rps-seconds` each, after a warm-up)
 * for the same 16 KiB range, `Range: bytes=0-16383`, of a piece GET on a seed's TorrentTTP
 * server (one 16 KiB block GET a request) and of the payload file on `torrenttp serve`'s static
 * path, in turn, `--rps-rounds` times (default 3), with the median of each and of their ratios.
 *
 * Then what undici itself costs a process (`--undici-rounds N`, default 3; 0 skips it): fresh
 * node processes in turn, each fetching piece 0 (one whole-piece GET) from a seed, then `gc()`
 * twice, then their resident memory (`/proc/self/status`) and heap: `none` fetches nothing,
 * `net` sends the GET over a plain socket and drops the body, `load` loads an undici `Pool` for
 * the origin (`loadUndiciCore`, with the proxy's connector; web seeds had such a pool before
 * session 18, they and the HTTP peer now have the transport's own client, http1-pool.ts) without
 * a request, `undici` sends the GET through that pool. Printed: the median of each, and `undici`
 * against `net`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createTorrent } from '../src/metainfo/index.js';
import { MEM_FIELDS, type MemReport, type MemSample } from './mem-sampler.js';
import { checkOtherCli, freePort, median, payloadFile, sha1File, timed, until, type Timed, type Usage } from './usage.js';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '64' },
    runs: { type: 'string', default: '3' },
    'piece-kib': { type: 'string' },
    modes: { type: 'string', default: 'wire,http' },
    'rps-seconds': { type: 'string', default: '5' },
    'rps-rounds': { type: 'string', default: '3' },
    'undici-rounds': { type: 'string', default: '3' },
    'alt-cli': { type: 'string' },
    mem: { type: 'boolean', default: false },
  },
});
const SIZE_MIB = Number(values['size-mib']);
const RUNS = Number(values.runs);
const RPS_SECONDS = Number(values['rps-seconds']);
const RPS_ROUNDS = Number(values['rps-rounds']);
const UNDICI_ROUNDS = Number(values['undici-rounds']);
type Mode = 'wire' | 'http' | 'both' | 'alt';
const MODES = values.modes.split(',').filter((m): m is Mode => m === 'wire' || m === 'http' || m === 'both' || m === 'alt');
if (values['alt-cli'] !== undefined && !MODES.includes('alt')) MODES.push('alt');
if (values['alt-cli'] !== undefined) checkOtherCli(values['alt-cli']);
if (!(SIZE_MIB > 0) || !Number.isInteger(RUNS) || RUNS < 1 || MODES.length === 0 || !(RPS_SECONDS >= 0) || !Number.isInteger(RPS_ROUNDS) || RPS_ROUNDS < 1 || !Number.isInteger(UNDICI_ROUNDS) || UNDICI_ROUNDS < 0 || (MODES.includes('alt') && values['alt-cli'] === undefined)) {
  console.error('usage: ttp.js [--size-mib N] [--runs N] [--piece-kib N] [--modes wire,http,both,alt] [--rps-seconds N] [--rps-rounds N] [--undici-rounds N] [--alt-cli PATH] [--mem]');
  process.exit(2);
}
const SIZE_BYTES = SIZE_MIB * 1024 * 1024;
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
/** A leech that takes longer has stalled: 5 min, plus 0.5 s a MiB for big runs on a loaded machine. */
const LEECH_TIMEOUT_MS = 5 * 60_000 + SIZE_MIB * 500;
/** Extra node flags for the leeches and the seed (e.g. `TTP_BENCH_NODE_FLAGS=--cpu-prof`). */
const NODE_FLAGS = (process.env['TTP_BENCH_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');



/** `--trace-gc` lines of a leech's output, counted by kind and reason: "Mark-Compact 3 (external memory pressure 2, …), Scavenge 900". */
function gcSummary(output: string): string {
  const kinds = new Map<string, Map<string, number>>();
  for (const line of output.split('\n')) {
    const m = /ms: (Scavenge|Mark-Compact(?: \(reduce\))?|Minor Mark-(?:Compact|Sweep))\b.*current mu = [^)]*\) (.*)$/.exec(line);
    if (m === null) continue;
    const reasons = kinds.get(m[1]!) ?? new Map<string, number>();
    const reason = m[2]!.replace(/;\s*$/, '').trim();
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    kinds.set(m[1]!, reasons);
  }
  return [...kinds].map(([k, rs]) => `${k} ${[...rs.values()].reduce((a, b) => a + b, 0)}` + (k.startsWith('Mark') ? ` (${[...rs].map(([r, n]) => `${r} ${n}`).join('; ')})` : '')).join(', ');
}

async function rps(url: string, headers: Record<string, string>): Promise<number> {
  await autocannon({ url, connections: 10, duration: 1, headers }); // warm-up (JIT, the choker's unchoke)
  const r = await autocannon({ url, connections: 10, duration: RPS_SECONDS, headers });
  if (r.errors > 0 || r.non2xx > 0) throw new Error(`${url}: ${r.errors} errors, ${r.non2xx} non-2xx of ${r['2xx'] + r.non2xx}`);
  return r.requests.average;
}

/** A child's script (argv: mode, piece URL, http-fetch.js's URL): one GET its way, then its memory as JSON (see the header). */
const PROBE_SCRIPT = `
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
const [mode, pieceUrl, httpFetch] = process.argv.slice(1);
const u = new URL(pieceUrl);
if (mode === 'net') {
  const s = connect(Number(u.port), u.hostname);
  await new Promise((r) => s.once('connect', r));
  s.write('GET ' + u.pathname + ' HTTP/1.1\\r\\nhost: ' + u.host + '\\r\\n\\r\\n');
  await new Promise((resolve) => {
    let head = Buffer.alloc(0), left = -1;
    s.on('data', (c) => {
      if (left < 0) {
        head = Buffer.concat([head, c]);
        const end = head.indexOf('\\r\\n\\r\\n');
        if (end < 0) return;
        left = Number(/content-length: *(\\d+)/i.exec(head.subarray(0, end).toString('latin1'))[1]) - (head.length - end - 4);
      } else left -= c.length;
      if (left <= 0) resolve();
    });
  });
  s.destroy();
} else if (mode === 'load' || mode === 'undici') {
  const { interimSkippingConnector, loadUndiciCore } = await import(httpFetch);
  const pool = new (await loadUndiciCore()).Pool(u.origin, { connections: 4, connect: await interimSkippingConnector() });
  if (mode === 'undici') {
    await new Promise((resolve, reject) => pool.dispatch({ origin: u.origin, path: u.pathname, method: 'GET', headers: [] },
      { onConnect() {}, onHeaders() { return true; }, onData() { return true; }, onComplete: resolve, onError: reject }));
  }
  await pool.destroy();
}
globalThis.gc(); globalThis.gc();
await new Promise((r) => setTimeout(r, 200));
globalThis.gc();
const kib = (k) => Number(/(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8').split('\\n').find((l) => l.startsWith(k)))[1]);
console.log(JSON.stringify({ rss: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile'), heap: Math.round(process.memoryUsage().heapUsed / 1024) }));
`;
type ProbeMode = 'none' | 'net' | 'load' | 'undici';
interface Probe {
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
  readonly heap: number;
}

async function probe(mode: ProbeMode, pieceUrl: string): Promise<Probe> {
  const httpFetch = new URL('../src/transport/http-fetch.js', import.meta.url).href;
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', PROBE_SCRIPT, mode, pieceUrl, httpFetch], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the ${mode} probe exited with ${code}: ${out}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as Probe;
}

/** This build's memory sampler, preloaded into each leech with `--mem`. */
const SAMPLER = new URL('./mem-sampler.js', import.meta.url).href;

/** A memory sample in MiB: resident (anonymous, file-backed), V8's heap (young, old, code, large), malloc, ArrayBuffers. */
function memRow(s: Omit<MemSample, 't'>): string {
  const m = (k: number): string => (k / 1024).toFixed(1);
  return `rss ${m(s.rss)} (anon ${m(s.anon)}, file ${m(s.file)}), heap ${m(s.heap)} (resident ${m(s.phys)}; young ${m(s.young)}, old ${m(s.old)}, code ${m(s.code)}, large ${m(s.large)}; live ${m(s.live)}), malloc ${m(s.malloc)}, ArrayBuffers ${m(s.ab)}`;
}

// ── main ──────────────────────────────────────────────────────────────────────────────────
const data = payloadFile(SIZE_MIB, 'torrenttp-bench-ttp');
const work = mkdtempSync(join(tmpdir(), 'torrenttp-bench-ttp-run-'));
const children: Timed[] = [];
try {
  const { metainfo, torrent } = await createTorrent(data, {
    creationDate: null,
    ...(values['piece-kib'] === undefined ? {} : { pieceLength: Number(values['piece-kib']) * 1024 }),
  });
  const torrentPath = join(work, 'payload.torrent');
  writeFileSync(torrentPath, torrent);
  const sourceSha1 = await sha1File(data);
  const infoHash: string = metainfo.infoHash;
  console.log(`ttp: ${SIZE_MIB} MiB in ${metainfo.pieceCount} pieces of ${metainfo.pieceLength / 1024} KiB over 127.0.0.1, ${RUNS} run(s) of ${MODES.join(', ')} in turn${RUNS > 1 ? ', medians' : ''}`);

  const wirePort = await freePort();
  const httpPort = await freePort();
  const torrentUrl = `http://127.0.0.1:${httpPort}/ttp/v1/torrents/${infoHash}`;
  /** A seed on both ports, once it serves the have-set (so its wire port is open too). */
  const startSeed = async (): Promise<Timed> => {
    const seed = timed(work, process.execPath, [...NODE_FLAGS, CLI, 'seed', torrentPath, data, '--port', String(wirePort), '--http-port', String(httpPort), '--skip-verify', '--no-trackers', '--no-dht']);
    children.push(seed);
    await until('the seed', async () => {
      try {
        return (await fetch(`${torrentUrl}/have`)).status === 200;
      } catch {
        return false;
      }
    }, 60_000, seed);
    return seed;
  };

  const peersOf: Record<Mode, string[]> = {
    wire: ['--peer', `127.0.0.1:${wirePort}`],
    http: ['--peer', torrentUrl],
    both: ['--peer', `127.0.0.1:${wirePort}`, '--peer', torrentUrl],
    alt: ['--peer', torrentUrl],
  };
  interface Round {
    readonly leech: Usage;
    readonly seed: Usage;
    /** The leech's memory over its life (`--mem`). */
    readonly mem?: MemReport;
  }
  const results = new Map<Mode, Round[]>(MODES.map((m) => [m, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const mode of run % 2 === 0 ? MODES : [...MODES].reverse()) {
      const dir = mkdtempSync(join(work, `dl-${mode}-`));
      const seed = await startSeed();
      try {
        const cli = mode === 'alt' ? values['alt-cli']! : CLI;
        const memOut = join(work, `mem-${run}-${mode}.json`);
        if (values.mem) process.env['TTP_BENCH_MEM_OUT'] = memOut; // the leech's alone: timed() spawns with this environment
        const leech = timed(work, process.execPath, [...NODE_FLAGS, ...(values.mem ? ['--import', SAMPLER] : []), cli, 'download', torrentPath, '-o', dir, ...peersOf[mode], '--no-trackers', '--no-dht']);
        delete process.env['TTP_BENCH_MEM_OUT'];
        children.push(leech);
        const timer = setTimeout(() => void leech.stop(), LEECH_TIMEOUT_MS);
        const u = await leech.done;
        clearTimeout(timer);
        if (u.code !== 0) throw new Error(`the ${mode} leech exited with ${u.code}:\n${leech.output}\n--- seed:\n${seed.output}`);
        const s = await seed.stop();
        const got = join(dir, metainfo.name);
        if (statSync(got).size !== SIZE_BYTES || (await sha1File(got)) !== sourceSha1) throw new Error(`${got} differs from the payload`);
        const mem = values.mem ? (JSON.parse(readFileSync(memOut, 'utf8')) as MemReport) : undefined;
        results.get(mode)!.push({ leech: u, seed: s, ...(mem === undefined ? {} : { mem }) });
        console.log(`  run ${run + 1} ${mode.padEnd(4)} ${u.wallSec.toFixed(2)} s, leech ${u.rssMiB.toFixed(0)} MiB ${u.cpuSec.toFixed(2)} s CPU, seed ${s.rssMiB.toFixed(0)} MiB ${s.cpuSec.toFixed(2)} s CPU`);
        if (mem !== undefined) console.log(`         leech memory at its peak (${(100 * mem.peakAt).toFixed(0)}% of its life): ${memRow(mem.atPeak)}; steady: ${memRow(mem.steady)}`);
        if (process.env['TTP_BENCH_VERBOSE'] !== undefined) console.log(leech.output.trim().split('\n').slice(-3).join('\n'));
        if (NODE_FLAGS.includes('--trace-gc')) console.log(`         GCs: leech ${gcSummary(leech.output)}; seed ${gcSummary(seed.output)}`);
      } finally {
        await seed.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  console.log('mode   wall s   MB/s  leech: RSS MiB  CPU s  seed: RSS MiB  CPU s');
  for (const [mode, rs] of results) {
    const wall = median(rs.map((r) => r.leech.wallSec));
    const med = (f: (r: Round) => number, digits: number, width: number): string => median(rs.map(f)).toFixed(digits).padStart(width);
    console.log(
      `${mode.padEnd(6)} ${wall.toFixed(2).padStart(6)} ${(SIZE_BYTES / 1e6 / wall).toFixed(1).padStart(6)} ${med((r) => r.leech.rssMiB, 0, 15)} ${med((r) => r.leech.cpuSec, 2, 6)} ${med((r) => r.seed.rssMiB, 0, 14)} ${med((r) => r.seed.cpuSec, 2, 6)}`,
    );
  }
  /** Per round, `a`'s figure against `b`'s of the same round: the median, and each. */
  const paired = (a: Mode, b: Mode, target: string): void => {
    const x = results.get(a);
    const y = results.get(b);
    if (x === undefined || y === undefined) return;
    const ratio = (f: (u: Round) => number): string => {
      const rs = x.map((u, i) => f(u) / f(y[i]!));
      return `${median(rs).toFixed(2)}× (${rs.map((r) => r.toFixed(2)).join(' ')})`;
    };
    const diff = (f: (u: Round) => number): string => {
      const ds = x.map((u, i) => f(u) - f(y[i]!));
      const s = (d: number): string => `${d >= 0 ? '+' : ''}${d.toFixed(1)}`;
      return `${s(median(ds))} MiB (${ds.map(s).join(' ')})`;
    };
    console.log(`${a}/${b}, median of the rounds' ratios (each round): wall ${ratio((r) => r.leech.wallSec)}${target}`);
    console.log(`  leech CPU ${ratio((r) => r.leech.cpuSec)}, peak RSS ${diff((r) => r.leech.rssMiB)}`);
    console.log(`  seed  CPU ${ratio((r) => r.seed.cpuSec)}, peak RSS ${diff((r) => r.seed.rssMiB)}`);
  };
  /** `--mem`: the leeches' memory, `a` less `b` per round, the median of each figure, at the peak and in the steady state. */
  const memPaired = (a: Mode, b: Mode): void => {
    const x = results.get(a);
    const y = results.get(b);
    if (x === undefined || y === undefined || x[0]?.mem === undefined) return;
    const d = (f: (m: MemReport) => Omit<MemSample, 't'>): Omit<MemSample, 't'> =>
      Object.fromEntries(MEM_FIELDS.map((k) => [k, median(x.map((u, i) => f(u.mem!)[k] - f(y[i]!.mem!)[k]))])) as unknown as Omit<MemSample, 't'>;
    console.log(`  leech memory ${a} − ${b}, median of the rounds' differences, MiB: at the peak ${memRow(d((m) => m.atPeak))}`);
    console.log(`    steady ${memRow(d((m) => m.steady))}; each figure's own maximum ${memRow(d((m) => m.max))}`);
    console.log(`    peak at (share of the leech's life) ${a} ${x.map((u) => u.mem!.peakAt.toFixed(2)).join(' ')}, ${b} ${y.map((u) => u.mem!.peakAt.toFixed(2)).join(' ')}; V8 peak malloc ${median(x.map((u) => u.mem!.peakMalloc / 1024)).toFixed(1)} / ${median(y.map((u) => u.mem!.peakMalloc / 1024)).toFixed(1)} MiB`);
  };
  paired('http', 'wire', '; target ≤ 1.15×');
  memPaired('http', 'wire');
  paired('alt', 'wire', '');
  memPaired('alt', 'wire');
  paired('http', 'alt', '');

  if (RPS_SECONDS > 0) {
    // The same 16 KiB from a seed's TorrentTTP server and from `torrenttp serve`'s static path, in turn.
    const seed = await startSeed();
    const servePort = await freePort();
    const serve = timed(work, process.execPath, [CLI, 'serve', dirname(data), '--port', String(servePort), '--host', '127.0.0.1', '--log-level', 'warn']);
    children.push(serve);
    const staticUrl = `http://127.0.0.1:${servePort}/${encodeURIComponent(basename(data))}`;
    await until('torrenttp serve', async () => {
      try {
        return (await fetch(staticUrl, { method: 'HEAD' })).status === 200;
      } catch {
        return false;
      }
    }, 60_000, serve);
    const range = { range: 'bytes=0-16383' };
    const ttp: number[] = [];
    const stat: number[] = [];
    for (let round = 0; round < RPS_ROUNDS; round++) {
      ttp.push(await rps(`${torrentUrl}/pieces/0`, range));
      stat.push(await rps(staticUrl, range));
    }
    await seed.stop();
    const each = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(' ');
    console.log(
      `16 KiB block GETs (Range: bytes=0-16383), 10 connections, ${RPS_SECONDS} s, ${RPS_ROUNDS} round(s) in turn: ` +
        `TorrentTTP piece ${median(ttp).toFixed(0)} req/s (${each(ttp)}), serve static ${median(stat).toFixed(0)} req/s (${each(stat)}); ` +
        `median ratio ${median(ttp.map((t, i) => t / stat[i]!)).toFixed(2)}×`,
    );
  }

  if (UNDICI_ROUNDS > 0) {
    // What undici itself costs a process: bare processes in turn, each after the one before has exited.
    const seed = await startSeed();
    const modes: readonly ProbeMode[] = ['none', 'net', 'load', 'undici'];
    const probes = new Map<ProbeMode, Probe[]>(modes.map((m) => [m, []]));
    for (let round = 0; round < UNDICI_ROUNDS; round++) for (const m of modes) probes.get(m)!.push(await probe(m, `${torrentUrl}/pieces/0`));
    await seed.stop();
    const med = (m: ProbeMode, f: keyof Probe): number => median(probes.get(m)!.map((p) => p[f])) / 1024;
    const row = (m: ProbeMode): string => `${m} ${med(m, 'rss').toFixed(1)} MiB (anon ${med(m, 'anon').toFixed(1)}, file ${med(m, 'file').toFixed(1)}, JS heap ${med(m, 'heap').toFixed(1)})`;
    const d = (f: keyof Probe): string => `${(med('undici', f) - med('net', f) >= 0 ? '+' : '')}${(med('undici', f) - med('net', f)).toFixed(1)}`;
    console.log(`what undici costs a bare process, resident after gc(), median of ${UNDICI_ROUNDS}: ${modes.map(row).join('; ')}`);
    console.log(`  undici against net (one 1-piece GET each): ${d('rss')} MiB resident (anon ${d('anon')}, file ${d('file')}, JS heap ${d('heap')})`);
  }
} finally {
  for (const c of children) if (c.child.exitCode === null) await c.stop();
  rmSync(work, { recursive: true, force: true });
}

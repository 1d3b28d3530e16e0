/**
 * TorrentTTP beside the wire protocol, between two torrenttp processes on loopback:
 *
 *   npm run bench:ttp -- [--size-mib 64] [--runs 3] [--piece-kib N] [--modes wire,http] [--rps-seconds 5] [--alt-cli PATH]
 *
 * One seed (`torrenttp seed --port P --http-port H --skip-verify`) runs for the whole bench; the
 * leeches take turns (wire, http, [both], wire, http, …), each a fresh `torrenttp download` into
 * a fresh folder that exits when complete and is then compared with the payload (SHA-1):
 *   wire  `--peer 127.0.0.1:P`                       (the BitTorrent wire protocol only)
 *   http  `--peer http://127.0.0.1:H/ttp/v1/torrents/<infohash>` (TorrentTTP only)
 *   both  both `--peer`s
 *   alt   as http, but the leech is another build's CLI (`--alt-cli path/to/dist/src/cli/main.js`,
 *         e.g. the main branch's): a before/after of the TorrentTTP client in the same run
 * All use `--no-trackers --no-dht`. The clock runs from the spawn of the leech to its exit (node
 * start-up included, the same for every mode). Printed: the median wall time, MB/s, peak RSS and
 * CPU of each mode, and the HTTP/wire ratio of the medians.
 *
 * Then requests per second (autocannon, 10 connections, `--rps-seconds` each, after a warm-up)
 * for the same 16 KiB range, `Range: bytes=0-16383`, of a piece GET on the seed's TorrentTTP
 * server and of the payload file on `torrenttp serve`'s static path.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createTorrent } from '../src/metainfo/index.js';
import { freePort, median, payloadFile, sha1File, timed, until, type Timed, type Usage } from './usage.js';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '64' },
    runs: { type: 'string', default: '3' },
    'piece-kib': { type: 'string' },
    modes: { type: 'string', default: 'wire,http' },
    'rps-seconds': { type: 'string', default: '5' },
    'alt-cli': { type: 'string' },
  },
});
const SIZE_MIB = Number(values['size-mib']);
const RUNS = Number(values.runs);
const RPS_SECONDS = Number(values['rps-seconds']);
type Mode = 'wire' | 'http' | 'both' | 'alt';
const MODES = values.modes.split(',').filter((m): m is Mode => m === 'wire' || m === 'http' || m === 'both' || m === 'alt');
if (values['alt-cli'] !== undefined && !MODES.includes('alt')) MODES.push('alt');
if (!(SIZE_MIB > 0) || !Number.isInteger(RUNS) || RUNS < 1 || MODES.length === 0 || !(RPS_SECONDS >= 0) || (MODES.includes('alt') && values['alt-cli'] === undefined)) {
  console.error('usage: ttp.js [--size-mib N] [--runs N] [--piece-kib N] [--modes wire,http,both,alt] [--rps-seconds N] [--alt-cli PATH]');
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
  const seed = timed(work, process.execPath, [...NODE_FLAGS, CLI, 'seed', torrentPath, data, '--port', String(wirePort), '--http-port', String(httpPort), '--skip-verify', '--no-trackers', '--no-dht']);
  children.push(seed);
  const torrentUrl = `http://127.0.0.1:${httpPort}/ttp/v1/torrents/${infoHash}`;
  await until('the seed', async () => {
    try {
      return (await fetch(`${torrentUrl}/have`)).status === 200;
    } catch {
      return false;
    }
  }, 60_000, seed);

  const peersOf: Record<Mode, string[]> = {
    wire: ['--peer', `127.0.0.1:${wirePort}`],
    http: ['--peer', torrentUrl],
    both: ['--peer', `127.0.0.1:${wirePort}`, '--peer', torrentUrl],
    alt: ['--peer', torrentUrl],
  };
  const results = new Map<Mode, Usage[]>(MODES.map((m) => [m, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const mode of MODES) {
      const dir = mkdtempSync(join(work, `dl-${mode}-`));
      try {
        const cli = mode === 'alt' ? values['alt-cli']! : CLI;
        const leech = timed(work, process.execPath, [...NODE_FLAGS, cli, 'download', torrentPath, '-o', dir, ...peersOf[mode], '--no-trackers', '--no-dht']);
        children.push(leech);
        const timer = setTimeout(() => void leech.stop(), LEECH_TIMEOUT_MS);
        const u = await leech.done;
        clearTimeout(timer);
        if (u.code !== 0) throw new Error(`the ${mode} leech exited with ${u.code}:\n${leech.output}\n--- seed:\n${seed.output}`);
        const got = join(dir, metainfo.name);
        if (statSync(got).size !== SIZE_BYTES || (await sha1File(got)) !== sourceSha1) throw new Error(`${got} differs from the payload`);
        results.get(mode)!.push(u);
        console.log(`  run ${run + 1} ${mode.padEnd(4)} ${u.wallSec.toFixed(2)} s`);
        if (process.env['TTP_BENCH_VERBOSE'] !== undefined) console.log(leech.output.trim().split('\n').slice(-3).join('\n'));
        if (NODE_FLAGS.includes('--trace-gc')) console.log(`         GCs: ${gcSummary(leech.output)}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  console.log('mode   wall s   MB/s    RSS MiB  CPU s');
  for (const [mode, us] of results) {
    const wall = median(us.map((u) => u.wallSec));
    console.log(
      `${mode.padEnd(6)} ${wall.toFixed(2).padStart(6)} ${(SIZE_BYTES / 1e6 / wall).toFixed(1).padStart(7)} ${median(us.map((u) => u.rssMiB)).toFixed(0).padStart(8)} ${median(us.map((u) => u.cpuSec)).toFixed(2).padStart(6)}`,
    );
  }
  const compare = (a: Mode, b: Mode, target: string): void => {
    const x = results.get(a);
    const y = results.get(b);
    if (x === undefined || y === undefined) return;
    const ratios = x.map((u, i) => u.wallSec / y[i]!.wallSec);
    console.log(`${a}/${b}: ${(median(x.map((u) => u.wallSec)) / median(y.map((u) => u.wallSec))).toFixed(2)}× wall (ratio of medians; per run ${ratios.map((r) => r.toFixed(2)).join(' ')}${target}), ${(median(x.map((u) => u.cpuSec)) / median(y.map((u) => u.cpuSec))).toFixed(2)}× the leech's CPU`);
  };
  compare('http', 'wire', '; target ≤ 1.15×');
  compare('alt', 'wire', '');
  compare('http', 'alt', '');

  if (RPS_SECONDS > 0) {
    // The same 16 KiB from the seed's TorrentTTP server and from `torrenttp serve`'s static path.
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
    const ttpRps = await rps(`${torrentUrl}/pieces/0`, range);
    const staticRps = await rps(staticUrl, range);
    console.log(`16 KiB range GETs, 10 connections, ${RPS_SECONDS} s: TorrentTTP piece ${ttpRps.toFixed(0)} req/s, serve static ${staticRps.toFixed(0)} req/s (${(ttpRps / staticRps).toFixed(2)}×)`);
  }
} finally {
  for (const c of children) if (c.child.exitCode === null) await c.stop();
  rmSync(work, { recursive: true, force: true });
}

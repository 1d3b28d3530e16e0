/**
 * Magnet link to first byte over loopback, torrenttp beside aria2, same seed, same link, same run:
 *
 *   npm run bench:magnet -- [--size-mib 64] [--runs 3] [--seeder torrenttp|aria2] [--no-x-pe] [--piece-kib N] [--encryption off]
 *
 * One seed (`torrenttp seed`, or aria2c with `--seeder aria2`) of a random file, one
 * `torrenttp tracker`, and one magnet link, `magnet:?xt=urn:btih:<hash>&tr=<tracker>&x.pe=127.0.0.1:<seed port>`,
 * given as is to both leeches: aria2 1.36 ignores `x.pe` (tried: it waits for metadata for good
 * with `x.pe` alone) and finds the seed through `tr`; torrenttp takes both. `--no-x-pe` leaves
 * `x.pe` out, so that torrenttp too has only the tracker to find the seed. Then, alternately
 * (torrenttp first in odd runs, aria2 first in even ones), `--runs` times:
 *
 *   a. `torrenttp download '<magnet>' -o DIR --json --json-interval 0 --no-dht`
 *   b. `aria2c --bt-metadata-only=false --enable-rpc … '<magnet>'` (DHT, LPD, PEX off)
 *
 * Three times are taken from the leech's spawn (so program start-up is in all three):
 *
 *   - metadata: torrenttp's `notice` line `metadata: …` (the info dict arrived and hashed to the
 *     info-hash); aria2: the first RPC poll that shows the `[METADATA]` download complete or the
 *     data download (total length = the file's) in its place.
 *   - first piece: torrenttp's first `progress` line with `verifiedBytes` > 0 (it prints one at the
 *     first verified piece, not only on its 250 ms tick); aria2: the first poll whose `bitfield`
 *     (`aria2.tellActive`) has a bit set. aria2 sets a piece's bit only once the piece hashed
 *     right (BitTorrent pieces are always checked), so both are "first verified piece".
 *   - complete: torrenttp's `summary` line `complete`; aria2: the first poll showing the data
 *     download `complete`. aria2 with `--enable-rpc` does not exit by itself: it is stopped then.
 *
 * aria2 is polled over JSON-RPC every 5 ms until its first piece, then every 25 ms: its figures
 * are late by up to that much (torrenttp's are event-driven, to the line). Each download is
 * compared with the payload (SHA-1) and removed. `--encryption` is torrenttp's policy on both
 * sides (default `off`: plain, as aria2 dials by default). Figures printed are medians of the runs,
 * and torrenttp/aria2 the ratio of the medians (lower is faster).
 */
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ARIA_COMMON, CLI_NODE_FLAG, freePort, median, payloadFile, sha1File, startTracker, timed, trackerSeeders, until, writeBenchTorrent, type Timed } from './usage.js';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '64' },
    runs: { type: 'string', default: '3' },
    seeder: { type: 'string', default: 'torrenttp' },
    'piece-kib': { type: 'string' },
    encryption: { type: 'string', default: 'off' },
    'no-x-pe': { type: 'boolean', default: false },
  },
});
const SIZE_MIB = Number(values['size-mib']);
const RUNS = Number(values.runs);
const SEEDER = values.seeder;
const ENCRYPTION = values.encryption;
if (!(SIZE_MIB > 0) || !Number.isInteger(RUNS) || RUNS < 1 || (SEEDER !== 'torrenttp' && SEEDER !== 'aria2') || !['prefer', 'require', 'off'].includes(ENCRYPTION)) {
  console.error('usage: magnet.js [--size-mib N] [--runs N] [--seeder torrenttp|aria2] [--no-x-pe] [--piece-kib N] [--encryption prefer|require|off]');
  process.exit(2);
}
const SIZE_BYTES = SIZE_MIB * 1024 * 1024;

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
/** A leech that takes longer than this is killed and the bench fails. */
const LEECH_TIMEOUT_MS = 5 * 60_000;
/** aria2's RPC polls: often until the first piece (the figure this bench is about), then less. */
const POLL_EARLY_MS = 5;
const POLL_LATE_MS = 25;

interface Setup {
  readonly work: string;
  readonly name: string;
  readonly magnet: string;
  readonly sourceSha1: string;
}

/** Seconds from the leech's spawn. */
interface Times {
  readonly metadata: number;
  readonly firstPiece: number;
  readonly complete: number;
}

// ── the tracker and the seed ─────────────────────────────────────────────────────────────


async function startSeed(work: string, torrent: string, data: string, port: number): Promise<Timed> {
  if (SEEDER === 'torrenttp') {
    const proc = timed(work, process.execPath, [CLI_NODE_FLAG, CLI, 'seed', torrent, data, '--port', String(port), '--skip-verify', '--encryption', ENCRYPTION]);
    await until('the torrenttp seed to start', () => / on port \d+/.test(proc.output), 60_000, proc);
    return proc;
  }
  const proc = timed(work, 'aria2c', [
    `--dir=${dirname(data)}`, '--bt-seed-unverified=true', '--seed-ratio=0.0', `--listen-port=${port}`, '--console-log-level=notice', ...ARIA_COMMON, torrent,
  ]);
  await until('the aria2c seed to listen', () => proc.output.includes('listening on TCP port'), 60_000, proc);
  return proc;
}

// ── the leeches ──────────────────────────────────────────────────────────────────────────
/** Calls `onLine` with each whole line of the child's stdout and the time it arrived. */
function onLines(child: ChildProcess, onLine: (line: string, at: number) => void): void {
  let rest = '';
  child.stdout?.on('data', (d: Buffer) => {
    const at = performance.now();
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) onLine(line, at);
  });
}

interface TorrenttpEvent {
  readonly event?: string;
  readonly message?: string;
  readonly verifiedBytes?: number;
  readonly status?: string;
}

async function torrenttpLeech(s: Setup, dir: string): Promise<Times> {
  const t0 = performance.now();
  const proc = timed(s.work, process.execPath, [
    CLI_NODE_FLAG, CLI, 'download', s.magnet, '-o', dir, '--json', '--json-interval', '0', '--no-dht', '--encryption', ENCRYPTION,
  ]);
  let metadata: number | undefined;
  let firstPiece: number | undefined;
  let complete: number | undefined;
  onLines(proc.child, (line, at) => {
    if (!line.startsWith('{')) return;
    const e = JSON.parse(line) as TorrenttpEvent;
    if (metadata === undefined && e.event === 'notice' && e.message?.startsWith('metadata:') === true) metadata = at;
    if (firstPiece === undefined && e.event === 'progress' && (e.verifiedBytes ?? 0) > 0) firstPiece = at;
    if (complete === undefined && e.event === 'summary' && e.status === 'complete') complete = at;
  });
  const timer = setTimeout(() => void proc.stop(), LEECH_TIMEOUT_MS);
  const usage = await proc.done;
  clearTimeout(timer);
  if (usage.code !== 0 || metadata === undefined || firstPiece === undefined || complete === undefined) {
    throw new Error(`the torrenttp leech exited with ${usage.code} (metadata ${metadata}, first piece ${firstPiece}, complete ${complete}):\n${proc.output}`);
  }
  return { metadata: (metadata - t0) / 1000, firstPiece: (firstPiece - t0) / 1000, complete: (complete - t0) / 1000 };
}

interface AriaDownload {
  readonly gid: string;
  readonly status: string;
  readonly totalLength: string;
  readonly bitfield?: string;
}

const ARIA_KEYS = ['gid', 'status', 'totalLength', 'bitfield'];

/** One aria2 JSON-RPC call; undefined while its RPC server is not up. */
async function rpc<T>(port: number, method: string, params: readonly unknown[]): Promise<T | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/jsonrpc`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 'bench', method, params }) });
    return ((await r.json()) as { result?: T }).result;
  } catch {
    return undefined;
  }
}

async function aria2Leech(s: Setup, dir: string): Promise<Times> {
  const rpcPort = await freePort();
  const listenPort = await freePort();
  const t0 = performance.now();
  const proc = timed(s.work, 'aria2c', [
    `--dir=${dir}`, '--seed-time=0', '--file-allocation=none', '--bt-metadata-only=false', '--bt-save-metadata=false',
    `--listen-port=${listenPort}`, '--enable-rpc=true', `--rpc-listen-port=${rpcPort}`, '--console-log-level=warn', ...ARIA_COMMON, s.magnet,
  ]);
  let metadata: number | undefined;
  let firstPiece: number | undefined;
  let complete: number | undefined;
  try {
    const end = Date.now() + LEECH_TIMEOUT_MS;
    while (complete === undefined) {
      if (proc.child.exitCode !== null) throw new Error(`aria2c exited:\n${proc.output}`);
      if (Date.now() > end) throw new Error(`aria2c timed out:\n${proc.output}`);
      const [active, stopped] = await Promise.all([
        rpc<AriaDownload[]>(rpcPort, 'aria2.tellActive', [ARIA_KEYS]),
        rpc<AriaDownload[]>(rpcPort, 'aria2.tellStopped', [0, 10, ARIA_KEYS]),
      ]);
      const at = performance.now();
      const all = [...(active ?? []), ...(stopped ?? [])];
      const data = all.find((d) => Number(d.totalLength) === SIZE_BYTES);
      if (metadata === undefined && (data !== undefined || all.some((d) => d.status === 'complete'))) metadata = at;
      if (data !== undefined) {
        if (firstPiece === undefined && /[1-9a-f]/.test(data.bitfield ?? '')) firstPiece = at;
        if (data.status === 'complete') complete = at;
        else if (data.status === 'error') throw new Error(`aria2c failed:\n${proc.output}`);
      }
      await new Promise((r) => setTimeout(r, firstPiece === undefined ? POLL_EARLY_MS : POLL_LATE_MS));
    }
  } finally {
    await proc.stop();
  }
  return { metadata: (metadata! - t0) / 1000, firstPiece: (firstPiece! - t0) / 1000, complete: (complete - t0) / 1000 };
}

async function runOne(s: Setup, leech: 'torrenttp' | 'aria2'): Promise<Times> {
  const dir = mkdtempSync(join(s.work, `dl-${leech}-`));
  try {
    const times = await (leech === 'torrenttp' ? torrenttpLeech(s, dir) : aria2Leech(s, dir));
    const got = join(dir, s.name);
    if (statSync(got).size !== SIZE_BYTES || (await sha1File(got)) !== s.sourceSha1) throw new Error(`${leech}: ${got} differs from the payload`);
    return times;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ── main ──────────────────────────────────────────────────────────────────────────────────
const data = payloadFile(SIZE_MIB);
const work = mkdtempSync(join(tmpdir(), 'torrenttp-bench-magnet-'));
let tracker: Timed | undefined;
let seed: Timed | undefined;
try {
  const trackerPort = await freePort();
  const trackerUrl = `http://127.0.0.1:${trackerPort}/announce`;
  const { metainfo, torrentPath } = await writeBenchTorrent(data, work, trackerUrl, values['piece-kib']);
  tracker = await startTracker(work, CLI, trackerPort);
  const seedPort = await freePort();
  seed = await startSeed(work, torrentPath, data, seedPort);
  await until('the seed to announce', async () => (await trackerSeeders(trackerPort)) >= 1, 30_000, seed);
  const magnet = `magnet:?xt=urn:btih:${metainfo.infoHash}&tr=${encodeURIComponent(trackerUrl)}${values['no-x-pe'] ? '' : `&x.pe=127.0.0.1:${seedPort}`}`;
  const setup: Setup = { work, name: metainfo.name, magnet, sourceSha1: await sha1File(data) };
  console.log(
    `magnet: ${SIZE_MIB} MiB in ${metainfo.pieceCount} pieces of ${metainfo.pieceLength / 1024} KiB, info dict ${metainfo.infoBytes.length} bytes, ` +
      `${SEEDER} seed over 127.0.0.1, link with tr${values['no-x-pe'] ? '' : ' and x.pe'}, ${RUNS} run(s)${RUNS > 1 ? ', medians' : ''}`,
  );

  const results = { torrenttp: [] as Times[], aria2: [] as Times[] };
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 === 0 ? (['torrenttp', 'aria2'] as const) : (['aria2', 'torrenttp'] as const);
    for (const leech of order) {
      const t = await runOne(setup, leech);
      results[leech].push(t);
      console.log(`  run ${run + 1} ${leech.padEnd(9)}: metadata ${t.metadata.toFixed(3)} s, first piece ${t.firstPiece.toFixed(3)} s, complete ${t.complete.toFixed(3)} s`);
    }
  }

  const med = (rs: readonly Times[], k: keyof Times): number => median(rs.map((r) => r[k]));
  const keys = ['metadata', 'firstPiece', 'complete'] as const;
  const rows = [
    ['leech', 'metadata s', 'first piece s', 'complete s'],
    ['torrenttp', ...keys.map((k) => med(results.torrenttp, k).toFixed(3))],
    ['aria2c', ...keys.map((k) => med(results.aria2, k).toFixed(3))],
    ['torrenttp/aria2', ...keys.map((k) => `${(med(results.torrenttp, k) / med(results.aria2, k)).toFixed(2)}×`)],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
  console.log('Seconds from the leech\'s spawn. torrenttp/aria2: ratio of the medians (lower is faster).');
} finally {
  if (seed !== undefined) await seed.stop();
  if (tracker !== undefined) await tracker.stop();
  rmSync(work, { recursive: true, force: true });
}

/** The origin-offload bench's run, shared by `bench/offload.ts` and `bench/offload-account.ts`. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { rate } from '../src/cli/options.js';
import { Gateway, silentGatewayLogger } from '../src/gateway/index.js';
import { parseTorrent } from '../src/metainfo/index.js';
import { measureFloor, type Floor } from './proxy-floor.js';
import { CLI_NODE_FLAG, sha1File, writePayload } from './usage.js';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '64' },
    clients: { type: 'string', default: '20' },
    'no-super-seed': { type: 'boolean', default: false },
    'base-cli': { type: 'string' },
    rounds: { type: 'string', default: '1' },
    'get-node-args': { type: 'string', default: '' },
    'max-upload-rate': { type: 'string' },
  },
});
const SIZE_MIB = Number(values['size-mib']);
const CLIENTS = Number(values.clients);
const ROUNDS = Number(values.rounds);
if (!(SIZE_MIB > 0) || !Number.isInteger(CLIENTS) || CLIENTS < 1 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error('usage: offload.js [--size-mib N] [--clients N] [--no-super-seed] [--base-cli path/to/dist/src/cli/main.js] [--rounds N] [--get-node-args "--cpu-prof ..."] [--max-upload-rate BYTES_PER_SEC]');
  process.exit(2);
}
/**
 * Extra node flags for this build's gets (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`), split on
 * spaces; not for `--base-cli`'s, so `--base-cli` naming this same build compares a flag side by side.
 */
/**
 * `--max-upload-rate R` (bytes/s; `100M` is MiB/s as serve reads it, so name bytes for a decimal
 * rate: `100000000`): serve's upload cap (`serve --max-upload-rate`), the same for every case.
 * On loopback the origin's uplink is otherwise unlimited, which no deployment has.
 */
const MAX_UPLOAD_RATE = values['max-upload-rate'] === undefined ? undefined : rate(values['max-upload-rate']);
const GET_NODE_ARGS = values['get-node-args'].split(' ').filter((a) => a !== '');
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'torrenttp-bench-offload-'));

/** One client under /usr/bin/time: its exit code and CPU seconds (user + system, and each). */
function timed(cmd: string, args: string[], tag: string): Promise<{ code: number | null; cpuSec: number; userSec: number; sysSec: number; out: string }> {
  const timeFile = join(work, `${tag}.time`);
  const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const [u, s] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      resolve({ code, cpuSec: u! + s!, userSec: u!, sysSec: s!, out });
    }),
  );
}

interface Summary {
  readonly seconds: number;
  readonly sources: { readonly wire: number; readonly webseed: number; readonly plain: number };
}

function summaryOf(log: string): Summary | undefined {
  for (const line of log.split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line) as { event?: string } & Partial<Summary>;
      if (j.event === 'summary' && j.sources !== undefined && typeof j.seconds === 'number') return j as Summary;
    } catch {
      // a progress line cut short: not the summary
    }
  }
  return undefined;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One case's run: wall until the last client, median client CPU, the in-process serve's CPU meanwhile, the origin's upload / file. */
interface CaseFigures {
  readonly name: string;
  readonly wall: number;
  readonly clientCpu: number;
  readonly serveCpu: number;
  readonly upload: number;
}

/** CPU seconds of a bare `node -e 0` (median of 5): what any client written for node spends before its first line. */
function nodeStartCpu(): number {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = join(work, 'node-start.time');
    const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', t, process.execPath, '-e', '0'], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`node -e 0 exited ${r.status}`);
    const [u, s] = readFileSync(t, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    xs.push(u! + s!);
  }
  return median(xs);
}

/**
 * CPU seconds this process spends sending `size` bytes from memory over loopback (one reused
 * 1 MiB buffer written until `size`, respecting backpressure, to `curl -o /dev/null`): the least an
 * upload costs its sender, with no read of the bytes from anywhere.
 */
async function sendFromMemory(size: number): Promise<number> {
  const chunk = Buffer.alloc(2 ** 20, 7);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': size });
    let left = size;
    const more = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const from = process.cpuUsage();
    const child = spawn('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${(server.address() as AddressInfo).port}/`], { stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`send from memory: curl exited ${code}`);
    const u = process.cpuUsage(from);
    return (u.user + u.system) / 1e6;
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * A lower bound on the gets' last-done time on this machine, beside the curls' (issue 15's time
 * target: the swarm's last client no later than plain HTTP's). Every get must do what a curl does
 * (receive the file and write it: the curls' own median CPU in this run, which carries the same
 * crowding as the gets'), and besides: start a node process (`node -e 0`), SHA-1 every piece
 * (`measureFloor`'s SHA-1), and upload to the other gets what the origin did not send — N files in
 * all reach the gets, the origin sent `upload` of them (this run's gets' figure), so the gets sent
 * N − upload between them, each costing at least a send of the file from memory to a socket
 * (`sendFromMemory`: no read, no disk). No engine, wire protocol, disk layout or picker is counted: this is
 * what a client of no cost but the work itself would spend, measured alone (uncrowded, so lower
 * than under the crowd). With C cores, the gets cannot be done before (that CPU + the origin's
 * send) / C; the curls took `wall` with their CPU and serve's sendfile.
 */
function printSwarmFloor(cases: readonly CaseFigures[], floor: Floor, nodeStart: number, send: number): void {
  const cores = availableParallelism();
  const pick = (name: string): CaseFigures[] => cases.filter((c) => c.name === name);
  const curls = pick('curl');
  const gets = pick('torrenttp get');
  const curlWall = median(curls.map((c) => c.wall));
  const curlCpu = median(curls.map((c) => c.clientCpu));
  const curlServe = median(curls.map((c) => c.serveCpu));
  const upload = median(gets.map((c) => c.upload));
  const perGet = curlCpu + nodeStart + floor.sha1;
  const uploads = Math.max(0, CLIENTS - upload) * send;
  const originSend = (upload / CLIENTS) * curlServe; // the origin's sends cost at least what its sendfile to the curls did, per file
  const floorCpu = CLIENTS * perGet + uploads + originSend;
  const bound = floorCpu / cores;
  const s = (x: number): string => `${x.toFixed(2)} s`;
  const getWall = median(gets.map((c) => c.wall));
  console.log(
    `\nfloor of ${CLIENTS} gets on ${cores} cores (CPU, medians of this run): each get does a curl's work (${s(curlCpu)}), starts node (${s(nodeStart)}) and hashes every piece (SHA-1 ${s(floor.sha1)}): ${s(perGet)};` +
      ` the gets upload ${(CLIENTS - upload).toFixed(2)} files to each other (a send from memory ${s(send)} a file): ${s(uploads)}; the origin's ${upload.toFixed(2)} file(s): ${s(originSend)}. In all ${s(floorCpu)}.` +
      `\n  bound: the last get no sooner than ${s(floorCpu)} / ${cores} cores = ${s(bound)}; the curls took ${s(curlWall)} (their CPU ${s(CLIENTS * curlCpu)} + serve ${s(curlServe)}):` +
      ` the bound is ${(bound / curlWall).toFixed(2)}× the last curl, so the gets ${bound <= curlWall ? 'could' : 'can NOT'} finish by the last curl on this machine, uncapped.` +
      `\n  bound, a saturated machine (every process gets a fixed share of the cores, so time goes with CPU): the gets' floor CPU / the curls' and serve's = ${(floorCpu / (CLIENTS * curlCpu + curlServe)).toFixed(2)}× the last curl; the curls kept ${((CLIENTS * curlCpu + curlServe) / curlWall).toFixed(2)} of ${cores} cores busy${(CLIENTS * curlCpu + curlServe) / curlWall < 0.8 * cores ? ' (others had the rest: this bound is the one that applies to this run)' : ''}.` +
      `\n  measured: the last get ${s(getWall)} = ${(getWall / curlWall).toFixed(2)}× the last curl, ${(getWall / bound).toFixed(2)}× the bound; CPU per get ${s(median(gets.map((c) => c.clientCpu)))} against the floor's ${s(perGet + uploads / CLIENTS)}.`,
  );
}

/** What a variant of the bench adds: `onServe` sees the gateway before the clients start and may return what to print at the end. */
export interface OffloadHooks {
  readonly onServe?: (g: Gateway) => (() => void) | void;
}

/** The bench itself (`bench/offload.ts`; `bench/offload-account.ts` adds its byte account through `onServe`). SKIP_CURL=1 runs the gets only. */
export async function runOffload(hooks: OffloadHooks = {}): Promise<void> {
  const root = join(work, 'www');
  mkdirSync(root);
  const size = SIZE_MIB * 2 ** 20;
  const { want } = await writePayload(root, 'payload.bin', size);
  let pieceLength = 0;
  const g = await Gateway.start({ root, host: '127.0.0.1', port: 0, cacheDir: join(work, 'cache'), logger: silentGatewayLogger, superSeed: !values['no-super-seed'], ...(MAX_UPLOAD_RATE === undefined ? {} : { maxUploadRate: MAX_UPLOAD_RATE }) });
  try {
    const url = `${g.url}/payload.bin`;
    for (;;) {
      const r = await request(`${url}?torrent`);
      const body = new Uint8Array(await r.body.arrayBuffer());
      if (r.statusCode === 200) {
        pieceLength = parseTorrent(body).geometry.pieceLength;
        break;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    const report = hooks.onServe?.(g);
    const capNote = MAX_UPLOAD_RATE === undefined ? 'origin upload uncapped' : `origin upload capped at ${(MAX_UPLOAD_RATE / 1e6).toFixed(1)} MB/s (${((MAX_UPLOAD_RATE * 8) / 1e9).toFixed(2)} Gbit/s)`;
    console.log(`serve at ${g.url} (super-seed ${values['no-super-seed'] ? 'off' : 'on'}); ${SIZE_MIB} MiB payload; ${CLIENTS} clients at once; ${capNote}\n`);
    console.log('| case | origin upload | last client done | CPU per client (median) | user / system (medians) |\n|---|---|---|---|---|');
    // The gets run node as the `torrenttp` command's shebang does (RC4 available).
    const getWith = (cli: string, tag: string, extra: readonly string[]) => (i: number): [string, string[]] => [process.execPath, [CLI_NODE_FLAG, ...extra, cli, 'get', url, '-o', join(work, `${tag}-${i}.bin`), '--json']];
    const round: [string, (i: number) => [string, string[]]][] = [
      ['curl', (i) => ['curl', ['-s', '-o', join(work, `curl-${i}.bin`), url]]],
      ['torrenttp get', getWith(CLI, 'get', GET_NODE_ARGS)],
      ...(values['base-cli'] === undefined ? [] : [['get (base CLI)', getWith(values['base-cli'], 'base', [])] as [string, (i: number) => [string, string[]]]]),
    ];
    // --rounds N: the cases in turn, N times (A B C A B C …), so a drift of the machine's load hits each alike.
    const cases = Array.from({ length: ROUNDS }, () => round).flat();
    const notes: string[] = [];
    const measured: CaseFigures[] = [];
    for (const [name, argsOf] of cases.filter(([n]) => !(process.env.SKIP_CURL && n === 'curl'))) {
      const before = await g.statusDocument();
      const serveCpu0 = process.cpuUsage();
      const t0 = performance.now();
      const runs = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => {
        const [cmd, args] = argsOf(i);
        return timed(cmd, args, `${name.replace(/\W/g, '')}-${i}`).then((r) => ({ ...r, out: args[args.indexOf('-o') + 1]!, log: r.out }));
      }));
      const wall = (performance.now() - t0) / 1000;
      const serveCpuUsed = process.cpuUsage(serveCpu0);
      const after = await g.statusDocument();
      for (const r of runs) {
        if (r.code !== 0) throw new Error(`${name} failed (${r.code}):\n${r.log}`);
        if ((await sha1File(r.out)) !== want) throw new Error(`${name}: ${r.out} differs from the payload`);
        rmSync(r.out);
      }
      const wire = after.totals.peerBytes - before.totals.peerBytes;
      const http = after.totals.plainBytes - before.totals.plainBytes + (after.totals.webSeedBytes - before.totals.webSeedBytes); // plain and web seed ranges
      measured.push({ name, wall, clientCpu: median(runs.map((r) => r.cpuSec)), serveCpu: (serveCpuUsed.user + serveCpuUsed.system) / 1e6, upload: (wire + http) / size });
      console.log(`| ${name} | ${((wire + http) / size).toFixed(2)}× (wire ${(wire / 2 ** 20).toFixed(0)} MiB, HTTP ${(http / 2 ** 20).toFixed(0)} MiB) | ${wall.toFixed(2)} s | ${median(runs.map((r) => r.cpuSec)).toFixed(2)} s | ${median(runs.map((r) => r.userSec)).toFixed(2)} / ${median(runs.map((r) => r.sysSec)).toFixed(2)} s |`);
      // get --json ends with a summary line: where each client's bytes came from.
      const sums = runs.map((r) => summaryOf(r.log)).filter((x) => x !== undefined);
      if (sums.length > 0) {
        const web = sums.filter((x) => x.sources.webseed > 0);
        notes.push(`${name}: ${web.length} of ${sums.length} clients used the web seed (${(web.reduce((n, x) => n + x.sources.webseed, 0) / 2 ** 20).toFixed(0)} MiB); client times median ${median(sums.map((x) => x.seconds)).toFixed(1)} s, max ${Math.max(...sums.map((x) => x.seconds)).toFixed(1)} s`);
      }
    }
    for (const n of notes) console.log(`\n${n}`);
    if (measured.some((m) => m.name === 'curl') && measured.some((m) => m.name === 'torrenttp get')) printSwarmFloor(measured, await measureFloor(url, size, pieceLength, work), nodeStartCpu(), await sendFromMemory(size));
    report?.();
  } finally {
    await g.close();
    rmSync(work, { recursive: true, force: true });
  }
}

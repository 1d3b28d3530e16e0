/**
 * `torrenttp get` beside plain HTTP from the same `torrenttp serve`, same file, same run:
 *
 *   npm run bench:get -- [--size-mib 256] [--runs 3] [--base-cli OTHER/dist/src/cli/main.js] [--cases get,get (base)]
 *
 *   curl            `curl -s -o FILE URL`: the plain-HTTP reference
 *   node undici     a bare node process: undici `request` piped to a file (node's own floor:
 *                   start-up plus its HTTP client, nothing of torrenttp)
 *   get --no-swarm  `torrenttp get --no-swarm`: torrenttp's plain path (undici)
 *   get             `torrenttp get`: negotiates the torrent, then the swarm (the server's seed
 *                   over the wire protocol and its web seed)
 *   torrent fetch   one GET of the torrent by Accept (undici, in this process): what the swarm
 *                   costs up front
 *   get (base)      with --base-cli: `torrenttp get` of another build (main's, say) against the
 *                   same serve, in the same rotation: a before/after in one run
 *
 * Each download is its own process, timed from spawn to exit (node start-up included for both
 * torrenttp cases), with its CPU (user + sys, /usr/bin/time) and the CPU `serve` spent meanwhile
 * (its /proc stat before and after): on the 2 shared cores the two processes take turns, so the
 * sum is what a case costs the machine, and the serve's part is where its wire seed and its
 * plain HTTP differ. Started with CLI_NODE_FLAG as the installed command starts (its shebang), so
 * that MSE/PE (RC4) is there as it is for a user (without it `prefer` quietly dials plain),
 * written to a fresh file and compared with the payload (SHA-1). The torrent is made before the
 * first case (serve hashes lazily), so no case pays for hashing. Cases alternate within each run;
 * every figure is the median of the runs.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { checkOtherCli, CLI_NODE_FLAG, median, processCpuSec, sha1File, timed, writeRandomFile } from './usage.js';

const ALL_CASES = ['curl', 'node undici', 'get --no-swarm', 'get', 'get (base)'];

const USAGE = `usage: get.js [--size-mib N] [--runs N] [--base-cli PATH/main.js] [--cases NAME,...] [--no-extra-ca]
  --cases        which cases to run, of: ${ALL_CASES.join(', ')} (default all; curl is always run: the ratios are to it)
  --no-extra-ca  every case without NODE_EXTRA_CA_CERTS: node 20 parses those certificates at every
                 start, before any script (~35 ms of CPU for a typical bundle), and curl's plain
                 HTTP never loads a certificate`;
const { values } = parseArgs({ options: { 'size-mib': { type: 'string', default: '256' }, runs: { type: 'string', default: '3' }, 'base-cli': { type: 'string' }, cases: { type: 'string' }, 'no-extra-ca': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
const BASE_CLI = values['base-cli'];
if (BASE_CLI !== undefined) checkOtherCli(BASE_CLI);
const SIZE_MIB = Number(values['size-mib']);
const RUNS = Number(values.runs);
const CASES = values.cases === undefined ? undefined : new Set(['curl', ...values.cases.split(',').map((c) => c.trim())]);
if (values.help === true) {
  console.log(USAGE);
  process.exit(0);
}
if (values['no-extra-ca'] === true) delete process.env.NODE_EXTRA_CA_CERTS;
if (!(SIZE_MIB > 0) || !Number.isInteger(RUNS) || RUNS < 1 || [...(CASES ?? [])].some((c) => !ALL_CASES.includes(c))) {
  console.error(USAGE);
  process.exit(2);
}
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'torrenttp-bench-get-'));

/** The node floor: `node -e UNDICI_GET URL -o FILE`. */
const UNDICI_GET = `
import { request } from ${JSON.stringify(import.meta.resolve('undici'))};
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
const [url, , out] = process.argv.slice(1);
const res = await request(url);
await pipeline(res.body, createWriteStream(out));
`;

async function main(): Promise<void> {
  const root = join(work, 'www');
  mkdirSync(root);
  const file = join(root, 'payload.bin');
  writeRandomFile(file, SIZE_MIB * 2 ** 20);
  const want = await sha1File(file);

  const serve = spawn(process.execPath, [CLI_NODE_FLAG, CLI, 'serve', root, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn', '--cache', join(work, 'cache')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let serveOut = '';
  serve.stdout.on('data', (d: Buffer) => (serveOut += d.toString()));
  try {
    while (!/at (http:\/\/127\.0\.0\.1:\d+)\//.test(serveOut)) await new Promise((r) => setTimeout(r, 50));
    const base = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(serveOut)![1]!;
    const url = `${base}/payload.bin`;
    const hashStart = performance.now();
    for (;;) {
      const r = await request(`${url}?torrent`);
      await r.body.dump();
      if (r.statusCode === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    console.log(`serve at ${base}; ${SIZE_MIB} MiB payload; torrent made in ${((performance.now() - hashStart) / 1000).toFixed(2)} s (not counted)`);
    if (process.env.NODE_EXTRA_CA_CERTS !== undefined) console.log('NODE_EXTRA_CA_CERTS is set: every node case parses those certificates at start (--no-extra-ca: without)');

    const names = ALL_CASES.filter((n) => (n !== 'get (base)' || BASE_CLI !== undefined) && (CASES === undefined || CASES.has(n)));
    const times: Record<string, number[]> = Object.fromEntries([...names, 'torrent fetch'].map((n) => [n, []]));
    const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const serveCpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const sources: string[] = [];
    for (let run = 0; run < RUNS; run++) {
      const t0 = performance.now();
      const r = await request(url, { headers: { accept: 'application/x-bittorrent, application/vnd.torrenttp.metainfo+json;q=0.9, */*;q=0.1' } });
      await r.body.arrayBuffer();
      times['torrent fetch']!.push((performance.now() - t0) / 1000);
      const all: [string, string, string[]][] = [
        ['curl', 'curl', ['-s', '-o', join(work, 'curl.bin'), url]],
        ['node undici', process.execPath, ['--input-type=module', '-e', UNDICI_GET, url, '-o', join(work, 'undici.bin')]],
        ['get --no-swarm', process.execPath, [CLI_NODE_FLAG, CLI, 'get', url, '-o', join(work, 'plain.bin'), '--no-swarm', '--json']],
        ['get', process.execPath, [CLI_NODE_FLAG, CLI, 'get', url, '-o', join(work, 'swarm.bin'), '--json']],
        ...(BASE_CLI === undefined ? [] : [['get (base)', process.execPath, [CLI_NODE_FLAG, BASE_CLI, 'get', url, '-o', join(work, 'base.bin'), '--json']] as [string, string, string[]]]),
      ];
      const cases = all.filter(([name]) => names.includes(name));
      // Rotate the order each run so no case always goes first (cold caches) or last.
      for (let i = 0; i < cases.length; i++) {
        const [name, cmd, args] = cases[(i + run) % cases.length]!;
        const out = args[args.indexOf('-o') + 1]!;
        const serve0 = processCpuSec(serve.pid!);
        const proc = timed(work, cmd, args);
        const res = await proc.done;
        serveCpu[name]!.push(processCpuSec(serve.pid!) - serve0);
        if (res.code !== 0) throw new Error(`${name} failed (${res.code}):\n${proc.output}`);
        if ((await sha1File(out)) !== want) throw new Error(`${name}: output differs from the payload`);
        rmSync(out);
        times[name]!.push(res.wallSec);
        cpu[name]!.push(res.cpuSec);
        if (name.startsWith('get') && !name.includes('no-swarm')) {
          const s = JSON.parse(proc.output.split('\n').find((l) => l.includes('"summary"'))!) as { sources: Record<string, number> };
          sources.push(`${name}: wire ${(s.sources.wire! / 2 ** 20).toFixed(0)} MiB, web seed ${(s.sources.webseed! / 2 ** 20).toFixed(0)} MiB`);
        }
      }
    }
    const ref = median(times.curl!);
    const bothCpu = (name: string): number => median(cpu[name]!.map((c, i) => c + serveCpu[name]![i]!));
    const refCpu = bothCpu('curl');
    // Each run's own ratio to that run's curl, then their median: steadier than the medians' ratio when the load drifts between runs.
    const perRun = (name: string): number => median(times[name]!.map((x, i) => x / times.curl![i]!));
    console.log(`\n| case | wall (median of ${RUNS}) | MB/s | vs curl | vs curl, per run | CPU | serve's CPU | both vs curl's |\n|---|---|---|---|---|---|---|---|`);
    for (const [name, xs] of Object.entries(times)) {
      const sec = median(xs);
      if (name === 'torrent fetch') {
        console.log(`| ${name} | ${sec.toFixed(3)} s | - | - | - | - | - | - |`);
        continue;
      }
      const rate = ((SIZE_MIB * 2 ** 20) / sec / 1e6).toFixed(0);
      console.log(`| ${name} | ${sec.toFixed(3)} s | ${rate} | ${(sec / ref).toFixed(2)}× | ${perRun(name).toFixed(2)}× | ${median(cpu[name]!).toFixed(2)} s | ${median(serveCpu[name]!).toFixed(2)} s | ${(bothCpu(name) / refCpu).toFixed(2)}× |`);
    }
    console.log(`\nget's sources per run: ${sources.join('; ')}`);
  } finally {
    serve.kill('SIGTERM'); // by pid
    await new Promise((r) => serve.once('close', r));
    rmSync(work, { recursive: true, force: true });
  }
}

await main();

/**
 * `torrenttp proxy` beside direct curl from the same `torrenttp serve`, same file, same run:
 *
 *   npm run bench:proxy -- [--size-mib 64] [--runs 3]
 *
 *   direct        `curl -o FILE URL`: the plain-HTTP reference
 *   proxy cold    `curl -x PROXY URL` through a proxy with an empty cache: negotiation, then the
 *                 swarm (the server's seed over the wire protocol), streamed in order
 *   proxy cached  the same again: the proxy's cache folder, no network
 *   proxy running cold  then another file of the same size (`payload2.bin`) through the same proxy,
 *                 its cache empty of it: a cold fetch by a proxy process that has served one before
 *                 (a proxy is a long-running process), where `proxy cold` is the first request of a
 *                 freshly spawned one
 *
 * Time to first byte and total are curl's own (`time_starttransfer`, `time_total`); the first
 * body byte is when curl's stdout first carries bytes, counted from its spawn (curl's first byte
 * is of the headers, which the proxy sends before the body's first piece is in). Each run
 * starts a proxy process with a fresh cache. The origin's upload for the cold fetch (plain bytes
 * plus its seed's bytes, from serve's status.json) is shown as a ratio of the file. Every output
 * is compared with the payload (SHA-1). Figures are medians of the runs.
 *
 *   base cold/cached  `--base-cli PATH` (another build's dist/src/cli/main.js, e.g. main's): the
 *                 same two cases through that build's proxy in the same runs, for a before/after
 *
 *   get           `--get`: `torrenttp get URL -o FILE` of this build in each run, from its spawn to its
 *                 exit (a process start included): the swarm download alone, without the proxy,
 *                 so that a cold total can be told apart from the download it follows
 *
 *   curl's file  `--curl-file`: curl writes the output file itself (`-o FILE`), as a program
 *                 would, instead of its stdout through a pipe into this process (whose writes
 *                 bound every case near 200 to 300 MB/s on the development machine, direct
 *                 included: a 256 MiB direct fetch took 1 s piped, 0.2 to 0.3 s on its own). The
 *                 first body byte is then not measured.
 *
 *   hits          `--hits N`: after the cached fetch, N cache hits in a row through the same proxy
 *                 (one keep-alive connection, this process as the program, no process start per
 *                 fetch): the time per hit, for what a response costs beside its bytes. Use a
 *                 small `--size-mib` (4) for it.
 *
 *   range         `--range-from BYTE`: `curl -r BYTE-` direct, and through another proxy with an empty
 *                 cache (a cold Range from past byte 0), in each run.
 *
 *   floor         each run also measures what a verifying, caching proxy must spend beside direct
 *                 curl (receive, SHA-1, store, resend: bench/proxy-floor.ts) and prints the bound
 *                 it puts on the cold total on this machine, against 1.2× direct. The table's last
 *                 column is each case's CPU (median seconds): serve, the proxy, curl.
 *
 *   capped        `--cap 100M,400M` (rates as `serve --max-upload-rate` takes them): for each, another
 *                 `serve` of the same folder with its upload capped at that rate (a real link's
 *                 bottleneck in place of this machine's CPU), and in each run direct curl and a
 *                 cold proxy fetch (a fresh proxy) from it, in alternating order, each just after
 *                 throwaway ranges that spend the cap's idle burst (`drain`): their own table,
 *                 proxy / direct from the same capped origin, beside the uncapped figures and the
 *                 floor of the same run. With `--base-cli`, the base build's proxy too (a fresh
 *                 one, cold), before the direct fetch on odd runs and after it on even ones, with
 *                 the direct fetch between the two builds' fetches on every run.
 *
 *   pass          `--pass`: only the pass-through, instead of all the above: another `serve` of the
 *                 same file that offers no torrent (`--min-size` above it), and in each run direct curl
 *                 from it, then through a fresh proxy its first GET (negotiated: undici's answer is
 *                 sent) and a second (known plain within `--fresh`: the proxy's own client), with `--base-cli`
 *                 the base build's the same (before direct on odd runs, after it on even ones). Its
 *                 table has each case's proxy CPU, the process's and its main thread's (median
 *                 seconds), and per-run ratios to direct and to the base build. Use `--curl-file`.
 *
 *   N proxies     `--proxies N` (default 10; 0 skips it): N proxy processes with empty caches, one
 *                 `curl -x` each, all at once for the same file. The origin's upload (serve's
 *                 status.json, plain plus seed bytes) as a ratio of the file: plain HTTP would be N×.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { checkOtherCli, CLI_NODE_FLAG, processCpuSec, sha1File, writePayload } from './usage.js';
import { measureFloor, printFloor, type CaseCpu, type Floor } from './proxy-floor.js';
import { parseTorrent } from '../src/metainfo/index.js';
import { rate } from '../src/cli/options.js';
import { DEFAULT_CAP_BURST_SEC } from '../src/gateway/upload-cap.js';

const { values } = parseArgs({ options: { 'size-mib': { type: 'string', default: '64' }, runs: { type: 'string', default: '3' }, proxies: { type: 'string', default: '10' }, 'base-cli': { type: 'string' }, get: { type: 'boolean', default: false }, 'curl-file': { type: 'boolean', default: false }, hits: { type: 'string', default: '0' }, 'range-from': { type: 'string' }, cap: { type: 'string' }, pass: { type: 'boolean', default: false } } });
const PASS = values.pass === true;
const CAPS = (values.cap ?? '').split(',').filter((c) => c !== '');
const HITS = Number(values.hits);
const RANGE_FROM = values['range-from'] === undefined ? undefined : Number(values['range-from']);
const CURL_FILE = values['curl-file'] === true;
const GET = values.get === true;
const BASE_CLI = values['base-cli'];
if (BASE_CLI !== undefined) checkOtherCli(BASE_CLI);
const SIZE_MIB = Number(values['size-mib']);
const RUNS = Number(values.runs);
const PROXIES = Number(values.proxies);
if (!(SIZE_MIB > 0) || !Number.isInteger(RUNS) || RUNS < 1 || !Number.isInteger(PROXIES) || PROXIES < 0 || !Number.isInteger(HITS) || HITS < 0 || (RANGE_FROM !== undefined && !(Number.isInteger(RANGE_FROM) && RANGE_FROM > 0 && RANGE_FROM < SIZE_MIB * 2 ** 20))) {
  console.error('usage: proxy.js [--size-mib N] [--runs N] [--proxies N] [--base-cli PATH] [--get] [--curl-file] [--hits N] [--range-from BYTE] [--cap RATE,…] [--pass]');
  process.exit(2);
}
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'torrenttp-bench-proxy-'));

/**
 * curl's own timers, and the first body byte: curl writes the body to its stdout (a pipe to this
 * process, which writes it to `out`), and the first chunk's arrival, counted from the spawn, is
 * the first byte of the body. `time_starttransfer` is the first byte of the response, headers
 * included: the proxy sends its headers before the body's first piece is in.
 */
let curlCount = 0;

async function curl(args: string[], out: string): Promise<{ ttfb: number; body: number; total: number; cpu: number }> {
  const started = performance.now();
  const timeFile = join(work, `curl-time-${curlCount++}.txt`);
  const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, 'curl', '-sS', '-w', '%{stderr}%{time_starttransfer} %{time_total}', ...args, '-o', CURL_FILE ? out : '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let body = NaN;
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  if (!CURL_FILE) {
    child.stdout.once('data', () => (body = (performance.now() - started) / 1000));
    const file = createWriteStream(out);
    child.stdout.pipe(file);
    await new Promise<void>((resolve, reject) => file.once('close', resolve).once('error', reject));
  }
  const code = await closed;
  if (code !== 0) throw new Error(`curl ${args.join(' ')} failed (${code}): ${err}`);
  const [ttfb, total] = err.trim().split(' ').map(Number);
  const [user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return { ttfb: ttfb!, body, total: total!, cpu: user! + sys! };
}

async function startedProcess(args: string[], line: RegExp, cli = CLI): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  while (!line.test(out)) {
    if (child.exitCode !== null) throw new Error(`${args[0]} exited: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: line.exec(out)![1]! };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM'); // by pid
  await new Promise((r) => child.once('close', r));
}

async function originBytes(base: string): Promise<number> {
  const r = await request(`${base}/.torrenttp/status.json`);
  const t = ((await r.body.json()) as { totals: { plainBytes: number; peerBytes: number; webSeedBytes: number } }).totals;
  return t.plainBytes + t.peerBytes + t.webSeedBytes;
}

/**
 * Spends a capped origin's burst (`DEFAULT_CAP_BURST_SEC` of the rate, built up while idle) on
 * throwaway ranges just before a timed fetch, so that the fetch meets the link's rate from its
 * first byte rather than a burst at this machine's speed (a 400 MB/s cap's burst is 200 MB: most
 * of a 256 MiB file). Twice the burst: the bucket refills while the first burst is read.
 */
async function drain(url: string, bytesPerSec: number, size: number): Promise<void> {
  let left = 2 * Math.max(bytesPerSec * DEFAULT_CAP_BURST_SEC, 256 * 1024);
  while (left > 0) {
    const n = Math.ceil(Math.min(size, left));
    const r = await request(url, { headers: { range: `bytes=0-${n - 1}` } });
    for await (const _ of r.body) {
      // read out
    }
    left -= n;
  }
}

/** Waits until serve has made the file's torrent; its piece length. */
async function torrentReady(url: string): Promise<number> {
  for (;;) {
    const r = await request(`${url}?torrent`);
    if (r.statusCode === 200) return parseTorrent(new Uint8Array(await r.body.arrayBuffer())).pieceLength;
    await r.body.dump();
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** SHA-1 of a file's bytes from `start`, hex. */
async function sha1From(path: string, start: number): Promise<string> {
  const h = createHash('sha1');
  for await (const c of createReadStream(path, { start, highWaterMark: 4 * 1024 * 1024 })) h.update(c as Buffer);
  return h.digest('hex');
}

/** Median CPU seconds of a case's processes, `serve + proxy + curl`. */
function cpuCell(cs: readonly CaseCpu[]): string {
  if (cs.length === 0) return '–';
  const m = (k: keyof CaseCpu): string => median(cs.map((c) => c[k])).toFixed(2);
  return `${m('serve')} + ${m('proxy')} + ${m('curl')} s`;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const root = join(work, 'www');
  mkdirSync(root);
  const size = SIZE_MIB * 2 ** 20;
  const { file, want } = await writePayload(root, 'payload.bin', size);
  // The running proxy's second cold fetch: another file of the same size.
  const { want: want2 } = await writePayload(root, 'payload2.bin', size);

  const serve = await startedProcess(['serve', root, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn', '--cache', join(work, 'gcache')], /at (http:\/\/127\.0\.0\.1:\d+)\//);
  const children: ChildProcess[] = [serve.child];
  try {
    const url = `${serve.url}/payload.bin`;
    const pieceLength = await torrentReady(url);
    const url2 = `${serve.url}/payload2.bin`;
    await torrentReady(url2);
    // The capped origins: the same folder, each its own torrent cache and upload cap.
    const capped: { cap: string; url: string; child: ChildProcess; bytesPerSec: number }[] = [];
    for (const cap of CAPS) {
      const s = await startedProcess(['serve', root, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn', '--cache', join(work, `gcache-${cap}`), '--max-upload-rate', cap], /at (http:\/\/127\.0\.0\.1:\d+)\//);
      children.push(s.child);
      await torrentReady(`${s.url}/payload.bin`);
      capped.push({ cap, url: `${s.url}/payload.bin`, child: s.child, bytesPerSec: rate(cap) });
    }
    console.log(`serve at ${serve.url}; ${SIZE_MIB} MiB payload; torrent made before the runs${CAPS.length === 0 ? '' : `; capped origins: ${CAPS.join(', ')} B/s`}`);
    const times: Record<string, { ttfb: number[]; body: number[]; total: number[] }> = {};
    const rangeCases = RANGE_FROM === undefined ? [] : ['direct range', 'proxy cold range'];
    for (const name of ['direct', ...(GET ? ['get'] : []), 'proxy cold', 'proxy cached', 'proxy running cold', ...rangeCases, ...(BASE_CLI === undefined ? [] : ['base cold', 'base cached', 'base running cold'])]) times[name] = { ttfb: [], body: [], total: [] };
    const wantRange = RANGE_FROM === undefined ? '' : await sha1From(file, RANGE_FROM);
    const cpu: Record<string, CaseCpu[]> = {};
    for (const name of Object.keys(times)) cpu[name] = [];
    const floors: Floor[] = [];
    const ratios: number[] = [];
    const baseRatios: number[] = [];
    const hitMs: Record<'proxy' | 'base', number[]> = { proxy: [], base: [] };
    const cappedTimes = new Map(CAPS.map((c) => [c, { direct: [] as number[], proxy: [] as number[], proxyCpu: [] as number[], base: [] as number[], baseCpu: [] as number[] }]));
    for (let run = 0; run < RUNS; run++) {
      // With --base-cli, the base build's proxy goes first on odd runs, second on even ones.
      if (BASE_CLI !== undefined && run % 2 === 1) await proxyCases(run, 'base', BASE_CLI, baseRatios);
      await proxyCases(run, 'proxy', CLI, ratios);
      floors.push(await measureFloor(url, size, pieceLength, work));
      for (const c of capped) await cappedCases(run, c);
      if (BASE_CLI !== undefined && run % 2 === 0) await proxyCases(run, 'base', BASE_CLI, baseRatios);
    }
    /** Direct and a cold proxy fetch from a capped origin, alternating which goes first. */
    async function cappedCases(run: number, c: { cap: string; url: string; bytesPerSec: number }): Promise<void> {
      const t = cappedTimes.get(c.cap)!;
      const out = join(work, 'out.bin');
      const one = async (args: string[]): Promise<number> => {
        await drain(c.url, c.bytesPerSec, size);
        const r = await curl(args, out);
        if ((await sha1File(out)) !== want) throw new Error(`capped ${c.cap}: output differs from the payload`);
        rmSync(out);
        return r.total;
      };
      /** A cold fetch through a fresh proxy of `cli`: its total and the proxy's CPU. */
      const cold = async (cli: string, totals: number[], cpus: number[]): Promise<void> => {
        const dir = join(work, `cap-cache-${run}`);
        const proxy = await startedProcess(['proxy', '--port', '0', '--cache', dir, '--log-level', 'warn'], /proxy at (http:\/\/127\.0\.0\.1:\d+)/, cli);
        children.push(proxy.child);
        const cpu0 = processCpuSec(proxy.child.pid!);
        totals.push(await one(['-x', proxy.url, c.url]));
        cpus.push(processCpuSec(proxy.child.pid!) - cpu0);
        await stop(proxy.child);
        rmSync(dir, { recursive: true, force: true });
      };
      if (BASE_CLI !== undefined && run % 2 === 1) await cold(BASE_CLI, t.base, t.baseCpu);
      if (run % 2 === 1) t.direct.push(await one([c.url]));
      await cold(CLI, t.proxy, t.proxyCpu);
      if (run % 2 === 0) t.direct.push(await one([c.url]));
      if (BASE_CLI !== undefined && run % 2 === 0) await cold(BASE_CLI, t.base, t.baseCpu);
    }
    async function proxyCases(run: number, name: 'proxy' | 'base', cli: string, into: number[]): Promise<void> {
      const proxy = await startedProcess(['proxy', '--port', '0', '--cache', join(work, `${name}-cache-${run}`), '--log-level', 'warn'], /proxy at (http:\/\/127\.0\.0\.1:\d+)/, cli);
      children.push(proxy.child);
      const out = join(work, 'out.bin');
      const record = async (name: string, args: string[], through = proxy, sha1 = want): Promise<void> => {
        const before = { serve: processCpuSec(serve.child.pid!), proxy: processCpuSec(through.child.pid!) };
        const r = await curl(args, out);
        cpu[name]!.push({ serve: processCpuSec(serve.child.pid!) - before.serve, proxy: name.startsWith('direct') ? 0 : processCpuSec(through.child.pid!) - before.proxy, curl: r.cpu });
        if ((await sha1File(out)) !== sha1) throw new Error(`${name}: output differs from the payload`);
        rmSync(out);
        times[name]!.ttfb.push(r.ttfb);
        times[name]!.body.push(r.body);
        times[name]!.total.push(r.total);
      };
      // Direct first on odd runs, after the proxy on even ones: neither always meets a cold page cache.
      if (run % 2 === 1 && name === 'proxy') await record('direct', [url]);
      const before = await originBytes(serve.url);
      await record(`${name} cold`, ['-x', proxy.url, url]);
      into.push(((await originBytes(serve.url)) - before) / size);
      await record(`${name} cached`, ['-x', proxy.url, url]);
      if (HITS > 0) hitMs[name].push(await hits(proxy.url, url, size));
      await record(`${name} running cold`, ['-x', proxy.url, url2], proxy, want2);
      if (run % 2 === 0 && name === 'proxy') await record('direct', [url]);
      await stop(proxy.child);
      // Its cache goes now: its pages back to the kernel's free lists for the next cases, as
      // curl's output file's are after each fetch (on this VM, a write into pages the guest never
      // used before costs 10 to 20 times the CPU of one into reused pages).
      rmSync(join(work, `${name}-cache-${run}`), { recursive: true, force: true });
      if (RANGE_FROM !== undefined && name === 'proxy') {
        // A cold Range from past byte 0 through another fresh proxy, and the same range direct.
        const ranged = await startedProcess(['proxy', '--port', '0', '--cache', join(work, `range-cache-${run}`), '--log-level', 'warn'], /proxy at (http:\/\/127\.0\.0\.1:\d+)/, cli);
        children.push(ranged.child);
        const r = ['-r', `${RANGE_FROM}-`];
        if (run % 2 === 1) await record('direct range', [...r, url], ranged, wantRange);
        await record('proxy cold range', [...r, '-x', ranged.url, url], ranged, wantRange);
        if (run % 2 === 0) await record('direct range', [...r, url], ranged, wantRange);
        await stop(ranged.child);
        rmSync(join(work, `range-cache-${run}`), { recursive: true, force: true });
      }
      if (GET && name === 'proxy') {
        const started = performance.now();
        const got = spawn(process.execPath, [CLI_NODE_FLAG, cli, 'get', url, '-o', out, '-s'], { stdio: ['ignore', 'ignore', 'inherit'] });
        const code = await new Promise<number | null>((resolve) => got.on('close', resolve));
        const total = (performance.now() - started) / 1000;
        if (code !== 0 || (await sha1File(out)) !== want) throw new Error(`get: exit ${code}, or output differs from the payload`);
        rmSync(out);
        times.get!.ttfb.push(NaN);
        times.get!.body.push(NaN);
        times.get!.total.push(total);
      }
    }
    const ref = median(times.direct!.total);
    const refTtfb = median(times.direct!.ttfb);
    const refBody = median(times.direct!.body);
    console.log(
      `\n| case | first byte (headers) | first body byte (from spawn) | total (median of ${RUNS}) | MB/s | total vs direct | first byte vs direct | first body byte vs direct | CPU serve + proxy + curl |\n|---|---|---|---|---|---|---|---|---|`,
    );
    for (const [name, t] of Object.entries(times)) {
      const total = median(t.total);
      const ttfb = median(t.ttfb);
      const body = median(t.body);
      const ms = (x: number): string => (Number.isNaN(x) ? '–' : `${(x * 1000).toFixed(1)} ms`);
      const ratio = (x: number): string => (Number.isNaN(x) ? '–' : `${x.toFixed(1)}×`);
      console.log(
        `| ${name} | ${ms(ttfb)} | ${ms(body)} | ${total.toFixed(3)} s | ${(size / total / 1e6).toFixed(0)} | ${(total / ref).toFixed(2)}× | ${ratio(ttfb / refTtfb)} | ${ratio(body / refBody)} | ${cpuCell(cpu[name]!)} |`,
      );
    }
    const perRun = (name: string, k: 'ttfb' | 'body'): string => times[name]![k].map((x, i) => (x / times.direct![k][i]!).toFixed(2)).join(', ');
    if (!CURL_FILE) console.log(`\nfirst body byte, proxy cold / direct in the same run: ${perRun('proxy cold', 'body')}${BASE_CLI === undefined ? '' : `; base cold / direct: ${perRun('base cold', 'body')}`}`);
    console.log(`first byte (headers), proxy cold / direct in the same run: ${perRun('proxy cold', 'ttfb')}${BASE_CLI === undefined ? '' : `; base cold / direct: ${perRun('base cold', 'ttfb')}`}`);
    if (!CURL_FILE) console.log(`first body byte, proxy running cold / direct in the same run: ${perRun('proxy running cold', 'body')}${BASE_CLI === undefined ? '' : `; base running cold / direct: ${perRun('base running cold', 'body')}`}`);
    console.log(`first byte (headers), proxy running cold / direct in the same run: ${perRun('proxy running cold', 'ttfb')}${BASE_CLI === undefined ? '' : `; base running cold / direct: ${perRun('base running cold', 'ttfb')}`}`);
    const perTotal = (name: string): string => times[name]!.total.map((x, i) => (x / times.direct!.total[i]!).toFixed(2)).join(', ');
    console.log(`total, proxy cold / direct in the same run: ${perTotal('proxy cold')}${BASE_CLI === undefined ? '' : `; base cold / direct: ${perTotal('base cold')}`}`);
    console.log(`total, proxy running cold / direct in the same run: ${perTotal('proxy running cold')}${BASE_CLI === undefined ? '' : `; base running cold / direct: ${perTotal('base running cold')}`}`);
    if (HITS > 0) {
      const line = (n: 'proxy' | 'base'): string => `${n}: ${hitMs[n].map((x) => x.toFixed(2)).join(', ')} ms (median ${median(hitMs[n]).toFixed(2)})`;
      console.log(`\n${HITS} cache hits in a row, time per hit, each run: ${line('proxy')}${BASE_CLI === undefined ? '' : `; ${line('base')}; per-run ratio proxy/base ${hitMs.proxy.map((x, i) => (x / hitMs.base[i]!).toFixed(2)).join(', ')}`}`);
    }
    if (capped.length > 0) {
      console.log(`\n| origin's upload capped (serve --max-upload-rate) | direct total | proxy cold total | proxy / direct (median of per-run ratios) | per run | proxy CPU |\n|---|---|---|---|---|---|`);
      for (const [cap, t] of cappedTimes) {
        const per = t.proxy.map((p, i) => p / t.direct[i]!);
        console.log(`| ${cap}B/s | ${median(t.direct).toFixed(3)} s | ${median(t.proxy).toFixed(3)} s | **${median(per).toFixed(2)}×** | ${per.map((r) => r.toFixed(2)).join(', ')} | ${median(t.proxyCpu).toFixed(2)} s |`);
        if (BASE_CLI !== undefined) {
          const perBase = t.base.map((p, i) => p / t.direct[i]!);
          console.log(`| ${cap}B/s, base build | | ${median(t.base).toFixed(3)} s | ${median(perBase).toFixed(2)}× | ${perBase.map((r) => r.toFixed(2)).join(', ')} | ${median(t.baseCpu).toFixed(2)} s |`);
        }
      }
      console.log(`| uncapped (above) | ${median(times.direct!.total).toFixed(3)} s | ${median(times['proxy cold']!.total).toFixed(3)} s | ${median(times['proxy cold']!.total.map((p, i) => p / times.direct!.total[i]!)).toFixed(2)}× | ${times['proxy cold']!.total.map((p, i) => (p / times.direct!.total[i]!).toFixed(2)).join(', ')} | |`);
    }
    printFloor(floors, { total: times.direct!.total, cpu: cpu.direct! }, { total: times['proxy cold']!.total, cpu: cpu['proxy cold']! }, SIZE_MIB, 1.2);
    console.log(`\norigin upload for a cold proxy fetch (plain + seed bytes) / file: ${ratios.map((r) => r.toFixed(2)).join(', ')} (direct: 1.00)`);
    if (BASE_CLI !== undefined) console.log(`the same through the base build's proxy: ${baseRatios.map((r) => r.toFixed(2)).join(', ')}`);
    if (PROXIES > 0) await manyProxies(url, want, size, serve.url, children, CLI, '');
    if (PROXIES > 0 && BASE_CLI !== undefined) await manyProxies(url, want, size, serve.url, children, BASE_CLI, 'base ');
  } finally {
    for (const c of children) await stop(c);
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * HITS GETs of `url` through the proxy in a row on one keep-alive connection, each body counted
 * (a cache hit): milliseconds per hit. node's own client, as a program would send them (undici's
 * ProxyAgent tunnels every request through CONNECT, which the proxy passes through).
 */
async function hits(proxyUrl: string, url: string, size: number): Promise<number> {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const proxy = new URL(proxyUrl);
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: proxy.hostname, port: proxy.port, path: url, agent }, (res) => {
        let n = 0;
        res.on('data', (chunk: Buffer) => (n += chunk.length));
        res.on('end', () => (res.statusCode === 200 && n === size ? resolve() : reject(new Error(`a hit: ${res.statusCode}, ${n} of ${size} bytes`))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  try {
    const started = performance.now();
    for (let i = 0; i < HITS; i++) await one();
    return (performance.now() - started) / HITS;
  } finally {
    agent.destroy();
  }
}

/** PROXIES proxy processes, one curl each, all at once: the origin's upload as a ratio of the file. */
async function manyProxies(url: string, want: string, size: number, serveUrl: string, children: ChildProcess[], cli: string, label: string): Promise<void> {
  const proxies = await Promise.all(
    Array.from({ length: PROXIES }, (_, i) => startedProcess(['proxy', '--port', '0', '--cache', join(work, `${label}many-${i}`), '--log-level', 'warn'], /proxy at (http:\/\/127\.0\.0\.1:\d+)/, cli)),
  );
  for (const p of proxies) children.push(p.child);
  const before = await originBytes(serveUrl);
  const started = performance.now();
  const results = await Promise.all(
    proxies.map(async (p, i) => {
      const out = join(work, `many-${i}.bin`);
      const r = await curl(['-x', p.url, url], out);
      if ((await sha1File(out)) !== want) throw new Error(`proxy ${i}: output differs from the payload`);
      rmSync(out);
      return r;
    }),
  );
  const wall = (performance.now() - started) / 1000;
  const upload = (await originBytes(serveUrl)) - before;
  for (const p of proxies) await stop(p.child);
  const totals = results.map((r) => r.total);
  console.log(
    `\n${label}${PROXIES} proxies, one curl each at once: origin upload ${(upload / size).toFixed(2)}× the file (plain HTTP: ${PROXIES}.00×); ` +
      `curl total median ${median(totals).toFixed(2)} s, slowest ${Math.max(...totals).toFixed(2)} s, first byte (headers) median ${(median(results.map((r) => r.ttfb)) * 1000).toFixed(0)} ms, first body byte median ${(median(results.map((r) => r.body)) * 1000).toFixed(0)} ms; wall ${wall.toFixed(2)} s`,
  );
}

/** A process's main thread's CPU seconds (its event loop: what a proxy's one thread can spend). */
function mainThreadCpuSec(pid: number): number {
  const f = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** `--pass`: the pass-through of a file the origin offers no torrent of, beside direct curl and the base build. */
async function mainPass(): Promise<void> {
  const root = join(work, 'www');
  mkdirSync(root);
  const size = SIZE_MIB * 2 ** 20;
  const { want } = await writePayload(root, 'payload.bin', size);
  const serve = await startedProcess(['serve', root, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn', '--cache', join(work, 'gcache'), '--min-size', `${2 * SIZE_MIB}MiB`], /at (http:\/\/127\.0\.0\.1:\d+)\//);
  const children: ChildProcess[] = [serve.child];
  const url = `${serve.url}/payload.bin`;
  const out = join(work, 'out.bin');
  type Row = { total: number; proxy: number; main: number };
  const rows: Record<string, Row[]> = { direct: [] };
  const builds: [string, string][] = [['proxy', CLI], ...(BASE_CLI === undefined ? [] : [['base', BASE_CLI] as [string, string]])];
  for (const [name] of builds) {
    rows[`${name} pass first`] = [];
    rows[`${name} pass again`] = [];
  }
  const one = async (name: string, args: string[], pid: number | undefined): Promise<void> => {
    const before = pid === undefined ? { p: 0, m: 0 } : { p: processCpuSec(pid), m: mainThreadCpuSec(pid) };
    const r = await curl(args, out);
    const after = pid === undefined ? { p: 0, m: 0 } : { p: processCpuSec(pid), m: mainThreadCpuSec(pid) };
    if ((await sha1File(out)) !== want) throw new Error(`${name}: output differs from the payload`);
    rmSync(out);
    rows[name]!.push({ total: r.total, proxy: after.p - before.p, main: after.m - before.m });
  };
  const through = async (run: number, name: string, cli: string): Promise<void> => {
    const dir = join(work, `${name}-pass-cache-${run}`);
    const proxy = await startedProcess(['proxy', '--port', '0', '--cache', dir, '--log-level', 'warn'], /proxy at (http:\/\/127\.0\.0\.1:\d+)/, cli);
    children.push(proxy.child);
    await one(`${name} pass first`, ['-x', proxy.url, url], proxy.child.pid!);
    await one(`${name} pass again`, ['-x', proxy.url, url], proxy.child.pid!);
    await stop(proxy.child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    console.log(`serve at ${serve.url}, offering no torrent (--min-size ${2 * SIZE_MIB}MiB); ${SIZE_MIB} MiB payload`);
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 === 0 ? builds : [...builds].reverse();
      await through(run, order[0]![0], order[0]![1]);
      await one('direct', [url], undefined);
      for (const [name, cli] of order.slice(1)) await through(run, name, cli);
    }
    const ref = rows.direct!;
    console.log(`\n| case | total (median of ${RUNS}) | MB/s | total / direct (per run) | proxy CPU, process | main thread | per run, process |\n|---|---|---|---|---|---|---|`);
    for (const [name, rs] of Object.entries(rows)) {
      const total = median(rs.map((r) => r.total));
      const per = rs.map((r, i) => (r.total / ref[i]!.total).toFixed(2)).join(', ');
      const cpu = name === 'direct' ? '–' : `${median(rs.map((r) => r.proxy)).toFixed(2)} s`;
      const main = name === 'direct' ? '–' : `${median(rs.map((r) => r.main)).toFixed(2)} s`;
      console.log(`| ${name} | ${total.toFixed(3)} s | ${(size / total / 1e6).toFixed(0)} | ${per} | ${cpu} | ${main} | ${name === 'direct' ? '–' : rs.map((r) => r.proxy.toFixed(2)).join(', ')} |`);
    }
    if (BASE_CLI !== undefined) {
      for (const k of ['pass first', 'pass again']) {
        const p = rows[`proxy ${k}`]!;
        const b = rows[`base ${k}`]!;
        console.log(`${k}: proxy CPU / base in the same run (process): ${p.map((r, i) => (r.proxy / b[i]!.proxy).toFixed(2)).join(', ')}; main thread: ${p.map((r, i) => (r.main / b[i]!.main).toFixed(2)).join(', ')}`);
      }
    }
  } finally {
    for (const c of children) await stop(c);
    rmSync(work, { recursive: true, force: true });
  }
}

await (PASS ? mainPass() : main());

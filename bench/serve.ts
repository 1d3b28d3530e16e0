/**
 * Plain serving, `torrenttp serve` beside nginx (Debian's package, `sendfile on`), same folder,
 * same run (issue 15 "Performance"):
 *
 *   npm run bench:serve -- [--size-mib 1024] [--runs 5] [--seconds 10] [--connections 10] [--small-bytes 4096] [--requests 20000] [--base-cli PATH]
 *
 *   1. one big GET (default 1 GiB) by curl to /dev/null, the two servers in turn (A B A B …):
 *      curl's own `time_total`, median of `--runs`. Target: serve within 1.2× nginx's time.
 *   2. small-file requests per second with keep-alive: autocannon, `--connections` connections
 *      for `--seconds`, one small file, the two servers in turn. Target: serve at least 0.5×
 *      nginx's requests per second.
 *   3. the server's CPU per request (its process's, nginx's master and worker together, from
 *      /proc): `--requests N` (default 20,000) keep-alive requests by autocannon for the small
 *      file, and N / 10 ranged GETs of 256 KiB of the big file (a web seed's pieces), the servers
 *      in turn, median of `--runs` (at most 3). Requests per second move with whatever else runs on
 *      the machine; the CPU a request costs the server moves much less.
 *
 * `--base-cli PATH` (another build's dist/src/cli/main.js, e.g. main's): that build's serve too,
 * in the same runs, for a before/after.
 *
 * nginx runs as a child with its own config and prefix in a temp folder (one worker process:
 * serve is one process too; `sendfile on`, `tcp_nopush on`, no access log) on a free port, and is
 * stopped by its pid; so is serve (`--log-level warn`). The big file is random, made once under
 * the OS temp folder (`torrenttp-bench-serve/`) and reused. Plain GETs never hash: no torrent is
 * asked for. Both servers and the clients share this machine's cores: compare the ratios.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { numberArg } from './args.js';
import { checkOtherCli, processCpuSec } from './usage.js';

const SIZE_MIB = numberArg('size-mib', 1024);
const RUNS = numberArg('runs', 5);
const SECONDS = numberArg('seconds', 10);
const CONNECTIONS = numberArg('connections', 10);
const SMALL_BYTES = numberArg('small-bytes', 4096);
const REQUESTS = numberArg('requests', 20_000);
const BASE_CLI = (() => {
  const i = process.argv.indexOf('--base-cli');
  return i < 0 ? undefined : process.argv[i + 1];
})();
if (BASE_CLI !== undefined) checkOtherCli(BASE_CLI);
/** A web seed's request: a piece of 256 KiB, past the first MiB. */
const RANGE = 'bytes=1048576-1310719';
const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The served folder: `big.bin` (random, reused between runs) and `small.txt`, readable by nginx's worker user. */
function folder(): string {
  const root = join(tmpdir(), 'torrenttp-bench-serve');
  mkdirSync(root, { recursive: true });
  const big = join(root, 'big.bin');
  if (!existsSync(big) || statSync(big).size !== SIZE_MIB * 1024 * 1024) {
    const tmp = `${big}.tmp`;
    const fd = openSync(tmp, 'w');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < SIZE_MIB; i++) writeSync(fd, randomFillSync(chunk));
    closeSync(fd);
    renameSync(tmp, big);
  }
  writeFileSync(join(root, 'small.txt'), 'x'.repeat(SMALL_BYTES - 1) + '\n');
  chmodSync(root, 0o755);
  chmodSync(big, 0o644);
  chmodSync(join(root, 'small.txt'), 0o644);
  return root;
}

async function waitHttp(url: string, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode})`);
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not answer ${url}`);
}

async function startNginx(root: string): Promise<{ url: string; child: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'torrenttp-bench-nginx-'));
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  types { text/plain txt; }
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`,
  );
  const child = spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/small.txt`, child, 'nginx');
  return { url, child, dir };
}

async function startServe(root: string, cli = MAIN): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'serve', root, '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/small.txt`, child, 'serve');
  return { url, child };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM'); // by its pid: nginx's master stops its worker, serve closes cleanly
  await once(child, 'exit');
}

/** curl's own total time for one GET to /dev/null, in seconds; checks every byte arrived. */
function bigGet(url: string, size: number): number {
  const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url], { encoding: 'utf8' });
  const [code, bytes, total] = r.stdout.trim().split(' ');
  if (code !== '200' || Number(bytes) !== size) throw new Error(`GET ${url}: ${r.stdout} ${r.stderr}`);
  return Number(total);
}

async function smallRps(url: string): Promise<number> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
  if (r.errors > 0 || r.non2xx > 0) throw new Error(`${url}: ${r.errors} errors, ${r.non2xx} non-2xx`);
  return r.requests.average;
}

/** The CPU seconds of `pid` and its children (nginx's worker is its master's child). */
function treeCpuSec(pid: number): number {
  let sec = processCpuSec(pid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const f = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(f[1]) === pid) sec += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // gone meanwhile
    }
  }
  return sec;
}

/** The server's CPU per request, in µs, for `amount` keep-alive requests (autocannon). */
async function cpuPerRequest(url: string, pid: number, amount: number, range?: string): Promise<number> {
  const before = treeCpuSec(pid);
  const r = await autocannon({ url, connections: CONNECTIONS, amount, ...(range === undefined ? {} : { headers: { range } }) });
  const after = treeCpuSec(pid);
  if (r.errors > 0 || r.non2xx > 0) throw new Error(`${url}: ${r.errors} errors, ${r.non2xx} non-2xx`);
  return ((after - before) / amount) * 1e6;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const root = folder();
  const size = SIZE_MIB * 1024 * 1024;
  const nginx = await startNginx(root);
  const serve = await startServe(root);
  const base = BASE_CLI === undefined ? undefined : await startServe(root, BASE_CLI);
  try {
    bigGet(`${nginx.url}/big.bin`, size); // warm the page cache and both servers
    bigGet(`${serve.url}/big.bin`, size);
    const times = { serve: [] as number[], nginx: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      times.nginx.push(bigGet(`${nginx.url}/big.bin`, size));
      times.serve.push(bigGet(`${serve.url}/big.bin`, size));
    }
    const rps = { serve: [] as number[], nginx: [] as number[] };
    await smallRps(`${serve.url}/small.txt`); // warm-up (JIT)
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      rps.nginx.push(await smallRps(`${nginx.url}/small.txt`));
      rps.serve.push(await smallRps(`${serve.url}/small.txt`));
    }
    const servers = [['nginx', nginx], ['serve', serve], ...(base === undefined ? [] : [['base', base]])] as [string, { url: string; child: ChildProcess }][];
    const cpu = new Map(servers.map(([name]) => [name, { small: [] as number[], range: [] as number[] }]));
    for (const [, s] of servers) {
      await cpuPerRequest(`${s.url}/small.txt`, s.child.pid!, 2000); // warm-up (JIT)
      await cpuPerRequest(`${s.url}/big.bin`, s.child.pid!, 200, RANGE);
    }
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      for (const [name, s] of servers) {
        cpu.get(name)!.small.push(await cpuPerRequest(`${s.url}/small.txt`, s.child.pid!, REQUESTS));
        cpu.get(name)!.range.push(await cpuPerRequest(`${s.url}/big.bin`, s.child.pid!, Math.max(1, Math.round(REQUESTS / 10)), RANGE));
      }
    }
    const t = { serve: median(times.serve), nginx: median(times.nginx) };
    const r = { serve: median(rps.serve), nginx: median(rps.nginx) };
    const mibps = (sec: number): string => (SIZE_MIB / sec).toFixed(0);
    console.log(`GET ${SIZE_MIB} MiB (curl, median of ${RUNS}):`);
    console.log(`  nginx ${t.nginx.toFixed(3)} s (${mibps(t.nginx)} MiB/s)  runs ${times.nginx.map((x) => x.toFixed(3)).join(' ')}`);
    console.log(`  serve ${t.serve.toFixed(3)} s (${mibps(t.serve)} MiB/s)  runs ${times.serve.map((x) => x.toFixed(3)).join(' ')}`);
    console.log(`  serve/nginx ${(t.serve / t.nginx).toFixed(2)}× (target ≤ 1.2×)`);
    console.log(`small file (${SMALL_BYTES} B), keep-alive, ${CONNECTIONS} connections, ${SECONDS} s (autocannon, median of ${rps.serve.length}):`);
    console.log(`  nginx ${r.nginx.toFixed(0)} req/s  runs ${rps.nginx.map((x) => x.toFixed(0)).join(' ')}`);
    console.log(`  serve ${r.serve.toFixed(0)} req/s  runs ${rps.serve.map((x) => x.toFixed(0)).join(' ')}`);
    console.log(`  serve/nginx ${(r.serve / r.nginx).toFixed(2)}× (target ≥ 0.5×)`);
    const n = cpu.get('nginx')!;
    for (const [what, key, count] of [[`small file, ${REQUESTS} requests`, 'small', REQUESTS], [`256 KiB range of the big file, ${Math.max(1, Math.round(REQUESTS / 10))} requests`, 'range', Math.max(1, Math.round(REQUESTS / 10))]] as const) {
      console.log(`server CPU per request, ${what} (${CONNECTIONS} keep-alive connections; median of ${n[key].length}; /proc, 10 ms ticks: ±${((0.01 / count) * 1e6).toFixed(1)} µs):`);
      for (const [name] of servers) {
        const c = cpu.get(name)![key];
        const ratio = name === 'nginx' ? '' : `  ${name}/nginx ${(median(c) / median(n[key])).toFixed(2)}×`;
        console.log(`  ${name} ${median(c).toFixed(1)} µs  runs ${c.map((x) => x.toFixed(1)).join(' ')}${ratio}`);
      }
      if (base !== undefined) console.log(`  serve/base ${(median(cpu.get('serve')![key]) / median(cpu.get('base')![key])).toFixed(2)}×`);
    }
  } finally {
    await Promise.all([stop(serve.child), stop(nginx.child), ...(base === undefined ? [] : [stop(base.child)])]);
    rmSync(nginx.dir, { recursive: true, force: true });
  }
}

await main();

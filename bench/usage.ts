/**
 * What the bench scripts share: a program timed under `/usr/bin/time` (wall, peak RSS, CPU) and
 * the SHA-1 of a file, to check every download.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createTorrent, type Metainfo } from '../src/metainfo/index.js';

/** node with RC4 (OpenSSL's legacy provider), as the `torrenttp` command's shebang starts it. */
export const CLI_NODE_FLAG = '--openssl-legacy-provider';

/** aria2c on loopback: no config file, DHT, LPD, peer exchange or IPv6, no summary lines. */
export const ARIA_COMMON: readonly string[] = [
  '--no-conf=true', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
  '--disable-ipv6=true', '--summary-interval=0',
];

export interface Usage {
  readonly code: number | null;
  readonly wallSec: number;
  readonly rssMiB: number;
  readonly cpuSec: number;
}

export interface Timed {
  readonly child: ChildProcess;
  output: string;
  readonly done: Promise<Usage>;
  /** SIGTERM to the program itself (the child of /usr/bin/time), then its usage. */
  stop(): Promise<Usage>;
}

let timedCount = 0;

export function timed(work: string, cmd: string, args: readonly string[]): Timed {
  const timeFile = join(work, `time-${timedCount++}.txt`);
  const started = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%e %M %U %S', '-o', timeFile, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const t: { child: ChildProcess; output: string; done: Promise<Usage>; stop: () => Promise<Usage> } = {
    child,
    output: '',
    done: once(child, 'exit').then(([code]) => {
      const wallSec = (performance.now() - started) / 1000;
      // time writes "Command exited with non-zero status N" or "... terminated by signal N" first.
      const last = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) ?? '';
      const [, rssKiB, user, sys] = last.split(' ').map(Number);
      return { code: code as number | null, wallSec, rssMiB: (rssKiB ?? NaN) / 1024, cpuSec: (user ?? NaN) + (sys ?? NaN) };
    }),
    stop: async () => {
      if (child.exitCode === null) {
        const inner = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0];
        if (inner !== undefined && inner !== '') process.kill(Number(inner), 'SIGTERM');
        else child.kill();
      }
      return t.done;
    },
  };
  child.stdout?.on('data', (d: Buffer) => (t.output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (t.output += d.toString()));
  return t;
}

/** utime + stime of a running process and its threads, in seconds (100 Hz ticks): a server's CPU over a span, read before and after. */
export function processCpuSec(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export async function sha1File(path: string): Promise<string> {
  const h = createHash('sha1');
  for await (const c of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) h.update(c as Buffer);
  return h.digest('hex');
}

/** Waits for `cond`; fails when `proc` (a timed program or a child) exits first, or after `timeoutMs`, with its output when known. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, proc?: Timed | ChildProcess): Promise<void> {
  const end = Date.now() + timeoutMs;
  const child = proc === undefined ? undefined : 'child' in proc ? proc.child : proc;
  const output = proc !== undefined && 'output' in proc ? `:\n${proc.output}` : '';
  while (!(await cond())) {
    if (child !== undefined && child.exitCode !== null) throw new Error(`${what}: the process exited${output}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * A random payload of `sizeMiB` MiB under the OS temp folder, made once and reused by later runs
 * (`torrenttp-bench-transfer/payload-<N>MiB.bin`, the folder bench/transfer.ts uses).
 */
export function payloadFile(sizeMiB: number, folder = 'torrenttp-bench-transfer'): string {
  const dir = join(tmpdir(), folder);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `payload-${sizeMiB}MiB.bin`);
  const size = sizeMiB * 1024 * 1024;
  if (existsSync(file) && statSync(file).size === size) return file;
  console.log(`making ${file} (once; reused by later runs)`);
  const partial = `${file}.partial`;
  writeRandomFile(partial, size);
  renameSync(partial, file);
  return file;
}

/** `size` random bytes at `path` (created or truncated). */
export function writeRandomFile(path: string, size: number): void {
  const fd = openSync(path, 'w');
  const chunk = new Uint8Array(16 * 1024 * 1024);
  for (let at = 0; at < size; at += chunk.length) {
    randomFillSync(chunk);
    writeSync(fd, chunk, 0, Math.min(chunk.length, size - at));
  }
  closeSync(fd);
}

/** A payload of `size` random bytes at `root/name`, and its SHA-1 (hex) to check every download against. */
export async function writePayload(root: string, name: string, size: number): Promise<{ file: string; want: string }> {
  const file = join(root, name);
  writeRandomFile(file, size);
  return { file, want: await sha1File(file) };
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** `torrenttp tracker` (the CLI at `cli`) on 127.0.0.1:`port`, once it answers. */
export async function startTracker(work: string, cli: string, port: number): Promise<Timed> {
  const tracker = timed(work, process.execPath, [cli, 'tracker', '--host', '127.0.0.1', '--port', String(port), '--interval', '60', '--log-level', 'warn']);
  await until('the tracker', async () => (await trackerSeeders(port)) >= 0, 15_000, tracker);
  return tracker;
}

/** Seeders in the tracker's swarms (`torrenttp tracker` serves GET /stats); -1 while it is not up. */
export async function trackerSeeders(trackerPort: number): Promise<number> {
  try {
    const r = await fetch(`http://127.0.0.1:${trackerPort}/stats`);
    return ((await r.json()) as { seeders: number }).seeders;
  } catch {
    return -1;
  }
}

/** The torrent of `data` announcing to `trackerUrl` (`--piece-kib` if given), written to `work/payload.torrent`. */
export async function writeBenchTorrent(data: string, work: string, trackerUrl: string, pieceKiB: string | undefined): Promise<{ metainfo: Metainfo; torrentPath: string }> {
  const { metainfo, torrent } = await createTorrent(data, {
    announceList: [[trackerUrl]],
    creationDate: null,
    ...(pieceKiB === undefined ? {} : { pieceLength: Number(pieceKiB) * 1024 }),
  });
  const torrentPath = join(work, 'payload.torrent');
  writeFileSync(torrentPath, torrent);
  return { metainfo, torrentPath };
}

/**
 * A `--base-cli`/`--alt-cli` build (`X/dist/src/cli/main.js`) runs as this build does only with
 * `X/package.json` (`"type": "module"`) and `X/node_modules` beside its `dist/`: without the
 * first, node 20 detects each file's module format itself (~15 ms more to import the engine), and
 * the other build looks that much slower; without the second it does not start. Warns on stderr.
 */
export function checkOtherCli(cli: string): void {
  const root = join(dirname(cli), '..', '..', '..');
  for (const need of ['package.json', 'node_modules']) {
    if (!existsSync(join(root, need))) console.error(`warning: ${cli}: no ${join(root, need)} beside its dist/ (copy the checkout's ${need}: without it that build is not timed as it runs)`);
  }
}

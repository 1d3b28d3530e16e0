/**
 * Real swarms for interop tests: opentracker with its whitelist, aria2c seeds and leechers, and
 * a plain HTTP server with Range support to act as a BEP 19 web seed. Everything binds a free
 * loopback port and is stopped by pid when the test ends.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, createReadStream, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, normalize } from 'node:path';
import type { TestContext } from 'node:test';
import { TrackerServer } from '../../src/tracker/index.js';
import { freePort, requireTool, run, until, type Proc } from './processes.js';

/** opentracker (Debian's whitelist-only build) admitting `infoHashes`; returns its port (HTTP and UDP). */
export async function startOpentracker(t: TestContext, dir: string, infoHashes: readonly string[]): Promise<number> {
  requireTool('opentracker', ['-h']);
  const root = join(dir, 'opentracker');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'whitelist.txt'), `${infoHashes.join('\n')}\n`, { mode: 0o644 });
  chmodSync(dir, 0o755); // it chroots here and runs as nobody
  chmodSync(root, 0o755);
  const port = await freePort();
  const proc = run(t, 'opentracker', ['-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-d', root, '-u', 'nobody', '-w', 'whitelist.txt']);
  await until('opentracker to listen', async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/announce?info_hash=x`);
      await res.arrayBuffer();
      return true;
    } catch {
      return false;
    }
  }, 10_000, proc);
  return port;
}

export const ARIA_QUIET = [
  '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
  '--summary-interval=0', '--console-log-level=notice', '--disable-ipv6=true', '--file-allocation=none',
];

/** aria2c only speaks UDP trackers through its DHT socket (aria2 issue #1491): DHT on, no entry point. */
export async function ariaUdpTrackerArgs(dir: string, name: string): Promise<string[]> {
  return ['--enable-dht=true', `--dht-listen-port=${await freePort()}`, `--dht-file-path=${join(dir, `${name}-dht.dat`)}`];
}

/** An aria2c seed of `torrent` with its data in `dataDir`; resolves once it listens. */
export async function ariaSeed(t: TestContext, torrent: string, dataDir: string, extra: readonly string[] = []): Promise<{ port: number; proc: Proc }> {
  requireTool('aria2c', ['--version']);
  const port = await freePort();
  const args = [...ARIA_QUIET, `--dir=${dataDir}`, '--check-integrity=true', '--seed-ratio=0.0', `--listen-port=${port}`, ...extra, torrent];
  // Later flags win in aria2c: `extra` may turn DHT back on for UDP trackers.
  const proc = run(t, 'aria2c', args);
  await until('aria2c seed to listen', () => /listening on TCP port/.test(proc.output), 20_000, proc);
  return { port, proc };
}

/** An aria2c leecher that exits once done; resolves to its process after a successful exit. */
export async function ariaLeech(t: TestContext, torrent: string, dir: string, timeoutMs: number, extra: readonly string[] = []): Promise<Proc> {
  requireTool('aria2c', ['--version']);
  const proc = run(t, 'aria2c', [...ARIA_QUIET, `--dir=${dir}`, '--seed-time=0', `--listen-port=${await freePort()}`, ...extra, torrent]);
  const code = await Promise.race([proc.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref())]);
  assert.equal(code, 0, `aria2c leech ${code === 'timeout' ? 'timed out' : `exited ${code}`}:\n${proc.output.slice(-3000)}`);
  return proc;
}

/** A static file server with `Range` (206) support, counting the bytes it sends. */
export async function startWebSeed(t: TestContext, root: string, opts: { hold?: () => Promise<void> } = {}): Promise<{ url: string; server: Server; sent: () => number }> {
  let sent = 0;
  const server = createServer((req, res) => {
    // `hold`: every answer waits for it (a test that needs another source to go first).
    if (opts.hold !== undefined) return void opts.hold().then(() => answer(req, res), (err: unknown) => res.destroy(err as Error));
    answer(req, res);
  });
  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(root)) return void res.writeHead(403).end();
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return void res.writeHead(404).end();
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m ? Math.min(Number(m[2]), size - 1) : size - 1;
    res.writeHead(m ? 206 : 200, {
      'content-length': String(end - start + 1),
      'content-type': 'application/octet-stream',
      ...(m ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    });
    const stream = createReadStream(path, { start, end });
    stream.on('data', (c) => (sent += c.length));
    stream.pipe(res);
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  server.unref();
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, server, sent: () => sent };
}

/**
 * A random payload in `dir/seed/payload.bin`, our tracker on a free loopback port (stopped when
 * the test ends), and `dir/x.torrent` made by mktorrent (256 KiB pieces) announcing to it over
 * `scheme`.
 */
export async function ourTrackerSwarm(
  t: TestContext,
  dir: string,
  scheme: 'http' | 'udp',
  payloadBytes: number,
): Promise<{ server: TrackerServer; seedDir: string; payload: Uint8Array; torrent: string }> {
  requireTool('mktorrent', ['-v']);
  const seedDir = join(dir, 'seed');
  mkdirSync(seedDir, { recursive: true });
  const payload = randomBytes(payloadBytes);
  writeFileSync(join(seedDir, 'payload.bin'), payload);
  const server = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 60 });
  const { port } = await server.listen();
  t.after(() => server.close());
  const announce = scheme === 'http' ? `http://127.0.0.1:${port}/announce` : `udp://127.0.0.1:${port}`;
  const torrent = join(dir, 'x.torrent');
  const mk = spawnSync('mktorrent', ['-l', '18', '-d', '-a', announce, '-n', 'payload.bin', '-o', torrent, join(seedDir, 'payload.bin')], { encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  return { server, seedDir, payload, torrent };
}

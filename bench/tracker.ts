/**
 * Announce load generator, UDP and HTTP keep-alive, against several trackers in one run: ours
 * (memory store, and with `--redis` also on a private redis-server), Debian's opentracker and the
 * npm `bittorrent-tracker` server. Same load generator, same swarm, same run.
 *
 *   npm run build && node dist/bench/tracker.js [--torrents 10000] [--peers 50] [--seconds 8]
 *     [--rounds 3] [--inflight 128] [--sockets 8] [--connections 32] [--redis] [--no-http]
 *     [--floor] [--only ours,redis,opentracker,bittorrent-tracker,floor]
 *
 * Every tracker runs in its own process and all of them are started and populated first
 * (10,000 torrents × 50 peers by default, `started` announces over UDP, 20 % seeders). Then
 * `--rounds` rounds measure each tracker in turn, UDP then HTTP, the order rotating per round, so
 * the machine's drift (it is shared) hits all of them alike: compare within a round, quote medians
 * and the per-round ratios printed at the end.
 *
 * UDP: one process, `--inflight` announces in flight over `--sockets` sockets (each connected per
 * BEP 15 at the start of its phase), random torrent and peer, num_want 50, a new one as each reply
 * comes back; unanswered for 1 s counts as lost and is re-sent.
 * HTTP: `--connections` keep-alive connections, each with one request in flight (compact,
 * numwant 50, random torrent and peer); a tracker that closes the connection after a reply
 * (opentracker does) costs a reconnect, which is what its clients pay too.
 *
 * Per phase the bench also reads the CPU time the tracker's processes used (/proc) and its own,
 * so one can tell which side was the bound: "tracker CPU 100 %" means the tracker saturated a
 * core; a generator near 100 % means the load was the limit.
 *
 * `--floor` adds a row for `bench/udp-floor-child.ts` ("node-udp-floor", UDP only): a Node process
 * that answers every announce with a fixed reply through the same UDP transport as our tracker
 * (the batched socket where it is built, else `node:dgram`), no store and no checks. Its rate is
 * the ceiling that transport sets on this machine in this run; the gap between it and our row is
 * the cost of the tracker's own work. `TORRENTTP_UDP_BATCH=0` runs both on `node:dgram`.
 *
 * Memory per peer: RSS of the tracker's processes (redis-server included for the Redis row) after
 * populating minus before, over the peers held; for the Node trackers also heap after a full GC.
 *
 * opentracker (Debian's build is whitelist-only) gets a whitelist of every bench hash in a root
 * dir readable by `nobody`, given relative to that dir (see shared/PEERS.md). bittorrent-tracker
 * runs with its WebSocket tracker off (`ws: false`): its package's WebRTC module
 * (`node-datachannel`, native) cannot be built here and is replaced by a stub
 * (bench/stubs/node-datachannel, wired in by package.json `overrides`); HTTP and UDP are pure JS.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer, type Socket as TcpSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toHex } from '../src/metainfo/index.js';
import { encodeUdpConnectRequest } from '../src/tracker/index.js';
import { numberArg as arg } from './args.js';
import { processCpuSec } from './usage.js';

const TORRENTS = arg('torrents', 10_000);
const PEERS = arg('peers', 50);
const SECONDS = arg('seconds', 8);
const ROUNDS = arg('rounds', 3);
const INFLIGHT = arg('inflight', 128); // more overflows the default 208 KiB socket buffers: drops, then 1 s resends
const SOCKETS = arg('sockets', 8);
const CONNECTIONS = arg('connections', 32);
const WITH_REDIS = process.argv.includes('--redis');
const WITH_HTTP = !process.argv.includes('--no-http');
const WITH_FLOOR = process.argv.includes('--floor');
const onlyIdx = process.argv.indexOf('--only');
const ONLY = onlyIdx < 0 ? undefined : new Set(process.argv[onlyIdx + 1]!.split(','));
const RESEND_MS = 1000;

function infoHash(t: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32BE(0x74747062, 0); // "ttpb"
  b.writeUInt32BE(t, 16);
  return b;
}

async function freePort(): Promise<number> {
  for (;;) {
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
    const addr = s.address();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    if (typeof addr !== 'object' || addr === null) continue;
    const u = createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        u.once('error', reject);
        u.bind(addr.port, '127.0.0.1', () => resolve());
      });
      await new Promise<void>((resolve) => u.close(() => resolve()));
      return addr.port;
    } catch {
      u.close();
    }
  }
}

interface Slot {
  readonly buf: Buffer;
  readonly sock: number;
  seq: number;
  sentAt: number;
}

class LoadGenerator {
  private readonly sockets: Socket[] = [];
  private readonly connIds: bigint[] = [];
  private readonly slots: Slot[] = [];
  done = 0;
  lost = 0;
  errors = 0;
  private next: () => { t: number; p: number; event: number; numwant: number } | undefined = () => undefined;
  private finished: (() => void) | undefined;
  private outstanding = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly port: number) {}

  async connect(): Promise<void> {
    for (let s = 0; s < SOCKETS; s++) {
      const sock = createSocket('udp4');
      sock.bind(0, '127.0.0.1');
      await once(sock, 'listening');
      sock.setRecvBufferSize(4 << 20);
      sock.setSendBufferSize(4 << 20);
      const reply = once(sock, 'message') as Promise<[Buffer]>;
      sock.send(encodeUdpConnectRequest(0xc0ffee + s), this.port, '127.0.0.1');
      const [msg] = await Promise.race([reply, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('connect timed out')), 3000))]);
      if (msg.readUInt32BE(0) !== 0) throw new Error(`connect refused: ${msg.subarray(8).toString()}`);
      this.connIds.push(msg.readBigUInt64BE(8));
      sock.on('message', (m: Buffer) => this.onMessage(m));
      this.sockets.push(sock);
    }
    for (let i = 0; i < INFLIGHT; i++) {
      const buf = Buffer.alloc(98);
      const sock = i % SOCKETS;
      buf.writeBigUInt64BE(this.connIds[sock]!, 0);
      buf.writeUInt32BE(1, 8);
      this.slots.push({ buf, sock, seq: 0, sentAt: 0 });
    }
  }

  private issue(i: number): void {
    const job = this.next();
    const slot = this.slots[i]!;
    if (job === undefined) {
      slot.sentAt = 0;
      if (--this.outstanding === 0) this.finished?.();
      return;
    }
    const b = slot.buf;
    slot.seq = (slot.seq + 1) & 0xffff;
    b.writeUInt32BE(((i << 16) | slot.seq) >>> 0, 12);
    infoHash(job.t).copy(b, 16);
    b.writeUInt32BE(0x2d424e30, 36); // "-BN0"
    b.writeUInt32BE(job.t, 40);
    b.writeUInt32BE(job.p, 44);
    b.fill(0x41, 48, 56);
    b.writeBigUInt64BE(0n, 56); // downloaded
    b.writeBigUInt64BE(job.p % 5 === 0 ? 0n : 1_000_000n, 64); // left: every fifth peer seeds
    b.writeBigUInt64BE(0n, 72); // uploaded
    b.writeUInt32BE(job.event, 80);
    b.writeUInt32BE(0, 84);
    b.writeUInt32BE(job.p, 88);
    b.writeInt32BE(job.numwant, 92);
    b.writeUInt16BE(1024 + job.p, 96); // distinct ports: opentracker keys peers by address
    slot.sentAt = performance.now();
    this.sockets[slot.sock]!.send(b, this.port, '127.0.0.1');
  }

  private onMessage(m: Buffer): void {
    if (m.length < 8) return;
    const tx = m.readUInt32BE(4);
    const i = tx >>> 16;
    const slot = this.slots[i];
    if (slot === undefined || slot.sentAt === 0 || (tx & 0xffff) !== slot.seq) return;
    if (m.readUInt32BE(0) === 1 && m.length >= 20) this.done++;
    else this.errors++;
    this.issue(i);
  }

  /** Runs jobs from `next` with every slot busy until it returns undefined and all replies are in. */
  run(next: () => { t: number; p: number; event: number; numwant: number } | undefined): Promise<void> {
    this.next = next;
    this.outstanding = this.slots.length;
    const finished = new Promise<void>((resolve) => (this.finished = resolve));
    this.timer = setInterval(() => {
      const cutoff = performance.now() - RESEND_MS;
      this.slots.forEach((s, i) => {
        if (s.sentAt !== 0 && s.sentAt < cutoff) {
          this.lost++;
          this.issue(i);
        }
      });
    }, 250);
    for (let i = 0; i < this.slots.length; i++) this.issue(i);
    return finished.finally(() => clearInterval(this.timer));
  }

  close(): void {
    for (const s of this.sockets) s.close();
  }
}


const PCT = Array.from({ length: 256 }, (_, i) => `%${i.toString(16).padStart(2, '0')}`);
const pct = (b: Uint8Array): string => Array.from(b, (x) => PCT[x]!).join('');

/** HTTP/1.1 keep-alive announces: one request in flight per connection; reconnects if the tracker closes. */
class HttpLoad {
  done = 0;
  errors = 0;
  reconnects = 0;
  private end = 0;
  private live = 0;
  private finished: (() => void) | undefined;

  constructor(private readonly port: number) {}

  private request(): string {
    const t = Math.floor(Math.random() * TORRENTS);
    const p = Math.floor(Math.random() * PEERS);
    const id = Buffer.alloc(20, 0x41);
    id.writeUInt32BE(0x2d424e30, 0);
    id.writeUInt32BE(t, 4);
    id.writeUInt32BE(p, 8);
    return `GET /announce?info_hash=${pct(infoHash(t))}&peer_id=${pct(id)}&port=${1024 + p}&uploaded=0&downloaded=0` +
      `&left=${p % 5 === 0 ? 0 : 1_000_000}&compact=1&numwant=50 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
  }

  private open(): void {
    const sock: TcpSocket = tcpConnect(this.port, '127.0.0.1');
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let closeAfter = false;
    const next = (): void => {
      if (performance.now() > this.end) {
        sock.destroy();
        return;
      }
      sock.write(this.request());
    };
    sock.on('connect', next);
    sock.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      for (;;) {
        const head = buf.indexOf('\r\n\r\n');
        if (head < 0) return;
        const headers = buf.subarray(0, head).toString('latin1').toLowerCase();
        const m = /content-length: *(\d+)/.exec(headers);
        if (m === null) return; // read until close
        const total = head + 4 + Number(m[1]);
        if (buf.length < total) return;
        const body = buf.subarray(head + 4, total);
        if (headers.startsWith('http/1.1 200') && body.includes('5:peers')) this.done++;
        else this.errors++;
        closeAfter = headers.includes('connection: close');
        buf = buf.subarray(total);
        if (closeAfter) {
          sock.destroy();
          return;
        }
        next();
      }
    });
    sock.on('close', () => {
      if (buf.length > 0 && buf.includes('5:peers')) this.done++;
      if (performance.now() < this.end) {
        this.reconnects++;
        this.open();
      } else if (--this.live === 0) this.finished?.();
    });
    sock.on('error', () => undefined);
  }

  run(seconds: number): Promise<void> {
    this.end = performance.now() + seconds * 1000;
    this.live = CONNECTIONS;
    const finished = new Promise<void>((resolve) => (this.finished = resolve));
    for (let i = 0; i < CONNECTIONS; i++) this.open();
    return finished;
  }
}

// ── targets ─────────────────────────────────────────────────────────────────────────────

interface Memory {
  /** Resident bytes of the target's processes. */
  readonly rss: number;
  /** Node heap after a full GC (Node trackers only). */
  readonly heapUsed?: number;
  /** Peers the tracker says it holds (opentracker does not say: the bench's count is used). */
  readonly peers?: number;
}

interface Target {
  readonly name: string;
  readonly port: number;
  /** Processes whose CPU time is the tracker's (the tracker, and redis-server for the Redis row). */
  readonly procs: readonly { readonly label: string; readonly pid: number }[];
  /** Answers UDP announces only (the floor row). */
  readonly udpOnly?: boolean;
  memory(): Promise<Memory>;
  stop(): Promise<void>;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) * 1024;
}

const rssOf = (procs: Target['procs']): number => procs.reduce((sum, p) => sum + rssBytes(p.pid), 0);

/** SIGTERM by pid, then SIGKILL if it has not exited after 5 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(killer);
}

async function spawned(child: ChildProcess, what: string): Promise<void> {
  const ok = await Promise.race([once(child, 'spawn').then(() => true), once(child, 'error').then(() => false)]);
  if (!ok) throw new Error(`${what} could not be started`);
}

/** A private redis-server on a free port, no persistence; stopped by pid. */
async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await spawned(child, 'redis-server (apt-get install -y redis-server)');
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.on('connect', () => s.write('PING\r\n'));
      s.on('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
      s.on('error', () => resolve(false));
    });
    if (ok) return { url: `redis://127.0.0.1:${port}`, child };
    if (i > 100) {
      await stop(child);
      throw new Error('redis-server did not answer PING');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A Node tracker child speaking the bench's IPC: `listening` with the port, `memory` on request. */
async function nodeChild(name: string, script: string, args: string[], extra: Target['procs'] = [], after?: () => Promise<void>): Promise<Target> {
  const here = dirname(fileURLToPath(import.meta.url));
  const execArgv = ['--expose-gc', ...(process.env['BENCH_CHILD_NODE_ARGS']?.split(' ').filter(Boolean) ?? [])];
  const child = fork(join(here, script), args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [hello] = (await Promise.race([once(child, 'message'), once(child, 'exit').then(() => [undefined])])) as [{ port: number } | undefined];
  if (hello === undefined) throw new Error(`${name} exited before listening`);
  const procs = [{ label: name, pid: child.pid! }, ...extra];
  return {
    name,
    port: hello.port,
    procs,
    memory: async () => {
      child.send('memory');
      const [m] = (await once(child, 'message')) as [{ heapUsed: number; peers: number }];
      return { rss: rssOf(procs), heapUsed: m.heapUsed, peers: m.peers };
    },
    stop: async () => {
      await stop(child);
      await after?.();
    },
  };
}

async function startOurs(): Promise<Target> {
  return nodeChild('torrenttp', 'tracker-child.js', []);
}

async function startFloor(): Promise<Target> {
  const t = await nodeChild('node-udp-floor', 'udp-floor-child.js', []);
  return { ...t, udpOnly: true, memory: async () => ({ ...(await t.memory()), peers: undefined }) };
}

async function startOursRedis(): Promise<Target> {
  const redis = await startRedis();
  try {
    return await nodeChild('torrenttp+redis', 'tracker-child.js', ['--redis', redis.url], [{ label: 'redis-server', pid: redis.child.pid! }], () => stop(redis.child));
  } catch (err) {
    await stop(redis.child);
    throw err;
  }
}

async function startBittorrentTracker(): Promise<Target> {
  return nodeChild('bittorrent-tracker', 'bittorrent-tracker-child.js', [String(await freePort())]);
}

async function startOpentracker(): Promise<Target> {
  const port = await freePort();
  const root = mkdtempSync(join(tmpdir(), 'torrenttp-bench-ot-'));
  chmodSync(root, 0o755); // opentracker drops to `nobody` after chroot, then opens the whitelist
  const hashes: string[] = [];
  for (let t = 0; t < TORRENTS; t++) hashes.push(toHex(infoHash(t)));
  writeFileSync(join(root, 'whitelist.txt'), `${hashes.join('\n')}\n`, { mode: 0o644 });
  const child = spawn('opentracker', ['-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-d', root, '-u', 'nobody', '-w', 'whitelist.txt'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const cleanup = async (): Promise<void> => {
    await stop(child);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await spawned(child, 'opentracker (apt-get install -y opentracker)');
    await new Promise((r) => setTimeout(r, 500)); // it reads the whitelist after starting
    if (log.includes("Can't open")) throw new Error(`opentracker: ${log}`);
  } catch (err) {
    await cleanup();
    throw err;
  }
  const procs = [{ label: 'opentracker', pid: child.pid! }];
  return { name: 'opentracker', port, procs, memory: () => Promise.resolve({ rss: rssOf(procs) }), stop: cleanup };
}

// ── phases ──────────────────────────────────────────────────────────────────────────────

interface Populated {
  readonly perSec: number;
  readonly errors: number;
  readonly heapPerPeer?: number;
  readonly rssPerPeer: number;
}

async function populate(t: Target): Promise<Populated> {
  const gen = new LoadGenerator(t.port);
  await gen.connect();
  const before = await t.memory();
  let n = 0;
  const total = TORRENTS * PEERS;
  const t0 = performance.now();
  await gen.run(() => {
    if (n >= total) return undefined;
    const k = n++;
    return { t: k % TORRENTS, p: Math.floor(k / TORRENTS), event: 2, numwant: 0 };
  });
  const sec = (performance.now() - t0) / 1000;
  gen.close();
  const after = await t.memory();
  const peers = Math.max(1, after.peers ?? total);
  const r = { perSec: total / sec, errors: gen.errors, rssPerPeer: (after.rss - before.rss) / peers };
  return before.heapUsed === undefined || after.heapUsed === undefined ? r : { ...r, heapPerPeer: (after.heapUsed - before.heapUsed) / peers };
}

interface Phase {
  readonly perSec: number;
  readonly errors: number;
  /** UDP: requests lost and re-sent; HTTP: reconnects. */
  readonly lostOrReconnects: number;
  /** CPU seconds per process of the target over the phase, in `procs` order. */
  readonly cpu: readonly number[];
  readonly generatorCpu: number;
  readonly sec: number;
}

async function timed(t: Target, body: () => Promise<{ done: number; errors: number; lostOrReconnects: number }>): Promise<Phase> {
  const cpu0 = t.procs.map((p) => processCpuSec(p.pid));
  const gen0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await body();
  const sec = (performance.now() - t0) / 1000;
  const gen = process.cpuUsage(gen0);
  return {
    perSec: r.done / sec, errors: r.errors, lostOrReconnects: r.lostOrReconnects, sec,
    cpu: t.procs.map((p, i) => processCpuSec(p.pid) - cpu0[i]!),
    generatorCpu: (gen.user + gen.system) / 1e6,
  };
}

function udpPhase(t: Target): Promise<Phase> {
  return timed(t, async () => {
    const gen = new LoadGenerator(t.port);
    await gen.connect(); // fresh connection ids: BEP 15 ids expire after 2 minutes
    const end = performance.now() + SECONDS * 1000;
    let checks = 0;
    await gen.run(() => {
      if ((++checks & 255) === 0 && performance.now() > end) return undefined;
      return { t: Math.floor(Math.random() * TORRENTS), p: Math.floor(Math.random() * PEERS), event: 0, numwant: 50 };
    });
    gen.close();
    return { done: gen.done, errors: gen.errors, lostOrReconnects: gen.lost };
  });
}

function httpPhase(t: Target): Promise<Phase> {
  return timed(t, async () => {
    const http = new HttpLoad(t.port);
    await http.run(SECONDS);
    return { done: http.done, errors: http.errors, lostOrReconnects: http.reconnects };
  });
}

// ── run ─────────────────────────────────────────────────────────────────────────────────

const k = (n: number): string => Math.round(n).toLocaleString('en-US');
const pctOf = (cpu: number, sec: number): string => `${Math.round((100 * cpu) / sec)} %`;
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function describe(t: Target, kind: string, p: Phase): string {
  const cpu = t.procs.map((pr, i) => `${pr.label} ${pctOf(p.cpu[i]!, p.sec)}`).join(', ');
  const extra = kind === 'UDP' ? `lost ${p.lostOrReconnects}` : `reconnects ${k(p.lostOrReconnects)}`;
  return `${kind} ${t.name.padEnd(18)} ${k(p.perSec).padStart(7)}/s  (errors ${p.errors}, ${extra}; CPU: ${cpu}, generator ${pctOf(p.generatorCpu, p.sec)})`;
}

const wanted = (name: string): boolean => ONLY === undefined || ONLY.has(name);
const starters: [string, () => Promise<Target>][] = [];
if (wanted('ours')) starters.push(['ours', startOurs]);
if (WITH_REDIS || ONLY?.has('redis') === true) starters.push(['redis', startOursRedis]);
if (wanted('opentracker')) starters.push(['opentracker', startOpentracker]);
if (wanted('bittorrent-tracker')) starters.push(['bittorrent-tracker', startBittorrentTracker]);
if (WITH_FLOOR || ONLY?.has('floor') === true) starters.push(['floor', startFloor]);

console.log(
  `announce bench: ${k(TORRENTS)} torrents × ${PEERS} peers; ${ROUNDS} rounds of ${SECONDS} s per tracker and protocol; ` +
    `UDP ${INFLIGHT} in flight over ${SOCKETS} sockets${WITH_HTTP ? `, HTTP ${CONNECTIONS} keep-alive connections` : ''}; node ${process.version}`,
);
const targets: Target[] = [];
const stopAll = async (): Promise<void> => {
  for (const t of targets.splice(0)) await t.stop();
};
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
try {
  const populated = new Map<Target, Populated>();
  for (const [, start] of starters) {
    const t = await start();
    targets.push(t);
    const p = await populate(t);
    populated.set(t, p);
    const heap = p.heapPerPeer === undefined ? '' : `, ${Math.round(p.heapPerPeer)} B heap/peer`;
    console.log(`populated ${t.name.padEnd(18)} ${k(p.perSec).padStart(7)}/s  (errors ${p.errors}; ${Math.round(p.rssPerPeer)} B RSS/peer${heap})`);
  }
  const udp = new Map<Target, Phase[]>(targets.map((t) => [t, []]));
  const http = new Map<Target, Phase[]>(targets.map((t) => [t, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    console.log(`round ${round + 1}`);
    for (const t of order) {
      const p = await udpPhase(t);
      udp.get(t)!.push(p);
      console.log(`  ${describe(t, 'UDP', p)}`);
    }
    if (!WITH_HTTP) continue;
    for (const t of order) {
      if (t.udpOnly === true) continue;
      const p = await httpPhase(t);
      http.get(t)!.push(p);
      console.log(`  ${describe(t, 'HTTP', p)}`);
    }
  }

  console.log(`\nmedians over ${ROUNDS} rounds (announces/s; per tracker CPU-second, the figure least moved by other load):`);
  for (const t of targets) {
    const u = udp.get(t)!;
    const h = http.get(t)!;
    const pop = populated.get(t)!;
    const perCpu = (ps: Phase[]): number => median(ps.map((p) => p.perSec * p.sec / Math.max(0.01, p.cpu.reduce((a, b) => a + b, 0))));
    const heap = pop.heapPerPeer === undefined ? '' : `, ${Math.round(pop.heapPerPeer)} B heap/peer`;
    const httpPart = h.length === 0 ? '' : `  HTTP ${k(median(h.map((p) => p.perSec))).padStart(7)}/s (${k(perCpu(h))}/CPU-s)`;
    console.log(
      `${t.name.padEnd(18)} UDP ${k(median(u.map((p) => p.perSec))).padStart(7)}/s (${k(perCpu(u))}/CPU-s)${httpPart}` +
        `  populate ${k(pop.perSec)}/s, ${Math.round(pop.rssPerPeer)} B RSS/peer${heap}`,
    );
  }
  const ref = targets.find((t) => t.name === 'opentracker');
  if (ref !== undefined) {
    console.log('\nratio to opentracker, per round (median):');
    for (const t of targets) {
      if (t === ref) continue;
      const ratios = (m: Map<Target, Phase[]>): string => {
        const rs = m.get(t)!.map((p, i) => p.perSec / m.get(ref)![i]!.perSec);
        return rs.length === 0 ? '' : `${rs.map((r) => r.toFixed(2)).join(' ')} (${median(rs).toFixed(2)})`;
      };
      console.log(`${t.name.padEnd(18)} UDP ${ratios(udp)}${WITH_HTTP ? `   HTTP ${ratios(http)}` : ''}`);
    }
  }
} finally {
  await stopAll();
}

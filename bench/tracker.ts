/**
 * Announce load generator, UDP and HTTP keep-alive: our tracker (memory store, and with
 * `--redis` also on a private redis-server) against Debian's opentracker, same load, same run.
 *
 *   npm run build && node dist/bench/tracker.js [--torrents 10000] [--peers 50] [--seconds 10]
 *     [--inflight 128] [--sockets 8] [--connections 32] [--only ours|opentracker|redis] [--redis]
 *
 * HTTP: `--connections` keep-alive connections, each with one request in flight (compact,
 * numwant 50, random torrent and peer), as many as replies come back; a tracker that closes the
 * connection after a reply (opentracker does) costs a reconnect, which is what its clients pay too.
 *
 * One process, many announces in flight over several UDP sockets. Per target: start it on a free
 * port, connect each socket (BEP 15), pre-populate torrents × peers with `started` announces
 * (20 % seeders), then announce as fast as replies come back for `--seconds` (random torrent and
 * peer, num_want 50) and print announces/s. For ours, also bytes of heap per peer (after a full
 * GC in the tracker process). A request unanswered for 1 s is counted lost and re-sent.
 *
 * opentracker (Debian's build is whitelist-only) gets a whitelist of every bench hash in a root
 * dir readable by `nobody`, given relative to that dir (see shared/PEERS.md).
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
import { encodeUdpConnectRequest, UDP_PROTOCOL_ID } from '../src/tracker/index.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}
const TORRENTS = arg('torrents', 10_000);
const PEERS = arg('peers', 50);
const SECONDS = arg('seconds', 10);
const INFLIGHT = arg('inflight', 128); // more overflows the default 208 KiB socket buffers: drops, then 1 s resends
const SOCKETS = arg('sockets', 8);
const CONNECTIONS = arg('connections', 32);
const WITH_REDIS = process.argv.includes('--redis');
const onlyIdx = process.argv.indexOf('--only');
const ONLY = onlyIdx < 0 ? undefined : process.argv[onlyIdx + 1];
const RESEND_MS = 1000;

void UDP_PROTOCOL_ID;

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

interface Result {
  readonly name: string;
  readonly populateSec: number;
  readonly announcesPerSec: number;
  readonly httpPerSec: number;
  readonly httpErrors: number;
  readonly httpReconnects: number;
  readonly lost: number;
  readonly errors: number;
  readonly bytesPerPeer?: number;
}

async function measure(name: string, port: number, memory?: () => Promise<{ heapUsed: number; peers: number }>): Promise<Result> {
  const gen = new LoadGenerator(port);
  await gen.connect();
  const before = memory === undefined ? undefined : await memory();
  let n = 0;
  const total = TORRENTS * PEERS;
  const t0 = performance.now();
  await gen.run(() => {
    if (n >= total) return undefined;
    const k = n++;
    return { t: k % TORRENTS, p: Math.floor(k / TORRENTS), event: 2, numwant: 0 };
  });
  const populateSec = (performance.now() - t0) / 1000;
  if (gen.errors > 0) console.log(`  ${name}: ${gen.errors} error replies while populating`);
  const after = memory === undefined ? undefined : await memory();
  const bytesPerPeer = before !== undefined && after !== undefined ? (after.heapUsed - before.heapUsed) / Math.max(1, after.peers) : undefined;
  gen.done = 0;
  gen.lost = 0;
  gen.errors = 0;
  const end = performance.now() + SECONDS * 1000;
  let checks = 0;
  const start = performance.now();
  await gen.run(() => {
    if ((++checks & 255) === 0 && performance.now() > end) return undefined;
    return { t: Math.floor(Math.random() * TORRENTS), p: Math.floor(Math.random() * PEERS), event: 0, numwant: 50 };
  });
  const elapsed = (performance.now() - start) / 1000;
  gen.close();
  const http = new HttpLoad(port);
  const hStart = performance.now();
  await http.run(SECONDS);
  const hElapsed = (performance.now() - hStart) / 1000;
  const r = {
    name, populateSec, announcesPerSec: gen.done / elapsed, lost: gen.lost, errors: gen.errors,
    httpPerSec: http.done / hElapsed, httpErrors: http.errors, httpReconnects: http.reconnects,
  };
  return bytesPerPeer === undefined ? r : { ...r, bytesPerPeer };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill();
  await exited;
}

/** A private redis-server on a free port, no persistence; stopped by pid. */
async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const spawned = await Promise.race([once(child, 'spawn').then(() => true), once(child, 'error').then(() => false)]);
  if (!spawned) throw new Error('redis-server could not be started: apt-get install -y redis-server');
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.on('connect', () => s.write('PING\r\n'));
      s.on('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
      s.on('error', () => resolve(false));
    });
    if (ok) return { url: `redis://127.0.0.1:${port}`, child };
    if (i > 100) throw new Error('redis-server did not answer PING');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function benchOurs(redisUrl?: string): Promise<Result> {
  const here = dirname(fileURLToPath(import.meta.url));
  const child = fork(join(here, 'tracker-child.js'), redisUrl === undefined ? [] : ['--redis', redisUrl], { execArgv: ['--expose-gc', ...(process.env['BENCH_CHILD_NODE_ARGS']?.split(' ').filter(Boolean) ?? [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const [hello] = (await once(child, 'message')) as [{ port: number }];
    const memory = async (): Promise<{ heapUsed: number; peers: number }> => {
      child.send('memory');
      const [m] = (await once(child, 'message')) as [{ heapUsed: number; peers: number }];
      return m;
    };
    return await measure(redisUrl === undefined ? 'torrenttp' : 'torrenttp+redis', hello.port, redisUrl === undefined ? memory : undefined);
  } finally {
    await stop(child);
  }
}

async function benchOpentracker(): Promise<Result> {
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
  const spawned = await Promise.race([once(child, 'spawn').then(() => true), once(child, 'error').then(() => false)]);
  if (!spawned) throw new Error('opentracker could not be started: apt-get install -y opentracker');
  try {
    await new Promise((r) => setTimeout(r, 500)); // it reads the whitelist after starting
    if (log.includes("Can't open")) throw new Error(`opentracker: ${log}`);
    return await measure('opentracker', port);
  } finally {
    await stop(child);
    rmSync(root, { recursive: true, force: true });
  }
}

console.log(`announce bench: ${TORRENTS} torrents × ${PEERS} peers, ${SECONDS} s each; UDP ${INFLIGHT} in flight over ${SOCKETS} sockets, HTTP ${CONNECTIONS} keep-alive connections`);
const results: Result[] = [];
if (ONLY === undefined || ONLY === 'ours') results.push(await benchOurs());
if (WITH_REDIS || ONLY === 'redis') {
  const redis = await startRedis();
  try {
    const t0 = performance.now();
    results.push(await benchOurs(redis.url));
    // Where the Redis mode is bound: redis-server's CPU time (utime + stime, 100 Hz ticks) over the run.
    const f = readFileSync(`/proc/${redis.child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const cpuSec = (Number(f[11]) + Number(f[12])) / 100;
    console.log(`  redis-server used ${cpuSec.toFixed(1)} s CPU over ${((performance.now() - t0) / 1000).toFixed(1)} s (populate + UDP + HTTP)`);
  } finally {
    await stop(redis.child);
  }
}
if (ONLY === undefined || ONLY === 'opentracker') results.push(await benchOpentracker());
for (const r of results) {
  const mem = r.bytesPerPeer === undefined ? '' : `, ${Math.round(r.bytesPerPeer)} B heap/peer`;
  const k = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(8);
  console.log(
    `${r.name.padEnd(16)} UDP ${k(r.announcesPerSec)} announces/s  HTTP ${k(r.httpPerSec)} announces/s` +
      ` (populate ${(TORRENTS * PEERS / r.populateSec / 1000).toFixed(1)}k/s, UDP lost ${r.lost}, errors ${r.errors}; ` +
      `HTTP errors ${r.httpErrors}, reconnects ${r.httpReconnects}${mem})`,
  );
}

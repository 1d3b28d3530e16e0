/**
 * UDP announce load generator: our tracker against Debian's opentracker, same load, same run.
 *
 *   npm run build && node dist/bench/tracker.js [--torrents 10000] [--peers 50] [--seconds 10]
 *     [--inflight 128] [--sockets 8] [--only ours|opentracker]
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
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
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

interface Result {
  readonly name: string;
  readonly populateSec: number;
  readonly announcesPerSec: number;
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
  const r = { name, populateSec, announcesPerSec: gen.done / elapsed, lost: gen.lost, errors: gen.errors };
  return bytesPerPeer === undefined ? r : { ...r, bytesPerPeer };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill();
  await exited;
}

async function benchOurs(): Promise<Result> {
  const here = dirname(fileURLToPath(import.meta.url));
  const child = fork(join(here, 'tracker-child.js'), [], { execArgv: ['--expose-gc', ...(process.env['BENCH_CHILD_NODE_ARGS']?.split(' ').filter(Boolean) ?? [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const [hello] = (await once(child, 'message')) as [{ port: number }];
    const memory = async (): Promise<{ heapUsed: number; peers: number }> => {
      child.send('memory');
      const [m] = (await once(child, 'message')) as [{ heapUsed: number; peers: number }];
      return m;
    };
    return await measure('torrenttp', hello.port, memory);
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

console.log(`UDP announce bench: ${TORRENTS} torrents × ${PEERS} peers, ${SECONDS} s, ${INFLIGHT} in flight over ${SOCKETS} sockets`);
const results: Result[] = [];
if (ONLY !== 'opentracker') results.push(await benchOurs());
if (ONLY !== 'ours') results.push(await benchOpentracker());
for (const r of results) {
  const mem = r.bytesPerPeer === undefined ? '' : `, ${Math.round(r.bytesPerPeer)} B heap/peer`;
  console.log(
    `${r.name.padEnd(12)} ${Math.round(r.announcesPerSec).toLocaleString('en-US').padStart(8)} announces/s` +
      ` (populate ${(TORRENTS * PEERS / r.populateSec / 1000).toFixed(1)}k/s, lost ${r.lost}, errors ${r.errors}${mem})`,
  );
}

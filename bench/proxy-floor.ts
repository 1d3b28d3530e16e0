/**
 * The floor of a cold proxied fetch on this machine, for bench/proxy.ts: what any proxy that
 * verifies and caches must spend beside direct curl, each part measured in this process
 * (`process.cpuUsage`, every thread) in the same run as the fetches:
 *
 *   receive   the file from the origin over loopback: one GET, read off the socket into one
 *             reused piece-sized buffer (no copy in JavaScript, as lone-stream.ts reads)
 *   SHA-1     every piece, once (node's crypto, the engine's hash)
 *   store     every piece written to a file in the page cache (`writeSync`, as the disk threads;
 *             the cheaper of two passes, see `measureFloor`)
 *   resend    the stored file read back and sent to a program (`RangeSender`, the proxy's own
 *             send path, to `curl -o /dev/null`)
 *
 * The proxy adds that CPU to direct curl's (the origin's send and curl's receive and write, which
 * a proxied fetch has too). `printFloor` gives three bounds on the cold total, as ratios to
 * direct, beside the CPU the cold fetch measured (origin + proxy + curl):
 *
 *   idle      C free cores: max(direct total, (direct CPU + floor CPU) / C)
 *   saturated every process gets a fixed share of the cores (a machine others keep busy): time
 *             goes with CPU, (direct CPU + floor CPU) / direct CPU
 *   this run  C × the share of a core the SHA-1 step got (CPU / wall of one busy thread) in place of C
 */
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { RangeSender } from '../src/gateway/proxy-send.js';

export interface Floor {
  readonly receive: number;
  readonly sha1: number;
  readonly store: number;
  readonly resend: number;
  /** The store's first pass, into new page-cache pages (`store` is the cheaper pass). */
  readonly storeNew: number;
  /** CPU / wall of the SHA-1 step (one busy thread): how much of a core this process got, 1 on an idle machine. */
  readonly share: number;
}

/** CPU seconds of one fetch's processes. */
export interface CaseCpu {
  readonly serve: number;
  readonly proxy: number;
  readonly curl: number;
}

function cpuSince(from: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
}

/** `url` (a plain http: URL of `size` bytes) read off one socket into one reused buffer. */
async function receive(url: string, size: number, pieceLength: number): Promise<void> {
  const u = new URL(url);
  const buf = new Uint8Array(pieceLength);
  let got = 0;
  await new Promise<void>((resolve, reject) => {
    const socket = connect({
      host: u.hostname,
      port: Number(u.port),
      onread: {
        buffer: buf,
        callback: (n: number) => {
          got += n;
          return true;
        },
      },
    });
    socket.on('connect', () => socket.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`));
    socket.on('error', reject);
    socket.on('close', () => (got >= size ? resolve() : reject(new Error(`floor: ${got} of ${size} bytes received`))));
  });
}

/** Each part's CPU seconds, `size` bytes through it. */
export async function measureFloor(url: string, size: number, pieceLength: number, work: string): Promise<Floor> {
  let from = process.cpuUsage();
  await receive(url, size, pieceLength);
  const receiveCpu = cpuSince(from);

  // 32 MiB of random pieces, gone round: hashing and writing cost the same for any bytes.
  const pool = Buffer.allocUnsafe(Math.min(size, 32 * 2 ** 20) - (Math.min(size, 32 * 2 ** 20) % pieceLength) || pieceLength);
  randomFillSync(pool);
  const pieceAt = (at: number): Buffer => {
    const off = at % pool.length;
    return pool.subarray(off, Math.min(off + pieceLength, pool.length, off + size - at));
  };

  from = process.cpuUsage();
  const t0 = performance.now();
  for (let at = 0; at < size; at += pieceLength) createHash('sha1').update(pieceAt(at)).digest();
  const sha1Cpu = cpuSince(from);
  // One busy thread's share of a core while this ran: under other load, below 1.
  const share = Math.min(1, sha1Cpu / ((performance.now() - t0) / 1000));

  // Twice: into new page-cache pages (the first file, kept, as the proxy's cache keeps its data
  // beside curl's output), then, that file removed, into the pages it freed. On this VM (a
  // virtio balloon: free pages are handed back to the host) the first can cost 10 to 20 times the
  // second: the host backs each page again on first touch. The bound takes the cheaper one.
  const file = join(work, 'floor.bin');
  const store: number[] = [];
  for (let pass = 0; pass < 2; pass++) {
    rmSync(file, { force: true });
    from = process.cpuUsage();
    const fd = openSync(file, 'w');
    for (let at = 0; at < size; at += pieceLength) writeSync(fd, pieceAt(at), 0, undefined, at);
    closeSync(fd);
    store.push(cpuSince(from));
  }

  const server = createServer((_req, res) => {
    void (async () => {
      const h = await open(file, 'r');
      const sender = new RangeSender(h.fd, res, 'floor', size);
      res.writeHead(200, { 'content-length': size });
      try {
        if ((await sender.send(0, size - 1)) === 'sent') await sender.flushed();
        res.end();
      } finally {
        sender.release();
        await h.close();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    from = process.cpuUsage();
    const child = spawn('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${(server.address() as AddressInfo).port}/`], { stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`floor: curl of the stored file exited ${code}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  const resendCpu = cpuSince(from);
  rmSync(file, { force: true });
  return { receive: receiveCpu, sha1: sha1Cpu, store: Math.min(store[0]!, store[1]!), storeNew: store[0]!, resend: resendCpu, share };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * The bound for a cold proxied fetch, and whether `target`× direct fits under it, from each run's
 * floor, the direct fetches' totals and CPU, and the cold fetches' totals and CPU (medians).
 */
export function printFloor(floors: readonly Floor[], direct: { total: readonly number[]; cpu: readonly CaseCpu[] }, cold: { total: readonly number[]; cpu: readonly CaseCpu[] }, sizeMiB: number, target: number): void {
  const cores = availableParallelism();
  const part = (k: keyof Floor): number => median(floors.map((f) => f[k]));
  const share = part('share');
  const floorCpu = part('receive') + part('sha1') + part('store') + part('resend');
  const storeNote = part('storeNew') > 1.5 * part('store') ? ` (into new page-cache pages: ${part('storeNew').toFixed(2)} s, which the bound leaves out)` : '';
  const directWall = median(direct.total);
  const directCpu = median(direct.cpu.map((c) => c.serve + c.curl));
  const coldWall = median(cold.total);
  const coldCpu = cold.cpu.map((c) => c.serve + c.proxy + c.curl);
  const bound = Math.max(directWall, (directCpu + floorCpu) / cores);
  const s = (x: number): string => `${x.toFixed(2)} s`;
  console.log(
    `\nfloor of a cold proxied fetch on ${cores} cores (CPU per ${sizeMiB} MiB, medians): the proxy must receive ${s(part('receive'))} + SHA-1 ${s(part('sha1'))} + store ${s(part('store'))}${storeNote} + resend ${s(part('resend'))} = ${s(floorCpu)};` +
      ` direct spends ${s(directCpu)} (serve + curl) in ${s(directWall)}.` +
      `\n  bound, ${cores} free cores: max(direct, (direct CPU + floor) / ${cores}) = ${s(bound)} = ${(bound / directWall).toFixed(2)}× direct; ${target}× direct ${bound <= target * directWall ? 'is' : 'is NOT'} reachable on an idle machine.` +
      `\n  bound, a saturated machine (every process gets a fixed share, so time goes with CPU): (direct CPU + floor) / direct CPU = ${((directCpu + floorCpu) / directCpu).toFixed(2)}× direct; ${target}× ${(directCpu + floorCpu) / directCpu <= target ? 'is' : 'is NOT'} reachable there.` +
      ` This run's load: one busy thread got ${(share * 100).toFixed(0)} % of a core (SHA-1 step), so about ${(cores * share).toFixed(1)} cores were ours: bound max(direct, (direct CPU + floor) / ${(cores * share).toFixed(1)}) = ${(Math.max(directWall, (directCpu + floorCpu) / (cores * share)) / directWall).toFixed(2)}× direct.` +
      `\n  measured cold: ${(coldWall / directWall).toFixed(2)}× direct; CPU serve ${s(median(cold.cpu.map((c) => c.serve)))} + proxy ${s(median(cold.cpu.map((c) => c.proxy)))} + curl ${s(median(cold.cpu.map((c) => c.curl)))} = ${s(median(coldCpu))}` +
      ` (the proxy ${s(median(cold.cpu.map((c) => c.proxy)) - floorCpu)} over the floor); that CPU / ${cores} = ${s(median(coldCpu) / cores)} = ${(median(coldCpu) / cores / directWall).toFixed(2)}× direct.` +
      `\n  cores the fetches kept busy (their processes' CPU / wall): direct ${(directCpu / directWall).toFixed(2)}, cold ${(median(coldCpu) / coldWall).toFixed(2)}` +
      (directCpu / directWall >= 0.8 && median(coldCpu) / coldWall >= 0.8
        ? ': near a core or more for both, so time goes with CPU here and the saturated bound applies.'
        : ': the fetches waited more than they ran (e.g. on the bench\'s pipe): the CPU bounds say little about this run.'),
  );
}

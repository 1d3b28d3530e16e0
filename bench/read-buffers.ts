/**
 * Memory of wire sockets' read buffers: N dialled sockets (`dialWithReadBuffer`) and the N
 * sockets a server accepts and adopts (`adoptWithReadBuffer`), over loopback; the process's
 * `ArrayBuffer` bytes (after two `gc()`s) before, with every pair connected and idle, and after a
 * burst to each accepted socket.
 *
 *   npm run build && node --expose-gc dist/bench/read-buffers.js [--sockets 1000] [--burst-kib 64] [--root DIR]
 *
 * `--root` names another checkout whose dist/ modules to measure (before/after in one go).
 */
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { SocketChunks } from '../src/transport/accepted-reads.js';

const { values } = parseArgs({ options: { sockets: { type: 'string', default: '1000' }, 'burst-kib': { type: 'string', default: '64' }, root: { type: 'string' } } });
const N = Number(values.sockets);
const BURST = Number(values['burst-kib']) * 1024;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const base = values.root === undefined ? new URL('../src/transport/', import.meta.url).href : pathToFileURL(resolve(values.root, 'dist/src/transport')).href + '/';
type Pair = { socket: Socket; chunks: SocketChunks };
const { adoptWithReadBuffer } = (await import(`${base}accepted-reads.js`)) as { adoptWithReadBuffer: (s: Socket) => Pair };
const { dialWithReadBuffer } = (await import(`${base}socket-chunks.js`)) as { dialWithReadBuffer: (h: string, p: number) => Pair };

const mib = (): string => {
  gc();
  gc();
  return (process.memoryUsage().arrayBuffers / 2 ** 20).toFixed(1);
};

const server = createServer({ pauseOnConnect: true });
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as { port: number };
const accepted: Pair[] = [];
let got = 0;
let done!: () => void;
const all = new Promise<void>((r) => (done = r));
server.on('connection', (paused: Socket) => {
  const a = adoptWithReadBuffer(paused);
  a.chunks.setHandler((c) => {
    got += c.length;
    if (got === N * BURST) done();
  });
  accepted.push(a);
});
const before = mib();
const dialled: Socket[] = [];
for (let i = 0; i < N; i++) {
  const d = dialWithReadBuffer('127.0.0.1', port);
  d.chunks.setHandler(() => {});
  dialled.push(d.socket);
}
await Promise.all(dialled.map((s) => once(s, 'connect')));
while (accepted.length < N) await once(server, 'connection');
const idle = mib();
const burst = Buffer.alloc(BURST);
for (const s of dialled) s.write(burst);
await all;
const after = mib();
console.log(`read-buffers ${values.root ?? '.'}: ${N} dialled + ${N} accepted sockets, ArrayBuffer MiB: none ${before}, idle ${idle}, after ${BURST / 1024} KiB to each accepted one ${after}`);
for (const s of dialled) s.destroy();
for (const a of accepted) a.socket.destroy();
server.close();

/**
 * The JavaScript cost of our UDP announce path alone: `udpHandler` over a memory store holding the
 * tracker bench's swarm (10,000 torrents × 50 peers), fed prepared 98-byte announces (random
 * torrent and peer, num_want 50) with a socket whose `send` only counts. No kernel, no
 * generator: what `bench/tracker.ts` cannot separate from Node's own per-datagram cost.
 *
 *   npm run build && node dist/bench/tracker-udp-handler.js [--torrents 10000] [--peers 50] [--announces 1000000]
 *
 * Then the store alone: `announceInto` with the same announces already decoded, so the store's own
 * cost (mostly cache misses over the swarm) shows apart from the decoding and policy around it.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { ConnectionIds, MemorySwarmStore, parseIp, type SwarmAnnounce } from '../src/tracker/index.js';
import { TrackerCore } from '../src/tracker/server/core.js';
import { udpHandler } from '../src/tracker/server/udp-endpoint.js';
import { numberArg as arg } from './args.js';

const TORRENTS = arg('torrents', 10_000);
const PEERS = arg('peers', 50);
const ANNOUNCES = arg('announces', 1_000_000);

const core = new TrackerCore({ intervalSec: 1800 }, new MemorySwarmStore());
let sent = 0;
let bytes = 0;
const socket = { send: (b: Uint8Array) => { sent++; bytes += b.length; } } as unknown as Socket;
const ids = new ConnectionIds();
const handle = udpHandler(core, socket, ids);
const rinfo: RemoteInfo = { address: '127.0.0.1', family: 'IPv4', port: 40000, size: 98 };
const connectionId = ids.issue(rinfo.address, Date.now());

/** The same packets `bench/tracker.ts` sends. */
function announce(t: number, p: number, event: number, numwant: number): Buffer {
  const b = Buffer.alloc(98);
  b.writeBigUInt64BE(connectionId, 0);
  b.writeUInt32BE(1, 8);
  b.writeUInt32BE(7, 12);
  b.writeUInt32BE(0x74747062, 16);
  b.writeUInt32BE(t, 32);
  b.writeUInt32BE(0x2d424e30, 36);
  b.writeUInt32BE(t, 40);
  b.writeUInt32BE(p, 44);
  b.fill(0x41, 48, 56);
  b.writeBigUInt64BE(p % 5 === 0 ? 0n : 1_000_000n, 64);
  b.writeUInt32BE(event, 80);
  b.writeUInt32BE(p, 88);
  b.writeInt32BE(numwant, 92);
  b.writeUInt16BE(1024 + p, 96);
  return b;
}

for (let k = 0; k < TORRENTS * PEERS; k++) handle(announce(k % TORRENTS, Math.floor(k / TORRENTS), 2, 0), rinfo);
const packets = Array.from({ length: 4096 }, () => announce(Math.floor(Math.random() * TORRENTS), Math.floor(Math.random() * PEERS), 0, 50));
console.log(`UDP handler alone: ${TORRENTS} torrents × ${PEERS} peers, ${ANNOUNCES} announces per round, node ${process.version}`);
for (let round = 1; round <= 3; round++) {
  sent = 0;
  bytes = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < ANNOUNCES; i++) handle(packets[i & 4095]!, rinfo);
  const wallUs = ((performance.now() - t0) * 1000) / ANNOUNCES;
  const c = process.cpuUsage(c0);
  console.log(`round ${round}: ${wallUs.toFixed(2)} µs per announce (wall), ${((c.user + c.system) / ANNOUNCES).toFixed(2)} µs CPU (GC threads included); ${sent} replies of ${Math.round(bytes / sent)} B`);
}

const store = core.store;
const source = parseIp(rinfo.address)!;
const decoded: SwarmAnnounce[] = packets.map((b) => ({
  infoHash: b.subarray(16, 36), peerId: b.subarray(36, 56), ip: source, port: b.readUInt16BE(96),
  left: Number(b.readBigUInt64BE(64)), numwant: 50, reply: 'compact4', nowMs: Date.now(),
}));
const reply = new Uint8Array(20 + 50 * 6);
for (let round = 1; round <= 3; round++) {
  const t0 = performance.now();
  for (let i = 0; i < ANNOUNCES; i++) store.announceInto!(decoded[i & 4095]!, reply, 20);
  console.log(`store alone, round ${round}: ${(((performance.now() - t0) * 1000) / ANNOUNCES).toFixed(2)} µs per announceInto`);
}

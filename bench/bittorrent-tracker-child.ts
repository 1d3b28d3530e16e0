/**
 * The npm `bittorrent-tracker` server in its own process for `bench/tracker.ts`: HTTP and UDP on
 * 127.0.0.1 at the port given as the first argument (UDP over IPv6 on ::1, which the bench does not
 * load), WebSockets off (its WebTorrent side is not what the bench compares, and the WebRTC module
 * its package pulls in is stubbed out). Reports `listening` over IPC and, on `memory`, a full GC's
 * heap and RSS with the number of peers held, like `bench/tracker-child.ts`. Run with `--expose-gc`.
 */
import Server from 'bittorrent-tracker/server';

const port = Number(process.argv[2]);
const server = new Server({ interval: 1_800_000, ws: false, stats: false, peersCacheTtl: 3_600_000 });
server.on('warning', () => undefined); // one per refused request; the bench counts error replies itself
server.on('error', (err: Error) => {
  console.error(`bittorrent-tracker: ${err.message}`);
  process.exit(1);
});
const gc = (globalThis as { gc?: () => void }).gc;

server.listen({ http: port, udp: port }, { http: '127.0.0.1', udp: '127.0.0.1', udp6: '::1' }, () => {
  process.send?.({ type: 'listening', port });
});

process.on('message', (m: unknown) => {
  if (m !== 'memory') return;
  gc?.();
  gc?.();
  let peers = 0;
  const swarms = Object.values(server.torrents);
  for (const s of swarms) peers += s.peers.length;
  const mem = process.memoryUsage();
  process.send?.({ type: 'memory', heapUsed: mem.heapUsed, rss: mem.rss, peers, torrents: swarms.length, gc: gc !== undefined });
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

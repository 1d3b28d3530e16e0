/**
 * Our tracker in its own process for `bench/tracker.ts`: listens on 127.0.0.1 (port 0), reports
 * the port over IPC, and on request runs a full GC and reports memory, so the bench can measure
 * bytes per peer. Run with `node --expose-gc`; `--redis URL` uses a Redis swarm store.
 */
import { RedisSwarmStore, TrackerServer, tuneProcessForTracker } from '../src/tracker/index.js';

tuneProcessForTracker(); // as `torrenttp tracker` does

const redisAt = process.argv.indexOf('--redis');
const store = redisAt < 0 ? undefined : await RedisSwarmStore.connect({ url: process.argv[redisAt + 1]!, peerTimeoutMs: 3_600_000 });
const server = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 1800, ...(store === undefined ? {} : { store }) });
const { port } = await server.listen();
const gc = (globalThis as { gc?: () => void }).gc;

process.on('message', (m: unknown) => {
  if (m === 'memory') {
    gc?.();
    gc?.();
    const mem = process.memoryUsage();
    void server.stats().then((s) => process.send?.({ type: 'memory', heapUsed: mem.heapUsed, rss: mem.rss, peers: s.peers, torrents: s.torrents, gc: gc !== undefined }));
  } else if (m === 'stop') {
    void server.close().then(() => process.exit(0));
  }
});
process.send?.({ type: 'listening', port });
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});

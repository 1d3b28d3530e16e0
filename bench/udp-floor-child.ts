/**
 * The floor under any Node UDP tracker, for `bench/tracker.ts --floor`: a process that answers
 * BEP 15 `connect` with a fixed connection id and every `announce` with a fixed reply of 50 IPv4
 * peers (the size our tracker sends), through the same `node:dgram` calls and process tuning as
 * `torrenttp tracker`, with no parsing, checks or store. Its rate in a run is what Node's UDP path
 * alone allows on that machine; the gap between it and our tracker is our own code.
 */
import { createSocket } from 'node:dgram';
import { tuneProcessForTracker } from '../src/tracker/index.js';

tuneProcessForTracker();

const PEER_BYTES = 50 * 6;
const peers = Buffer.alloc(PEER_BYTES, 7);
const socket = createSocket({ type: 'udp4', lookup: (address, _family, callback) => callback(null, address, 4) });
let announces = 0;

socket.on('message', (msg, rinfo) => {
  if (msg.length < 16) return;
  const action = msg.readUInt32BE(8);
  const transactionId = msg.readUInt32BE(12);
  if (action === 0) {
    const out = Buffer.allocUnsafe(16);
    out.writeUInt32BE(0, 0);
    out.writeUInt32BE(transactionId, 4);
    out.writeUInt32BE(0x01020304, 8);
    out.writeUInt32BE(0x05060708, 12);
    socket.send(out, rinfo.port, rinfo.address);
    return;
  }
  announces++;
  const out = Buffer.allocUnsafe(20 + PEER_BYTES);
  out.writeUInt32BE(1, 0);
  out.writeUInt32BE(transactionId, 4);
  out.writeUInt32BE(1800, 8);
  out.writeUInt32BE(40, 12);
  out.writeUInt32BE(10, 16);
  out.set(peers, 20);
  socket.send(out, rinfo.port, rinfo.address);
});

socket.bind(0, '127.0.0.1', () => {
  process.send?.({ type: 'listening', port: socket.address().port });
});
process.on('message', (m: unknown) => {
  if (m === 'memory') {
    const mem = process.memoryUsage();
    process.send?.({ type: 'memory', heapUsed: mem.heapUsed, rss: mem.rss, announces });
  } else if (m === 'stop') {
    socket.close(() => process.exit(0));
  }
});
process.on('SIGTERM', () => socket.close(() => process.exit(0)));

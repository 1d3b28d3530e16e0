/**
 * The floor under our UDP tracker, for `bench/tracker.ts --floor`: a process that answers BEP 15
 * `connect` with a fixed connection id and every `announce` with a fixed reply of 50 IPv4 peers
 * (the size our tracker sends), through the same UDP transport and process tuning as
 * `torrenttp tracker` (the batched socket where it is built, else `node:dgram`), with no parsing,
 * checks or store. Its rate in a run is what the transport alone allows on that machine; the gap
 * between it and our tracker is the tracker's own work.
 */
import { createSocket } from 'node:dgram';
import { parseIp, tuneProcessForTracker } from '../src/tracker/index.js';
import { UdpBatchSocket, udpBatchAvailable, type BatchSource } from '../src/tracker/server/udp-batch.js';

tuneProcessForTracker();

const PEER_BYTES = 50 * 6;
const peers = new Uint8Array(PEER_BYTES).fill(7);
let announces = 0;

/** The answer to a request, or undefined to drop it. */
function answer(msg: Uint8Array): Uint8Array | undefined {
  if (msg.length < 16) return undefined;
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const action = view.getUint32(8);
  const transactionId = view.getUint32(12);
  const out = new Uint8Array(action === 0 ? 16 : 20 + PEER_BYTES);
  const w = new DataView(out.buffer);
  w.setUint32(0, action === 0 ? 0 : 1);
  w.setUint32(4, transactionId);
  if (action === 0) {
    w.setUint32(8, 0x01020304);
    w.setUint32(12, 0x05060708);
    return out;
  }
  announces++;
  w.setUint32(8, 1800);
  w.setUint32(12, 40);
  w.setUint32(16, 10);
  out.set(peers, 20);
  return out;
}

let port: number;
let close: () => void;
if (udpBatchAvailable()) {
  let socket: UdpBatchSocket | undefined;
  socket = UdpBatchSocket.open(parseIp('127.0.0.1')!, 0, 1500, (msg, _source, to: BatchSource) => {
    const out = answer(msg);
    if (out !== undefined) socket?.send(out, to);
  });
  port = socket.port;
  close = () => socket?.close();
} else {
  const socket = createSocket({ type: 'udp4', lookup: (address, _family, callback) => callback(null, address, 4) });
  socket.on('message', (msg, rinfo) => {
    const out = answer(msg);
    if (out !== undefined) socket.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  port = socket.address().port;
  close = () => socket.close();
}

process.send?.({ type: 'listening', port });
process.on('message', (m: unknown) => {
  if (m === 'memory') {
    const mem = process.memoryUsage();
    process.send?.({ type: 'memory', heapUsed: mem.heapUsed, rss: mem.rss, announces });
  } else if (m === 'stop') {
    close();
    process.exit(0);
  }
});
process.on('SIGTERM', () => {
  close();
  process.exit(0);
});

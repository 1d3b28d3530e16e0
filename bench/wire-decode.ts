/**
 * Decode throughput of the peer wire codec: a stream of 16 KiB `piece` messages pushed in
 * 64 KiB chunks, as a socket would deliver them. Chunks do not line up with messages, so about
 * one message in four straddles two chunks and is assembled; the rest are zero-copy views.
 *
 *   npm run build && node dist/bench/wire-decode.js [totalMiB]
 */
import { BLOCK_BYTES, WireDecoder, encodeMessages, type WireMessage } from '../src/index.js';

const totalMiB = Number(process.argv[2] ?? 256);
const CHUNK_BYTES = 64 * 1024;
const ROUNDS = 5;

const blocks = Math.ceil((totalMiB * 1024 * 1024) / BLOCK_BYTES);
const block = new Uint8Array(BLOCK_BYTES).map((_, i) => (i * 31) & 0xff);
const messages: WireMessage[] = [];
for (let i = 0; i < blocks; i++) messages.push({ type: 'piece', index: i >> 4, begin: (i & 15) * BLOCK_BYTES, block });
const stream = encodeMessages(messages);
const chunks: Uint8Array[] = [];
for (let at = 0; at < stream.length; at += CHUNK_BYTES) chunks.push(stream.subarray(at, at + CHUNK_BYTES));

const rates: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const d = new WireDecoder({ expectHandshake: false });
  let decoded = 0;
  let views = 0;
  const start = performance.now();
  for (const c of chunks) {
    for (const m of d.push(c)) {
      if (m.type !== 'piece') continue;
      decoded++;
      if (m.block.buffer === stream.buffer) views++;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  if (decoded !== blocks) throw new Error(`decoded ${decoded} of ${blocks} blocks`);
  const mbPerSec = stream.length / 1e6 / seconds;
  rates.push(mbPerSec);
  console.log(`round ${round + 1}: ${mbPerSec.toFixed(0)} MB/s (${views} of ${decoded} blocks zero-copy)`);
}
rates.sort((a, b) => a - b);
const median = rates[Math.floor(ROUNDS / 2)]!;
console.log(`wire decode: ${median.toFixed(0)} MB/s median of ${ROUNDS} (first, cold: see round 1), ${(stream.length / 1e6).toFixed(0)} MB in ${CHUNK_BYTES / 1024} KiB chunks, node ${process.version}`);

/**
 * The malicious seed of bad-seed.test.ts, a process of its own: it listens on 127.0.0.1, says it
 * has every piece, unchokes at once and answers every request with the right block but one byte
 * flipped (so every piece it contributes to fails its hash). It prints `port <n>` once listening
 * and `conn` for each connection.
 * Usage: node bad-seed-child.js <torrent file> <payload file>
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseTorrent } from '../../src/metainfo/index.js';
import { encodeMessages, WireDecoder, type WireMessage } from '../../src/wire/index.js';

const [torrentPath, payloadPath] = process.argv.slice(2);
if (torrentPath === undefined || payloadPath === undefined) {
  process.stderr.write('usage: bad-seed-child <torrent> <payload>\n');
  process.exit(2);
}
const metainfo = parseTorrent(readFileSync(torrentPath));
const data = readFileSync(payloadPath);
const pieceLength = metainfo.geometry.pieceLength;
const pieces = Math.ceil(data.length / pieceLength);
const infoHash = Buffer.from(metainfo.infoHash, 'hex');
const bitfield = new Uint8Array(Math.ceil(pieces / 8));
for (let i = 0; i < pieces; i++) bitfield[i >> 3]! |= 0x80 >> (i & 7);

const server = createServer((socket) => {
  process.stdout.write('conn\n');
  socket.on('error', () => {});
  const decoder = new WireDecoder();
  socket.on('data', (chunk: Buffer) => {
    let messages: WireMessage[];
    try {
      messages = decoder.push(chunk);
    } catch {
      socket.destroy();
      return;
    }
    const out: WireMessage[] = [];
    for (const m of messages) {
      if (m.type === 'handshake') {
        out.push({ type: 'handshake', reserved: new Uint8Array(8), infoHash, peerId: new Uint8Array(20).fill(0x42) });
        out.push({ type: 'bitfield', bitfield }, { type: 'unchoke' });
      } else if (m.type === 'request') {
        const start = m.index * pieceLength + m.begin;
        const block = Buffer.from(data.subarray(start, start + m.length)); // a copy: flip without touching `data`
        block[block.length >> 1]! ^= 0xff;
        out.push({ type: 'piece', index: m.index, begin: m.begin, block });
      }
    }
    if (out.length > 0) socket.write(encodeMessages(out));
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`port ${(server.address() as { port: number }).port}\n`);
});

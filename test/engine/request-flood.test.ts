/**
 * A request flood costs only the flooder (issue 18): raw peers on real sockets send a seed
 * thousands of requests (while choked and never reading our answers, duplicates, out of range,
 * oversized), and a second torrenttp client downloading from the same seed at the same time
 * still completes, byte-identical, in about the time it takes alone. Every flooder that asks for
 * what it cannot have is closed; none holds a queue past `maxPeerRequests`.
 * Fault checked once: without the refused-request limit (wire-peer.ts `refusedRequests`) the
 * choked flooder that never reads stays connected, its rejects piling up in our send buffer,
 * and this test fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { encodeMessages, reservedBytes, type WireMessage } from '../../src/wire/index.js';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';

const PIECE = 256 * 1024;
const BLOCK = 16 * 1024;
const data = bytes(16 * 1024 * 1024, 77);
const PIECES = data.length / PIECE;
const FLOOD = 5000;

interface Flooder {
  socket: Socket;
  closed: boolean;
  received: number;
}

/** A raw peer (BEP 6 and BEP 10 bits set) that shakes hands and then sends `messages` in one write. */
async function flooder(port: number, infoHash: Uint8Array, tag: number, messages: WireMessage[], read: boolean): Promise<Flooder> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const f: Flooder = { socket, closed: false, received: 0 };
  socket.on('error', () => {});
  socket.on('close', () => (f.closed = true));
  const peerId = new Uint8Array(20).fill(tag);
  socket.write(encodeMessages([{ type: 'handshake', reserved: reservedBytes({ fastExtension: true, extensionProtocol: true }), infoHash, peerId }]));
  // Wait for the seed's handshake (68 bytes), then flood.
  await new Promise<void>((resolve) => {
    const onData = (c: Buffer) => {
      f.received += c.length;
      if (f.received >= 68) {
        if (!read) {
          socket.off('data', onData);
          socket.pause(); // never read again: every answer stays in the seed's send buffer
        }
        resolve();
      }
    };
    socket.on('data', onData);
    socket.once('close', () => resolve());
  });
  if (read) socket.on('data', (c: Buffer) => (f.received += c.length));
  socket.write(encodeMessages(messages));
  return f;
}

const request = (index: number, begin = 0, length = BLOCK): WireMessage => ({ type: 'request', index, begin, length });

async function download(torrent: string, dir: string, seedPort: number): Promise<number> {
  const client = new Client({ listen: false, allowLoopbackPeers: true });
  const started = Date.now();
  try {
    const t = await client.add(torrent, { path: dir, peers: [`127.0.0.1:${seedPort}`], trackers: false, webSeeds: false });
    await t.done;
    return Date.now() - started;
  } finally {
    await client.close();
  }
}

test('a request flood (choked and unread, duplicates, out of range, oversized) closes the flooders; a real download beside it completes at normal speed', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const seedDir = join(dir, 'seed');
    mkdirSync(seedDir);
    writeFileSync(join(seedDir, 'payload.bin'), data);
    const torrent = join(dir, 't.torrent');
    const tbytes = torrentBytes({ name: 'payload.bin', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) });
    writeFileSync(torrent, tbytes);
    const infoHash = Buffer.from(parseTorrent(tbytes).infoHash, 'hex');
    const seed = new Client({ host: '127.0.0.1' });
    const flooders: Flooder[] = [];
    // (the duplicates flooder is closed if still choked, else holds one request: either is fine)
    try {
      await seed.add(torrent, { path: seedDir, trackers: false, webSeeds: false });
      const alone = join(dir, 'alone');
      mkdirSync(alone);
      const aloneMs = await download(torrent, alone, seed.port);

      // Thousands of requests from each: while choked (never interested, never reading), the
      // same block again and again (interested), out of range, and longer than a block.
      const choked = await flooder(seed.port, infoHash, 1, Array.from({ length: FLOOD }, (_, i) => request(i % PIECES, (i % 16) * BLOCK)), false);
      const dups = await flooder(seed.port, infoHash, 2, [{ type: 'interested' }, ...Array.from({ length: FLOOD }, () => request(0))], false);
      const outOfRange = await flooder(seed.port, infoHash, 3, Array.from({ length: FLOOD }, (_, i) => request(PIECES + i)), true);
      const oversized = await flooder(seed.port, infoHash, 4, Array.from({ length: FLOOD }, () => request(1, 0, 1024 * 1024)), true);
      flooders.push(choked, dups, outOfRange, oversized);

      const besideDir = join(dir, 'beside');
      mkdirSync(besideDir);
      const besideMs = await download(torrent, besideDir, seed.port);
      assert.ok(Buffer.from(readFileSync(join(besideDir, 'payload.bin'))).equals(data), 'the download beside the flood is byte-identical');
      t.diagnostic(`16 MiB alone ${aloneMs} ms, beside the flood ${besideMs} ms`);
      assert.ok(besideMs < Math.max(3 * aloneMs, aloneMs + 3000), `beside the flood ${besideMs} ms, alone ${aloneMs} ms`);

      const deadline = Date.now() + 5000;
      while (!(choked.closed && outOfRange.closed && oversized.closed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(choked.closed, true, 'a peer flooding requests while choked is closed');
      assert.equal(outOfRange.closed, true, 'out-of-range requests close the link');
      assert.equal(oversized.closed, true, 'requests longer than a block close the link');
    } finally {
      for (const f of flooders) f.socket.destroy();
      await seed.close();
    }
  }),
);

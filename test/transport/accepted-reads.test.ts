/**
 * transport/accepted-reads.ts: an accepted socket taken over by one that reads into the wire
 * sockets' shared buffer (the peer listener's), every byte in order, and still counted by its
 * server; and the read buffers of many wire sockets, dialled and accepted, after a burst on each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { adoptWithReadBuffer, READ_BUFFER_BYTES, sharedReadBuffer, type SocketChunks } from '../../src/transport/accepted-reads.js';
import { dialWithReadBuffer } from '../../src/transport/socket-chunks.js';

test('an adopted socket reads every byte in order into the shared buffer, and its server counts it until it closes', async () => {
  const server = createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const payload = randomBytes(3 * 2 ** 20 + 7);
  const client = connect(port, '127.0.0.1');
  client.on('error', () => {});
  try {
    // Sent before the takeover: it waits in the kernel while the accepted socket is paused.
    client.end(payload);
    const [paused] = (await once(server, 'connection')) as [Socket];
    const { socket, chunks } = adoptWithReadBuffer(paused);
    const got: Buffer[] = [];
    let views = 0;
    let copies = 0;
    // The handler comes a turn later: reads meanwhile are held as copies, not views of the reused buffer.
    await new Promise((r) => setImmediate(r));
    let received = 0;
    const ended = once(socket, 'end');
    socket.resume(); // 'end' needs a flowing stream; the bytes themselves never reach it
    chunks.setHandler((c) => {
      got.push(Buffer.from(c)); // a chunk is valid only during the call
      received += c.length;
      if (c.buffer === sharedReadBuffer().buffer) views++;
      else copies++;
    });
    await ended;
    assert.equal(received, payload.length);
    assert.ok(Buffer.concat(got).equals(payload), 'every byte, in order');
    // Reads went into the shared buffer, not a new ArrayBuffer each (node's `data` events: ~50 here).
    assert.ok(views >= 1, 'reads into the shared buffer');
    assert.ok(copies <= 8, `${copies} held copies (at most a few)`);
    const count = await new Promise<number>((r, j) => server.getConnections((err, n) => (err ? j(err) : r(n))));
    assert.equal(count, 1, 'the server counts the adopted socket');
    const closed = new Promise<void>((r) => server.close(() => r()));
    socket.destroy();
    await closed; // the count went down with the adopted socket: the server's close completes
  } finally {
    client.destroy();
    server.close();
  }
});

test('1,000 wire sockets (500 dialled, 500 accepted) after a 64 KiB burst on each hold one 256 KiB read buffer between them', async () => {
  const server = createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const PAIRS = 500;
  const BURST = 64 * 1024;
  const sockets: Socket[] = [];
  // Every ArrayBuffer a read landed in, each counted once: what the connections hold for reading.
  const buffers = new Set<ArrayBufferLike>();
  let received = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const count = (chunks: SocketChunks): void =>
    chunks.setHandler((c) => {
      buffers.add(c.buffer);
      received += c.length;
      if (received === 2 * PAIRS * BURST) done();
    });
  const accepted: Array<{ socket: Socket; chunks: SocketChunks }> = [];
  server.on('connection', (paused: Socket) => {
    const a = adoptWithReadBuffer(paused);
    sockets.push(a.socket);
    count(a.chunks);
    accepted.push(a);
  });
  try {
    const dialled: Socket[] = [];
    for (let i = 0; i < PAIRS; i++) {
      const d = dialWithReadBuffer('127.0.0.1', port);
      sockets.push(d.socket);
      d.socket.on('error', () => {});
      count(d.chunks);
      dialled.push(d.socket);
    }
    await Promise.all(dialled.map((s) => once(s, 'connect')));
    while (accepted.length < PAIRS) await once(server, 'connection');
    // Handlers are set before any byte arrives: every chunk is a read buffer's view, none a held copy.
    for (const s of dialled) s.write(randomBytes(BURST));
    for (const a of accepted) a.socket.write(randomBytes(BURST));
    await all;
    const bytes = [...buffers].reduce((sum, b) => sum + b.byteLength, 0);
    // One buffer per connection, grown to 256 KiB by the burst, held 2 x 500 x 256 KiB (250 MiB).
    assert.ok(bytes <= READ_BUFFER_BYTES, `read buffers of ${2 * PAIRS} sockets: ${buffers.size} holding ${(bytes / 2 ** 20).toFixed(1)} MiB`);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

/**
 * transport/accepted-reads.ts: an accepted socket taken over by one that reads into a reused
 * buffer (the peer listener's), every byte in order, and still counted by its server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { adoptWithReadBuffer, FIRST_READ_BYTES, READ_BUFFER_BYTES } from '../../src/transport/accepted-reads.js';

test('an adopted socket reads every byte in order into at most two buffers (16 KiB, then 256 KiB), and its server counts it until it closes', async () => {
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
    const buffers = new Set<ArrayBufferLike>();
    const sizes = new Set<number>();
    // The handler comes a turn later: reads meanwhile are held as copies, not views of the reused buffer.
    await new Promise((r) => setImmediate(r));
    let received = 0;
    const ended = once(socket, 'end');
    socket.resume(); // 'end' needs a flowing stream; the bytes themselves never reach it
    chunks.setHandler((c) => {
      got.push(Buffer.from(c)); // a chunk is valid only during the call
      received += c.length;
      if (c.buffer.byteLength >= FIRST_READ_BYTES) {
        buffers.add(c.buffer);
        sizes.add(c.buffer.byteLength);
      }
    });
    await ended;
    assert.equal(received, payload.length);
    assert.ok(Buffer.concat(got).equals(payload), 'every byte, in order');
    // Reads went into the reused buffers, not a new ArrayBuffer each (node's `data` events: ~50 here).
    const reused = [...buffers].filter((b) => b.byteLength === FIRST_READ_BYTES || b.byteLength === READ_BUFFER_BYTES);
    assert.ok(reused.length >= 1 && reused.length <= 2, `reused buffers: ${[...sizes].join(', ')}`);
    assert.ok(buffers.size <= 2 + 8, `${buffers.size} distinct buffers (held copies at most a few)`);
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

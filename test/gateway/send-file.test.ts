/**
 * `sendFileRange` (serve's plain path): its buffers are shared by every response, so a response
 * whose socket is still sending one must never see it reused by another.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { sendFileRange, SEND_CHUNK_BYTES } from '../../src/gateway/send-file.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { rawBody } from './helpers.js';

test('responses share send buffers: a slow reader\'s bytes stay its own while fast ones reuse buffers, and a client gone mid-body frees them', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const data = bytes(8 * SEND_CHUNK_BYTES + 12_345, 7);
    const path = join(dir, 'f.bin');
    writeFileSync(path, data);
    const fd = openSync(path, 'r');
    const ended: (Error | undefined)[] = [];
    const server = createServer((req, res) => {
      const [start, end] = (req.url ?? '').slice(1).split('-').map(Number) as [number, number];
      res.writeHead(200, { 'content-length': end - start + 1 });
      sendFileRange(fd, start, end, res, path, (err) => ended.push(err));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const get = (start: number, end: number, pause?: Promise<void>): Promise<Buffer> => rawBody(port, `/${start}-${end}`, pause);
    try {
      // The slow reader's socket fills up: its last chunks wait in its buffers while the fast
      // responses below take and give back buffers of the shared pool.
      let release!: () => void;
      const slow = get(0, data.length - 1, new Promise<void>((r) => (release = r)));
      await new Promise((r) => setTimeout(r, 200));
      const fast: Promise<Buffer>[] = [];
      for (let i = 0; i < 24; i++) {
        const start = (i * 333_333) % (data.length - SEND_CHUNK_BYTES);
        fast.push(get(start, start + 256 * 1024 - 1 + i).then((b) => (assert.ok(b.equals(data.subarray(start, start + 256 * 1024 + i)), `fast response ${i}`), b)));
      }
      await Promise.all(fast);
      // A client that leaves mid-body: its buffers come back, and nothing is sent wrong later.
      const gone = connect(port, '127.0.0.1');
      gone.write(`GET /0-${data.length - 1} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await once(gone, 'data');
      gone.destroy();
      release();
      assert.ok((await slow).equals(data), 'the slow response is byte-identical');
      const after = await get(SEND_CHUNK_BYTES - 5, 3 * SEND_CHUNK_BYTES + 5);
      assert.ok(after.equals(data.subarray(SEND_CHUNK_BYTES - 5, 3 * SEND_CHUNK_BYTES + 6)));
      while (ended.length < 27) await new Promise((r) => setTimeout(r, 10));
      // Only the one whose client left may report an error (its write failed).
      assert.ok(ended.filter((e) => e != null).length <= 1, ended.map(String).join(', '));
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      closeSync(fd);
    }
  }),
);

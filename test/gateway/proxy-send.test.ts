/**
 * `RangeSender` (the proxy's cache and swarm answers): its buffers are the ones serve's
 * `sendFileRange` shares, so a proxy response whose socket is still sending one must never see it
 * reused by another response, of either kind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { RangeSender } from '../../src/gateway/proxy-send.js';
import { sendFileRange, SEND_CHUNK_BYTES } from '../../src/gateway/send-file.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { rawBody } from './helpers.js';

test('proxy responses share serve\'s send buffers: a slow reader\'s bytes stay its own while other responses of both kinds take and give back buffers', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const data = bytes(8 * SEND_CHUNK_BYTES + 12_345, 8);
    const path = join(dir, 'f.bin');
    writeFileSync(path, data);
    const fd = openSync(path, 'r');
    const server = createServer((req, res) => {
      const [kind, range] = (req.url ?? '').slice(1).split('/') as [string, string];
      const [start, end] = range.split('-').map(Number) as [number, number];
      res.writeHead(200, { 'content-length': end - start + 1 });
      if (kind === 's') {
        sendFileRange(fd, start, end, res, path, () => undefined);
        return;
      }
      // As the proxy sends a swarm answer: several ranges, one sender, released at the end.
      const sender = new RangeSender(fd, res, path, end - start + 1);
      const middle = start + Math.floor((end - start) / 2);
      void (async () => {
        try {
          if ((await sender.send(start, middle)) === 'sent' && (await sender.send(middle + 1, end)) === 'sent' && (await sender.flushed()) === 'sent') res.end();
          else res.destroy();
        } finally {
          sender.release();
        }
      })();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const get = (kind: 'p' | 's', start: number, end: number, pause?: Promise<void>): Promise<Buffer> => rawBody(port, `/${kind}/${start}-${end}`, pause);
    try {
      // The slow reader's socket fills up: its last chunks wait in its buffers while the
      // responses below take and give back buffers of the shared pool.
      let release!: () => void;
      const slow = get('p', 0, data.length - 1, new Promise<void>((r) => (release = r)));
      await new Promise((r) => setTimeout(r, 200));
      const others: Promise<void>[] = [];
      for (let i = 0; i < 24; i++) {
        const start = (i * 333_333) % (data.length - 2 * SEND_CHUNK_BYTES);
        const end = start + SEND_CHUNK_BYTES + 256 * 1024 - 1 + i;
        others.push(get(i % 2 === 0 ? 'p' : 's', start, end).then((b) => assert.ok(b.equals(data.subarray(start, end + 1)), `response ${i}`)));
      }
      await Promise.all(others);
      release();
      assert.ok((await slow).equals(data), 'the slow response is byte-identical');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      closeSync(fd);
    }
  }),
);

/**
 * http-fetch.ts's `reusedReads` pools (the HTTP peer's): sockets read into two reused buffers.
 * A buffer must never be read into again while undici still holds a view of it: here the
 * handler pauses undici after every chunk (it unshifts the rest of the read into the socket)
 * and resumes it a macrotask later, while the server keeps sending.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import { acquireOrigin } from '../../src/transport/index.js';

test('reusedReads: a body read while undici pauses after every chunk arrives byte-identical', async () => {
  const body = new Uint8Array(6 * 1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >>> 13)) & 0xff;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const lease = await acquireOrigin(url, { reusedReads: true });
  try {
    const got = new Uint8Array(body.length);
    let filled = 0;
    await new Promise<void>((resolve, reject) => {
      let resume: (() => void) | undefined;
      const handler: Dispatcher.DispatchHandler = {
        onConnect: () => {},
        onHeaders: (_status, _raw, r) => {
          resume = r;
          return true;
        },
        onData: (chunk) => {
          got.set(chunk, filled); // copied within the call, as the contract asks
          filled += chunk.length;
          setImmediate(() => resume?.());
          return false; // pause: undici keeps the rest of the read in the socket
        },
        onComplete: () => resolve(),
        onError: reject,
      };
      lease.dispatcher.dispatch({ origin: new URL(url).origin, path: '/', method: 'GET' }, handler);
    });
    assert.equal(filled, body.length);
    assert.ok(Buffer.from(got).equals(Buffer.from(body)), 'every byte as sent');
  } finally {
    lease.release();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

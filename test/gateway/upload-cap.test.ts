/**
 * `serve --max-upload-rate` (upload-cap.ts): the plain path sends no chunk the cap has not
 * admitted, waits (on the injected clock and timers) while it is spent, and a client gone while
 * it waits cancels the wait. The seed's side is the engine's upload limiter, shared by bucket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request as undiciRequest } from 'undici';
import { sendFileRange, SEND_CHUNK_BYTES } from '../../src/gateway/send-file.js';
import { UploadCap } from '../../src/gateway/upload-cap.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';
import { get } from './ttp-helpers.js';

const MiB = SEND_CHUNK_BYTES;

/** A cap on a clock and timers moved by hand. */
function manualCap(bytesPerSec: number, burstSec: number): { cap: UploadCap; advance: (ms: number) => void; timers: (() => void)[]; cancelled: () => number } {
  let now = 0;
  const timers: (() => void)[] = [];
  let cancelled = 0;
  const cap = new UploadCap(bytesPerSec, {
    now: () => now,
    burstSec,
    after: (_ms, fn) => {
      timers.push(fn);
      return () => {
        const i = timers.indexOf(fn);
        if (i >= 0) timers.splice(i, 1);
        cancelled++;
      };
    },
  });
  return { cap, advance: (ms) => (now += ms), timers, cancelled: () => cancelled };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

test('a capped response sends a chunk only once the cap admits it: 1 MiB of burst, then 1 MiB per second of the clock', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const data = bytes(3 * MiB + 4321, 3);
    const path = join(dir, 'f.bin');
    writeFileSync(path, data);
    const fd = openSync(path, 'r');
    const m = manualCap(MiB, 1);
    let written = 0;
    let ended: Error | undefined | null = null;
    let response: ServerResponse | undefined;
    const server = createServer((_req, res) => {
      response = res;
      res.writeHead(200, { 'content-length': data.length });
      sendFileRange(fd, 0, data.length - 1, res, path, (err) => (ended = err), (n) => (written += n), m.cap);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const chunks: Buffer[] = [];
      let got = 0;
      const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/' }, (res) => {
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          got += c.length;
        });
      });
      req.end();
      // The burst: one chunk, then a wait for the bucket (nothing else is read meanwhile).
      await until(() => got === MiB && m.timers.length === 1);
      assert.equal(written, MiB);
      // Half a second refills half a MiB: the next chunk goes (into debt), the one after waits.
      m.advance(500);
      m.timers.shift()!();
      await until(() => got === 2 * MiB && m.timers.length === 1);
      // Still in debt after another 400 ms: the wait is taken again, nothing sent.
      m.advance(400);
      m.timers.shift()!();
      await until(() => m.timers.length === 1);
      assert.equal(got, 2 * MiB);
      m.advance(700);
      m.timers.shift()!();
      await until(() => got === 3 * MiB && m.timers.length === 1);
      m.advance(1000);
      m.timers.shift()!();
      await until(() => got === data.length && ended !== null);
      assert.equal(ended, undefined);
      assert.ok(Buffer.concat(chunks).equals(data));
      assert.ok(response !== undefined);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      closeSync(fd);
    }
  }),
);

test('a client gone while its response waits for the cap: the wait is cancelled and the response ends', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const data = bytes(2 * MiB + 10, 5);
    const path = join(dir, 'f.bin');
    writeFileSync(path, data);
    const fd = openSync(path, 'r');
    const m = manualCap(MiB, 1);
    const ended: (Error | undefined)[] = [];
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': data.length });
      sendFileRange(fd, 0, data.length - 1, res, path, (err) => ended.push(err), undefined, m.cap);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      let got = 0;
      const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/' }, (res) => {
        res.on('data', (c: Buffer) => {
          got += c.length;
          if (got === MiB) req.destroy();
        });
        res.on('error', () => undefined);
      });
      req.on('error', () => undefined);
      req.end();
      await until(() => ended.length === 1);
      assert.equal(m.cancelled(), 1, 'the pending wait was cancelled');
      assert.equal(m.timers.length, 0);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      closeSync(fd);
    }
  }),
);

test('serve maxUploadRate: plain bodies and the seed\'s peer uploads take from one bucket (a TorrentTTP piece is refused while a plain download has spent it)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(3 * MiB + 1234, 11));
    // 64 KiB/s: the bucket holds 256 KiB, and one plain chunk (1 MiB) puts it ~12 s in debt.
    const g = await startGateway(t, { root, maxUploadRate: 64 * 1024 });
    const m = parseTorrent(await torrentOf(`${g.url}/big.bin`));
    await g.swarm.settled();
    const plain = await undiciRequest(`${g.url}/big.bin`);
    assert.equal(plain.statusCode, 200);
    try {
      const piece = await get(`${g.url}/ttp/v1/torrents/${m.infoHash}/pieces/0`);
      assert.equal(piece.status, 429, 'the seed\'s upload waits for the same bucket');
      assert.ok(Number(piece.h('retry-after')) >= 1, `Retry-After ${piece.h('retry-after')}`);
    } finally {
      plain.body.destroy();
    }
  }),
);

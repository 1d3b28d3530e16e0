/**
 * The batched UDP socket (recvmmsg/sendmmsg, `native/udp_batch.c`) against `node:dgram`: the
 * same datagrams to two trackers, alike but for the transport, get the same answers, drops
 * included. On Linux the addon must be built (`npm install` builds it): a missing build fails
 * here rather than quietly falling back.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import {
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  encodeUdpScrapeRequest,
  MemorySwarmStore,
  TrackerServer,
  type UdpResponse,
} from '../../../src/tracker/index.js';
import { udpBatchAvailable } from '../../../src/tracker/server/udp-batch.js';
import { infoHash, peerId, seeded, UdpTestClient } from './helpers.js';

async function start(t: TestContext, host: string, udpBatch: boolean): Promise<{ server: TrackerServer; port: number }> {
  const server = new TrackerServer({
    host, port: 0, intervalSec: 60, udpBatch, now: () => 1_000_000_000,
    connectionIdSecret: new Uint8Array([1, 2, 3]), store: new MemorySwarmStore({ random: seeded(7) }),
  });
  const { port } = await server.listen();
  t.after(() => server.close());
  return { server, port };
}

/** What a client sees for a fixed script of datagrams: answers (connection ids left out: each tracker has its own secret) and drops. */
async function script(t: TestContext, host: string, port: number): Promise<unknown[]> {
  const family = host.includes(':') ? 6 : 4;
  const c = new UdpTestClient(host, port, family);
  t.after(() => c.close());
  const raw = createSocket(family === 4 ? 'udp4' : 'udp6');
  t.after(() => new Promise<void>((resolve) => raw.close(() => resolve())));
  const seen: unknown[] = [];
  const note = (r: UdpResponse | undefined): void => {
    seen.push(r === undefined ? 'no answer' : r.type === 'connect' ? { type: 'connect', transactionId: r.transactionId } : r);
  };
  let tx = c.txid();
  const connect = await c.ask(encodeUdpConnectRequest(tx), tx);
  note(connect);
  const id = connect?.type === 'connect' ? connect.connectionId : 0n;
  for (let n = 1; n <= 6; n++) {
    tx = c.txid();
    const announce = { infoHash: infoHash(n % 2), peerId: peerId(n), port: 7000 + n, uploaded: 0, downloaded: 0, left: n % 3 === 0 ? 0 : 5, numwant: 3 };
    note(await c.ask(encodeUdpAnnounceRequest({ connectionId: id, transactionId: tx, key: n, announce }), tx));
  }
  tx = c.txid();
  note(await c.ask(encodeUdpScrapeRequest({ connectionId: id, transactionId: tx, infoHashes: [infoHash(0), infoHash(1), infoHash(9)] }), tx));
  tx = c.txid();
  const forged = encodeUdpAnnounceRequest({ connectionId: id ^ 1n, transactionId: tx, key: 0, announce: { infoHash: infoHash(0), peerId: peerId(1), port: 7001, uploaded: 0, downloaded: 0, left: 5 } });
  note(await c.ask(forged, tx));
  tx = c.txid();
  const truncated = encodeUdpAnnounceRequest({ connectionId: id, transactionId: tx, key: 0, announce: { infoHash: infoHash(0), peerId: peerId(1), port: 7001, uploaded: 0, downloaded: 0, left: 5 } }).subarray(0, 60);
  note(await c.ask(truncated, tx));
  // dropped: unknown action, past the 1500-byte limit, past the batch slot, shorter than a header
  for (const [size, action] of [[16, 9], [1501, 1], [3000, 1], [15, 0]] as const) {
    tx = c.txid();
    const junk = new Uint8Array(size);
    const view = new DataView(junk.buffer);
    if (size >= 16) {
      view.setBigUint64(0, id);
      view.setUint32(8, action);
      view.setUint32(12, tx);
    }
    note(await c.ask(junk, tx, 300));
  }
  // a datagram from a second socket, then the first client is still served
  await new Promise<void>((resolve) => raw.send(new Uint8Array(98), port, host, () => resolve()));
  tx = c.txid();
  note(await c.ask(encodeUdpScrapeRequest({ connectionId: id, transactionId: tx, infoHashes: [infoHash(1)] }), tx));
  return seen;
}

test('UDP batch socket: built and used on Linux; node:dgram when turned off', async (t) => {
  if (process.platform !== 'linux') return;
  assert.ok(udpBatchAvailable(), 'native/udp_batch.c is built (npm install runs node-gyp)');
  assert.equal((await start(t, '127.0.0.1', true)).server.udpTransport, 'batch');
  assert.equal((await start(t, '127.0.0.1', false)).server.udpTransport, 'dgram');
});

for (const host of ['127.0.0.1', '::1']) {
  test(`UDP batch socket: the same answers and drops as node:dgram (${host})`, async (t) => {
    const batch = await start(t, host, true);
    const dgram = await start(t, host, false);
    const a = await script(t, host, batch.port);
    const b = await script(t, host, dgram.port);
    assert.deepEqual(a, b);
    assert.equal(a.filter((r) => r === 'no answer').length, 4);
    assert.equal(a.filter((r) => (r as { type?: string }).type === 'error').length, 2);
    assert.deepEqual(await batch.server.stats().then((s) => [s.peers, s.seeders]), [6, 2]);
  });
}

test('UDP batch socket: a flood of random datagrams of any size costs nothing but themselves', async (t) => {
  const { server, port } = await start(t, '127.0.0.1', true);
  const c = new UdpTestClient('127.0.0.1', port);
  t.after(() => c.close());
  const raw = createSocket('udp4');
  t.after(() => new Promise<void>((resolve) => raw.close(() => resolve())));
  let seed = 1;
  const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < 3000; i++) {
    const size = next() % 4 === 0 ? next() % 9000 : next() % 120;
    const junk = Uint8Array.from({ length: size }, () => next() & 0xff);
    // now and then a well-formed header, so some junk reaches the decoder's deeper checks
    if (size >= 16 && i % 3 === 0) new DataView(junk.buffer).setUint32(8, i % 4);
    raw.send(junk, port, '127.0.0.1');
    if (i % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const tx = c.txid();
  const r = await c.ask(encodeUdpConnectRequest(tx), tx);
  assert.equal(r?.type, 'connect');
  assert.equal(server.udpTransport, udpBatchAvailable() ? 'batch' : 'dgram');
});

test('UDP batch socket: a worker that ends with its tracker open takes the socket with it', async () => {
  const serverModule = new URL('../../../src/tracker/index.js', import.meta.url).href;
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     import(${JSON.stringify(serverModule)}).then(async ({ TrackerServer }) => {
       const server = new TrackerServer({ host: '127.0.0.1', port: 0 });
       const { port } = await server.listen();
       parentPort.postMessage({ port, udp: server.udpTransport });
     });`,
    { eval: true },
  );
  const [hello] = (await once(worker, 'message')) as [{ port: number; udp: string }];
  assert.equal(hello.udp, udpBatchAvailable() ? 'batch' : 'dgram');
  await worker.terminate();
  // the worker's UDP port is free again: its socket was closed, and this process is still here
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(hello.port, '127.0.0.1', () => resolve());
  });
  await new Promise<void>((resolve) => s.close(() => resolve()));
});

/**
 * Interim answers (1xx: an unasked `100 Continue`, `103 Early Hints`, `102 Processing`) before
 * an origin's real answer are skipped (RFC 9110 §15.2), never a failure: by every undici
 * connection of ours (the proxy's dispatcher, the default dispatcher: undici alone fails a
 * request on an unasked 100), by node's own client (trackers' announces, get's GETs) and by the
 * transport's own (http1-pool.ts: web seeds, HTTP peers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { encode } from '../../src/bencode/index.js';
import { HttpTrackerClient } from '../../src/tracker/index.js';
import { InterimFilter, interimSkippingConnector, loadUndiciCore, nodeGet, skippingInterim } from '../../src/tracker/undici.js';
import { createWebSeed, Http1Pool } from '../../src/transport/index.js';
import { interimOrigin, sendInterim } from '../helpers/interim.js';
import { selfSignedCert } from '../helpers/tls.js';
import { leech, makeTorrent, Recorder } from './helpers.js';

/** An undici Agent over `interimSkippingConnector`, as the proxy makes its dispatcher (gateway/proxy.ts); closed after `t`. */
async function skippingAgent(t: { after(fn: () => unknown): void }): Promise<import('undici').Dispatcher> {
  const agent = new (await loadUndiciCore()).Agent({ connect: await interimSkippingConnector() });
  t.after(() => agent.close());
  return agent;
}

const INTERIM = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style\r\n\r\nHTTP/1.0 102 Processing\r\n\r\n';

/** Runs `stream` through a filter that saw a request written, in pieces of `step` bytes. */
function filtered(stream: string, step: number, request = 'GET /x HTTP/1.1\r\nHost: h\r\n\r\n'): string {
  const f = new InterimFilter();
  f.wrote(request);
  const out: Uint8Array[] = [];
  const bytes = Buffer.from(stream, 'latin1');
  for (let at = 0; at < bytes.length; at += step) {
    const got = f.read(bytes.subarray(at, at + step));
    if (got !== undefined) out.push(Uint8Array.from(got));
  }
  const held = f.flush();
  if (held !== undefined) out.push(held);
  return Buffer.concat(out).toString('latin1');
}

test('InterimFilter: interim heads at an answer\'s start dropped, whatever the read sizes; 101, the final head and the body pass as they are', () => {
  const body = 'HTTP/1.1 100 Continue\r\n\r\n'; // a body that holds such text is not looked at
  const final = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  for (const step of [1, 2, 5, 13, 64, 4096]) {
    assert.equal(filtered(INTERIM + final, step), final, `step ${step}`);
    assert.equal(filtered('HTTP/1.1 100\r\n\r\n' + final, step), final, `no reason phrase, step ${step}`);
    assert.equal(filtered(final, step), final, `nothing interim, step ${step}`);
    assert.equal(filtered('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n', step), 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n', `101, step ${step}`);
  }
  // No request written: nothing is dropped (an answer starts only after a request).
  const f = new InterimFilter();
  assert.equal(Buffer.from(f.read(Buffer.from(INTERIM, 'latin1'))!).toString('latin1'), INTERIM);
  // A second request on the connection: its answer's interim heads go too; a body write is no request.
  const g = new InterimFilter();
  g.wrote(`GET /${'a'.repeat(300)} HTTP/1.1\r\nHost: h\r\n\r\n`);
  assert.equal(Buffer.from(g.read(Buffer.from(INTERIM + final, 'latin1'))!).toString('latin1'), final);
  g.wrote('{"json": "body"}');
  assert.equal(Buffer.from(g.read(Buffer.from(INTERIM, 'latin1'))!).toString('latin1'), INTERIM, 'mid-answer: passed as it is');
  g.wrote('POST /announce.json HTTP/1.1\r\nContent-Length: 2\r\n\r\n');
  assert.equal(g.read(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1')), undefined);
});

test('undici through our default dispatcher and node\'s client: 200 after unasked 100, 103 and 102, twice on one connection', async (t) => {
  const o = await interimOrigin(t, (_req, res) => res.end('hello'));
  const { request } = await loadUndiciCore();
  for (let i = 0; i < 2; i++) {
    const r = await request(`${o.base}/x`);
    assert.equal(r.statusCode, 200);
    assert.equal(await r.body.text(), 'hello');
  }
  const n = await nodeGet(new URL(`${o.base}/x`), { agent: false });
  let text = '';
  for await (const c of n) text += String(c);
  assert.deepEqual([n.statusCode, text], [200, 'hello']);
});

test('a raw origin: `HTTP/1.1 100 Continue` and `103 Early Hints` written before the answer, byte by byte', async (t) => {
  const server = createServer((s: Socket) => {
    s.once('data', () => {
      const all = Buffer.from(`${INTERIM}HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`, 'latin1');
      let at = 0;
      const tick = (): void => {
        if (at >= all.length) return void s.end();
        s.write(all.subarray(at, at + 1));
        at++;
        setImmediate(tick);
      };
      tick();
    });
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { request } = await loadUndiciCore();
  const r = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
  assert.deepEqual([r.statusCode, await r.body.text()], [200, 'hello']);
});

test('a web seed whose origin sends interim answers first: every piece byte-identical', async (t) => {
  const { metainfo, data } = makeTorrent(512 * 1024 + 77, 64 * 1024, 5, 'payload.bin');
  const o = await interimOrigin(t, (req, res) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (req.url !== '/files/payload.bin' || m === null) return void res.writeHead(404).end();
    const first = Number(m[1]);
    const last = Math.min(Number(m[2]), data.length - 1);
    res.writeHead(206, { 'content-range': `bytes ${first}-${last}/${data.length}`, 'content-length': last - first + 1 });
    res.end(data.subarray(first, last + 1));
  });
  const rec = new Recorder();
  const link = createWebSeed(`${o.base}/files/`, metainfo, { onEvent: rec.handler });
  try {
    await rec.wait('unchoke');
    const got = await leech(link, rec, metainfo);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)));
  } finally {
    link.close();
  }
  // The same origin through undici as the proxy's dispatcher reaches it.
  const { request } = await loadUndiciCore();
  const r = await request(`${o.base}/files/payload.bin`, { headers: { range: 'bytes=0-9' }, dispatcher: await skippingAgent(t) });
  assert.equal(r.statusCode, 206);
  assert.equal((await r.body.arrayBuffer()).byteLength, 10);
});

test('the HTTP tracker\'s announce (node\'s client, and undici with a dispatcher): interim answers first are skipped', async (t) => {
  const answer = encode(new Map<string, number | Uint8Array>([['interval', 1800], ['peers', new Uint8Array([127, 0, 0, 1, 0x1a, 0xe1])]]));
  const o = await interimOrigin(t, (_req, res) => res.end(answer));
  const req = { infoHash: new Uint8Array(20).fill(1), peerId: new Uint8Array(20).fill(2), port: 6881, uploaded: 0, downloaded: 0, left: 0 };
  const plain = await new HttpTrackerClient(`${o.base}/announce`).announce(req);
  assert.deepEqual(plain.peers, [{ ip: '127.0.0.1', port: 6881 }]);
  const pooled = await new HttpTrackerClient(`${o.base}/announce`, { dispatcher: await skippingAgent(t) }).announce(req);
  assert.deepEqual(pooled.peers, [{ ip: '127.0.0.1', port: 6881 }]);
});

test('an HTTP peer\'s pool (http1-pool.ts, its own decoder, reads into a reused buffer): interim answers first are skipped, bodies byte-identical', async (t) => {
  const body = Buffer.alloc(300 * 1024, 7);
  const o = await interimOrigin(t, (_req, res) => res.end(body));
  const pool = new Http1Pool(new URL(o.base));
  try {
    for (let i = 0; i < 3; i++) {
      const got = await new Promise<{ status: number; bytes: Buffer }>((resolve, reject) => {
        let status = 0;
        const parts: Buffer[] = [];
        pool.request({ path: '/x', headers: [], headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000 }, {
          onHead: (h) => void (status = h.status),
          onData: (d) => void parts.push(Buffer.from(d)),
          onEnd: () => resolve({ status, bytes: Buffer.concat(parts) }),
          onError: reject,
        });
      });
      assert.equal(got.status, 200);
      assert.ok(got.bytes.equals(body), `answer ${i}`);
    }
  } finally {
    pool.destroy();
  }
});

test('over TLS too: the filter sits on a TLS socket\'s decrypted reads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'interim-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { key, cert } = selfSignedCert(dir, { ipSan: true });
  const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => {
    sendInterim(res);
    res.end('secret hello');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { Agent, buildConnector } = await import('undici');
  const agent = new Agent({ connect: skippingInterim(buildConnector({ ca: readFileSync(cert) })) });
  t.after(() => agent.close());
  const { request } = await loadUndiciCore();
  for (let i = 0; i < 2; i++) {
    const r = await request(`https://127.0.0.1:${(server.address() as AddressInfo).port}/x`, { dispatcher: agent });
    assert.deepEqual([r.statusCode, await r.body.text()], [200, 'secret hello']);
  }
});

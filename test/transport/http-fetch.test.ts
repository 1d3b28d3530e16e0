import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as undiciPackage from 'undici';
import { run } from '../helpers/processes.js';
import { withTempDir } from '../helpers/torrents.js';
import { selfSignedCert } from '../helpers/tls.js';
import type { PieceIndex } from '../../src/metainfo/index.js';
import fc from 'fast-check';
import { FailureBackoff, loadUndici, loadUndiciCore, parseRetryAfter, readContentRange, retryAfterDelay, RunQueue, type BlockRequest } from '../../src/transport/index.js';

test("loadUndici gives undici's own Agent and Pool, and request() over a dispatcher or the global one", async () => {
  const server = createServer((req, res) => res.end(`${req.method} ${req.url} ${req.headers['x-probe'] ?? ''}`));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const core = await loadUndiciCore();
    assert.equal(core.Agent, undiciPackage.Agent);
    assert.equal(core.Pool, undiciPackage.Pool);
    assert.equal(await loadUndici(), await loadUndici(), 'loaded once');
    const agent = new core.Agent();
    try {
      const res = await core.request(`${base}/a/b?x=1&y=2`, { dispatcher: agent, headers: { 'x-probe': 'agent' } });
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'GET /a/b?x=1&y=2 agent');
    } finally {
      await agent.close();
    }
    const pool = new core.Pool(base);
    try {
      const res = await core.request(`${base}/p`, { dispatcher: pool, method: 'HEAD' });
      assert.equal(res.statusCode, 200);
      await res.body.dump();
    } finally {
      await pool.close();
    }
    const global = await core.request(`${base}/g`);
    assert.equal(await global.body.text(), 'GET /g ');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

/** A child's script: an undici Pool from `loadUndiciCore` (plain HTTP/1.1), then an undici Client with `allowH2` to an h2 server; prints what it saw. */
const deferredHttp2Script = (cert: string, key: string): string => `
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const undiciTs = ${JSON.stringify(new URL('../../src/tracker/undici.js', import.meta.url).href)};
const { loadUndiciCore } = await import(undiciTs);
const get = (dispatcher, origin) => new Promise((resolve, reject) => {
  let text = '';
  dispatcher.dispatch({ origin, path: '/', method: 'GET' }, {
    onConnect() {}, onHeaders() { return true; }, onData(c) { text += Buffer.from(c).toString(); return true; },
    onComplete() { resolve(text); }, onError: reject,
  });
});
const server = createServer((req, res) => res.end('h1 ' + req.httpVersion));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = 'http://127.0.0.1:' + server.address().port;
const pool = new (await loadUndiciCore()).Pool(origin);
const h1 = await get(pool, origin);
const http2Before = process.moduleLoadList.includes('NativeModule http2');
await pool.close();
server.close();
const http2 = await import('node:http2');
const h2s = http2.createSecureServer({ cert: readFileSync(${JSON.stringify(cert)}), key: readFileSync(${JSON.stringify(key)}) }, (req, res) => res.end('h2 ' + req.httpVersion));
await new Promise((r) => h2s.listen(0, '127.0.0.1', r));
const Client = createRequire(undiciTs)('undici/lib/dispatcher/client.js');
const h2origin = 'https://127.0.0.1:' + h2s.address().port;
const client = new Client(h2origin, { allowH2: true, connect: { rejectUnauthorized: false } });
const h2 = await get(client, h2origin);
await client.close();
h2s.close();
console.log(JSON.stringify({ h1, http2Before, h2 }));
`;

test("undici's HTTP/2 half is loaded only when a connection speaks h2: an undici Pool over HTTP/1.1 does not load node's http2, a Client with allowH2 still speaks it", { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { key, cert } = selfSignedCert(dir);
    // A process of its own: this one has loaded the whole of undici (and its HTTP/2 half) already.
    const child = run(t, process.execPath, ['--input-type=module', '-e', deferredHttp2Script(cert, key)]);
    assert.equal(await child.exited, 0, child.output);
    const seen = JSON.parse(child.output.trim().split('\n').at(-1)!) as { h1: string; http2Before: boolean; h2: string };
    assert.equal(seen.h1, 'h1 1.1');
    assert.equal(seen.http2Before, false, "the pool's clients loaded node's http2");
    assert.equal(seen.h2, 'h2 2.0', 'undici speaks h2 through the deferred module');
  }),
);

/**
 * A child's script: an undici Pool from `loadUndiciCore` answers a GET (undici compiled its parser
 * from the stand-in's bytes); then the stand-in's bytes, read twice, against the real module's.
 */
const llhttpScript = `
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
const undiciTs = ${JSON.stringify(new URL('../../src/tracker/undici.js', import.meta.url).href)};
const { loadUndiciCore } = await import(undiciTs);
const server = createServer((req, res) => res.end('ok ' + req.url));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = 'http://127.0.0.1:' + server.address().port;
const pool = new (await loadUndiciCore()).Pool(origin);
const text = await new Promise((resolve, reject) => {
  let t = '';
  pool.dispatch({ origin, path: '/x', method: 'GET' }, {
    onConnect() {}, onHeaders() { return true; }, onData(c) { t += Buffer.from(c).toString(); return true; },
    onComplete() { resolve(t); }, onError: reject,
  });
});
await pool.close();
server.close();
const require = createRequire(undiciTs);
const path = require.resolve('undici/lib/llhttp/llhttp_simd-wasm.js');
const a = require(path);
const b = require(path);
delete require.cache[path];
const real = require(path);
console.log(JSON.stringify({ text, fresh: a !== b, same: Buffer.compare(a, real) === 0 && Buffer.compare(b, real) === 0, length: real.length }));
`;

test("undici's parser bytes are kept by nobody once compiled: each read of its wasm module decodes them anew, the same bytes as undici's own module", { timeout: 60_000 }, async (t) => {
  // A process of its own: this one has loaded undici (and its parser's module) already.
  const child = run(t, process.execPath, ['--input-type=module', '-e', llhttpScript]);
  assert.equal(await child.exited, 0, child.output);
  const seen = JSON.parse(child.output.trim().split('\n').at(-1)!) as { text: string; fresh: boolean; same: boolean; length: number };
  assert.equal(seen.text, 'ok /x', 'undici parses with the parser compiled from the stand-in\'s bytes');
  assert.ok(seen.length > 10_000, 'the real module gives the bytes');
  assert.equal(seen.same, true, "the stand-in's bytes are undici's");
  assert.equal(seen.fresh, true, 'each read decodes anew: nothing keeps the bytes');
});

/**
 * A child's script: ES loader hooks that report every URL the ES loader loads, then undici from
 * `loadUndiciCore` and a Pool (its Client with it); prints the undici files the ES loader saw.
 */
const esLoaderScript = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const seen = [];
let sentinel;
const sentinelSeen = new Promise((resolve) => { sentinel = resolve; });
port1.on('message', (url) => { seen.push(url); if (url.includes('sentinel')) sentinel(); });
const hooks = 'let port; export function initialize(d) { port = d.port; } export async function load(url, ctx, next) { port.postMessage(url); return next(url, ctx); }';
register('data:text/javascript,' + encodeURIComponent(hooks), { data: { port: port2 }, transferList: [port2] });
const { loadUndiciCore } = await import(${JSON.stringify(new URL('../../src/transport/http-fetch.js', import.meta.url).href)});
const pool = new (await loadUndiciCore()).Pool('http://127.0.0.1:9/');
await pool.close();
await import('data:text/javascript,export default "sentinel"');
await sentinelSeen;
port1.close();
console.log(JSON.stringify(seen.filter((u) => u.includes('/undici/'))));
`;

test("undici's Agent, Pool and Client are loaded by require, not through the ES loader (which lexes every CommonJS file it loads for its exports)", { timeout: 60_000 }, async (t) => {
  // A process of its own: this one has loaded undici already.
  const child = run(t, process.execPath, ['--input-type=module', '-e', esLoaderScript]);
  assert.equal(await child.exited, 0, child.output);
  const undiciFiles = JSON.parse(child.output.trim().split('\n').at(-1)!) as string[];
  assert.deepEqual(undiciFiles, [], 'undici files loaded through the ES loader');
});

test('parseRetryAfter and retryAfterDelay: seconds and HTTP dates; a default when absent or unreadable; capped', () => {
  assert.equal(parseRetryAfter('7'), 7000);
  assert.equal(parseRetryAfter(' 7 '), 7000);
  assert.equal(parseRetryAfter(new Date(10_000 + 5000).toUTCString(), 10_000), 5000);
  assert.equal(parseRetryAfter(new Date(1000).toUTCString(), 10_000), 0, 'a date in the past: now');
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter('9'.repeat(10)), undefined, 'ten digits: unreadable, not 300 years');
  assert.equal(parseRetryAfter(`${'x'.repeat(70)} GMT`), undefined);
  assert.equal(parseRetryAfter(undefined), undefined);
  assert.equal(retryAfterDelay('7', 5000, 300_000), 7000);
  assert.equal(retryAfterDelay(undefined, 5000, 300_000), 5000);
  assert.equal(retryAfterDelay('soon', 5000, 300_000), 5000);
  assert.equal(retryAfterDelay('3600', 5000, 300_000), 300_000);
});

test('FailureBackoff: base doubling to the cap, giving up at the limit, a success resets', () => {
  const b = new FailureBackoff(5, 1000, 3000);
  assert.deepEqual([b.fail(), b.fail(), b.fail(), b.fail()], [1000, 2000, 3000, 3000]);
  assert.equal(b.fail(), undefined, 'the fifth in a row: give up');
  assert.equal(b.failures, 5);
  b.reset();
  assert.equal(b.fail(), 1000);
});

const BLOCK = 16 * 1024;
const req = (index: number, begin: number, length = BLOCK): BlockRequest => ({ index: index as PieceIndex, begin, length });

test('RunQueue: one turn of requests, in any order, becomes one run per piece, both ways, up to maxRunBytes', async () => {
  const geometry = { pieceLength: 8 * BLOCK, pieceLengthOf: (i: number) => (i === 1 ? 3 * BLOCK + 100 : 8 * BLOCK) };
  let turns = 0;
  const q = new RunQueue(geometry, BLOCK, 4 * BLOCK, () => turns++);
  // piece 0: blocks 3, 4, 2, 5, 1, 0 (any order); piece 1: its blocks, the last one short.
  for (const b of [3, 4, 2, 5, 1, 0]) assert.ok(q.add(req(0, b * BLOCK)));
  assert.ok(q.add(req(1, 2 * BLOCK, 100)));
  assert.ok(q.add(req(1, BLOCK)));
  assert.equal(q.add(req(0, 3 * BLOCK)), false, 'already queued');
  assert.equal(q.queued, 8);
  assert.equal(turns, 0, 'the owner hears of them once the turn ends');
  await Promise.resolve();
  assert.equal(turns, 1, 'once per turn');
  const r1 = q.take()!;
  assert.deepEqual([r1.index, r1.begin, r1.length], [0, 2 * BLOCK, 4 * BLOCK], 'from block 3: 4, 5 after it, then 2 before, up to 4 blocks');
  assert.deepEqual(r1.reqs.map((r) => r.begin / BLOCK), [2, 3, 4, 5], 'in order');
  assert.equal(q.add(req(0, 4 * BLOCK)), false, 'in flight');
  const r2 = q.take()!;
  assert.deepEqual([r2.index, r2.begin, r2.length], [0, 0, 2 * BLOCK]);
  const r3 = q.take()!;
  assert.deepEqual([r3.index, r3.begin, r3.length], [1, BLOCK, BLOCK + 100], 'a short last block joins its run');
  assert.equal(q.take(), undefined);
  assert.equal(q.queued, 0);
  // cancel: an in-flight request is not delivered; its neighbours are, and none is in flight after.
  q.cancel(req(0, 3 * BLOCK));
  const got: number[] = [];
  q.settle(r1, (r) => got.push(r.begin / BLOCK));
  assert.deepEqual(got, [2, 4, 5]);
  assert.ok(q.add(req(0, 3 * BLOCK)), 'settled: may be asked for again');
  q.cancel(req(0, 3 * BLOCK));
  assert.equal(q.queued, 0, 'cancel drops a queued request');
});

test('RunQueue: drain takes queued requests out, all or one piece; clear forgets those in flight too', () => {
  const q = new RunQueue({ pieceLength: 4 * BLOCK, pieceLengthOf: () => 4 * BLOCK }, BLOCK, 4 * BLOCK, () => {});
  for (const [i, b] of [[0, 0], [1, 0], [0, 2], [2, 1]] as const) q.add(req(i, b * BLOCK));
  const one: string[] = [];
  q.drain((r) => one.push(`${r.index}/${r.begin / BLOCK}`), 0);
  assert.deepEqual(one, ['0/0', '0/2']);
  const run = q.take()!;
  assert.equal(run.index, 1);
  const rest: string[] = [];
  q.drain((r) => rest.push(`${r.index}/${r.begin / BLOCK}`));
  assert.deepEqual(rest, ['2/1']);
  assert.equal(q.add(req(1, 0)), false, 'still in flight');
  q.clear();
  assert.ok(q.add(req(1, 0)), 'forgotten');
});

test('RunQueue: a run in flight is one object: its blocks are in flight until each arrives (in order or not), a cancelled one is not delivered, and an arrived one may be asked again while the GET goes on', () => {
  const q = new RunQueue({ pieceLength: 8 * BLOCK, pieceLengthOf: (i: number) => (i === 1 ? 3 * BLOCK + 100 : 8 * BLOCK) }, BLOCK, 8 * BLOCK, () => {});
  for (let b = 0; b < 8; b++) q.add(req(0, b * BLOCK));
  for (let b = 0; b < 3; b++) q.add(req(1, b * BLOCK, b === 2 ? 100 : BLOCK));
  const run = q.take()!;
  const short = q.take()!;
  assert.deepEqual([run.index, run.begin, run.length, run.reqs.length], [0, 0, 8 * BLOCK, 8]);
  assert.deepEqual([short.index, short.length], [1, 2 * BLOCK + 100]);
  for (let b = 0; b < 8; b++) assert.equal(q.add(req(0, b * BLOCK)), false, `block ${b} in flight`);
  assert.ok(q.add(req(0, BLOCK, 100)), 'not a block of the run (another length)');
  q.drain(() => {});
  // Blocks 0 and 1 arrive; block 5 arrives early (out of order); block 3 is cancelled.
  assert.ok(q.arrived(run, run.reqs[0]!));
  assert.ok(q.arrived(run, run.reqs[1]!));
  assert.ok(q.arrived(run, run.reqs[5]!));
  q.cancel(req(0, 3 * BLOCK));
  assert.ok(q.add(req(0, 0)), 'arrived: may be asked again while the GET goes on');
  assert.ok(q.add(req(0, 5 * BLOCK)), 'arrived out of order: no longer in flight either');
  assert.equal(q.add(req(0, 2 * BLOCK)), false, 'still in flight');
  assert.equal(q.add(req(0, 3 * BLOCK)), false, 'cancelled but still in flight: not asked twice');
  assert.equal(q.arrived(run, run.reqs[2]!), true);
  assert.equal(q.arrived(run, run.reqs[3]!), false, 'cancelled: not delivered');
  // The GET ends after block 4: 6 and 7 did not come (5 did); each is settled once, in order.
  assert.ok(q.arrived(run, run.reqs[4]!));
  const rest: number[] = [];
  q.settle(run, (r) => rest.push(r.begin / BLOCK), 5);
  assert.deepEqual(rest, [6, 7]);
  assert.ok(q.add(req(0, 6 * BLOCK)) && q.add(req(0, 3 * BLOCK)), 'settled: none in flight');
  // The short piece: its short last block is found too.
  assert.equal(q.add(req(1, 2 * BLOCK, 100)), false);
  assert.ok(q.arrived(short, short.reqs[2]!));
  assert.ok(q.add(req(1, 2 * BLOCK, 100)));
});

test('readContentRange: ranges, a 416\'s unsatisfied form, and refusals (one reader for get, web seeds, HTTP peers and the proxy)', () => {
  assert.deepEqual(readContentRange('bytes 0-99/100'), { first: 0, last: 99, complete: 100 });
  assert.deepEqual(readContentRange(' bytes 5-5/* '), { first: 5, last: 5, complete: undefined });
  assert.deepEqual(readContentRange('bytes */4096'), { unsatisfied: true, complete: 4096 });
  for (const bad of [undefined, '', 'bytes */*', 'bytes 9-3/10', 'bytes 0-10/10', 'bytes -1-3/10', 'items 0-1/2', 'bytes 0-1/2, 4-5/6', `bytes 0-1/${'9'.repeat(17)}`, `bytes 0-1/2${' '.repeat(100)}`, 'bytes 0x1-2/3']) {
    assert.equal(readContentRange(bad), undefined, JSON.stringify(bad));
  }
  fc.assert(
    fc.property(fc.nat(2 ** 40), fc.nat(2 ** 40), fc.nat(2 ** 40), (a, b, extra) => {
      const first = Math.min(a, b);
      const last = Math.max(a, b);
      assert.deepEqual(readContentRange(`bytes ${first}-${last}/${last + 1 + extra}`), { first, last, complete: last + 1 + extra });
      assert.equal(readContentRange(`bytes ${first}-${last}/${last}`), undefined, 'last at the complete length');
    }),
  );
});

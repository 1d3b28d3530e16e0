/**
 * `get -H 'Authorization: …'` (or a Cookie) is for the URL's own origin: a redirect to another
 * host, scheme or port must not carry it there (curl drops them unless `--location-trusted`).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getUrl } from '../../src/gateway/index.js';
import { headersFor, headersForAll } from '../../src/gateway/redirect-headers.js';
import { front } from './lone-front.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { TEST_STALL_MS } from './helpers.js';

const SECRET = { authorization: 'Bearer TOPSECRET', cookie: 'sid=1', 'proxy-authorization': 'Basic eA==', 'x-trace': 'kept' };

test('headersFor: everything on the same origin, no credentials on another host, port or scheme', () => {
  assert.deepEqual(headersFor(SECRET, 'http://a.example/x', 'http://a.example/y?z'), SECRET);
  assert.deepEqual(headersFor(SECRET, 'http://a.example/x', 'http://A.EXAMPLE:80/y'), SECRET, 'the same origin, spelled otherwise');
  for (const to of ['http://b.example/x', 'http://a.example:8080/x', 'https://a.example/x', 'not a url']) {
    assert.deepEqual(headersFor(SECRET, 'http://a.example/x', to), { 'x-trace': 'kept' }, to);
  }
  assert.deepEqual(headersFor({ Authorization: 'x', COOKIE: 'y' }, 'http://a/', 'http://b/'), {}, 'names in any case');
  assert.equal(headersFor(undefined, 'http://a/', 'http://b/'), undefined);
  assert.deepEqual(headersForAll(SECRET, 'http://a/x', ['http://a/y', 'http://a/z']), SECRET);
  assert.deepEqual(headersForAll(SECRET, 'http://a/x', []), SECRET);
  assert.deepEqual(headersForAll(SECRET, 'http://a/x', ['http://a/y', 'http://cdn/z']), { 'x-trace': 'kept' });
});

test("the torrent's web seed on another origin (a lone get's stream): no credentials there; on the URL's own origin they go", { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const f = await front(t, join(dir, 'f'), { announceList: [], torrentHeaders: { 'torrenttp-swarm-peers': '0' } });
    const redirect = createServer((req, res) => {
      res.writeHead(302, { location: f.url });
      res.end();
    });
    await new Promise<void>((r) => redirect.listen(0, '127.0.0.1', () => r()));
    t.after(() => {
      redirect.closeAllConnections();
      redirect.close();
    });
    const elsewhere = `http://127.0.0.1:${(redirect.address() as AddressInfo).port}/big.bin`;
    const r = await getUrl({ url: elsewhere, output: { kind: 'file', path: join(dir, 'a.bin') }, headers: SECRET, lingerMs: 0, stallMs: TEST_STALL_MS });
    assert.equal(r.status, 'complete');
    assert.deepEqual(f.ranges, ['bytes=0-'], 'streamed from the web seed');
    assert.deepEqual(f.auths, [''], 'the web seed is not the URL\'s origin: no Authorization');
    // Asked at the web seed's own origin, the user's credentials are its own.
    const same = await front(t, join(dir, 'g'), { announceList: [], torrentHeaders: { 'torrenttp-swarm-peers': '0' } });
    await getUrl({ url: same.url, output: { kind: 'file', path: join(dir, 'b.bin') }, headers: SECRET, lingerMs: 0, stallMs: TEST_STALL_MS });
    assert.deepEqual(same.auths, [SECRET.authorization]);
  }));

/** Origin A redirects every request to B (another port: another origin); B serves `body` with ranges and records each request's headers. */
async function redirectPair(t: TestContext, body: Uint8Array): Promise<{ url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const b = createServer((req, res) => {
    seen.push(req.headers);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m !== null) {
      const start = Number(m[1]);
      res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, etag: '"v1"' });
      res.end(body.subarray(start));
      return;
    }
    res.writeHead(200, { 'content-length': body.length, etag: '"v1"', 'content-type': 'application/octet-stream' });
    res.end(body);
  });
  await new Promise<void>((r) => b.listen(0, '127.0.0.1', () => r()));
  const bPort = (b.address() as AddressInfo).port;
  const a = createServer((req, res) => {
    res.writeHead(302, { location: `http://127.0.0.1:${bPort}${req.url ?? '/'}` });
    res.end();
  });
  await new Promise<void>((r) => a.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const s of [a, b]) {
      s.closeAllConnections();
      s.close();
    }
  });
  return { url: `http://127.0.0.1:${(a.address() as AddressInfo).port}/file.bin`, seen };
}

test('get -C - after a redirect to another origin: the resuming Range request carries no credentials', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const body = bytes(100_000, 3);
    const { url, seen } = await redirectPair(t, body);
    const out = join(dir, 'file.bin');
    writeFileSync(out, body.subarray(0, 40_000));
    const r = await getUrl({ url, output: { kind: 'file', path: out }, resume: true, plainOnly: true, headers: SECRET, stallMs: TEST_STALL_MS });
    assert.equal(r.status, 'complete');
    const resumed = seen.find((h) => h.range !== undefined);
    assert.ok(resumed !== undefined, 'a Range request reached B');
    assert.equal(resumed.range, 'bytes=40000-');
    assert.equal(resumed.authorization, undefined);
    assert.equal(resumed.cookie, undefined);
    assert.equal(resumed['proxy-authorization'], undefined);
    assert.equal(resumed['x-trace'], 'kept', 'other -H headers still go');
  }));

test('get after a redirect to another origin: the redirected request carries no credentials', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const body = bytes(10_000, 4);
    const { url, seen } = await redirectPair(t, body);
    await getUrl({ url, output: { kind: 'file', path: join(dir, 'f') }, headers: SECRET, stallMs: TEST_STALL_MS });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.authorization, undefined);
    assert.equal(seen[0]!.cookie, undefined);
  }));

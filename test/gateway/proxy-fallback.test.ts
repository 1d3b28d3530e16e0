/**
 * The origin as the fallback: an origin that offers a trackerless torrent (nobody in the swarm)
 * whose `url-list` is the file. After `stallMs` without a byte the proxy asks the origin for the
 * missing pieces (BEP 19 ranges) and the program gets the exact file. When the origin then fails
 * too, mid-body, the connection is cut short: curl exits 18 (partial file), never 0.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'undici';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import fsp, { readdir } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { until } from '../helpers/processes.js';
import { curl, servedBy, startProxy } from './proxy-helpers.js';

const MIB = 1024 * 1024;
const PIECE = 256 * 1024;

/**
 * The torrent's folder cannot be made until the test ends (`mkdir` fails with EACCES, as under a
 * folder the proxy may not write): its storage cannot open. Injected, since root ignores
 * permission bits; a file planted where the folder goes would not do, the proxy removes it
 * (a broken cache entry) and downloads anew.
 */
function refuseFolder(t: TestContext, folder: string): void {
  const real = fsp.mkdir;
  fsp.mkdir = ((...args: Parameters<typeof real>) => {
    if (args[0] === folder) return Promise.reject(Object.assign(new Error(`EACCES: permission denied, mkdir '${folder}'`), { code: 'EACCES' }));
    return real(...args);
  }) as typeof real;
  syncBuiltinESMExports();
  t.after(() => {
    fsp.mkdir = real;
    syncBuiltinESMExports();
  });
}

/**
 * An origin that knows torrents but runs no swarm: the torrent for `Accept: application/x-bittorrent`,
 * the bytes otherwise; ranges at or past `failFrom` get a 500.
 */
async function origin(
  t: TestContext,
  dir: string,
  payload: Uint8Array,
  failFrom = Infinity,
  corrupt = false,
  seed?: string,
): Promise<{ url: string; rangeBytes: () => number; ranges: string[]; torrent: Uint8Array }> {
  const path = join(dir, 'f.bin');
  writeFileSync(path, payload);
  let url = '';
  let rangeBytes = 0;
  const ranges: string[] = [];
  let torrent: Uint8Array | undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range !== null) {
      const start = Number(range[1]);
      const end = Number(range[2]);
      ranges.push(`${start}-${end}`);
      if (end >= failFrom) {
        res.writeHead(500, { 'content-length': 0 });
        res.end();
        return;
      }
      rangeBytes += end - start + 1;
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${payload.length}`, 'content-length': end - start + 1 });
      const body = Buffer.from(payload.subarray(start, end + 1));
      if (corrupt) body[0] = body[0]! ^ 0xff;
      res.end(body);
      return;
    }
    if ((req.headers.accept ?? '').startsWith('application/x-bittorrent') && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': torrent!.length, ...(seed === undefined ? {} : { 'torrenttp-seed': seed }) });
      res.end(torrent);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': payload.length, etag: '"v1"' });
    res.end(req.method === 'HEAD' ? undefined : payload);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`;
  torrent = (await createTorrent(path, { urlList: [url], pieceLength: PIECE, creationDate: null })).torrent;
  return { url, rangeBytes: () => rangeBytes, ranges, torrent };
}

test('the swarm stalls: the origin sends the pieces as a web seed, and the program gets the exact file', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, 'www'));
    const payload = bytes(4 * MIB + 99, 51);
    const o = await origin(t, join(dir, 'www'), payload);
    // 2 s: the origin's answers must keep coming within one stall even on a loaded machine, or
    // the proxy rightly cuts the response short (the next test).
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 2000 });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, o.url, '-o', out, '-D', '-']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /etag: "v1"/i);
    assert.ok(readFileSync(out).equals(Buffer.from(payload)), 'byte-identical');
    assert.ok(o.rangeBytes() >= payload.length, 'the origin sent the pieces as ranges');
    // The proxy logs a request once its response has ended: curl may exit a moment before.
    await until('the request to be logged', () => servedBy(log).length > 0, 5000);
    assert.deepEqual(servedBy(log), ['200 swarm']);
    assert.ok(log.entries.some((e) => e.msg?.includes('asking the origin (web seed)')));
  }));

test('a cold fetch: the piece under the program\'s position comes from the origin at once (one ranged GET of that piece), not after a stall', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, 'www'));
    const payload = bytes(4 * MIB, 54);
    const o = await origin(t, join(dir, 'www'), payload);
    // Nobody in the swarm and a stall far beyond the test: only the first-piece fetch can answer.
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
    const first = 3 * PIECE + 10;
    const last = 3 * PIECE + 5000;
    const part = join(dir, 'part.bin');
    const r = await curl(t, ['-x', proxy.url, '-r', `${first}-${last}`, o.url, '-o', part, '--max-time', '40']);
    assert.equal(r.code, 0, `curl exit code (${r.stderr})`);
    assert.ok(readFileSync(part).equals(Buffer.from(payload.subarray(first, last + 1))), 'the range, byte-identical');
    assert.deepEqual(o.ranges, [`${3 * PIECE}-${4 * PIECE - 1}`], 'one ranged GET, of exactly that piece');
    await until('the request to be logged', () => servedBy(log).length > 0, 5000);
    assert.deepEqual(servedBy(log), ['206 swarm']);
    assert.ok(!log.entries.some((e) => e.msg?.includes('asking the origin (web seed)')), 'no stall fallback');
  }));

test('swarm and origin both fail mid-body: the connection is cut short and curl exits 18', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, 'www'));
    const payload = bytes(4 * MIB, 52);
    const o = await origin(t, join(dir, 'www'), payload, 2 * MIB);
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 500 });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, o.url, '-o', out, '--max-time', '20']);
    assert.equal(r.code, 18, `curl exit code (${r.stderr})`);
    const got = readFileSync(out);
    assert.ok(got.length >= PIECE && got.length < payload.length, `a short body (${got.length} bytes)`);
    assert.ok(got.equals(Buffer.from(payload.subarray(0, got.length))), 'what arrived is the file’s start');
    assert.ok(log.entries.some((e) => (e.obj as { cut?: string }).cut === 'failed'));
  }));

test('the torrent cannot be opened in the cache folder after the headers went out: the origin sends the body, exact for a range too', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, 'www'));
    const payload = bytes(2 * MIB + 7, 53);
    const o = await origin(t, join(dir, 'www'), payload);
    const offered = await request(o.url, { headers: { accept: 'application/x-bittorrent' } });
    const { infoHash } = parseTorrent(new Uint8Array(await offered.body.arrayBuffer()));
    // The torrent's folder cannot be made: its storage cannot open.
    refuseFolder(t, join(dir, 'pcache', infoHash));
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, o.url, '-o', out, '-D', '-']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /^HTTP\/1\.1 200/);
    assert.ok(readFileSync(out).equals(Buffer.from(payload)), 'byte-identical');
    const part = join(dir, 'part.bin');
    const rr = await curl(t, ['-x', proxy.url, '-r', '1000-300000', o.url, '-o', part, '-D', '-']);
    assert.equal(rr.code, 0, rr.stderr);
    assert.match(rr.stdout.toString(), new RegExp(`^HTTP/1\\.1 206[^]*content-range: bytes 1000-300000/${payload.length}`, 'i'));
    assert.ok(readFileSync(part).equals(Buffer.from(payload.subarray(1000, 300001))), 'the range, byte-identical');
    await until('both requests to be logged', () => servedBy(log).length >= 2, 5000);
    assert.deepEqual(servedBy(log), ['200 passthrough', '206 passthrough']);
  }));

test('a cold fetch\'s first piece goes to the program from memory and into the cache: the origin sends it once, the web seed fallback never asks for it again', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, 'www'));
    const payload = bytes(4 * MIB, 56);
    const o = await origin(t, join(dir, 'www'), payload);
    // Nobody in the swarm: after 1 s the origin sends the rest as a web seed, piece by piece.
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 1000 });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, o.url, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(out).equals(Buffer.from(payload)), 'byte-identical');
    assert.deepEqual(o.ranges.filter((x) => x.startsWith('0-')), [`0-${PIECE - 1}`], 'piece 0 asked of the origin once, as one ranged GET');
    // The engine got piece 0 from memory: it is in the cache, which now serves the whole file.
    const again = join(dir, 'again.bin');
    const r2 = await curl(t, ['-x', proxy.url, o.url, '-o', again]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(readFileSync(again).equals(Buffer.from(payload)), 'from the cache, byte-identical');
    await until('both requests to be logged', () => servedBy(log).length >= 2, 5000);
    assert.deepEqual(servedBy(log), ['200 swarm', '200 cache']);
  }));

// (A cold fetch's first piece that fails its check: proxy-head.test.ts, the origin's answer passes through.)
test('a torrent held from an earlier run, from an origin whose ranges are corrupt, with an honest seed: the first piece from the origin fails its check and the program gets the exact file, piece 0 from the swarm', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, 'www'));
    mkdirSync(join(dir, 'seed'));
    const payload = bytes(2 * MIB, 57);
    writeFileSync(join(dir, 'seed', 'f.bin'), payload);
    const seeder = new Client({ host: '127.0.0.1' });
    t.after(() => seeder.close());
    const port = await seeder.listen();
    const o = await origin(t, join(dir, 'www'), payload, Infinity, true, `127.0.0.1:${port}`);
    await seeder.add(o.torrent, { path: join(dir, 'seed'), skipVerify: true, webSeeds: false, trackers: false });
    // The folder an earlier run left: the offer is confirmed with a HEAD, the piece asked once the torrent is open.
    mkdirSync(join(dir, 'pcache', parseTorrent(o.torrent).infoHash), { recursive: true });
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'pcache'), stallMs: 600_000 });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, o.url, '-o', out, '--max-time', '40']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(out).equals(Buffer.from(payload)), 'byte-identical: not one byte of the corrupt piece');
    assert.deepEqual(o.ranges, [`0-${PIECE - 1}`], 'the origin was asked for the first piece, once');
  }));

test('the torrent cannot be opened after the first piece went out from memory: the origin sends the rest, and the body is exact', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, 'www'));
    const payload = bytes(2 * MIB + 9, 58);
    const o = await origin(t, join(dir, 'www'), payload);
    const { infoHash } = parseTorrent(o.torrent);
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    // After the proxy looked at its cache folder: the torrent's folder cannot be made.
    refuseFolder(t, join(dir, 'pcache', infoHash));
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, o.url, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(out).equals(Buffer.from(payload)), 'byte-identical');
    assert.deepEqual(o.ranges, [`0-${PIECE - 1}`, `${PIECE}-${payload.length - 1}`], 'the first piece, then the rest of the body');
    await until('the request to be logged', () => servedBy(log).length > 0, 5000);
    assert.deepEqual(servedBy(log), ['200 passthrough']);
  }));

test("an origin's own 503 goes to the program as it came, from one request; only serve's hashing answer (GATEWAY_HASHING) has the proxy fetch the bytes plainly", { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const seen: string[] = [];
    const hashing = JSON.stringify({ type: 'about:blank', title: 'hashing', status: 503, code: 'GATEWAY_HASHING' });
    const server = createServer((req, res) => {
      seen.push(`${req.url} ${(req.headers.accept ?? '').split(',')[0]}`);
      if (req.url === '/busy') return void res.writeHead(503, { 'retry-after': '5', 'content-length': 4 }).end('busy');
      if ((req.headers.accept ?? '').startsWith('application/x-bittorrent')) {
        return void res.writeHead(503, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(hashing) }).end(hashing);
      }
      res.writeHead(200, { 'content-length': 5 }).end('bytes');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'cache') });
    const busy = await curl(t, ['-x', proxy.url, `${base}/busy`, '-D', '-']);
    assert.match(busy.stdout.toString(), /^HTTP\/1\.1 503 [^]*retry-after: 5\r\n[^]*\r\n\r\nbusy$/i);
    assert.deepEqual(seen, ['/busy application/x-bittorrent'], 'one request: the negotiation\'s answer is the program\'s');
    seen.length = 0;
    const hashed = await curl(t, ['-x', proxy.url, `${base}/f.bin`]);
    assert.equal(hashed.stdout.toString(), 'bytes');
    assert.deepEqual(seen, ['/f.bin application/x-bittorrent', '/f.bin */*'], 'serve hashing: the bytes, plainly');
  }));

test('a URL discarded while a reader holds its torrent (a warm-up fetch that timed out): the torrent and its folder go once the reader leaves', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, 'www'));
    const payload = bytes(4 * MIB, 55);
    const o = await origin(t, join(dir, 'www'), payload);
    // Nobody in the swarm and no stall fallback within the test: after the first piece (from the
    // origin, at once) the response waits, its reader holding the torrent.
    const cacheDir = join(dir, 'pcache');
    const { proxy } = await startProxy(t, { cacheDir, stallMs: 600_000 });
    let got = 0;
    const req = httpRequest({ host: proxy.address.host, port: proxy.address.port, path: o.url, agent: false }, (res) => res.on('data', (c: Buffer) => (got += c.length)).on('error', () => undefined));
    req.on('error', () => undefined).end();
    t.after(() => req.destroy());
    await until('the first piece', () => got >= PIECE, 30_000);
    await proxy.cache.discard(o.url);
    assert.equal(proxy.cache.usage().torrents, 1, 'held while its reader is');
    // A FIN, not a reset (as the warm-up's fetch leaves on its timeout): the proxy ends the
    // request at once (Squid's half_closed_clients off), not when --stall (here 10 minutes) ends it.
    req.destroy();
    await until('the torrent and its folder to go', async () => proxy.cache.usage().torrents === 0 && (await readdir(cacheDir)).length === 0, 40_000);
  }));

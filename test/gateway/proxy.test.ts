/**
 * `torrenttp proxy` in process against `serve` (a Gateway), with curl as the program: the file
 * comes from the swarm (streamed from the server while the proxy is alone in it, at most the first piece as plain HTTP), exact 206, HEAD and 304 as the
 * origin, a second fetch from the cache with the origin gone, two programs sharing one download
 * (and a second seed carrying part of it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { Client } from '../../src/engine/index.js';
import type { Gateway } from '../../src/gateway/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';
import { curl, servedBy, startProxy } from './proxy-helpers.js';

const MIB = 1024 * 1024;

interface Totals {
  readonly plainBytes: number;
  readonly plainResponses: number;
  readonly peerBytes: number;
  readonly webSeedBytes: number;
}

async function totals(g: Gateway): Promise<Totals> {
  const r = await request(`${g.url}/.torrenttp/status.json`);
  return ((await r.body.json()) as { totals: Totals }).totals;
}

/** Until serve's tracker counts `n` seeds of its one swarm (its own and others that announced). */
async function seedsOnTracker(g: Gateway, n: number): Promise<void> {
  await until(`${n} seeds on serve's tracker`, async () => {
    const doc = (await (await request(`${g.url}/.torrenttp/status.json`)).body.json()) as { swarms: { seeds: number | null }[] };
    return (doc.swarms[0]?.seeds ?? 0) >= n;
  }, 20_000);
}

function same(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `${what}: byte-identical`);
}

test('curl through the proxy: the file from the swarm, exact 206, HEAD and 304 as the origin, then from the cache with the origin gone', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(12 * MIB + 12345, 7);
    writeFileSync(join(root, 'big.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'gcache'), pieceLength: 256 * 1024 });
    const url = `${g.url}/big.bin`;
    await torrentOf(url);
    const before = await totals(g);
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });

    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, url, '-o', out, '-w', '%{http_code}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), '200');
    same(readFileSync(out), payload, 'swarm download');
    const after = await totals(g);
    // At most the first piece as plain HTTP (the cold start's one ranged GET, proxy-cache.ts),
    // and the file once: streamed for the swarm (the proxy alone in it: lone-stream.ts), its
    // seed asked for nothing.
    assert.ok(after.plainBytes - before.plainBytes <= 256 * 1024, `at most one piece as plain HTTP (${after.plainBytes - before.plainBytes} bytes)`);
    assert.ok(after.plainResponses - before.plainResponses <= 2, `at most the first piece and the stream (${after.plainResponses - before.plainResponses})`);
    assert.equal(after.webSeedBytes - before.webSeedBytes, payload.length, 'the file streamed once');
    assert.equal(after.peerBytes - before.peerBytes, 0, "nothing from the server's seed");

    // Range: an exact 206 from the swarm's pieces.
    const range = await curl(t, ['-x', proxy.url, '-r', '1000000-1999999', url, '-D', '-', '-o', join(dir, 'range.bin')]);
    assert.equal(range.code, 0, range.stderr);
    assert.match(range.stdout.toString(), /^HTTP\/1\.1 206/);
    assert.match(range.stdout.toString(), new RegExp(`content-range: bytes 1000000-1999999/${payload.length}`, 'i'));
    same(readFileSync(join(dir, 'range.bin')), payload.subarray(1_000_000, 2_000_000), 'range');

    // HEAD: the origin's headers.
    const direct = await request(url, { method: 'HEAD' });
    const head = (await curl(t, ['-x', proxy.url, '-I', url])).stdout.toString();
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, new RegExp(`content-length: ${payload.length}\\r\\n`, 'i'));
    assert.ok(head.toLowerCase().includes(`etag: ${String(direct.headers.etag).toLowerCase()}`), head);
    assert.ok(head.includes(String(direct.headers['last-modified'])), head);
    // A conditional GET: 304, as the origin would answer.
    const cond = await curl(t, ['-x', proxy.url, '-H', `If-None-Match: ${String(direct.headers.etag)}`, url, '-o', '/dev/null', '-w', '%{http_code}']);
    assert.equal(cond.stdout.toString(), '304');

    // The origin gone: the second fetch comes from the cache, with no byte from the network.
    await g.close();
    const again = join(dir, 'again.bin');
    const r2 = await curl(t, ['-x', proxy.url, url, '-o', again]);
    assert.equal(r2.code, 0, r2.stderr);
    same(readFileSync(again), payload, 'cache hit');
    await until('every request to be logged', () => servedBy(log).length >= 5, 5000); // logged once a response has ended: curl may exit first
    assert.deepEqual(servedBy(log), ['200 swarm', '206 cache', '200 cache', '304 cache', '200 cache']);
  }));

test('two programs fetching one file at once share one download; a second seed carries part of it', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(16 * MIB, 8);
    writeFileSync(join(root, 'shared.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'gcache'), pieceLength: 256 * 1024 });
    const url = `${g.url}/shared.bin`;
    const torrent = await torrentOf(url);
    // Another seed of the same file, found through the server's tracker.
    const seedDir = join(dir, 'seed');
    mkdirSync(seedDir);
    writeFileSync(join(seedDir, 'shared.bin'), payload);
    const seed = new Client({ host: '127.0.0.1' });
    t.after(() => seed.close());
    await seed.add(torrent, { path: seedDir, skipVerify: true, webSeeds: false });
    await seedsOnTracker(g, 2);
    const before = await totals(g);
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });

    const [a, b] = await Promise.all([
      curl(t, ['-x', proxy.url, url, '-o', join(dir, 'a.bin')]),
      curl(t, ['-x', proxy.url, url, '-o', join(dir, 'b.bin')]),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    same(readFileSync(join(dir, 'a.bin')), payload, 'first program');
    same(readFileSync(join(dir, 'b.bin')), payload, 'second program');
    assert.equal(proxy.cache.usage().torrents, 1, 'one torrent for both');
    const after = await totals(g);
    const origin = after.peerBytes - before.peerBytes + (after.plainBytes - before.plainBytes) + (after.webSeedBytes - before.webSeedBytes);
    assert.ok(origin < payload.length, `the origin uploaded ${origin} bytes, less than the file (${payload.length}): the other seed sent the rest`);
    await until('every request to be logged', () => servedBy(log).length >= 2, 5000); // logged once a response has ended: curl may exit first
    assert.equal(servedBy(log).length, 2);
  }));

test('over --cache-size the least recently used file leaves the cache folder; the proxy seeds what it keeps', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const files = { 'a.bin': bytes(2 * MIB, 71), 'b.bin': bytes(2 * MIB + 1, 72) };
    for (const [name, data] of Object.entries(files)) writeFileSync(join(root, name), data);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'gcache'), pieceLength: 256 * 1024 });
    const hashes: string[] = [];
    for (const name of Object.keys(files)) hashes.push(parseTorrent(await torrentOf(`${g.url}/${name}`)).infoHash);
    const cacheDir = join(dir, 'pcache');
    const { proxy } = await startProxy(t, { cacheDir, cacheSizeBytes: 3 * MIB });
    for (const [name, data] of Object.entries(files)) {
      const out = join(dir, `out-${name}`);
      const r = await curl(t, ['-x', proxy.url, `${g.url}/${name}`, '-o', out]);
      assert.equal(r.code, 0, r.stderr);
      same(readFileSync(out), data, name);
    }
    await until('a.bin to be evicted', () => !existsSync(join(cacheDir, hashes[0]!)), 40_000);
    assert.ok(existsSync(join(cacheDir, hashes[1]!, 'data')), 'b.bin stays');
    assert.deepEqual(proxy.cache.usage(), { torrents: 1, bytes: files['b.bin'].length });
    assert.equal(proxy.cache.torrent(hashes[1]!)?.complete, true, 'b.bin is seeded');
  }));

test('a peer sending corrupt data: the program still receives the exact file', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(8 * MIB, 81);
    writeFileSync(join(root, 'c.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'gcache'), pieceLength: 256 * 1024 });
    const url = `${g.url}/c.bin`;
    const torrent = await torrentOf(url);
    // A liar: claims every piece, every byte flipped.
    const liarDir = join(dir, 'liar');
    mkdirSync(liarDir);
    writeFileSync(join(liarDir, 'c.bin'), Buffer.from(payload).map((b) => b ^ 0xff));
    const liar = new Client({ host: '127.0.0.1' });
    t.after(() => liar.close());
    const lying = await liar.add(torrent, { path: liarDir, skipVerify: true, webSeeds: false });
    await seedsOnTracker(g, 2);
    // The origin's seed may serve the whole file before the proxy meets the liar: fresh proxies
    // (cold caches) until one got the liar's bytes; every program's copy must be exact.
    for (let round = 0; round < 5 && lying.stats().uploaded === 0; round++) {
      const { proxy } = await startProxy(t, { cacheDir: join(dir, `pcache${round}`) });
      const out = join(dir, `out${round}.bin`);
      const r = await curl(t, ['-x', proxy.url, url, '-o', out]);
      assert.equal(r.code, 0, r.stderr);
      same(readFileSync(out), payload, 'despite the liar');
      await proxy.close(); // its cache would be the next proxy's honest peer
    }
    assert.ok(lying.stats().uploaded > 0, 'the liar did send data');
  }));

/**
 * The status endpoint of `torrenttp serve`: `/.torrenttp/status.json` counts plain-HTTP body
 * bytes (split by eligibility, per offered file) apart from the bytes the server's seed uploads
 * as a wire peer, and lists each swarm with the tracker's seeds and leechers. `/.torrenttp/` is
 * the HTML page (its browser test is test/interop/serve-status-browser.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { Client } from '../../src/engine/index.js';
import type { Gateway } from '../../src/gateway/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { rawRequest, startGateway, torrentOf } from './helpers.js';
import { Script } from 'node:vm';

const MIB = 1024 * 1024;

interface Doc {
  version: number;
  time: number;
  tracker: { store: string; error: string | null };
  totals: { plainBytes: number; plainEligibleBytes: number; plainIneligibleBytes: number; plainResponses: number; peerBytes: number; webSeedBytes: number };
  files: { path: string; size: number; state: string; infoHash: string | null; plainBytes: number; webSeedBytes: number }[];
  swarms: { infoHash: string; paths: string[]; seeds: number | null; leechers: number | null; completed: number | null; peers: number; peerBytes: number }[];
}

async function status(g: Gateway): Promise<Doc> {
  const r = await request(`${g.url}/.torrenttp/status.json`);
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.match(String(r.headers['etag']), /^W\/"[^"]+"$/);
  return (await r.body.json()) as Doc;
}

async function body(url: string, headers: Record<string, string> = {}): Promise<Buffer> {
  const r = await request(url, { headers });
  assert.ok(r.statusCode === 200 || r.statusCode === 206, `${url}: ${r.statusCode}`);
  return Buffer.from(await r.body.arrayBuffer());
}

test('status.json: plain bytes by eligibility and file, bytes sent as a wire peer, swarm seeds and leechers', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(join(root, 'v'), { recursive: true });
    const big = bytes(3 * MIB + 77, 1);
    const small = bytes(1000, 2);
    writeFileSync(join(root, 'v', 'big file.bin'), big);
    writeFileSync(join(root, 'small.txt'), small);
    const g = await startGateway(t, { root });

    const empty = await status(g);
    assert.equal(empty.version, 1);
    assert.equal(empty.tracker.store, 'memory');
    assert.deepEqual(empty.totals, { plainBytes: 0, plainEligibleBytes: 0, plainIneligibleBytes: 0, plainResponses: 0, peerBytes: 0, webSeedBytes: 0 });
    assert.deepEqual(empty.files, []);
    assert.deepEqual(empty.swarms, []);

    // Plain HTTP: a whole small file, a whole big one, a range of the big one; HEAD and 304 send no body.
    const url = `${g.url}/v/big%20file.bin`;
    assert.deepEqual(await body(`${g.url}/small.txt`), Buffer.from(small));
    assert.deepEqual(await body(url), Buffer.from(big));
    assert.equal((await body(url, { range: 'bytes=100-1099' })).length, 1000);
    assert.equal((await request(url, { method: 'HEAD' })).statusCode, 200);
    // A range for a client that asked for the torrent (aria2's web seed with the header, a lone
    // torrenttp get): the server as the swarm's web seed, not plain HTTP. An Accept that does not
    // prefer the torrent stays plain.
    const torrentAccept = 'application/x-bittorrent, */*;q=0.1';
    assert.equal((await body(url, { range: 'bytes=0-499', accept: torrentAccept })).length, 500);
    assert.equal((await body(url, { range: 'bytes=0-99', accept: 'application/x-bittorrent;q=0.1, */*' })).length, 100);
    const plain = await status(g);
    assert.equal(plain.totals.webSeedBytes, 500);
    assert.equal(plain.totals.plainIneligibleBytes, small.length);
    assert.equal(plain.totals.plainEligibleBytes, big.length + 1100);
    assert.equal(plain.totals.plainBytes, small.length + big.length + 1100);
    assert.equal(plain.totals.plainResponses, 5);
    assert.equal(plain.totals.peerBytes, 0);
    assert.deepEqual(plain.files, [{ path: '/v/big file.bin', size: big.length, state: 'plain', infoHash: null, plainBytes: big.length + 1100, webSeedBytes: 500 }]);

    // The swarm: a leecher that reaches only the server's wire seed (no web seed).
    const torrent = await torrentOf(url);
    const { metainfo } = await createTorrent(join(root, 'v', 'big file.bin'), { creationDate: null });
    const client = new Client({ port: 0, allowLoopbackPeers: true });
    t.after(() => client.close());
    const leech = await client.add(torrent, { path: join(dir, 'dl'), webSeeds: false });
    await leech.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'big file.bin')), Buffer.from(big));

    // The tracker's counts are the announces it took: the server seed's own (its first, over UDP, races the
    // leecher, which found the seed in its tracker answer without it) may come after the download.
    let after = await status(g);
    await until('the server seed and the leecher on the tracker', async () => {
      // A row's bytes may lag the totals by STATUS_COUNTERS_MAX_AGE_MS (1 s): wait for them too.
      const s = (after = await status(g)).swarms[0];
      return s !== undefined && (s.seeds ?? 0) >= 1 && (s.seeds ?? 0) + (s.leechers ?? 0) >= 2 && s.peerBytes === after.totals.peerBytes;
    }, 20_000);
    assert.equal(after.totals.plainBytes, plain.totals.plainBytes, 'the download used no plain HTTP');
    // Bytes sent, duplicates included: on a loaded machine a block that outlives the leecher's
    // request timeout is asked again and sent twice (up to 17% seen), so the bound is 1.3×.
    assert.ok(after.totals.peerBytes >= big.length && after.totals.peerBytes < big.length * 1.3, `peer bytes ${after.totals.peerBytes}`);
    assert.deepEqual(after.files.map((f) => [f.path, f.state, f.infoHash]), [['/v/big file.bin', 'ready', metainfo.infoHash]]);
    assert.equal(after.swarms.length, 1);
    const swarm = after.swarms[0]!;
    assert.equal(swarm.infoHash, metainfo.infoHash);
    assert.deepEqual(swarm.paths, ['/v/big file.bin']);
    assert.equal(swarm.peerBytes, after.totals.peerBytes);
    assert.ok(swarm.seeds !== null && swarm.seeds >= 1, 'the server seed is in the swarm');
    assert.equal((swarm.seeds ?? 0) + (swarm.leechers ?? 0) >= 2, true, 'the leecher is in the swarm');

    // A range that names the file's torrent (a lone get's stream, torrenttp-web-seed): the web
    // seed too; one naming another info-hash stays plain.
    assert.equal((await body(url, { range: 'bytes=0-299', 'torrenttp-web-seed': metainfo.infoHash })).length, 300);
    assert.equal((await body(url, { range: 'bytes=0-199', 'torrenttp-web-seed': '0'.repeat(40) })).length, 200);
    const named = await status(g);
    assert.equal(named.totals.webSeedBytes, after.totals.webSeedBytes + 300);
    assert.equal(named.totals.plainBytes, after.totals.plainBytes + 200);

    // A retired torrent (the file changed) keeps its bytes in the totals.
    writeFileSync(join(root, 'v', 'big file.bin'), bytes(3 * MIB, 9));
    await g.checkFiles();
    await client.remove(metainfo.infoHash);
    for (let i = 0; i < 100 && (await status(g)).swarms.length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const retired = await status(g);
    assert.deepEqual(retired.swarms, []);
    assert.ok(retired.totals.peerBytes >= after.totals.peerBytes);
  }));

test('status.json: a deleted file leaves it at once (its torrent retired), as a request for it finds it gone; no timer needed', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'gone.bin'), bytes(2 * MIB, 5));
    writeFileSync(join(root, 'kept.bin'), bytes(2 * MIB, 6));
    const g = await startGateway(t, { root }); // checkEveryMs: 0, the 5 s timer off
    await torrentOf(`${g.url}/gone.bin`);
    await torrentOf(`${g.url}/kept.bin`);
    const before = await status(g);
    assert.deepEqual(before.files.map((f) => [f.path, f.state]), [['/gone.bin', 'ready'], ['/kept.bin', 'ready']]);
    assert.equal(before.swarms.length, 2);
    rmSync(join(root, 'gone.bin'));
    const miss = await request(`${g.url}/gone.bin`);
    await miss.body.dump();
    assert.equal(miss.statusCode, 404);
    const after = await status(g);
    assert.deepEqual(after.files.map((f) => [f.path, f.state]), [['/kept.bin', 'ready']]);
    assert.deepEqual(after.swarms.flatMap((s) => s.paths), ['/kept.bin'], 'its swarm is gone too');
  }));

test('the status page: HTML with a CSP, /.torrenttp redirects, other reserved paths 404, GET and HEAD only, off with status: false', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'a.txt'), 'a');
    const g = await startGateway(t, { root: dir });
    const page = await request(`${g.url}/.torrenttp/`);
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'/);
    const html = await page.body.text();
    // The page's script parses (a stray quote in it left the page dead, seen only by chromium).
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1];
    assert.ok(script !== undefined, 'one inline script');
    assert.doesNotThrow(() => new Script(script), 'the page script is valid JavaScript');
    assert.match(html, /<svg id="chart"/);
    assert.doesNotMatch(html, /(src|href)="https?:/, 'no external assets');

    const bare = await rawRequest(g.address.port, '/.torrenttp');
    assert.equal(bare.status, 301);
    assert.match(bare.head, /\r\nlocation: \/\.torrenttp\/\r\n/i);
    assert.equal((await rawRequest(g.address.port, '/.torrenttp/meta/x.bencode')).status, 404);
    assert.equal((await rawRequest(g.address.port, '/%2etorrenttp/status.json')).status, 404, 'the cache folder stays a dotfile');
    const post = await rawRequest(g.address.port, '/.torrenttp/status.json', { 'content-length': '0' }, 'POST');
    assert.equal(post.status, 405);
    assert.match(post.head, /\r\nallow: GET, HEAD\r\n/i);
    const head = await rawRequest(g.address.port, '/.torrenttp/status.json', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);

    const off = await startGateway(t, { root: dir, status: false });
    assert.equal((await rawRequest(off.address.port, '/.torrenttp/')).status, 404);
    assert.equal((await rawRequest(off.address.port, '/.torrenttp/status.json')).status, 404);
  }));

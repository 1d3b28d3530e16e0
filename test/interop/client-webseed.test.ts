/**
 * BEP 19 web seeds through the engine: a torrent whose only source is a plain HTTP server
 * completes (single and multi-file); a torrent with a web seed and a wire seed uses both; a server
 * that ignores Range (200 with the whole file) still serves a small torrent, and a large one drops
 * the web seed with a warning that says why; a web seed that serves wrong bytes is banned as a
 * lying wire peer is (two bad pieces), with or without a good source beside it.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Client, type SourceStatus, type Torrent } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { until } from '../helpers/processes.js';
import { startWebSeed } from '../helpers/swarm.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('a torrent with only a web seed completes, single file and folder', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const www = join(dir, 'www');
    mkdirSync(join(www, 'set', 'sub'), { recursive: true });
    const single = bytes(3 * 1024 * 1024 + 5, 1);
    writeFileSync(join(www, 'file.bin'), single);
    const parts: [string, Uint8Array][] = [['a.txt', bytes(10, 2)], ['empty', new Uint8Array(0)], ['sub/b.bin', bytes(700_000, 3)]];
    for (const [p, b] of parts) writeFileSync(join(www, 'set', p), b);
    const web = await startWebSeed(t, www);

    const one = await createTorrent(join(www, 'file.bin'), { pieceLength: 64 * 1024, creationDate: null, urlList: [`${web.url}file.bin`] });
    const many = await createTorrent(join(www, 'set'), { pieceLength: 64 * 1024, creationDate: null, urlList: [web.url] });
    const client = new Client({ listen: false });
    t.after(() => client.close());
    const a = await client.add(one.torrent, { path: join(dir, 'dl') });
    const b = await client.add(many.torrent, { path: join(dir, 'dl') });
    await Promise.all([a.done, b.done]);
    assert.deepEqual(readFileSync(join(dir, 'dl', 'file.bin')), Buffer.from(single));
    for (const [p, bb] of parts) assert.deepEqual(readFileSync(join(dir, 'dl', 'set', p)), Buffer.from(bb), p);
  }));

test('a web seed and a wire seed are both used for one torrent', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const www = join(dir, 'www');
    mkdirSync(www);
    const payload = bytes(12 * 1024 * 1024, 4);
    writeFileSync(join(www, 'p.bin'), payload);
    // The web seed answers once the wire seed has sent a block: on a loaded machine it could
    // otherwise serve all 12 MiB before the wire seed's handshake is done (seen in CI).
    let seed: Torrent | undefined;
    const web = await startWebSeed(t, www, { hold: () => until('the wire seed sends a block', () => (seed?.stats().uploaded ?? 0) > 0, 30_000) });
    const { torrent } = await createTorrent(join(www, 'p.bin'), { pieceLength: 128 * 1024, creationDate: null, urlList: [`${web.url}p.bin`] });

    const seeder = new Client();
    t.after(() => seeder.close());
    seed = await seeder.add(torrent, { path: www, webSeeds: false });
    assert.ok(seed.complete);
    const port = await seeder.listen();

    const leecher = new Client({ listen: false });
    t.after(() => leecher.close());
    const tor = await leecher.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${port}`] });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'p.bin')), Buffer.from(payload));
    assert.ok(web.sent() > 0, 'the web seed served part of it');
    assert.ok(seed.stats().uploaded > 0, 'the wire seed served part of it');
  }));

/** A static server that ignores Range: always 200 and the whole file (as many simple servers do). */
async function startRangeIgnoringServer(t: TestContext, root: string): Promise<{ url: string; gets: string[] }> {
  const gets: string[] = [];
  const server = createServer((req, res) => {
    const path = join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    gets.push(`${req.url} ${req.headers.range ?? ''}`);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return void res.writeHead(404).end();
    }
    res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
    createReadStream(path).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, gets };
}

test('a web server that ignores Range: a small torrent completes byte-identical, single file and folder', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const www = join(dir, 'www');
    mkdirSync(join(www, 'set', 'sub'), { recursive: true });
    const single = bytes(3 * 1024 * 1024 + 5, 5);
    writeFileSync(join(www, 'file.bin'), single);
    const parts: [string, Uint8Array][] = [['a.txt', bytes(10, 6)], ['empty', new Uint8Array(0)], ['sub/b.bin', bytes(700_000, 7)]];
    for (const [p, b] of parts) writeFileSync(join(www, 'set', p), b);
    const web = await startRangeIgnoringServer(t, www);
    const one = await createTorrent(join(www, 'file.bin'), { pieceLength: 64 * 1024, creationDate: null, urlList: [`${web.url}file.bin`] });
    const many = await createTorrent(join(www, 'set'), { pieceLength: 64 * 1024, creationDate: null, urlList: [web.url] });
    const client = new Client({ listen: false });
    t.after(() => client.close());
    const warnings: string[] = [];
    client.on('warning', (m) => warnings.push(m));
    const a = await client.add(one.torrent, { path: join(dir, 'dl') });
    const b = await client.add(many.torrent, { path: join(dir, 'dl') });
    await Promise.all([a.done, b.done]);
    assert.deepEqual(readFileSync(join(dir, 'dl', 'file.bin')), Buffer.from(single));
    for (const [p, bb] of parts) assert.deepEqual(readFileSync(join(dir, 'dl', 'set', p)), Buffer.from(bb), p);
    assert.deepEqual(warnings, []);
    // 49 pieces of file.bin: a few whole-file GETs, not one per piece
    assert.ok(web.gets.filter((g) => g.startsWith('/file.bin')).length <= 4, web.gets.join('\n'));
  }));

test('a web server that ignores Range on a torrent over 64 MiB: the web seed is dropped with a final source failure that says why', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const www = join(dir, 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'big.bin'), 'x');
    truncateSync(join(www, 'big.bin'), 65 * 1024 * 1024); // sparse: zeros hash fast and take no disk
    const web = await startRangeIgnoringServer(t, www);
    const { torrent } = await createTorrent(join(www, 'big.bin'), { pieceLength: 1024 * 1024, creationDate: null, urlList: [`${web.url}big.bin`] });
    const client = new Client({ listen: false });
    t.after(() => client.close());
    // A web seed is added once and never redialled: its final failure says why, or the download just stalls.
    const dropped = new Promise<SourceStatus>((resolve) => client.on('source', (s) => s.final === true && resolve(s)));
    await client.add(torrent, { path: join(dir, 'dl') });
    const s = await dropped;
    assert.equal(s.kind, 'webseed');
    assert.match(s.id, /big\.bin$/);
    assert.equal(s.error?.code, 'TRANSPORT_WEBSEED_NO_RANGE');
    assert.ok(web.gets.length <= 4, `${web.gets.length} GETs before giving up`);
  }));

/**
 * `dir/good/p.bin` (4 MiB: 256 pieces of 16 KiB) and a web seed serving the same file XOR'ed
 * (same size, every piece fails its hash): the payload, the lying web seed's URL of it, and how
 * many requests it got so far.
 */
async function lyingWebSeed(t: TestContext, dir: string, seed: number): Promise<{ good: string; payload: Uint8Array; badUrl: string; badGets: () => number }> {
  const good = join(dir, 'good');
  const bad = join(dir, 'bad');
  mkdirSync(good);
  mkdirSync(bad);
  const payload = bytes(4 * 1024 * 1024, seed);
  writeFileSync(join(good, 'p.bin'), payload);
  writeFileSync(join(bad, 'p.bin'), Uint8Array.from(payload, (b) => b ^ 0x5a));
  const badWeb = await startWebSeed(t, bad);
  let gets = 0;
  badWeb.server.on('request', () => gets++);
  return { good, payload, badUrl: `${badWeb.url}p.bin`, badGets: () => gets };
}

test('a web seed that serves wrong bytes is banned like a lying wire peer: the download completes from the good one, the bad one is asked a bounded number of times, and a final source failure names its URL', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { good, payload, badUrl, badGets } = await lyingWebSeed(t, dir, 8);
    const goodWeb = await startWebSeed(t, good);
    const { torrent } = await createTorrent(join(good, 'p.bin'), { pieceLength: 16 * 1024, creationDate: null, urlList: [badUrl, `${goodWeb.url}p.bin`] });
    const client = new Client({ listen: false });
    t.after(() => client.close());
    const sources: SourceStatus[] = [];
    client.on('source', (s) => sources.push(s));
    const warnings: string[] = [];
    client.on('warning', (m) => warnings.push(m));
    const tor = await client.add(torrent, { path: join(dir, 'dl') });
    await tor.done;
    // Once, though the pieces it sent before the ban fail one after another.
    assert.deepEqual(warnings.filter((w) => w.includes(badUrl)), [`peer banned for sending data that failed the hash check: ${badUrl}`]);
    assert.deepEqual(readFileSync(join(dir, 'dl', 'p.bin')), Buffer.from(payload));
    const dropped = sources.find((s) => s.final === true && s.id === badUrl);
    assert.ok(dropped !== undefined, JSON.stringify(sources));
    assert.equal(dropped.kind, 'webseed');
    assert.equal(dropped.error?.code, 'ENGINE_PEER_BANNED');
    // What was asked before its second bad piece was checked (at most the commit pipeline: one
    // GET per piece, 256, and the first bad piece asked again once its check failed: a sole
    // sender is banned at its second failure, −4 each against −2 × 3), never asked again: without
    // the ban it is asked over and over (1500+). A CI run under load saw 257.
    assert.ok(badGets() <= 257, `${badGets()} GETs to the lying web seed`);
  }));

test('a torrent whose only web seed serves wrong bytes: the web seed is dropped after a few pieces, not asked forever', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { good, badUrl, badGets } = await lyingWebSeed(t, dir, 9);
    const { torrent } = await createTorrent(join(good, 'p.bin'), { pieceLength: 16 * 1024, creationDate: null, urlList: [badUrl] });
    const client = new Client({ listen: false });
    t.after(() => client.close());
    const dropped = new Promise<SourceStatus>((resolve) => client.on('source', (s) => s.final === true && resolve(s)));
    const warnings: string[] = [];
    client.on('warning', (m) => warnings.push(m));
    await client.add(torrent, { path: join(dir, 'dl') });
    const s = await dropped;
    assert.equal(s.id, badUrl);
    // Once, though its pieces that came before the close may fail one after another.
    assert.deepEqual(warnings, [`peer banned for sending data that failed the hash check: ${badUrl}`]);
    assert.equal(s.error?.code, 'ENGINE_PEER_BANNED');
    // What was asked before its second bad piece was checked (at most the commit pipeline: one
    // GET per piece, 256, and the first bad piece asked again once its check failed: a sole
    // sender is banned at its second failure, −4 each against −2 × 3), never asked again: without
    // the ban it is asked over and over (1500+). A CI run under load saw 257.
    assert.ok(badGets() <= 257, `${badGets()} GETs to the lying web seed`);
  }));

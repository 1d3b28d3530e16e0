/**
 * `getUrl` in process, against a Gateway and small node servers: the cases the process-level
 * suite (test/cli/get.test.ts) does not cover. Plain while the server is still hashing (never
 * waiting for the torrent), swarm resume from a `.part` or a plain partial, a stale `.part`
 * dropped without `resume`, the `Link: rel=describedby` route, a multi-file torrent into a
 * folder, a wrong `Repr-Digest`, and the `Link` header parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { describedBy, getUrl, type GetResult } from '../../src/gateway/index.js';
import { Client } from '../../src/engine/index.js';
import { swarmEncryptionOf } from '../../src/gateway/swarm-get.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { relay, seedAndTorrent } from '../helpers/mse-relay.js';
import { httpOrigin } from '../helpers/origin.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { digestReady, startGateway, TEST_STALL_MS } from './helpers.js';
import { demoTorrent, ttpSeed } from './ttp-helpers.js';
import { TorrenttpError } from '../../src/errors/index.js';

const MIB = 1024 * 1024;

async function torrentReady(fileUrl: string): Promise<Uint8Array> {
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${fileUrl}?torrent`);
    const body = new Uint8Array(await r.arrayBuffer());
    if (r.status === 200) return body;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.fail('no torrent');
}

function same(file: string, expected: Uint8Array): void {
  assert.ok(readFileSync(file).equals(Buffer.from(expected)), `${file}: byte-identical`);
}

test('while serve is still hashing, get downloads plainly at once (no waiting for the torrent)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(6 * MIB + 1, 41);
    writeFileSync(join(root, 'f.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    const reasons: string[] = [];
    const r = await getUrl({ url: `${g.url}/f.bin`, output: { kind: 'file', path: join(dir, 'f.bin') }, onEvent: (e) => void (e.type === 'start' && reasons.push(e.reason)), stallMs: TEST_STALL_MS });
    assert.equal(r.mode, 'plain');
    assert.equal(r.digestVerified, false, 'no digest before the file is hashed');
    assert.deepEqual(reasons, ['the server is still making the torrent']);
    same(join(dir, 'f.bin'), payload);
    // Once hashed (the torrent, then the whole file's SHA-256), a plain download checks the Repr-Digest.
    await torrentReady(`${g.url}/f.bin`);
    await digestReady(`${g.url}/f.bin`);
    const again = await getUrl({ url: `${g.url}/f.bin`, output: { kind: 'file', path: join(dir, 'g.bin') }, plainOnly: true, stallMs: TEST_STALL_MS });
    assert.equal(again.digestVerified, true);
    same(join(dir, 'g.bin'), payload);
  }));

test("an origin's own 503 (not serve's hashing answer) is the error it is: no plain re-fetch before --retry sees it", { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const accepts: string[] = [];
    const url = await httpOrigin(t, (req, res) => {
      accepts.push(req.headers.accept ?? '');
      // Overloaded: a 503 with Retry-After, even a problem document, but not coded GATEWAY_HASHING.
      if (req.url === '/busy') return void res.writeHead(503, { 'retry-after': '5' }).end('busy');
      const body = JSON.stringify({ type: 'about:blank', title: 'overloaded', status: 503, code: 'INTERNAL' });
      res.writeHead(503, { 'retry-after': '5', 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
    for (const path of ['/busy', '/problem']) {
      accepts.length = 0;
      await assert.rejects(getUrl({ url: `${url}${path}`, output: { kind: 'file', path: join(dir, 'f.bin') }, stallMs: TEST_STALL_MS }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'GATEWAY_GET_HTTP_STATUS', err.message);
        assert.match(err.message, /503 Service Unavailable/);
        return true;
      });
      assert.equal(accepts.length, 1, `${path}: one request, not a plain re-fetch (${accepts.join(' | ')})`);
    }
  }));

test('swarm resume: a .part or a plain partial is hashed and only the rest is fetched; without resume a stale .part is dropped', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(8 * MIB, 42);
    writeFileSync(join(root, 'r.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache'), pieceLength: 256 * 1024 });
    await torrentReady(`${g.url}/r.bin`);
    const url = `${g.url}/r.bin`;
    const half = payload.length / 2;

    // A swarm .part: full length, first half good, second half zeros.
    const part = new Uint8Array(payload.length);
    part.set(payload.subarray(0, half));
    writeFileSync(join(dir, 'a.bin.part'), part);
    const a = await getUrl({ url, output: { kind: 'file', path: join(dir, 'a.bin') }, resume: true, stallMs: TEST_STALL_MS });
    assert.equal(a.mode, 'swarm');
    same(join(dir, 'a.bin'), payload);
    assert.ok(!existsSync(join(dir, 'a.bin.part')));
    assert.ok(a.downloadedBytes <= half + 256 * 1024, `fetched only the missing half: ${a.downloadedBytes}`);

    // A plain partial (the first half) under the final name.
    writeFileSync(join(dir, 'b.bin'), payload.subarray(0, half));
    const b = await getUrl({ url, output: { kind: 'file', path: join(dir, 'b.bin') }, resume: true, stallMs: TEST_STALL_MS });
    same(join(dir, 'b.bin'), payload);
    assert.ok(b.downloadedBytes <= half + 256 * 1024, `fetched only the missing half: ${b.downloadedBytes}`);

    // Without resume, a stale .part (here: wrong bytes everywhere) is not trusted or kept.
    writeFileSync(join(dir, 'c.bin.part'), bytes(payload.length, 99));
    writeFileSync(join(dir, 'c.bin'), 'old contents');
    const c = await getUrl({ url, output: { kind: 'file', path: join(dir, 'c.bin') }, stallMs: TEST_STALL_MS });
    same(join(dir, 'c.bin'), payload);
    assert.ok(c.downloadedBytes >= payload.length);

    // Resuming onto a file that cannot be this one (longer than the torrent): an error, and the file keeps its name.
    const other = bytes(payload.length + 1, 98);
    writeFileSync(join(dir, 'd.bin'), other);
    await assert.rejects(getUrl({ url, output: { kind: 'file', path: join(dir, 'd.bin') }, resume: true, stallMs: TEST_STALL_MS }), { code: 'STORAGE_FILE_TOO_LONG' });
    same(join(dir, 'd.bin'), other);
    assert.ok(!existsSync(join(dir, 'd.bin.part')));
  }));

test('bytes with Link rel=describedby: get follows the link to the torrent and uses the swarm', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(4 * MIB + 9, 43);
    writeFileSync(join(root, 'l.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentReady(`${g.url}/l.bin`);
    // A front server that ignores Accept: bytes, plus a link to the origin's torrent.
    const front = await httpOrigin(t, (_req, res) => {
      res.writeHead(200, { 'content-length': payload.length, link: `<${g.url}/l.bin?torrent>; rel="describedby"; type="application/x-bittorrent"` });
      res.end(payload);
    });
    const reasons: string[] = [];
    const r = await getUrl({ url: `${front}/l.bin`, output: { kind: 'file', path: join(dir, 'l.bin') }, onEvent: (e) => void (e.type === 'start' && reasons.push(e.reason)), stallMs: TEST_STALL_MS });
    assert.equal(r.mode, 'swarm');
    assert.match(reasons[0]!, /rel=describedby/);
    assert.equal(r.sources.plain, 0);
    same(join(dir, 'l.bin'), payload);
  }));

test('the swarm of an http:// URL is plain BitTorrent by default (no RC4); encryption: prefer still encrypts; https:// defaults to prefer', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    assert.equal(swarmEncryptionOf(['http://a/x', 'HTTP://b/x.torrent']), 'off');
    assert.equal(swarmEncryptionOf(['https://a/x', 'https://a/x']), 'prefer');
    assert.equal(swarmEncryptionOf(['http://a/x', 'https://a/x']), 'prefer', 'redirected to https: the torrent came over TLS');
    const { torrent, payload } = await seedAndTorrent(dir, 2 * MIB + 5);
    const seed = new Client({ host: '127.0.0.1' }); // prefer
    t.after(() => seed.close());
    await seed.add(torrent, { path: join(dir, 'seed'), trackers: false, dht: false });
    const r = await relay(t, seed.port);
    // The torrent (no tracker, no web seed) with its seed named: the relay is the only peer.
    const front = await httpOrigin(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': torrent.length, 'torrenttp-seed': `127.0.0.1:${r.port}` });
      res.end(torrent);
    });
    const plain = await getUrl({ url: `${front}/payload.bin`, output: { kind: 'file', path: join(dir, 'plain.bin') }, stallMs: TEST_STALL_MS });
    assert.equal(plain.mode, 'swarm');
    same(join(dir, 'plain.bin'), payload);
    assert.deepEqual([...new Set(r.starts)], ['plain']);
    const before = r.starts.length;
    const rc4 = await getUrl({ url: `${front}/payload.bin`, output: { kind: 'file', path: join(dir, 'rc4.bin') }, encryption: 'prefer', stallMs: TEST_STALL_MS });
    assert.equal(rc4.mode, 'swarm');
    same(join(dir, 'rc4.bin'), payload);
    assert.deepEqual([...new Set(r.starts.slice(before))], ['encrypted']);
  }));

test('a multi-file torrent downloads into a folder named by -o', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(join(root, 'album', 'disc'), { recursive: true });
    const one = bytes(2 * MIB + 5, 44);
    const two = bytes(3 * MIB + 7, 45);
    writeFileSync(join(root, 'album', 'one.bin'), one);
    writeFileSync(join(root, 'album', 'disc', 'two.bin'), two);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    // The torrent of the folder, web seed = the gateway's root (BEP 19: <url>/<name>/<path>).
    const made = await createTorrent(join(root, 'album'), { urlList: [`${g.url}/`], creationDate: null });
    const front = await httpOrigin(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': made.torrent.length });
      res.end(made.torrent);
    });
    let r: GetResult = await getUrl({ url: `${front}/album`, output: { kind: 'file', path: join(dir, 'mine') }, stallMs: TEST_STALL_MS });
    assert.equal(r.mode, 'swarm');
    same(join(dir, 'mine', 'one.bin'), one);
    same(join(dir, 'mine', 'disc', 'two.bin'), two);
    // Named by default: the torrent's name.
    r = await getUrl({ url: `${front}/album`, output: { kind: 'named', dir: join(dir, 'cwd') }, stallMs: TEST_STALL_MS });
    same(join(dir, 'cwd', 'album', 'disc', 'two.bin'), two);
  }));

test('a multi-file torrent to a stream: GATEWAY_GET_NOT_ONE_FILE before anything is downloaded or written', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent } = await demoTorrent(dir);
    let asked = 0;
    const front = await httpOrigin(t, (_req, res) => {
      asked++;
      res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': torrent.length });
      res.end(torrent);
    });
    const chunks: Buffer[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, cb) => void (chunks.push(c), cb()) });
    await assert.rejects(getUrl({ url: `${front}/demo`, output: { kind: 'stream', stream: sink }, tmpDir: dir, stallMs: TEST_STALL_MS }), (err: unknown) => {
      assert.ok(err instanceof TorrenttpError);
      assert.equal(err.code, 'GATEWAY_GET_NOT_ONE_FILE');
      assert.match(err.message, /demo is a torrent of 2 files .*give a folder with -o/);
      return true;
    });
    assert.equal(asked, 1, 'only the negotiation');
    assert.equal(chunks.length, 0);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('torrenttp-get-')), [], 'no work folder made');
  }));

test('a swarm output that cannot be prepared (a name too long) is GATEWAY_GET_OUTPUT naming it, not an untyped error', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'one.bin'), bytes(50_000, 3));
    const { torrent } = await createTorrent(join(dir, 'one.bin'), { creationDate: null });
    const front = await httpOrigin(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': torrent.length });
      res.end(torrent);
    });
    const path = join(dir, `${'n'.repeat(300)}.bin`);
    await assert.rejects(getUrl({ url: `${front}/one.bin`, output: { kind: 'file', path }, stallMs: TEST_STALL_MS }), (err: unknown) => {
      assert.ok(err instanceof TorrenttpError, String(err));
      assert.equal(err.code, 'GATEWAY_GET_OUTPUT');
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'ENAMETOOLONG');
      assert.ok(err.message.includes(path), err.message);
      return true;
    });
  }));

test('get of a TorrentTTP torrent URL (seed --http-port) takes the pieces from that peer, as download does, though no tracker names it', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, content } = await demoTorrent(dir);
    const seed = await ttpSeed(t, torrent, dir);
    const out = join(dir, 'out');
    const r = await getUrl({ url: seed.url, output: { kind: 'named', dir: out }, stallMs: 20_000 });
    assert.equal(r.mode, 'swarm');
    assert.equal(r.status, 'complete');
    assert.equal(r.name, 'demo', 'named after the torrent, not the info-hash');
    assert.ok(r.sources.http > 0, `bytes from the HTTP peer: ${JSON.stringify(r.sources)}`);
    same(join(out, 'demo', 'docs', 'data.bin'), content.subarray(0, 40_000));
    same(join(out, 'demo', 'readme.txt'), content.subarray(40_000));
  }));

test('a plain body that does not match its Repr-Digest is an error', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(100_000, 46);
    const wrong = createHash('sha256').update('something else').digest('base64');
    const url = await httpOrigin(t, (_req, res) => {
      res.writeHead(200, { 'content-length': payload.length, 'repr-digest': `sha-256=:${wrong}:` });
      res.end(payload);
    });
    await assert.rejects(getUrl({ url: `${url}/d.bin`, output: { kind: 'file', path: join(dir, 'd.bin') }, stallMs: TEST_STALL_MS }), { code: 'GATEWAY_GET_DIGEST_MISMATCH' });
  }));

test('a large plain body: Repr-Digest checked over the whole file, a resumed prefix on disk included; a wrong one is an error', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(20 * MIB + 5, 47);
    const right = createHash('sha256').update(payload).digest('base64');
    let digest = right;
    const url = await httpOrigin(t, (req, res) => {
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const from = m === null ? 0 : Number(m[1]);
      const headers = { 'content-length': payload.length - from, 'repr-digest': `sha-256=:${digest}:`, etag: '"e"' };
      if (m === null) res.writeHead(200, headers);
      else res.writeHead(206, { ...headers, 'content-range': `bytes ${from}-${payload.length - 1}/${payload.length}` });
      res.end(payload.subarray(from));
    });
    const path = join(dir, 'big.bin');
    const r = await getUrl({ url: `${url}/big.bin`, output: { kind: 'file', path }, stallMs: TEST_STALL_MS });
    assert.equal(r.digestVerified, true);
    same(path, payload);
    // A resumed download: the bytes on disk are hashed first, then the rest.
    writeFileSync(path, payload.subarray(0, 9 * MIB + 7));
    const resumed = await getUrl({ url: `${url}/big.bin`, output: { kind: 'file', path }, resume: true, stallMs: TEST_STALL_MS });
    assert.equal(resumed.downloadedBytes, payload.length - (9 * MIB + 7));
    assert.equal(resumed.digestVerified, true);
    same(path, payload);
    digest = createHash('sha256').update('something else').digest('base64');
    await assert.rejects(getUrl({ url: `${url}/big.bin`, output: { kind: 'file', path }, stallMs: TEST_STALL_MS }), { code: 'GATEWAY_GET_DIGEST_MISMATCH' });
    // A damaged prefix on disk fails the check too (the hash covers the whole file, not just what came now).
    digest = right;
    const damaged = Buffer.from(payload.subarray(0, 9 * MIB));
    damaged[12345] = damaged[12345]! ^ 1;
    writeFileSync(path, damaged);
    await assert.rejects(getUrl({ url: `${url}/big.bin`, output: { kind: 'file', path }, resume: true, stallMs: TEST_STALL_MS }), { code: 'GATEWAY_GET_DIGEST_MISMATCH' });
  }));

test('Link header parsing: rel=describedby with the BitTorrent type only, resolved, http(s) only', () => {
  const base = 'http://h:1/dir/f.bin';
  assert.equal(describedBy('</f.bin?torrent>; rel="describedby"; type="application/x-bittorrent"', base), 'http://h:1/f.bin?torrent');
  assert.equal(describedBy('<x.torrent>; type="application/x-bittorrent"; rel="alternate describedby"', base), 'http://h:1/dir/x.torrent');
  assert.equal(describedBy(['<a>; rel="next"', '<b.torrent>; rel=describedby; type=application/x-bittorrent'], base), 'http://h:1/dir/b.torrent');
  assert.equal(describedBy('<m.json>; rel="describedby"; type="application/json"', base), undefined);
  assert.equal(describedBy('<file:///etc/passwd>; rel="describedby"; type="application/x-bittorrent"', base), undefined);
  assert.equal(describedBy(undefined, base), undefined);
  assert.equal(describedBy('garbage <<>>;;', base), undefined);
});

test('a swarm that sends nothing (no peer, web seed answering 404) fails instead of waiting forever', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const data = join(dir, 'gone.bin');
    writeFileSync(data, bytes(MIB, 47));
    let url = '';
    url = await httpOrigin(t, (req, res) => {
      if (req.url === '/gone.bin' && req.headers.range === undefined) {
        void createTorrent(data, { urlList: [`${url}/nowhere.bin`], creationDate: null }).then((made) => {
          res.writeHead(200, { 'content-type': 'application/x-bittorrent' });
          res.end(made.torrent);
        });
        return;
      }
      res.writeHead(404).end();
    });
    await assert.rejects(getUrl({ url: `${url}/gone.bin`, output: { kind: 'file', path: join(dir, 'out.bin') }, stallMs: 1500 }), {
      code: 'GATEWAY_GET_FAILED',
      message: /no byte from the swarm/,
    });
  }));

test('seed: after the download the file (renamed from .part) is seeded until the signal aborts', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(3 * MIB + 17, 48);
    writeFileSync(join(root, 's.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    const torrent = await torrentReady(`${g.url}/s.bin`);
    const ac = new AbortController();
    let port = 0;
    let seeding!: () => void;
    const isSeeding = new Promise<void>((r) => (seeding = r));
    const running = getUrl({
      url: `${g.url}/s.bin`,
      output: { kind: 'file', path: join(dir, 'mine.bin') },
      seed: true,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'start') port = e.port!;
        if (e.type === 'seeding') seeding();
      },
      stallMs: TEST_STALL_MS,
    });
    await isSeeding;
    same(join(dir, 'mine.bin'), payload);
    await g.close(); // the origin is gone: what the leech gets, the seeder had on disk
    // A leech that may use only this seeder: no trackers, no web seed.
    const leech = new Client({ listen: false });
    t.after(() => leech.close());
    const lt = await leech.add(torrent, { path: join(dir, 'leech'), trackers: false, webSeeds: false, peers: [`127.0.0.1:${port}`] });
    await lt.done;
    same(join(dir, 'leech', 's.bin'), payload);
    ac.abort();
    const r = await running;
    assert.equal(r.status, 'complete');
    assert.ok(r.uploadedBytes >= payload.length, `the seeder sent the file: ${r.uploadedBytes}`);
  }));

/**
 * Transparent BitTorrent on one URL: `Accept` picks the bytes, the `.torrent` or the metainfo
 * JSON; `Range` always gets bytes; small files are plain. The torrent is made once, lazily,
 * equals `torrenttp create` and mktorrent, is cached across restarts, is retired when its file
 * changes, and the embedded tracker tracks only it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { createTorrent, HashPool, METAINFO_JSON_MEDIA_TYPE, parseMetainfoJson, parseTorrent } from '../../src/metainfo/index.js';
import { decodeAnnounceResponse, encodeAnnounceQuery } from '../../src/tracker/index.js';
import { cli } from '../helpers/cli.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { recordingLogger, startGateway } from './helpers.js';

const BT = 'application/x-bittorrent';
const MIB = 1024 * 1024;

function sha256b64(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('base64');
}

test('Accept negotiation, torrent equal to torrenttp create and mktorrent, JSON form, digests', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const big = bytes(5 * MIB + 123, 3);
    const small = bytes(MIB - 1, 4);
    writeFileSync(join(root, 'big file.bin'), big);
    writeFileSync(join(root, 'small.bin'), small);
    const log = recordingLogger();
    const g = await startGateway(t, { root, logger: log });
    const url = `${g.url}/big%20file.bin`;

    // Small (ineligible) file: the bytes whatever the Accept, no discovery headers; no ?torrent.
    // `Vary: Accept` still: eligibility is a server rule a restart may change (a shared cache must
    // not hand these bytes to a client asking for the torrent then).
    const plainSmall = await request(`${g.url}/small.bin`, { headers: { accept: BT } });
    assert.equal(plainSmall.statusCode, 200);
    assert.deepEqual(Buffer.from(await plainSmall.body.arrayBuffer()), Buffer.from(small));
    assert.equal(plainSmall.headers['vary'], 'Accept');
    assert.equal(plainSmall.headers['link'], undefined);
    const noTorrent = await request(`${g.url}/small.bin?torrent`);
    assert.equal(noTorrent.statusCode, 404);
    await noTorrent.body.dump();

    // Eligible file, plain client: bytes plus the discovery headers; no digest before hashing.
    const plain = await request(url);
    assert.deepEqual(Buffer.from(await plain.body.arrayBuffer()), Buffer.from(big));
    assert.equal(plain.headers['vary'], 'Accept');
    assert.equal(plain.headers['cache-control'], 'no-transform');
    assert.equal(plain.headers['link'], `</big%20file.bin?torrent>; rel="describedby"; type="${BT}"`);
    assert.equal(plain.headers['repr-digest'], undefined);

    // Many ask at once while nothing is made: 503 + Retry-After until the pieces are hashed
    // (the last asks may already get the torrent), one hashing.
    const first = await Promise.all(Array.from({ length: 10 }, () => request(url, { headers: { accept: `${BT}, */*;q=0.1` } })));
    assert.equal(first[0]!.statusCode, 503);
    for (const r of first) {
      if (r.statusCode === 200) assert.equal(r.headers['content-type'], BT);
      else {
        assert.equal(r.statusCode, 503);
        assert.match(String(r.headers['retry-after']), /^[1-9]\d*$/);
      }
      assert.equal(r.headers['vary'], 'Accept');
      await r.body.dump();
    }
    // Other requests are served meanwhile.
    // Its body is read: one left unread holds its socket paused, and the gateway's teardown then
    // resets it under the body stream, an uncaught ECONNRESET (failed a CI run under load).
    const meanwhile = await request(`${g.url}/small.bin`);
    assert.equal(meanwhile.statusCode, 200);
    await meanwhile.body.dump();
    await g.swarm.settled();
    assert.equal(log.entries.filter((e) => e.msg === 'torrent ready').length, 1, 'hashed once');

    const res = await request(url, { headers: { accept: BT } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], BT);
    assert.equal(res.headers['vary'], 'Accept');
    assert.equal(res.headers['content-location'], '/big%20file.bin?torrent');
    const torrentBytes = new Uint8Array(await res.body.arrayBuffer());
    const served = parseTorrent(torrentBytes);
    assert.deepEqual(served.announceList, [[`${g.url}/announce`], [`udp://127.0.0.1:${g.address.port}`]]);
    assert.deepEqual(served.urlList, [url]);
    assert.equal(served.name, 'big file.bin');

    const made = await createTorrent(join(root, 'big file.bin'), { creationDate: null });
    assert.equal(served.infoHash, made.metainfo.infoHash);
    const created = await cli(dir, ['create', join(root, 'big file.bin'), '-o', join(dir, 'c.torrent'), '--json']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(JSON.parse(created.stdout).infoHash, served.infoHash);
    // With a piece length given (mktorrent's smallest is 32 KiB): mktorrent and create -l agree.
    const g256 = await startGateway(t, { root, pieceLength: 256 * 1024, cacheDir: join(dir, 'cache256') });
    await (await request(`${g256.url}/big%20file.bin?torrent`)).body.dump();
    await g256.swarm.settled();
    const served256 = parseTorrent(new Uint8Array(await (await request(`${g256.url}/big%20file.bin?torrent`)).body.arrayBuffer()));
    assert.equal(served256.pieceLength, 256 * 1024);
    const mk = spawnSync('mktorrent', ['-l', '18', '-d', '-a', 'http://x/announce', '-o', join(dir, 'mk.torrent'), join(root, 'big file.bin')], { encoding: 'utf8' });
    assert.equal(mk.status, 0, mk.stderr);
    assert.equal(parseTorrent(readFileSync(join(dir, 'mk.torrent'))).infoHash, served256.infoHash);
    const created256 = await cli(dir, ['create', join(root, 'big file.bin'), '-l', '18', '-o', join(dir, 'c256.torrent'), '--json']);
    assert.equal(JSON.parse(created256.stdout).infoHash, served256.infoHash);
    assert.notEqual(served256.infoHash, served.infoHash);
    assert.deepEqual(Buffer.from(torrentBytes), Buffer.from(await (await request(`${url}?torrent`)).body.arrayBuffer()), '?torrent is the same');

    // The JSON form, by Accept and by ?metainfo.
    const json = await request(url, { headers: { accept: `${METAINFO_JSON_MEDIA_TYPE}, ${BT};q=0.5` } });
    assert.equal(json.headers['content-type'], METAINFO_JSON_MEDIA_TYPE);
    assert.equal(json.headers['content-location'], '/big%20file.bin?metainfo');
    assert.equal(parseMetainfoJson(await json.body.text()).infoHash, served.infoHash);
    assert.equal(parseMetainfoJson(await (await request(`${url}?metainfo`)).body.text()).infoHash, served.infoHash);

    // A Range always gets bytes (aria2 repeats the user's Accept on web-seed ranges).
    const ranged = await request(url, { headers: { accept: BT, range: 'bytes=10-19' } });
    assert.equal(ranged.statusCode, 206);
    assert.deepEqual(Buffer.from(await ranged.body.arrayBuffer()), Buffer.from(big.subarray(10, 20)));
    // Browsers' Accept and */* get the bytes.
    const browser = await request(url, { method: 'HEAD', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(browser.headers['content-type'], 'application/octet-stream');
    // Hashed now: both digests describe the whole file, on 200 and 206 alike.
    assert.equal(browser.headers['repr-digest'], `sha-256=:${sha256b64(big)}:`);
    assert.equal(browser.headers['digest'], `SHA-256=${sha256b64(big)}`);
    assert.equal(ranged.headers['repr-digest'], `sha-256=:${sha256b64(big)}:`);
  }));

test('the embedded tracker serves /announce for the served torrents only, with the seed in the swarm', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'a.bin'), bytes(2 * MIB, 5));
    const g = await startGateway(t, { root });
    await (await request(`${g.url}/a.bin?torrent`)).body.dump();
    await g.swarm.settled();
    const m = parseTorrent(new Uint8Array(await (await request(`${g.url}/a.bin?torrent`)).body.arrayBuffer()));
    const announce = async (infoHash: Uint8Array) => {
      const q = encodeAnnounceQuery({ infoHash, peerId: randomBytes(20), port: 6881, uploaded: 0, downloaded: 0, left: 100, compact: true });
      const r = await request(`${g.url}/announce?${q}`);
      return decodeAnnounceResponse(new Uint8Array(await r.body.arrayBuffer()));
    };
    const ours = Uint8Array.from(Buffer.from(m.infoHash, 'hex'));
    // The seed announces itself shortly after the torrent is made.
    let reply = await announce(ours);
    for (let i = 0; i < 100 && reply.type === 'ok' && !reply.peers.some((p) => p.port === g.peerPort); i++) {
      await new Promise((r) => setTimeout(r, 50));
      reply = await announce(ours);
    }
    assert.equal(reply.type, 'ok');
    assert.ok(reply.type === 'ok' && reply.peers.some((p) => p.port === g.peerPort), 'the seed is in the swarm');
    const other = await announce(randomBytes(20));
    assert.equal(other.type, 'failure', 'a foreign info-hash is refused');

    const open = await startGateway(t, { root: join(dir, 'www'), openTracker: true, cacheDir: join(dir, 'cache2') });
    const q = encodeAnnounceQuery({ infoHash: randomBytes(20), peerId: randomBytes(20), port: 6881, uploaded: 0, downloaded: 0, left: 100, compact: true });
    assert.equal(decodeAnnounceResponse(new Uint8Array(await (await request(`${open.url}/announce?${q}`)).body.arrayBuffer())).type, 'ok');
  }));

test('a changed file gets a new torrent, the old one leaves the engine; a restart reads the cache', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const file = join(root, 'f.bin');
    const v1 = bytes(3 * MIB, 6);
    writeFileSync(file, v1);
    const log = recordingLogger();
    const g = await startGateway(t, { root, logger: log });
    const torrentOf = async (gw: typeof g) => {
      const r = await request(`${gw.url}/f.bin?torrent`);
      if (r.statusCode === 503) {
        await r.body.dump();
        await gw.swarm.settled();
        return torrentOf(gw);
      }
      return parseTorrent(new Uint8Array(await r.body.arrayBuffer()));
    };
    const old = await torrentOf(g);
    assert.deepEqual(g.swarm.infoHashes(), [old.infoHash]);

    const v2 = bytes(3 * MIB, 7); // same size, other bytes, later mtime
    writeFileSync(file, v2);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await g.checkFiles();
    assert.deepEqual(g.swarm.infoHashes(), [], 'the old torrent is retired at once');
    const plain = await request(`${g.url}/f.bin`);
    assert.equal(plain.headers['repr-digest'], undefined, 'the old digest is never sent for the new bytes');
    assert.deepEqual(Buffer.from(await plain.body.arrayBuffer()), Buffer.from(v2));
    const fresh = await torrentOf(g);
    assert.notEqual(fresh.infoHash, old.infoHash);
    assert.equal(fresh.infoHash, (await createTorrent(file, { creationDate: null })).metainfo.infoHash);
    assert.deepEqual(g.swarm.infoHashes(), [fresh.infoHash]);
    const digest = (await request(`${g.url}/f.bin`, { method: 'HEAD' })).headers['repr-digest'];
    assert.equal(digest, `sha-256=:${sha256b64(v2)}:`);
    await g.close();

    // A new process on the same folder: the torrent comes from the cache, not from hashing.
    const log2 = recordingLogger();
    const g2 = await startGateway(t, { root, logger: log2 });
    assert.equal((await torrentOf(g2)).infoHash, fresh.infoHash);
    const ready = log2.entries.filter((e) => e.msg === 'torrent ready');
    assert.equal(ready.length, 1);
    assert.equal((ready[0]!.obj as { cached: boolean }).cached, true);
  }));

test('the torrent is ready once its pieces are hashed; Repr-Digest and the cache entry follow the SHA-256', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const big = bytes(3 * MIB, 8);
    writeFileSync(join(root, 'f.bin'), big);
    // Hold the whole-file SHA-256 until the torrent has been answered.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    t.after(() => release()); // a failed assertion must not leave the hashing held: close waits for it
    const original = HashPool.prototype.sha256File;
    t.mock.method(HashPool.prototype, 'sha256File', async function (this: HashPool, ...args: Parameters<HashPool['sha256File']>) {
      await gate;
      return original.apply(this, args);
    });
    const cacheDir = join(dir, 'cache');
    const g = await startGateway(t, { root, cacheDir });
    const url = `${g.url}/f.bin`;
    let torrent: Uint8Array | undefined;
    for (let i = 0; i < 1000 && torrent === undefined; i++) {
      const r = await request(url, { headers: { accept: BT } });
      if (r.statusCode === 200) torrent = new Uint8Array(await r.body.arrayBuffer());
      else {
        assert.equal(r.statusCode, 503);
        await r.body.dump();
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    assert.ok(torrent !== undefined, 'the torrent is answered while the SHA-256 is held');
    assert.equal(parseTorrent(torrent).infoHash, (await createTorrent(join(root, 'f.bin'), { creationDate: null })).metainfo.infoHash);
    const before = await request(url, { method: 'HEAD' });
    assert.equal(before.headers['repr-digest'], undefined, 'no digest before it is known');
    assert.deepEqual(existsSync(join(cacheDir, 'meta')) ? readdirSync(join(cacheDir, 'meta')) : [], [], 'no cache entry without its SHA-256');

    release();
    await g.swarm.settled();
    const after = await request(url, { method: 'HEAD' });
    assert.equal(after.headers['repr-digest'], `sha-256=:${sha256b64(big)}:`);
    assert.equal(after.headers['digest'], `SHA-256=${sha256b64(big)}`);
    assert.equal(readdirSync(join(cacheDir, 'meta')).length, 1, 'the cache entry is written with the SHA-256');
  }));

test('the torrent and metainfo answers announce the file\'s own head (TorrentTTP-File-Type, -ETag, -Last-Modified): the plain 200\'s values exactly', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'clip.mp4'), bytes(2 * MIB + 7, 5));
    const g = await startGateway(t, { root });
    const url = `${g.url}/clip.mp4`;
    await (await request(url, { headers: { accept: BT } })).body.dump();
    await g.swarm.settled();
    const plain = await request(url);
    await plain.body.dump();
    assert.equal(plain.statusCode, 200);
    for (const accept of [BT, METAINFO_JSON_MEDIA_TYPE]) {
      const r = await request(url, { headers: { accept } });
      await r.body.dump();
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['content-type'], accept);
      assert.equal(r.headers['torrenttp-file-type'], plain.headers['content-type'], accept);
      assert.equal(r.headers['torrenttp-file-etag'], plain.headers.etag, accept);
      assert.equal(r.headers['torrenttp-file-last-modified'], plain.headers['last-modified'], accept);
    }
    assert.equal(plain.headers['content-type'], 'video/mp4');
    assert.notEqual(plain.headers.etag, undefined);
    assert.notEqual(plain.headers['last-modified'], undefined);
  }));

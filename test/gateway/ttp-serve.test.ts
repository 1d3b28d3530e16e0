/**
 * `torrenttp serve` hosts TorrentTTP on its one port (docs/torrenttp.md §15): the seed's peer at
 * `/ttp/v1/torrents/{infoHash}…` for every file whose torrent is ready, and the JSON announce
 * and scrape of the embedded tracker at `/ttp/v1/announce` and `/ttp/v1/scrape`, which list the
 * seed with its wire endpoint and its torrent URL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { parseTorrent } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';
import { get } from './ttp-helpers.js';

const MIB = 1024 * 1024;

test('serve: a file\'s torrent is a TorrentTTP peer on the same origin, and /ttp/v1/announce lists the seed with its URL', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(join(root, 'ttp', 'v1'), { recursive: true });
    const content = bytes(3 * MIB + 1234, 11);
    writeFileSync(join(root, 'big file.bin'), content);
    writeFileSync(join(root, 'ttp', 'v1', 'shadowed.txt'), 'x');
    const g = await startGateway(t, { root });
    const base = g.url;
    const m = parseTorrent(await torrentOf(`${base}/big%20file.bin`));
    await g.swarm.settled();
    const url = `${base}/ttp/v1/torrents/${m.infoHash}`;

    const meta = await get(url);
    assert.equal(meta.status, 200);
    assert.equal(meta.h('vary'), 'Accept');
    const doc = meta.json();
    assert.equal(doc['infoHash'], m.infoHash);
    assert.deepEqual(doc['announceList'], [[`${base}/announce`], [`udp://127.0.0.1:${g.address.port}`]]);
    assert.deepEqual(doc['urlList'], [`${base}/big%20file.bin`]);
    // The file URL negotiates the same document (§15).
    const byFile = await get(`${base}/big%20file.bin`, { accept: 'application/vnd.torrenttp.metainfo+json' });
    assert.equal(byFile.json()['infoHash'], m.infoHash);

    const have = (await get(`${url}/have`)).json();
    assert.equal(have['pieceCount'], m.pieceCount);
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < m.pieceCount; i++) {
      const r = await get(`${url}/pieces/${i}`);
      assert.equal(r.status, 200, `piece ${i}`);
      assert.equal(createHash('sha1').update(r.body).digest('hex'), Buffer.from(m.pieceHashes.subarray(i * 20, i * 20 + 20)).toString('hex'));
      pieces.push(r.body);
    }
    assert.deepEqual(Buffer.concat(pieces), Buffer.from(content));
    assert.equal((await get(`${base}/ttp/v1/torrents/${'1'.repeat(40)}`)).json()['code'], 'TRANSPORT_UNKNOWN_TORRENT');
    assert.equal((await get(`${base}/ttp/v1/shadowed.txt`)).json()['code'], 'TTP_NOT_FOUND', 'the mount shadows a folder named ttp/v1');

    const peerId = randomBytes(20).toString('hex');
    const ann = await request(`${base}/ttp/v1/announce`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ infoHash: m.infoHash, peerId, url: 'http://192.0.2.7:8080/ttp/v1/torrents/' + m.infoHash, uploaded: 0, downloaded: 0, left: content.length }),
    });
    assert.equal(ann.statusCode, 200);
    const reply = (await ann.body.json()) as { peers: { ip?: string; port?: number; url?: string }[] };
    const seed = reply.peers.find((p) => p.port === g.peerPort);
    assert.ok(seed !== undefined, JSON.stringify(reply));
    assert.equal(seed.ip, '127.0.0.1');
    assert.equal(seed.url, `http://127.0.0.1:${g.address.port}/ttp/v1/torrents/${m.infoHash}`);
    const scrape = await request(`${base}/ttp/v1/scrape`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ infoHashes: [m.infoHash] }) });
    assert.equal(scrape.statusCode, 200);
    const files = ((await scrape.body.json()) as { files: Record<string, { incomplete: number }> }).files;
    assert.equal(files[m.infoHash]!.incomplete, 1);
  }),
);

test('serve --no-ttp: with TorrentTTP off, /ttp/v1/ is plain files', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(join(root, 'ttp', 'v1'), { recursive: true });
    writeFileSync(join(root, 'ttp', 'v1', 'plain.txt'), 'plain');
    const g = await startGateway(t, { root, ttp: false });
    const r = await get(`${g.url}/ttp/v1/plain.txt`);
    assert.equal(r.status, 200);
    assert.equal(r.text(), 'plain');
  }),
);

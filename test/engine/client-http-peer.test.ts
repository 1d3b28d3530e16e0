/**
 * The Client downloads from TorrentTTP peers given as torrent URLs (AddOptions.peers), through the
 * same picker, storage and hash checks as wire peers: from an HTTP peer alone (no wire port at
 * all), and from a wire peer and an HTTP peer together, one info-hash, one swarm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type SourceStatus } from '../../src/engine/index.js';
import { Bitfield, createTorrent, infoHashToBytes, parseTorrent } from '../../src/metainfo/index.js';
import { JsonTrackerClient, TrackerServer } from '../../src/tracker/index.js';
import { startTtpPeerServer } from '../helpers/ttp-peer-server.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const PIECE = 64 * 1024;

async function payloadTorrent(dir: string, n: number, seed: number) {
  const src = join(dir, 'src');
  mkdirSync(src);
  const payload = bytes(n, seed);
  writeFileSync(join(src, 'payload.bin'), payload);
  const { torrent } = await createTorrent(join(src, 'payload.bin'), { pieceLength: PIECE, creationDate: null });
  return { src, payload, torrent, metainfo: parseTorrent(torrent) };
}

test('a download completes byte-identical from a TorrentTTP peer alone, with no wire port', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { payload, torrent, metainfo } = await payloadTorrent(dir, 30 * PIECE + 1234, 51);
    const server = await startTtpPeerServer({ metainfo, data: payload });
    t.after(() => server.close());
    const client = new Client({ listen: false });
    t.after(() => client.close());
    const sources: SourceStatus[] = [];
    client.on('source', (s) => sources.push(s));
    const out = join(dir, 'out');
    const tor = await client.add(torrent, { path: out, trackers: false, peers: [server.url] });
    await tor.done;
    assert.deepEqual(readFileSync(join(out, 'payload.bin')), Buffer.from(payload));
    const s = tor.stats();
    assert.equal(s.downloadedByKind.http, payload.length, 'every byte came over HTTP');
    assert.equal(s.downloadedByKind.wire, 0);
    assert.equal(client.port, 0, 'no wire port');
    assert.ok(sources.some((x) => x.kind === 'peer' && x.id === server.url && x.ok), 'the hand-given peer is reported as working');
    const pieceGets = server.requests.filter((r) => r.target.includes('/pieces/'));
    assert.equal(pieceGets.length, metainfo.pieceCount, 'one GET a piece');
    assert.ok(pieceGets.every((r) => r.headers.range === undefined), 'whole pieces, no Range');
  }));

test('a mix of a wire peer and a TorrentTTP peer: one download, bytes from both, byte-identical', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { src, payload, torrent, metainfo } = await payloadTorrent(dir, 40 * PIECE + 777, 52);
    // The HTTP peer holds the even pieces only: the odd ones can come only over the wire.
    const even = new Bitfield(metainfo.pieceCount);
    for (let i = 0; i < metainfo.pieceCount; i += 2) even.set(i);
    const server = await startTtpPeerServer({ metainfo, data: payload, have: even });
    t.after(() => server.close());
    // A wire seed, slowed down so that the HTTP peer gets its share of the even pieces.
    const seed = new Client({ host: '127.0.0.1', uploadLimit: 1024 * 1024 });
    t.after(() => seed.close());
    await seed.add(torrent, { path: src, trackers: false });
    const client = new Client({ host: '127.0.0.1' });
    t.after(() => client.close());
    const out = join(dir, 'out');
    const tor = await client.add(torrent, { path: out, trackers: false, peers: [`127.0.0.1:${await seed.listen()}`, server.url] });
    await tor.done;
    assert.deepEqual(readFileSync(join(out, 'payload.bin')), Buffer.from(payload));
    const s = tor.stats();
    assert.ok(s.downloadedByKind.wire > 0, 'bytes over the wire');
    assert.ok(s.downloadedByKind.http > 0, 'bytes over HTTP');
    assert.equal(s.downloadedByKind.wire + s.downloadedByKind.http, s.downloaded);
    const odd = server.requests.filter((r) => /\/pieces\/(\d+)$/.exec(r.target) !== null && Number(/\/pieces\/(\d+)$/.exec(r.target)![1]) % 2 === 1);
    assert.deepEqual(odd, [], 'no piece the HTTP peer lacks was asked of it');
  }));

test('a bad TorrentTTP peer costs only itself: the download completes from the other peer', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { payload, torrent, metainfo } = await payloadTorrent(dir, 12 * PIECE, 53);
    const good = await startTtpPeerServer({ metainfo, data: payload });
    t.after(() => good.close());
    // Right headers, wrong bytes: only the engine's hash check can tell.
    const liar = await startTtpPeerServer({ metainfo, data: bytes(payload.length, 99) });
    t.after(() => liar.close());
    const client = new Client({ listen: false });
    t.after(() => client.close());
    const tor = await client.add(torrent, { path: join(dir, 'out'), trackers: false, peers: [liar.url, good.url] });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'out', 'payload.bin')), Buffer.from(payload));
  }));

test('jsonAnnounce: the tracker names an HTTP-only peer by URL, and the Client downloads from it; it announces its own URL', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const tracker = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 60 });
    const { port } = await tracker.listen();
    t.after(() => tracker.close());
    const announce = `http://127.0.0.1:${port}/announce`;
    mkdirSync(join(dir, 'src'));
    const payload = bytes(9 * PIECE + 99, 54);
    writeFileSync(join(dir, 'src', 'payload.bin'), payload);
    const { torrent } = await createTorrent(join(dir, 'src', 'payload.bin'), { pieceLength: PIECE, creationDate: null, announceList: [[announce]] });
    const metainfo = parseTorrent(torrent);
    const server = await startTtpPeerServer({ metainfo, data: payload });
    t.after(() => server.close());
    // The HTTP-only peer announces itself: a URL, no port.
    await new JsonTrackerClient(announce, { peerUrl: server.url }).announce({
      infoHash: infoHashToBytes(metainfo.infoHash),
      peerId: new TextEncoder().encode('-XX0001-httponlypeer'),
      port: 0,
      uploaded: 0,
      downloaded: 0,
      left: 0,
      event: 'completed',
    });
    const ours = 'http://127.0.0.1:1/ttp/v1/torrents/' + metainfo.infoHash;
    const client = new Client({ listen: false, jsonAnnounce: true, peerUrlOf: (h) => (h === metainfo.infoHash ? ours : undefined) });
    t.after(() => client.close());
    const tor = await client.add(torrent, { path: join(dir, 'out') });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'out', 'payload.bin')), Buffer.from(payload));
    assert.equal(tor.stats().downloadedByKind.http, payload.length);
    // What the tracker lists now: the seed's URL and ours, and no port for us (we do not listen).
    const r = await new JsonTrackerClient(announce).announce({
      infoHash: infoHashToBytes(metainfo.infoHash),
      peerId: new TextEncoder().encode('-XX0001-lookingaroun'),
      port: 6999,
      uploaded: 0,
      downloaded: 0,
      left: 1,
    });
    const urls = r.peers.map((p) => ('url' in p ? p.url : `${p.ip}:${p.port}`)).sort();
    assert.deepEqual(urls, [ours, server.url].sort());
  }));

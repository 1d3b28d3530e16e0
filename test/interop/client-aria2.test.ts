/**
 * `download`/`seed` against aria2c (Debian's aria2 1.36), byte-identical files, loopback only:
 * aria2 seeds → we leech (peer given by hand, and found through opentracker over UDP); we seed →
 * aria2 leeches (found through opentracker over HTTP), with a multi-file torrent of files smaller
 * than a piece, an empty file and a short last piece; and a three-party swarm in which we and an
 * aria2 leecher also trade pieces with each other. aria2c and opentracker are required (.ci/run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent, infoHashFromHex, infoHashToBytes } from '../../src/metainfo/index.js';
import { HttpTrackerClient } from '../../src/tracker/index.js';
import { until } from '../helpers/processes.js';
import { ariaLeech, ariaSeed, ariaUdpTrackerArgs, startOpentracker } from '../helpers/swarm.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const TIMEOUT = { timeout: 120_000 };

async function seedAnnounced(trackerPort: number, infoHash: string): Promise<void> {
  const scrape = new HttpTrackerClient(`http://127.0.0.1:${trackerPort}/announce`);
  await until('the seed to announce', async () => ((await scrape.scrape([infoHashToBytes(infoHashFromHex(infoHash))]))[0]?.seeders ?? 0) > 0, 30_000);
}

function singleFile(dir: string, size: number, seed: number): { data: string; file: string; payload: Uint8Array } {
  const data = join(dir, 'seed');
  mkdirSync(data, { recursive: true });
  const payload = bytes(size, seed);
  writeFileSync(join(data, 'payload.bin'), payload);
  return { data, file: join(data, 'payload.bin'), payload };
}

test('aria2 seeds, torrenttp downloads (peer given by hand)', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { data, file, payload } = singleFile(dir, 16 * 1024 * 1024 + 12345, 1); // short last piece
    const { torrent } = await createTorrent(file, { pieceLength: 256 * 1024, creationDate: null });
    writeFileSync(join(dir, 'x.torrent'), torrent);
    const seed = await ariaSeed(t, join(dir, 'x.torrent'), data);
    const client = new Client();
    t.after(() => client.close());
    const tor = await client.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${seed.port}`] });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
  }));

test('torrenttp seeds a multi-file torrent (small files, an empty file, a short last piece), aria2 downloads it via opentracker over HTTP', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'seed', 'album');
    mkdirSync(join(root, 'disc 2'), { recursive: true });
    const files: [string, Uint8Array][] = [
      ['cover.jpg', bytes(1000, 2)],
      ['empty.txt', new Uint8Array(0)],
      ['disc 2/track.flac', bytes(3 * 256 * 1024 + 17, 3)],
      ['notes.txt', bytes(77, 4)],
    ];
    for (const [p, b] of files) writeFileSync(join(root, p), b);
    const probe = await createTorrent(root, { pieceLength: 256 * 1024, creationDate: null });
    const otPort = await startOpentracker(t, dir, [probe.metainfo.infoHash]);
    const { torrent } = await createTorrent(root, { pieceLength: 256 * 1024, creationDate: null, announceList: [[`http://127.0.0.1:${otPort}/announce`]] });
    writeFileSync(join(dir, 'album.torrent'), torrent);

    const client = new Client();
    t.after(() => client.close());
    const seeding = await client.add(torrent, { path: join(dir, 'seed') });
    assert.ok(seeding.complete, 'the seed verified its data');
    await new Promise((r) => setTimeout(r, 300)); // let the seed's `started` announce land first
    await ariaLeech(t, join(dir, 'album.torrent'), join(dir, 'aria'), 60_000);
    for (const [p, b] of files) assert.deepEqual(readFileSync(join(dir, 'aria', 'album', p)), Buffer.from(b), p);
    assert.ok(seeding.stats().uploaded > 0);
  }));

test('torrenttp finds an aria2 seed through opentracker over UDP (BEP 15) and downloads', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { data, file, payload } = singleFile(dir, 8 * 1024 * 1024, 5);
    const probe = await createTorrent(file, { pieceLength: 256 * 1024, creationDate: null });
    const otPort = await startOpentracker(t, dir, [probe.metainfo.infoHash]);
    const { torrent } = await createTorrent(file, { pieceLength: 256 * 1024, creationDate: null, announceList: [[`udp://127.0.0.1:${otPort}`]] });
    writeFileSync(join(dir, 'x.torrent'), torrent);
    await ariaSeed(t, join(dir, 'x.torrent'), data, await ariaUdpTrackerArgs(dir, 'seed'));
    // The seed must be in the swarm before we ask: otherwise our first announce finds nobody and
    // the next one is due only after opentracker's interval (30 min).
    await seedAnnounced(otPort, probe.metainfo.infoHash);
    const client = new Client({ udpTrackerTimeoutMs: 1000 });
    t.after(() => client.close());
    const tor = await client.add(torrent, { path: join(dir, 'dl') });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
  }));

test('three-party swarm: an aria2 seed, a torrenttp leecher and an aria2 leecher that trade with each other', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { data, file, payload } = singleFile(dir, 16 * 1024 * 1024, 6);
    const probe = await createTorrent(file, { pieceLength: 256 * 1024, creationDate: null });
    const otPort = await startOpentracker(t, dir, [probe.metainfo.infoHash]);
    const { torrent } = await createTorrent(file, { pieceLength: 256 * 1024, creationDate: null, announceList: [[`http://127.0.0.1:${otPort}/announce`]] });
    writeFileSync(join(dir, 'x.torrent'), torrent);
    // A slow seed, so that the leechers have reason to trade.
    await ariaSeed(t, join(dir, 'x.torrent'), data, ['--max-upload-limit=2M']);
    await seedAnnounced(otPort, probe.metainfo.infoHash);
    const client = new Client();
    t.after(() => client.close());
    const tor = await client.add(torrent, { path: join(dir, 'dl') });
    const aria = ariaLeech(t, join(dir, 'x.torrent'), join(dir, 'aria'), 90_000);
    await tor.done;
    await aria;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
    assert.deepEqual(readFileSync(join(dir, 'aria', 'payload.bin')), Buffer.from(payload));
    const s = tor.stats();
    assert.ok(s.uploaded > 0, `torrenttp sent pieces to the other leecher (uploaded ${s.uploaded})`);
    assert.ok(s.downloaded >= payload.length);
  }));

/**
 * A magnet link with nothing but its info-hash (no `tr`, no `x.pe`) resolves through the DHT
 * (BEP 5): the seed announces on a private loopback DHT, the second client looks the info-hash
 * up there, fetches the metadata (BEP 9) from the peers it hears of, and downloads
 * byte-identical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent, infoHashFromHex, infoHashToBytes } from '../../src/metainfo/index.js';
import { loopbackDhtNode } from '../helpers/dht.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('magnet with only an info-hash: the metadata and the payload come from a seed found through the DHT', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const entry = await loopbackDhtNode();
    const seedDht = await loopbackDhtNode(entry.port);
    const leechDht = await loopbackDhtNode(entry.port);
    t.after(() => Promise.all([entry.close(), seedDht.close(), leechDht.close()]));
    mkdirSync(join(dir, 'seed'));
    const payload = bytes(1024 * 1024 + 77, 5);
    writeFileSync(join(dir, 'seed', 'm.bin'), payload);
    const { torrent, metainfo } = await createTorrent(join(dir, 'seed', 'm.bin'), { pieceLength: 64 * 1024, creationDate: null });

    const seeder = new Client({ host: '127.0.0.1', dht: seedDht });
    const leecher = new Client({ host: '127.0.0.1', dht: leechDht });
    t.after(() => Promise.all([seeder.close(), leecher.close()]));
    await seeder.add(torrent, { path: join(dir, 'seed') });
    // The seed's announce has reached the DHT (else the leecher's first lookup may miss it).
    const probe = await loopbackDhtNode(entry.port);
    t.after(() => probe.close());
    while (!(await probe.getPeers(infoHashToBytes(infoHashFromHex(metainfo.infoHash)))).peers.some((p) => p.port === seeder.port)) await new Promise((r) => setTimeout(r, 100));

    const uri = `magnet:?xt=urn:btih:${metainfo.infoHash}`;
    let fetched: string | undefined;
    leecher.on('metadata', (m) => (fetched = m.infoHash));
    const tor = await leecher.add(uri, { path: join(dir, 'dl'), metadataTimeoutMs: 20_000 });
    assert.equal(fetched, metainfo.infoHash);
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'm.bin')), Buffer.from(payload));
  }));

test('magnet with only an info-hash and dht: false fails with ENGINE_METADATA_TIMEOUT, naming no peer', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const entry = await loopbackDhtNode();
    const seedDht = await loopbackDhtNode(entry.port);
    const leechDht = await loopbackDhtNode(entry.port);
    t.after(() => Promise.all([entry.close(), seedDht.close(), leechDht.close()]));
    mkdirSync(join(dir, 'seed'));
    writeFileSync(join(dir, 'seed', 'm.bin'), bytes(100_000, 3));
    const { torrent, metainfo } = await createTorrent(join(dir, 'seed', 'm.bin'), { pieceLength: 16 * 1024, creationDate: null });
    const seeder = new Client({ host: '127.0.0.1', dht: seedDht });
    const leecher = new Client({ host: '127.0.0.1', dht: leechDht });
    t.after(() => Promise.all([seeder.close(), leecher.close()]));
    await seeder.add(torrent, { path: join(dir, 'seed') });
    await assert.rejects(leecher.fetchMetadata(`magnet:?xt=urn:btih:${metainfo.infoHash}`, { dht: false, timeoutMs: 1500 }), (e: { code?: string; message: string }) => {
      assert.equal(e.code, 'ENGINE_METADATA_TIMEOUT');
      assert.match(e.message, /0 peers heard of/);
      return true;
    });
  }));

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent, infoHashFromHex, infoHashToBytes } from '../../src/metainfo/index.js';
import { loopbackDhtNode } from '../helpers/dht.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('Client with a DHT node: a leecher with no tracker and no peer finds the seed through the DHT; a private torrent is never announced', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const entry = await loopbackDhtNode();
    const seedDht = await loopbackDhtNode(entry.port);
    const leechDht = await loopbackDhtNode(entry.port);
    t.after(() => Promise.all([entry.close(), seedDht.close(), leechDht.close()]));
    mkdirSync(join(dir, 'seed'));
    const payload = bytes(2 * 1024 * 1024 + 5, 9);
    writeFileSync(join(dir, 'seed', 'p.bin'), payload);
    const pub = await createTorrent(join(dir, 'seed', 'p.bin'), { pieceLength: 256 * 1024, creationDate: null });
    const priv = await createTorrent(join(dir, 'seed', 'p.bin'), { pieceLength: 256 * 1024, creationDate: null, private: true });

    const seeder = new Client({ host: '127.0.0.1', dht: seedDht });
    const leecher = new Client({ host: '127.0.0.1', dht: leechDht });
    t.after(() => Promise.all([seeder.close(), leecher.close()]));
    await seeder.add(pub.torrent, { path: join(dir, 'seed') });
    await seeder.add(priv.torrent, { path: join(dir, 'seed') });
    const tor = await leecher.add(pub.torrent, { path: join(dir, 'dl') });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'p.bin')), Buffer.from(payload));

    const probe = await loopbackDhtNode(entry.port);
    t.after(() => probe.close());
    assert.deepEqual((await probe.getPeers(infoHashToBytes(infoHashFromHex(priv.metainfo.infoHash)))).peers, [], 'the private torrent is not on the DHT');
    assert.ok((await probe.getPeers(infoHashToBytes(infoHashFromHex(pub.metainfo.infoHash)))).peers.some((p) => p.port === seeder.port));
  }));

/**
 * Issue 19: "the proxy keeps seeding what it has while it runs". After one program's fetch, the
 * proxy is a seed of the file in the origin's swarm (serve's tracker counts it), and a downloader
 * whose only source is the proxy (no tracker, no web seed, no DHT: only the proxy's peer port to
 * dial) gets the whole file from the proxy's cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { Client } from '../../src/engine/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';
import { curl, startProxy } from './proxy-helpers.js';

const MIB = 1024 * 1024;

test('after one fetch the proxy seeds the file: a seed on the origin\'s tracker, and a leecher that can dial only it completes', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(4 * MIB + 17, 93);
    writeFileSync(join(root, 'f.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'gcache'), pieceLength: 256 * 1024 });
    const url = `${g.url}/f.bin`;
    const torrent = await torrentOf(url);
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const r = await curl(t, ['-x', proxy.url, url, '-o', join(dir, 'out.bin')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(join(dir, 'out.bin')).equals(Buffer.from(payload)));

    await until('the proxy to announce itself a seed to serve\'s tracker', async () => {
      const doc = (await (await request(`${g.url}/.torrenttp/status.json`)).body.json()) as { swarms: { seeds: number | null }[] };
      return (doc.swarms[0]?.seeds ?? 0) >= 2;
    }, 30_000);

    // A leecher whose only source is the proxy: no tracker, no web seed, the proxy's port dialled.
    const leech = new Client({ host: '127.0.0.1' });
    t.after(() => leech.close());
    const leechDir = join(dir, 'leech');
    mkdirSync(leechDir);
    const m = parseTorrent(torrent);
    const lt = await leech.add(m, { path: leechDir, webSeeds: false, trackers: false, dht: false, peers: [`127.0.0.1:${proxy.peerPort}`] });
    await until('the leecher to complete from the proxy', () => lt.complete, 60_000);
    assert.ok(readFileSync(join(leechDir, 'f.bin')).equals(Buffer.from(payload)), 'the proxy\'s cache, byte-identical');
  }));

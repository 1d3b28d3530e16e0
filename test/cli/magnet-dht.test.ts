/**
 * `torrenttp download 'magnet:?xt=urn:btih:…'` with nothing but the info-hash, as a user runs
 * it: the CLI's DHT node joins a private loopback DHT through `--dht-bootstrap`, finds the seed
 * there, fetches the metadata from it and downloads byte-identical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DhtNode } from '../../src/dht/index.js';
import { Client } from '../../src/engine/index.js';
import { createTorrent, infoHashFromHex, infoHashToBytes } from '../../src/metainfo/index.js';
import { spawnCli } from '../helpers/cli.js';
import { loopbackDhtNode } from '../helpers/dht.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('download magnet:?xt=… (no tr, no x.pe) --dht-bootstrap: metadata and payload from a seed found on the DHT', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const entry = await loopbackDhtNode();
    const seedDht = await loopbackDhtNode(entry.port);
    t.after(() => Promise.all([entry.close(), seedDht.close()]));
    mkdirSync(join(dir, 'seed'));
    const payload = bytes(3 * 1024 * 1024 + 11, 4);
    writeFileSync(join(dir, 'seed', 'c.bin'), payload);
    const { torrent, metainfo } = await createTorrent(join(dir, 'seed', 'c.bin'), { pieceLength: 256 * 1024, creationDate: null });
    const seeder = new Client({ host: '127.0.0.1', dht: seedDht });
    t.after(() => seeder.close());
    await seeder.add(torrent, { path: join(dir, 'seed') });
    const probe = await loopbackDhtNode(entry.port);
    t.after(() => probe.close());
    while (!(await probe.getPeers(infoHashToBytes(infoHashFromHex(metainfo.infoHash)))).peers.some((p) => p.port === seeder.port)) await new Promise((r) => setTimeout(r, 100));

    const p = spawnCli(t, dir, ['download', `magnet:?xt=urn:btih:${metainfo.infoHash}`, '-o', 'dl', '--dht-bootstrap', `127.0.0.1:${entry.port}`, '--stop-timeout', '30']);
    const code = await p.exited;
    assert.equal(code, 0, `${p.stdout}\n${p.stderr}`);
    assert.deepEqual(readFileSync(join(dir, 'dl', 'c.bin')), Buffer.from(payload));
  }));

test('download magnet:?xt=… --dht-bootstrap [::1]:PORT: the CLI\'s IPv6 DHT node (BEP 32, dual stack) finds a seed announced only on an IPv6 DHT', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const v6Node = async (bootstrap?: number): Promise<DhtNode> => {
      const n = new DhtNode({ host: '::1', timeoutMs: 500, ...(bootstrap === undefined ? {} : { bootstrap: [`[::1]:${bootstrap}`] }) });
      await n.start();
      await n.whenReady();
      return n;
    };
    const entry = await v6Node();
    const seedDht = await v6Node(entry.port);
    t.after(() => Promise.all([entry.close(), seedDht.close()]));
    mkdirSync(join(dir, 'seed'));
    const payload = bytes(1024 * 1024 + 5, 6);
    writeFileSync(join(dir, 'seed', 'd.bin'), payload);
    const { torrent, metainfo } = await createTorrent(join(dir, 'seed', 'd.bin'), { pieceLength: 256 * 1024, creationDate: null });
    const seeder = new Client({ host: '::1', dht: seedDht });
    t.after(() => seeder.close());
    await seeder.add(torrent, { path: join(dir, 'seed') });
    const probe = await v6Node(entry.port);
    t.after(() => probe.close());
    while (!(await probe.getPeers(infoHashToBytes(infoHashFromHex(metainfo.infoHash)))).peers.some((p) => p.ip === '::1' && p.port === seeder.port)) await new Promise((r) => setTimeout(r, 100));

    const p = spawnCli(t, dir, ['download', `magnet:?xt=urn:btih:${metainfo.infoHash}`, '-o', 'dl', '--dht-bootstrap', `[::1]:${entry.port}`, '--stop-timeout', '30']);
    const code = await p.exited;
    assert.equal(code, 0, `${p.stdout}\n${p.stderr}`);
    assert.deepEqual(readFileSync(join(dir, 'dl', 'd.bin')), Buffer.from(payload));
  }));

/**
 * Issue 15's acceptance test "a file modified while its swarm runs: a new download gets the new
 * bytes, never a mix", end to end: a get of the first version, another seed of it still in the
 * swarm, then the file rewritten in place (same size, same inode, as `cat new > file` does); the
 * next get downloads the new bytes whole, from the swarm of the new torrent, and the old seed's
 * pieces (a valid torrent's, of other bytes) never reach it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { getUrl } from '../../src/gateway/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';

const MIB = 1024 * 1024;

test('a file rewritten in place while its swarm runs: the next get has the new bytes whole, from the new torrent', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const file = join(root, 'f.bin');
    const v1 = bytes(4 * MIB, 91);
    const v2 = bytes(4 * MIB, 92);
    writeFileSync(file, v1);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'gcache'), pieceLength: 64 * 1024 });
    const url = `${g.url}/f.bin`;
    const oldTorrent = await torrentOf(url);
    const first = await getUrl({ url, output: { kind: 'file', path: join(dir, 'one.bin') } });
    assert.equal(first.mode, 'swarm');
    assert.ok(readFileSync(join(dir, 'one.bin')).equals(Buffer.from(v1)), 'the first get: the first version');
    // The first version stays in the swarm: another seed of it.
    const seedDir = join(dir, 'seed');
    mkdirSync(seedDir);
    writeFileSync(join(seedDir, 'f.bin'), v1);
    const seed = new Client({ host: '127.0.0.1' });
    t.after(() => seed.close());
    await seed.add(oldTorrent, { path: seedDir, skipVerify: true, webSeeds: false });

    writeFileSync(file, v2); // in place: the same inode and size
    utimesSync(file, new Date(), new Date(Date.now() + 5000)); // a later mtime, as any write on a coarse clock
    const newTorrent = await torrentOf(url); // no checkFiles(): the request finds the change
    assert.notEqual(parseTorrent(newTorrent).infoHash, parseTorrent(oldTorrent).infoHash, 'a new torrent for the new bytes');
    const second = await getUrl({ url, output: { kind: 'file', path: join(dir, 'two.bin') } });
    assert.equal(second.mode, 'swarm');
    assert.ok(readFileSync(join(dir, 'two.bin')).equals(Buffer.from(v2)), 'the second get: the new version whole, no piece of the old');
  }));

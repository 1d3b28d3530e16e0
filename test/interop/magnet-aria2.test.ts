/**
 * Magnet links with a real client, both ways (BEP 9/10 against aria2 1.36):
 * - aria2c seeds; `torrenttp download 'magnet:?xt=…&x.pe=…'` fetches the metadata from it,
 *   saves the .torrent (--save-torrent) and completes byte-identical.
 * - torrenttp seeds; aria2c, given only a magnet link whose tracker lists us, fetches the
 *   metadata from us and completes byte-identical. (aria2 ignores `x.pe`, so a tracker it is.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { encodeMagnet, parseTorrent } from '../../src/metainfo/index.js';
import { cli } from '../helpers/cli.js';
import { ariaLeech, ariaSeed, ourTrackerSwarm } from '../helpers/swarm.js';
import { withTempDir } from '../helpers/torrents.js';

const SIZE = 8 * 1024 * 1024 + 12_345;

test('aria2c seeds; torrenttp downloads from a magnet link with x.pe and saves the .torrent', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { seedDir, payload, torrent } = await ourTrackerSwarm(t, dir, 'http', SIZE);
    const metainfo = parseTorrent(readFileSync(torrent));
    const { port } = await ariaSeed(t, torrent, seedDir);
    const magnet = encodeMagnet({ infoHash: metainfo.infoHash, peers: [`127.0.0.1:${port}`] });
    const out = join(dir, 'out');
    const r = await cli(dir, ['download', magnet, '-o', out, '--save-torrent', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(-2000));
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; peers?: number; metadataSize?: number });
    const fetching = lines.filter((l) => l.event === 'metadata');
    assert.ok(fetching.some((l) => l.peers === 1 && l.metadataSize === metainfo.infoBytes.length), JSON.stringify(fetching));
    assert.deepEqual(readFileSync(join(out, 'payload.bin')), Buffer.from(payload));
    const saved = parseTorrent(readFileSync(join(out, 'payload.bin.torrent')));
    assert.equal(saved.infoHash, metainfo.infoHash);
    assert.deepEqual(saved.infoBytes, metainfo.infoBytes);
  }));

test('torrenttp seeds; aria2c gets the metadata from it through a magnet link and completes', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { seedDir, payload, torrent } = await ourTrackerSwarm(t, dir, 'http', SIZE);
    const metainfo = parseTorrent(readFileSync(torrent));
    const ours = new Client({ host: '127.0.0.1', allowLoopbackPeers: true });
    t.after(() => ours.close());
    // Our announce reaches the tracker before aria2 asks it for peers.
    const announced = new Promise<void>((resolve) => ours.on('source', (s) => s.kind === 'tracker' && s.ok && resolve()));
    const seeding = await ours.add(metainfo, { path: seedDir });
    assert.ok(seeding.complete);
    await announced;
    const magnet = encodeMagnet({ infoHash: metainfo.infoHash, trackers: metainfo.announceList.flat() });
    const leechDir = join(dir, 'aria');
    await ariaLeech(t, magnet, leechDir, 60_000, ['--bt-save-metadata=false']);
    assert.deepEqual(readFileSync(join(leechDir, 'payload.bin')), Buffer.from(payload));
    assert.ok(seeding.stats().uploaded >= SIZE, 'every byte came from us');
  }));

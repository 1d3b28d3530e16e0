/**
 * Issue 16's first acceptance test: a torrenttp seed that speaks only TorrentTTP (no wire port)
 * and a torrenttp leech that speaks only TorrentTTP, byte-identical files, every byte over HTTP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { demoTorrent, ttpSeed } from './ttp-helpers.js';

test('HTTP-only seed → HTTP-only leech: the peer server and the HTTP peer client complete a multi-file torrent', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, metainfo } = await demoTorrent(dir);
    const s = await ttpSeed(t, torrent, dir);
    const leech = new Client({ listen: false });
    // Closed here, not in t.after: after-hooks run once withTempDir has removed the folder, and a
    // leech that saves its state on close would fail on files that are gone (STORAGE_IO, ENOENT).
    try {
      const lt = await leech.add(torrent, { path: join(dir, 'out'), trackers: false, peers: [s.url] });
      await lt.done;
      for (const f of ['docs/data.bin', 'readme.txt']) assert.deepEqual(readFileSync(join(dir, 'out', 'demo', f)), readFileSync(join(dir, 'demo', f)), f);
      const st = lt.stats();
      assert.equal(st.downloadedByKind.http, metainfo.length, 'every byte came from the HTTP peer');
      assert.equal(st.downloadedByKind.wire, 0);
      assert.ok(s.torrent.stats().uploaded >= metainfo.length, 'the seed counted its uploads');
    } finally {
      await leech.close();
      await s.client.close();
    }
  }),
);

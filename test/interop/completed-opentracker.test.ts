/**
 * opentracker (Debian) counts our finished downloads: a Client that downloads and is closed the
 * moment it is done sends `completed` before `stopped`, over HTTP and over UDP (BEP 15), and the
 * seeder, complete from the start, sends none. Scrape `downloaded` is opentracker's count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent, infoHashToBytes } from '../../src/metainfo/index.js';
import { HttpTrackerClient } from '../../src/tracker/index.js';
import { until } from '../helpers/processes.js';
import { startOpentracker } from '../helpers/swarm.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

for (const scheme of ['http', 'udp'] as const) {
  test(`opentracker over ${scheme.toUpperCase()} counts a download that exits as soon as it is done`, { timeout: 60_000 }, (t) =>
    withTempDir(t, async (dir) => {
      const data = join(dir, 'data');
      mkdirSync(data);
      const payload = bytes(1024 * 1024 + 7, scheme === 'http' ? 31 : 32);
      writeFileSync(join(data, 'p.bin'), payload);
      const probe = await createTorrent(join(data, 'p.bin'), { pieceLength: 64 * 1024, creationDate: null });
      const otPort = await startOpentracker(t, dir, [probe.metainfo.infoHash]);
      const announce = scheme === 'http' ? `http://127.0.0.1:${otPort}/announce` : `udp://127.0.0.1:${otPort}`;
      const { torrent } = await createTorrent(join(data, 'p.bin'), { pieceLength: 64 * 1024, creationDate: null, announceList: [[announce]] });
      const scrape = new HttpTrackerClient(`http://127.0.0.1:${otPort}/announce`);
      const count = async () => (await scrape.scrape([infoHashToBytes(probe.metainfo.infoHash)]))[0];

      const seeder = new Client({ host: '127.0.0.1', udpTrackerTimeoutMs: 1000 });
      t.after(() => seeder.close());
      await seeder.add(torrent, { path: data });
      await until('the seeder to announce', async () => (await count())?.seeders === 1, 10_000);

      const leecher = new Client({ host: '127.0.0.1', udpTrackerTimeoutMs: 1000 });
      const tor = await leecher.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${await seeder.listen()}`] });
      await tor.done;
      await leecher.close(); // at once, as `download` does
      assert.deepEqual(readFileSync(join(dir, 'dl', 'p.bin')), Buffer.from(payload));
      const s = await count();
      assert.equal(s?.completed, 1, 'the finished download was counted; the seeder sent no completed');
      assert.equal(s?.leechers, 0, 'and it said stopped');
    }));
}

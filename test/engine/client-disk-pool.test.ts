/**
 * `ClientOptions.diskPool`: every torrent's storage uses the caller's disk threads (the proxy
 * starts them before any program waits), and closing the client leaves them to the caller.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { DiskPool } from '../../src/storage/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test("a client's torrents read and write through the disk pool it was given, which outlives the client", { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(256 * 1024, 61);
    writeFileSync(join(dir, 'f.bin'), payload);
    const { torrent } = await createTorrent(join(dir, 'f.bin'), { pieceLength: 64 * 1024, creationDate: null });
    const pool = new DiskPool({ threads: 1 });
    t.after(() => pool.close());
    const client = new Client({ listen: false, diskPool: pool });
    t.after(() => client.close());
    const seed = await client.add(torrent, { path: dir, skipVerify: true, trackers: false, webSeeds: false, dht: false });
    const read = async (): Promise<number> => {
      let n = 0;
      for await (const chunk of seed.read()) n += chunk.length;
      return n;
    };
    // A fault in the given pool is the torrent's fault: its reads go through those threads.
    await pool.injectFaultForTesting({ op: 'read', errno: 'EIO' });
    await assert.rejects(read());
    await pool.injectFaultForTesting(null);
    assert.equal(await read(), payload.length);
    await client.close();
    assert.deepEqual(await pool.read([]), new Uint8Array(0), 'the pool still serves after the client closed');
  }));

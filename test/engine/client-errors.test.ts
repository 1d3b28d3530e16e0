/**
 * A torrent that fails (a fatal storage error) is closed and leaves the Client at once (issue 18,
 * item 8): its trackers hear `stopped` without waiting for `client.close()`, `t.done` rejects with
 * the error, and a Client nobody listens to for `error` does not crash. `client.close()` closes
 * everything, the listening socket included, even when a torrent's close fails, and then rejects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { TrackerServer } from '../../src/tracker/index.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

/** A tracker and a seed of a 4 MiB torrent; the seed has the torrent once `seed()` resolves. */
async function swarm(dir: string) {
  const data = join(dir, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'p.bin'), bytes(4 * 1024 * 1024, 5));
  const tracker = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 60, minIntervalSec: 1 });
  const { port } = await tracker.listen();
  const { torrent, metainfo } = await createTorrent(join(data, 'p.bin'), { pieceLength: 64 * 1024, creationDate: null, announceList: [[`http://127.0.0.1:${port}/announce`]] });
  const seeder = new Client({ host: '127.0.0.1' });
  const seed = async () => void (await seeder.add(torrent, { path: data }));
  return { torrent, metainfo, tracker, seeder, seed, seedPort: await seeder.listen() };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

test('a torrent failing mid-download leaves the client: done rejects, trackers hear stopped, no error listener needed', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const s = await swarm(dir);
    t.after(() => Promise.all([s.seeder.close(), s.tracker.close()]));
    const client = new Client({ host: '127.0.0.1' });
    t.after(() => client.close().catch(() => undefined));
    const dl = join(dir, 'dl');
    const tor = await client.add(s.torrent, { path: dl, peers: [`127.0.0.1:${s.seedPort}`] });
    await until('the leecher to announce', async () => (await s.tracker.stats()).leechers === 1, 10_000);
    // A symlink planted after open, before any piece came (the seed has no torrent yet): the first
    // write is refused (O_NOFOLLOW), a fatal error. The leecher dials the seed again within 5 s.
    mkdirSync(join(dir, 'outside'));
    rmSync(join(dl, 'p.bin'));
    symlinkSync(join(dir, 'outside', 'x'), join(dl, 'p.bin'));
    await s.seed();
    await assert.rejects(tor.done, { code: 'STORAGE_PATH_ESCAPE' });
    await until('the tracker to hear stopped', async () => (await s.tracker.stats()).leechers === 0, 10_000);
    assert.equal(client.get(s.metainfo.infoHash), undefined, 'removed from the client');
    assert.ok(tor.closed);
    await client.close();
  }));

test('client.close() stops listening even when a torrent cannot save its state, then rejects with that', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const s = await swarm(dir);
    t.after(() => Promise.all([s.seeder.close(), s.tracker.close()]));
    await s.seed();
    const dl = join(dir, 'dl');
    mkdirSync(join(dir, 'outside'));
    mkdirSync(dl);
    symlinkSync(join(dir, 'outside'), join(dl, '.torrenttp'));
    const client = new Client({ host: '127.0.0.1' });
    // Only when this test fails: a socket close() left open would keep the test file from ending.
    t.after(() => (client as unknown as { server?: Server }).server?.close());
    const tor = await client.add(s.torrent, { path: dl, peers: [`127.0.0.1:${s.seedPort}`] });
    await tor.done;
    const port = client.port;
    await assert.rejects(client.close(), { code: 'STORAGE_PATH_ESCAPE' });
    assert.ok(await refused(port), 'no longer listening');
    await until('the tracker to hear stopped', async () => (await s.tracker.stats()).leechers + (await s.tracker.stats()).seeders === 1, 5000);
  }));

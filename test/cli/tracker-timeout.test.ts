/**
 * A dead tracker in the first tier (issue 13, item 6): its failure is a `[WARN] tracker …` line
 * with the reason, and it never holds up the next tier for long. A closed UDP port on loopback
 * fails at once (ICMP port unreachable, ECONNREFUSED on a connected socket); a UDP tracker that
 * never answers is given up after the first-attempt budget (15 s), not BEP 15's two hours.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { TrackerServer } from '../../src/tracker/index.js';
import { spawnCli } from '../helpers/cli.js';
import { freePort } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

/** A torrent whose first tier is `deadTracker` and second our live HTTP tracker, with a seed on the live one only. */
async function swarm(t: TestContext, dir: string, deadTracker: string): Promise<{ live: string }> {
  const tracker = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 60 });
  const { port } = await tracker.listen();
  t.after(() => tracker.close());
  const live = `http://127.0.0.1:${port}/announce`;
  writeFileSync(join(dir, 'p.bin'), bytes(300_000, 41));
  const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null, pieceLength: 64 * 1024, announceList: [[deadTracker], [live]] });
  writeFileSync(join(dir, 'p.torrent'), torrent);
  // The same info (same info-hash), announced to the live tracker only.
  const { metainfo: seedOnly } = await createTorrent(join(dir, 'p.bin'), { creationDate: null, pieceLength: 64 * 1024, announceList: [[live]] });
  const seeder = new Client({ host: '127.0.0.1' });
  t.after(() => seeder.close());
  await seeder.add(seedOnly, { path: dir });
  return { live };
}

test('a closed UDP tracker port in tier 1: refused at once with ECONNREFUSED, tier 2 serves the download', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const dead = `udp://127.0.0.1:${await freePort()}`;
    await swarm(t, dir, dead);
    const started = Date.now();
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--stop-timeout', '30']);
    assert.equal(await p.exited, 0, p.stderr);
    const seconds = (Date.now() - started) / 1000;
    assert.ok(seconds < 12, `took ${seconds} s`);
    assert.match(p.stderr, new RegExp(`^\\[WARN\\] tracker ${dead}: tracker cannot be reached: .*ECONNREFUSED.* \\[TRACKER_UNREACHABLE\\]$`, 'm'));
  }));

test('a UDP tracker that never answers in tier 1: a [WARN] line within the first-attempt budget, then tier 2', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const hole = createSocket('udp4'); // bound, so no ICMP comes back, and silent
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    t.after(() => hole.close());
    const dead = `udp://127.0.0.1:${hole.address().port}`;
    await swarm(t, dir, dead);
    const started = Date.now();
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--stop-timeout', '60']);
    assert.equal(await p.exited, 0, p.stderr);
    const seconds = (Date.now() - started) / 1000;
    assert.ok(seconds < 35, `took ${seconds} s`);
    assert.match(p.stderr, new RegExp(`^\\[WARN\\] tracker ${dead}: tracker did not answer in time: .*no answer in 15 s \\[TRACKER_TIMEOUT\\]$`, 'm'));
  }));

test('an HTTP tracker that cannot be reached says why', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const dead = `http://127.0.0.1:${await freePort()}/announce`;
    await swarm(t, dir, dead);
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--stop-timeout', '20']);
    assert.equal(await p.exited, 0, p.stderr);
    assert.match(p.stderr, new RegExp(`^\\[WARN\\] tracker ${dead}: tracker cannot be reached: ${dead} \\(connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+\\) \\[TRACKER_UNREACHABLE\\]$`, 'm'));
  }));

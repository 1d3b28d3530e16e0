/**
 * `download` in a download folder where someone planted files, or whose disk fills up (issue 18,
 * items 7 and 8), as a user runs it: a real process against a real seed and tracker.
 * - A planted hard link never makes the download write the file it links to.
 * - A fatal storage error ends the process on its own with the error line and exit 1: peers,
 *   trackers (`stopped`) and the listening socket are closed. `--debug` makes the CLI's last-resort
 *   exit (2 s after the command ended) say so, which these tests check never happens.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { TrackerServer } from '../../src/tracker/index.js';
import { spawnCli, spawnOnTmpfs } from '../helpers/cli.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const STILL_RUNNING = /still running 2 s after the command ended/;

interface Swarm {
  readonly payload: Uint8Array;
  readonly seedPort: number;
  readonly tracker: TrackerServer;
}

/** `dir/p.torrent` for a `length`-byte `p.bin`, seeded from `dir/data` by an in-process client, with a tracker. */
async function swarm(t: TestContext, dir: string, length: number): Promise<Swarm> {
  const data = join(dir, 'data');
  mkdirSync(data);
  const payload = bytes(length, 18);
  writeFileSync(join(data, 'p.bin'), payload);
  const tracker = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 60, minIntervalSec: 1 });
  const { port } = await tracker.listen();
  t.after(() => tracker.close());
  const { torrent } = await createTorrent(join(data, 'p.bin'), { pieceLength: 256 * 1024, creationDate: null, announceList: [[`http://127.0.0.1:${port}/announce`]] });
  writeFileSync(join(dir, 'p.torrent'), torrent);
  const seeder = new Client({ host: '127.0.0.1' });
  t.after(() => seeder.close());
  await seeder.add(torrent, { path: data });
  return { payload, seedPort: await seeder.listen(), tracker };
}

/** Only the seeder is left in the swarm: the download told the tracker `stopped`. */
async function onlySeederLeft(s: Swarm): Promise<void> {
  const stats = await s.tracker.stats();
  assert.equal(stats.leechers + stats.seeders, 1, `the tracker still lists the download: ${JSON.stringify({ leechers: stats.leechers, seeders: stats.seeders })}`);
}

test('a planted hard link: the download writes a file of its own, warns, and the linked file keeps its bytes', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const s = await swarm(t, dir, 16 * 1024 * 1024);
    mkdirSync(join(dir, 'outside'));
    mkdirSync(join(dir, 'dl'));
    const precious = join(dir, 'outside', 'precious.txt');
    writeFileSync(precious, 'precious bytes\n');
    linkSync(precious, join(dir, 'dl', 'p.bin'));
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--peer', `127.0.0.1:${s.seedPort}`, '--no-trackers']);
    assert.equal(await p.exited, 0, p.stderr);
    assert.equal(readFileSync(precious, 'utf8'), 'precious bytes\n');
    assert.equal(statSync(precious).nlink, 1);
    assert.deepEqual(readFileSync(join(dir, 'dl', 'p.bin')), Buffer.from(s.payload));
    assert.match(p.stderr, /WARN.*p\.bin \(2 links\).*STORAGE_HARD_LINK/);
  }));

for (const seed of [false, true]) {
  test(`a planted .torrenttp symlink${seed ? ' (--seed, then SIGTERM)' : ''}: nothing written through it, the error line, exit 1, and the process ends on its own`, { timeout: 60_000 }, (t) =>
    withTempDir(t, async (dir) => {
      const s = await swarm(t, dir, 4 * 1024 * 1024);
      mkdirSync(join(dir, 'outside'));
      mkdirSync(join(dir, 'dl'));
      symlinkSync(join(dir, 'outside'), join(dir, 'dl', '.torrenttp'));
      const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--peer', `127.0.0.1:${s.seedPort}`, '--debug', ...(seed ? ['--seed'] : [])]);
      if (seed) {
        await until('the download to complete and seed', () => /^seeding /m.test(p.stderr), 30_000);
        p.child.kill('SIGTERM');
      }
      assert.equal(await p.exited, 1, p.stderr);
      assert.match(p.stderr, /^torrenttp: .*\.torrenttp is a symlink \[STORAGE_PATH_ESCAPE\]$/m);
      assert.doesNotMatch(p.stderr, STILL_RUNNING);
      assert.deepEqual(readdirSync(join(dir, 'outside')), []);
      assert.deepEqual(readFileSync(join(dir, 'dl', 'p.bin')), Buffer.from(s.payload));
      await onlySeederLeft(s);
    }));
}


test('the disk fills up mid-download: the error line, exit 1, trackers told, no hang and no crash', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const s = await swarm(t, dir, 16 * 1024 * 1024);
    mkdirSync(join(dir, 'dl'));
    // 8 MiB for a 16 MiB file: allocation is sparse, so the disk fills halfway through the pieces.
    const p = spawnOnTmpfs(t, dir, 8 * 1024 * 1024, ['download', 'p.torrent', '-o', 'dl', '--peer', `127.0.0.1:${s.seedPort}`, '--debug']);
    assert.equal(await p.exited, 1, p.stderr);
    assert.match(p.stderr, /^torrenttp: no space left on the disk.*ENOSPC.*\[STORAGE_NO_SPACE\]$/m);
    assert.doesNotMatch(p.stderr, /Emitted 'error' event|^Node\.js v/m, 'handled, not a crash');
    assert.equal(p.stderr.match(/^torrenttp: /gm)?.length, 1, 'one error line');
    assert.doesNotMatch(p.stderr, STILL_RUNNING);
    await onlySeederLeft(s);
  }));

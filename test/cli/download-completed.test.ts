/**
 * `download` tells the trackers `completed` when a download that started incomplete finishes,
 * with or without --seed, before the `stopped` of its exit; a torrent complete at start (a
 * seeder, a second run) never does. Checked with our tracker's scrape count (BEP 48 `downloaded`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '../../src/engine/index.js';
import { createTorrent, infoHashToBytes } from '../../src/metainfo/index.js';
import { HttpTrackerClient, TrackerServer } from '../../src/tracker/index.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

function start(args: string[], cwd: string) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { child, stdout: '', stderr: '', exited: new Promise<number | null>((r) => child.on('exit', (code) => r(code))) };
  child.stdout.on('data', (d: Buffer) => (p.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (p.stderr += d.toString()));
  return p;
}

test('download sends completed once it finishes (and exits, or seeds on); a torrent complete at start does not', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const data = join(dir, 'data');
    mkdirSync(data);
    const payload = bytes(2 * 1024 * 1024 + 99, 21);
    writeFileSync(join(data, 'p.bin'), payload);
    const tracker = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 60 });
    const { port } = await tracker.listen();
    t.after(() => tracker.close());
    const url = `http://127.0.0.1:${port}/announce`;
    const { torrent, metainfo } = await createTorrent(join(data, 'p.bin'), { pieceLength: 256 * 1024, creationDate: null, announceList: [[url]] });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const scrape = new HttpTrackerClient(url);
    const completed = async () => (await scrape.scrape([infoHashToBytes(metainfo.infoHash)]))[0]?.completed;

    const seeder = new Client({ host: '127.0.0.1' });
    t.after(() => seeder.close());
    await seeder.add(torrent, { path: data });
    const seedPort = await seeder.listen();
    await until('the seeder to announce', async () => (await tracker.stats()).seeders === 1, 30_000);

    // Exits as soon as it is done: `completed` must not be lost to the `stopped` of the exit.
    const first = start(['download', 'p.torrent', '-o', 'dl', '--peer', `127.0.0.1:${seedPort}`, '--json'], dir);
    t.after(() => first.child.kill('SIGKILL'));
    assert.equal(await first.exited, 0, first.stderr);
    assert.deepEqual(readFileSync(join(dir, 'dl', 'p.bin')), Buffer.from(payload));
    assert.equal(await completed(), 1, 'one finished download; the seeder, complete from the start, sent none');
    assert.equal((await tracker.stats()).leechers + (await tracker.stats()).seeders, 1, 'the download said stopped too');

    // Already complete: no second count.
    const again = start(['download', 'p.torrent', '-o', 'dl', '--peer', `127.0.0.1:${seedPort}`, '--json'], dir);
    t.after(() => again.child.kill('SIGKILL'));
    assert.equal(await again.exited, 0, again.stderr);
    assert.equal(await completed(), 1, 'a torrent complete at start is not counted again');

    // --seed: counted while it seeds, not only when it stops.
    const seeding = start(['download', 'p.torrent', '-o', 'dl2', '--peer', `127.0.0.1:${seedPort}`, '--seed', '--json'], dir);
    t.after(() => seeding.child.kill('SIGKILL'));
    await until('the --seed download to be counted', async () => (await completed()) === 2, 30_000);
    assert.equal(seeding.child.exitCode, null, 'still seeding');
    seeding.child.kill('SIGTERM');
    assert.equal(await seeding.exited, 0, seeding.stderr);
    assert.equal(await completed(), 2);
  }));

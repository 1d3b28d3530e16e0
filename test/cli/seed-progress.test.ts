/**
 * Seeding limits (`--seed-ratio`, `--seed-time`, aria2's) and the progress output: sizes, units
 * on the ETA, "1 peer", rates that fall to zero when nothing moves, JSON progress at most once a
 * second unless `--json-interval` says otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { jsonLines, spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('seed --seed-ratio 1: stops once the torrent size was uploaded, exit 0', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(1024 * 1024, 31);
    writeFileSync(join(dir, 'p.bin'), payload);
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { pieceLength: 64 * 1024, creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const seed = spawnCli(t, dir, ['seed', 'p.torrent', 'p.bin', '--json', '--seed-ratio', '1']);
    await until('the seed to start', () => jsonLines(seed).some((l) => l.event === 'seeding'), 20_000);
    const port = jsonLines(seed).find((l) => l.event === 'started')!['port'] as number;
    const leech = new Client({ listen: false });
    t.after(() => leech.close());
    await (await leech.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${port}`] })).done;
    assert.equal(await seed.exited, 0, seed.stderr);
    const summary = jsonLines(seed).find((l) => l.event === 'summary')!;
    assert.equal(summary['status'], 'seed ratio 1 reached');
    assert.ok((summary['uploaded'] as number) >= payload.length);
  }));

test('download --seed-time 1s: downloads, seeds a second, exits 0; JSON progress at most once a second', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(2 * 1024 * 1024, 32);
    writeFileSync(join(dir, 'p.bin'), payload);
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { pieceLength: 64 * 1024, creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const seeder = new Client({ uploadLimit: 1024 * 1024 }); // about 2 s of download
    t.after(() => seeder.close());
    await seeder.add(torrent, { path: dir });
    const port = await seeder.listen();
    const started = Date.now();
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--peer', `127.0.0.1:${port}`, '--json', '--seed-time', '1s']);
    assert.equal(await p.exited, 0, p.stderr);
    const seconds = (Date.now() - started) / 1000;
    const lines = jsonLines(p);
    assert.deepEqual(lines.filter((l) => l.event === 'summary').map((l) => l['status']), ['complete', 'seed time 1s reached']);
    const progress = lines.filter((l) => l.event === 'progress').length;
    assert.ok(progress <= Math.ceil(seconds) + 1, `${progress} progress lines in ${seconds} s`);
  }));

test('--json-interval asks for progress lines more often', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'p.bin'), bytes(100_000, 33));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const p = spawnCli(t, dir, ['seed', 'p.torrent', 'p.bin', '--json', '--json-interval', '0.25', '--seed-time', '2s']);
    assert.equal(await p.exited, 0, p.stderr);
    const progress = jsonLines(p).filter((l) => l.event === 'progress').length;
    assert.ok(progress >= 5, `${progress} progress lines in 2 s`);
  }));

test('plain progress: done/total, 1 peer, ETA with units; the rate falls to 0 when the peer goes', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(8 * 1024 * 1024, 34);
    writeFileSync(join(dir, 'p.bin'), payload);
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { pieceLength: 64 * 1024, creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const seeder = new Client({ uploadLimit: 512 * 1024 }); // 16 s for all: still running when the seeder goes
    await seeder.add(torrent, { path: dir });
    const port = await seeder.listen();
    t.after(() => seeder.close());
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--peer', `127.0.0.1:${port}`]);
    const moving = /^\d+\.\d% [\d.]+ (B|KiB|MiB)\/8\.00 MiB ↓ [\d.]+ KiB\/s ↑ 0 B\/s 1 peer ETA (\d+m)?\d+s$/m;
    await until('a line with data moving', () => moving.test(p.stdout), 20_000);
    await seeder.close();
    await until('a later line with the rate at zero', () => /↓ 0 B\/s ↑ 0 B\/s 0 peers ETA -$/m.test(p.stdout.slice(p.stdout.search(moving))), 20_000);
    p.child.kill('SIGINT');
    assert.equal(await p.exited, 130, p.stderr);
  }));

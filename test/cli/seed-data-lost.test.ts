/**
 * A seed whose data file is truncated under it: the torrent fails (STORAGE_IO) and closes, and
 * the command must say so and exit 1, not go on "seeding" a torrent it no longer serves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { createTorrent } from '../../src/metainfo/index.js';
import { jsonLines, spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('seed: its data truncated while it seeds, a piece read fails: the error is printed and the command exits 1', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'p.bin'), bytes(2 * 1024 * 1024, 41));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { pieceLength: 64 * 1024, creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const seed = spawnCli(t, dir, ['seed', 'p.torrent', 'p.bin', '--json', '--no-dht', '--no-trackers', '--listen', '127.0.0.1', '--http-port', '0']);
    await until('the seed to start', () => jsonLines(seed).some((l) => l.event === 'seeding'), 20_000);
    const url = jsonLines(seed).find((l) => l.event === 'started')!['ttpUrl'] as string;
    truncateSync(join(dir, 'p.bin'), 1000);
    const r = await request(`${url}/pieces/20`);
    await r.body.dump();
    assert.equal(r.statusCode, 500);
    assert.equal(await seed.exited, 1, seed.stderr);
    assert.match(seed.stdout + seed.stderr, /STORAGE_IO/);
  }));

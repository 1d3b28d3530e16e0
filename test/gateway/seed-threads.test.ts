/**
 * The seed's disk threads are one set for every file serve offers, not a set per file: each file
 * whose torrent was asked for used to open its storage with a disk pool of its own (two worker
 * threads, a V8 isolate each), so a folder of many files asked for as torrents took two threads
 * per file (20 small files: 41 threads, 301 MiB). Counted from /proc/self/task (Linux).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';

const threads = (): number => readdirSync('/proc/self/task').length;

test('serve: the files it seeds share one set of disk threads (eight torrents start no thread beyond the first)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const name = (i: number): string => `f${i}.bin`;
    for (let i = 0; i < 9; i++) writeFileSync(join(root, name(i)), bytes(2048, i + 1));
    const g = await startGateway(t, { root, minSizeBytes: 1024 });
    // The first torrent starts whatever serve starts once (hashers, disk threads, libuv's pool).
    await torrentOf(`${g.url}/${name(0)}`);
    const after1 = threads();
    for (let i = 1; i < 9; i++) await torrentOf(`${g.url}/${name(i)}`);
    const after9 = threads();
    assert.ok(after9 - after1 <= 1, `threads after 1 torrent: ${after1}, after 9: ${after9} (a set per file would be 16 more)`);
  }),
);

/**
 * Two `torrenttp download`s into one folder at once: one DHT node table (`<dir>/.torrenttp/dht.dat`),
 * two nodes. The first owns it (`dht.dat.lock`); the second runs its node with its own id, never
 * saves, and says so; both stop cleanly, and the table and no lock are left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeState } from '../../src/dht/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { spawnCli } from '../helpers/cli.js';
import { loopbackDhtNode } from '../helpers/dht.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('two downloads into one folder: the second DHT node takes its own id, does not save, and warns naming the first', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const entry = await loopbackDhtNode();
    t.after(() => entry.close());
    mkdirSync(join(dir, 'src'));
    const torrents = [];
    for (const n of [1, 2]) {
      writeFileSync(join(dir, 'src', `f${n}.bin`), bytes(64 * 1024 + n, n));
      const { torrent } = await createTorrent(join(dir, 'src', `f${n}.bin`), { pieceLength: 16 * 1024, creationDate: null });
      writeFileSync(join(dir, `f${n}.torrent`), torrent);
      torrents.push(`f${n}.torrent`);
    }
    const args = ['-o', 'dl', '--listen', '127.0.0.1', '--dht-bootstrap', `127.0.0.1:${entry.port}`];
    const first = spawnCli(t, dir, ['download', torrents[0]!, ...args]);
    const lock = join(dir, 'dl', '.torrenttp', 'dht.dat.lock');
    await until('the first download to lock the DHT table', () => existsSync(lock), 20_000);
    assert.equal(readFileSync(lock, 'utf8').trim(), String(first.child.pid));
    const second = spawnCli(t, dir, ['download', torrents[1]!, ...args]);
    await until('the second download to warn', () => /in use by another DHT node/.test(second.stdout + second.stderr), 20_000);
    assert.match(second.stdout + second.stderr, new RegExp(`dht\\.dat is in use by another DHT node \\(pid ${first.child.pid}\\): this one takes its own id and will not save its table`));
    assert.doesNotMatch(first.stdout + first.stderr, /in use by another DHT node/);
    second.child.kill('SIGINT');
    await second.exited;
    assert.ok(existsSync(lock), "the second one left the first one's lock");
    first.child.kill('SIGINT');
    await first.exited;
    assert.ok(!existsSync(lock), 'the first one released it');
    assert.equal(decodeState(readFileSync(join(dir, 'dl', '.torrenttp', 'dht.dat'))).id.length, 20, 'the table is saved');
  }));

/**
 * One DHT node per state file: two `torrenttp download`s into one folder (or two nodes of one
 * process) must not run one node id twice on the DHT, nor overwrite each other's table. The
 * second node bootstraps from the saved nodes, takes its own id, never saves, and says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { DhtNode, decodeState, lockState } from '../../src/dht/index.js';
import { TorrenttpError } from '../../src/errors/index.js';
import { loopbackDhtNode } from '../helpers/dht.js';
import { withTempDir } from '../helpers/torrents.js';

test('a second node on a state file in use: its own id, the saved nodes to bootstrap from, no save, a warning naming the holder', (t) =>
  withTempDir(t, async (dir) => {
    const entry = await loopbackDhtNode();
    const other = await loopbackDhtNode(entry.port);
    t.after(() => Promise.all([entry.close(), other.close()]));
    const stateFile = join(dir, '.torrenttp', 'dht.dat');
    const first = new DhtNode({ host: '127.0.0.1', timeoutMs: 500, stateFile, bootstrap: [`127.0.0.1:${entry.port}`] });
    const second = new DhtNode({ host: '127.0.0.1', timeoutMs: 500, stateFile }); // no bootstrap: the saved nodes only
    const third = new DhtNode({ host: '127.0.0.1', timeoutMs: 500, stateFile });
    t.after(() => Promise.all([first.close(), second.close(), third.close()]));
    await first.start();
    await first.whenReady();
    await first.save(); // the table the second one will bootstrap from
    assert.ok(existsSync(`${stateFile}.lock`));
    assert.equal(readFileSync(`${stateFile}.lock`, 'utf8').trim(), String(process.pid));

    const warnings: [string, TorrenttpError | undefined][] = [];
    second.on('warning', (m, e) => warnings.push([m, e]));
    await second.start();
    await second.whenReady();
    assert.notDeepEqual(second.id, first.id, 'never the same id twice on the DHT');
    assert.ok(second.stats().nodes >= 2, `bootstrapped from the saved nodes (${second.stats().nodes})`);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]![1]?.code, 'DHT_STATE_IN_USE');
    assert.match(warnings[0]![0], /in use by another DHT node \(in this process\)/);
    await second.close();
    assert.deepEqual(decodeState(readFileSync(stateFile)).id, first.id, 'the second one saved nothing');
    assert.ok(existsSync(`${stateFile}.lock`), "the second one left the first one's lock alone");
    await first.close();
    assert.ok(!existsSync(`${stateFile}.lock`), 'released on close');
    assert.deepEqual(decodeState(readFileSync(stateFile)).id, first.id);

    // Free again: the next node takes it, with the saved id.
    await third.start();
    assert.deepEqual(third.id, first.id);
    await third.close();
  }));

test('a lock held by another live process is respected; one left by a process that is gone is taken over', (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, '.torrenttp'));
    const stateFile = join(dir, '.torrenttp', 'dht.dat');
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    t.after(() => sleeper.kill());
    writeFileSync(`${stateFile}.lock`, `${sleeper.pid}\n`);
    const held = await lockState(stateFile);
    assert.deepEqual(held, { heldBy: sleeper.pid });
    const gone = new Promise((resolve) => sleeper.once('exit', resolve));
    sleeper.kill();
    await gone;
    const taken = await lockState(stateFile);
    assert.ok('release' in taken, 'a dead holder\'s lock is taken over');
    assert.equal(readFileSync(`${stateFile}.lock`, 'utf8').trim(), String(process.pid));
    await taken.release();
    assert.ok(!existsSync(`${stateFile}.lock`));
  }));

test('a dead lock taken over by many at once: exactly one gets it, the others name the winner', (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, '.torrenttp'));
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    const gone = new Promise((resolve) => sleeper.once('exit', resolve));
    sleeper.kill();
    await gone;
    // A pid that was alive a moment ago and is not any more: a crashed holder's lock.
    const dead = sleeper.pid!;
    for (let round = 0; round < 20; round++) {
      const stateFile = join(dir, '.torrenttp', `dht${round}.dat`);
      writeFileSync(`${stateFile}.lock`, `${dead}\n`);
      const got = await Promise.all(Array.from({ length: 6 }, () => lockState(stateFile)));
      const winners = got.filter((g) => 'release' in g);
      assert.equal(winners.length, 1, `round ${round}: one holder, not ${winners.length}`);
      for (const g of got) if ('heldBy' in g) assert.equal(g.heldBy, process.pid, `round ${round}: the others name the live holder`);
      assert.equal(readFileSync(`${stateFile}.lock`, 'utf8').trim(), String(process.pid));
      await (winners[0] as { release: () => Promise<void> }).release();
      assert.ok(!existsSync(`${stateFile}.lock`));
    }
  }));

test('a planted huge lock file (3 GiB, sparse) is read for its pid only, and taken over', (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, '.torrenttp'));
    const stateFile = join(dir, '.torrenttp', 'dht.dat');
    writeFileSync(`${stateFile}.lock`, '');
    truncateSync(`${stateFile}.lock`, 3 * 1024 ** 3);
    const taken = await lockState(stateFile);
    assert.ok('release' in taken, 'no pid in it: a dead lock');
    assert.equal(readFileSync(`${stateFile}.lock`, 'utf8').trim(), String(process.pid));
    await taken.release();
  }));

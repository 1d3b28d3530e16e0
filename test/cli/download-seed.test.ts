/**
 * The `download` and `seed` commands as a user runs them: real processes, a tracker, SIGTERM
 * in the middle (the tracker hears `stopped`, resume state is saved, exit is clean), then a
 * second run that resumes instead of starting over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { TrackerServer } from '../../src/tracker/index.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

interface Line {
  readonly event: string;
  readonly [k: string]: unknown;
}

function start(args: string[], cwd: string) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { child, lines: [] as Line[], stderr: '', exited: new Promise<number | null>((r) => child.on('exit', (code) => r(code))) };
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      p.lines.push(JSON.parse(buf.slice(0, nl)) as Line);
      buf = buf.slice(nl + 1);
    }
  });
  child.stderr.on('data', (d: Buffer) => (p.stderr += d.toString()));
  return p;
}

test('download: SIGTERM sends stopped, saves state and exits; the next run resumes and completes', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const data = join(dir, 'data');
    mkdirSync(data);
    const payload = bytes(12 * 1024 * 1024, 9);
    writeFileSync(join(data, 'p.bin'), payload);
    const tracker = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 60, minIntervalSec: 1 });
    const { port } = await tracker.listen();
    t.after(() => tracker.close());
    const { torrent } = await createTorrent(join(data, 'p.bin'), { pieceLength: 256 * 1024, creationDate: null, announceList: [[`http://127.0.0.1:${port}/announce`]] });
    writeFileSync(join(dir, 'p.torrent'), torrent);

    // A slow seed (2 MiB/s), so that the download is still running when we stop it.
    const seeder = new Client({ uploadLimit: 2 * 1024 * 1024 });
    t.after(() => seeder.close());
    await seeder.add(torrent, { path: data });
    const seedPort = await seeder.listen();

    const first = start(['download', 'p.torrent', '-o', 'dl', '--peer', `127.0.0.1:${seedPort}`, '--json'], dir);
    t.after(() => first.child.kill('SIGKILL'));
    await until('some progress', () => first.lines.some((l) => l.event === 'progress' && (l['verifiedBytes'] as number) > 1024 * 1024), 30_000);
    assert.equal((await tracker.stats()).leechers, 1, 'the leecher announced itself');
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 130, `interrupted before the end is not a success:\n${first.stderr}`);
    const summary = first.lines.find((l) => l.event === 'summary')!;
    assert.match(String(summary['status']), /stopped \(SIGTERM\)/);
    assert.equal((await tracker.stats()).leechers, 0, 'the tracker heard `stopped`');
    const had = summary['verifiedBytes'] as number;
    assert.ok(had > 0 && had < payload.length);

    const second = start(['download', 'p.torrent', '-o', 'dl', '--peer', `127.0.0.1:${seedPort}`, '--json'], dir);
    t.after(() => second.child.kill('SIGKILL'));
    assert.equal(await second.exited, 0, second.stderr);
    const started = second.lines.find((l) => l.event === 'started')!;
    assert.ok((started['verifiedBytes'] as number) >= had, `resumed from ${String(started['verifiedBytes'])} bytes, had ${had}`);
    const done = second.lines.find((l) => l.event === 'summary')!;
    assert.equal(done['status'], 'complete');
    assert.ok((done['downloaded'] as number) <= payload.length - had + 1024 * 1024, 'the second run fetched only what was missing');
    assert.deepEqual(readFileSync(join(dir, 'dl', 'p.bin')), Buffer.from(payload));
  }));

test('seed: serves until SIGTERM, then exits 0', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(2 * 1024 * 1024, 10);
    writeFileSync(join(dir, 'p.bin'), payload);
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { pieceLength: 64 * 1024, creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const seed = start(['seed', 'p.torrent', 'p.bin', '--json'], dir);
    t.after(() => seed.child.kill('SIGKILL'));
    await until('the seed to start', () => seed.lines.some((l) => l.event === 'seeding'), 20_000);
    const port = seed.lines.find((l) => l.event === 'started')!['port'] as number;
    const leech = new Client({ listen: false });
    t.after(() => leech.close());
    const tor = await leech.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${port}`] });
    await tor.done;
    await leech.close(); // its resume save, before the folder goes
    assert.deepEqual(readFileSync(join(dir, 'dl', 'p.bin')), Buffer.from(payload));
    seed.child.kill('SIGTERM');
    assert.equal(await seed.exited, 0, seed.stderr);
    assert.match(String(seed.lines.find((l) => l.event === 'summary')!['status']), /stopped seeding \(SIGTERM\)/);
  }));

test('download limit: a 3 MiB download at 1 MiB/s takes 3 s or more (no first burst)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(3 * 1024 * 1024, 11);
    writeFileSync(join(dir, 'p.bin'), payload);
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { pieceLength: 64 * 1024, creationDate: null });
    const seeder = new Client();
    t.after(() => seeder.close());
    await seeder.add(torrent, { path: dir });
    const port = await seeder.listen();
    const leech = new Client({ listen: false, downloadLimit: 1024 * 1024 });
    t.after(() => leech.close());
    const t0 = Date.now();
    const tor = await leech.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${port}`] });
    await tor.done;
    const secs = (Date.now() - t0) / 1000;
    // The bucket starts empty at the first request: 3 MiB at 1 MiB/s, less one block.
    assert.ok(secs >= 2.95, `took ${secs} s`);
  }));

/**
 * `torrenttp download --select 1,3` as a user runs it (a real process), from an aria2c seed of a
 * multi-file torrent made by mktorrent (aria2c and mktorrent are required, .ci/run installs them).
 *
 * The fixture, 32 KiB pieces (mktorrent -l 15), files in mktorrent's order:
 *
 *   1 a.bin 100000   pieces 0-3     piece 3 is shared with b.bin (its first 31072 bytes)
 *   2 b.bin 200000   pieces 3-9     shared at both ends: with a.bin and with c.bin
 *   3 c.bin 158752   pieces 9-13    piece 9 holds b.bin's last 5088 bytes; c.bin ends on a piece boundary
 *   4 d.bin 123457   pieces 14-17   shares no piece with a selected file
 *
 * So a.bin and c.bin must be byte-identical, d.bin must not exist, and b.bin exists holding only
 * its bytes of the two boundary pieces (the rest is a hole: pieces 4-8 are never fetched).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTool, run } from '../helpers/processes.js';
import { ariaSeed } from '../helpers/swarm.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');
const PIECE = 32 * 1024;
const SIZES = { 'a.bin': 100_000, 'b.bin': 200_000, 'c.bin': 158_752, 'd.bin': 123_457 } as const;

test('aria2c seeds a mktorrent multi-file torrent; torrenttp download --select 1,3 fetches files 1 and 3 only', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('mktorrent', ['-v']);
    const root = join(dir, 'seed', 'set');
    mkdirSync(root, { recursive: true });
    const data = new Map<string, Uint8Array>();
    let seed = 40;
    for (const [name, size] of Object.entries(SIZES)) {
      data.set(name, bytes(size, seed++));
      writeFileSync(join(root, name), data.get(name)!);
    }
    assert.equal((SIZES['a.bin'] + SIZES['b.bin'] + SIZES['c.bin']) % PIECE, 0, 'c.bin ends on a piece boundary, so d.bin shares nothing');
    const torrent = join(dir, 'set.torrent');
    const mk = spawnSync('mktorrent', ['-l', '15', '-d', '-n', 'set', '-o', torrent, root], { encoding: 'utf8' });
    assert.equal(mk.status, 0, mk.stderr);

    const info = JSON.parse(spawnSync(process.execPath, [BIN, 'info', torrent, '--json'], { encoding: 'utf8' }).stdout) as { files: { index: number; path: string }[] };
    assert.deepEqual(info.files.map((f) => [f.index, f.path]), [[1, 'a.bin'], [2, 'b.bin'], [3, 'c.bin'], [4, 'd.bin']]);

    const aria = await ariaSeed(t, torrent, join(dir, 'seed'));
    const dl = run(t, process.execPath, [BIN, 'download', torrent, '-o', join(dir, 'dl'), '--select', '1,3', '--peer', `127.0.0.1:${aria.port}`, '--no-trackers', '--json']);
    const code = await Promise.race([dl.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000).unref())]);
    assert.equal(code, 0, `download ${code === 'timeout' ? 'timed out' : `exited ${code}`}:\n${dl.output.slice(-3000)}`);

    const got = join(dir, 'dl', 'set');
    assert.deepEqual(readFileSync(join(got, 'a.bin')), Buffer.from(data.get('a.bin')!));
    assert.deepEqual(readFileSync(join(got, 'c.bin')), Buffer.from(data.get('c.bin')!));
    assert.equal(existsSync(join(got, 'd.bin')), false, 'file 4 shares no piece with files 1 and 3: never created');
    // File 2 shares piece 3 with file 1 and piece 9 with file 3: it holds exactly those bytes.
    const b = readFileSync(join(got, 'b.bin'));
    const B = data.get('b.bin')!;
    const head = 4 * PIECE - SIZES['a.bin']; // 31072
    const tail = SIZES['a.bin'] + SIZES['b.bin'] - 9 * PIECE; // 5088
    assert.equal(b.length, B.length);
    assert.deepEqual(b.subarray(0, head), Buffer.from(B.subarray(0, head)));
    assert.deepEqual(b.subarray(B.length - tail), Buffer.from(B.subarray(B.length - tail)));
    assert.ok(b.subarray(head, B.length - tail).every((x) => x === 0), 'pieces 4-8 (b.bin alone) were never fetched');
    assert.ok(statSync(join(got, 'b.bin')).blocks * 512 < B.length / 2, 'and take no disk (sparse)');

    const lines = dl.output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = lines.find((l) => l['event'] === 'summary')!;
    assert.equal(summary['status'], 'complete');
    assert.equal(summary['progress'], 1);
    assert.equal(summary['length'], SIZES['a.bin'] + SIZES['c.bin'], 'progress counts the selected files');
    assert.ok((summary['downloaded'] as number) <= 10 * PIECE, 'pieces 0-3 and 9-13 only (10 pieces)');
  }));

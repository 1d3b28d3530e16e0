/**
 * What `seed` and `download` show while the data is checked and while it moves: on a real
 * terminal (a pseudo-terminal from util-linux `script`), in plain output, and in JSON lines.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTorrent } from '../../src/metainfo/index.js';
import { CLI_BIN, jsonLines, spawnCli } from '../helpers/cli.js';
import { freePort, requireTool, until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

/** A payload `p.bin` of `mib` MiB and its `p.torrent`. The data is checked in 4 MiB jobs: one checking step each. */
async function payload(dir: string, mib: number): Promise<void> {
  const block = bytes(1024 * 1024, 51);
  writeFileSync(join(dir, 'p.bin'), Buffer.concat(Array.from({ length: mib }, (_, i) => Buffer.from(block.map((b) => b ^ i)))));
  const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null, pieceLength: 256 * 1024 });
  writeFileSync(join(dir, 'p.torrent'), torrent);
}
const eightMiB = (dir: string): Promise<void> => payload(dir, 8);

/**
 * `seed p.torrent p.bin --seed-time SECONDS --no-trackers` (shell `redirect` appended) on a
 * pseudo-terminal from util-linux `script`: stdout and stderr are TTYs unless redirected, as for a
 * user. Resolves with what reached the terminal once it exited 0.
 */
async function seedOnTerminal(t: TestContext, dir: string, seconds: number, redirect = ''): Promise<string> {
  const child = spawn('script', ['-qefc', `${process.execPath} ${CLI_BIN} seed p.torrent p.bin --seed-time ${seconds}s --no-trackers ${redirect}`, '/dev/null'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  assert.equal(await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c))), 0, out);
  return out;
}

test('on a terminal: a checking bar, then a progress bar with sizes in units and the ETA with its unit', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('script', ['--version']);
    await eightMiB(dir);
    const text = (await seedOnTerminal(t, dir, 2)).replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, ''); // cursor moves, saves and line clears
    assert.match(text, /checking [=\-█░]+ \d+% \| [\d.]+ (B|KiB|MiB)\/8\.00 MiB/, text);
    assert.match(text, /[=\-█░]+ 100% \| 8\.00 MiB\/8\.00 MiB \| ↓ [\d.]+ B\/s ↑ [\d.]+ B\/s \| 0 peers \| ETA 0s/, text);
    assert.doesNotMatch(text, /\/8388608|ETA (INF|\d+\b)(?!s)/, text); // cli-progress's own total and eta must not leak in
    assert.match(text, /seeding for 2s \(or until Ctrl-C\)/, text);
  }));

test('the bar follows stderr, where it is drawn: `> log` keeps it on the terminal, `2> log` gets plain lines and no escape codes', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('script', ['--version']);
    await eightMiB(dir);
    // stdout to a file, stderr the terminal: the bar on the terminal, no progress lines in the file.
    const shown = await seedOnTerminal(t, dir, 1, '> out.txt');
    assert.match(shown, /checking [=\-█░]+ \d+% \|/, shown);
    assert.doesNotMatch(readFileSync(join(dir, 'out.txt'), 'utf8'), /checking|ETA/); // the summary line only
    // stderr to a file, stdout the terminal: plain lines on the terminal, no bar in the file.
    const plain = await seedOnTerminal(t, dir, 1, '2> err.txt');
    assert.match(plain, /^(checking )?\d+\.\d% [\d.]+ (B|KiB|MiB)\/8\.00 MiB/m, plain);
    const err = readFileSync(join(dir, 'err.txt'), 'utf8');
    assert.doesNotMatch(err, /\x1b|█|░/, err);
    assert.match(err, /^seeding for 1s/m, err);
  }));

test('plain output: a checking line at once (not a blank screen while the data is hashed)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    await eightMiB(dir);
    const p = spawnCli(t, dir, ['seed', 'p.torrent', 'p.bin', '--seed-time', '1s', '--no-trackers']);
    assert.equal(await p.exited, 0, p.stderr);
    assert.match(p.stdout, /^checking \d+\.\d% [\d.]+ (B|KiB|MiB)\/8\.00 MiB$/m, p.stdout);
    assert.match(p.stderr, /^seeding for 1s \(or until Ctrl-C\)$/m);
  }));

test('--json checking lines are throttled like progress; --json-interval 0 gives every one, --stop-timeout 0 is off', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    await payload(dir, 96); // 24 checking steps
    const started = Date.now();
    const p = spawnCli(t, dir, ['seed', 'p.torrent', 'p.bin', '--json', '--seed-time', '1s', '--no-trackers']);
    assert.equal(await p.exited, 0, p.stderr);
    const seconds = (Date.now() - started) / 1000;
    const checking = jsonLines(p).filter((l) => l.event === 'checking');
    assert.ok(checking.length >= 1 && checking.length <= Math.ceil(seconds) + 1, `${checking.length} checking lines in ${seconds} s`);
    assert.equal(checking.at(-1)?.['checkedBytes'], 96 * 1024 * 1024, 'the last one is always printed');

    const fresh = join(dir, 'fresh'); // no resume file: checked again
    mkdirSync(fresh);
    await payload(fresh, 96);
    const every = spawnCli(t, fresh, ['seed', 'p.torrent', 'p.bin', '--json', '--json-interval', '0', '--seed-time', '1s', '--no-trackers']);
    assert.equal(await every.exited, 0, every.stderr);
    assert.equal(jsonLines(every).filter((l) => l.event === 'checking').length, 24);

    // --stop-timeout 0 is off (aria2's 0): a download with nothing to download from keeps waiting.
    const waiting = spawnCli(t, fresh, ['download', 'p.torrent', '-o', 'dl', '--stop-timeout', '0']);
    await until('the download to start', () => /^downloading p\.bin/m.test(waiting.stderr), 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(waiting.child.exitCode, null, waiting.stderr);
    waiting.child.kill('SIGINT');
    assert.equal(await waiting.exited, 130, waiting.stderr);
  }));

test('--json: a progress line at the first verified piece, whatever --json-interval says (time to first byte)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    await payload(dir, 2); // 8 pieces of 256 KiB
    // The download starts before its seed, so its first line (nothing verified) comes first; then,
    // with an hour between lines, only the first verified piece's line is printed before the summary.
    const port = await freePort();
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--peer', `127.0.0.1:${port}`, '--no-trackers', '--no-dht', '--json', '--json-interval', '3600']);
    await until('the download\'s first progress line', () => jsonLines(p).some((l) => l.event === 'progress'), 20_000);
    spawnCli(t, dir, ['seed', 'p.torrent', 'p.bin', '--port', String(port), '--listen', '127.0.0.1', '--no-trackers', '--no-dht']);
    assert.equal(await p.exited, 0, p.stderr);
    const verified = jsonLines(p).filter((l) => l.event === 'progress').map((l) => l['verifiedBytes']);
    assert.deepEqual(verified, [0, 256 * 1024], `progress lines' verifiedBytes: ${verified.join(', ')}`);
    assert.equal(jsonLines(p).at(-1)?.['status'], 'complete');
  }));

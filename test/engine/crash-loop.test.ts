/**
 * Crash-safe resume under random kills (issue 18): a child process downloading from our seed is
 * killed with SIGKILL (by pid) at seeded random moments, again and again, then left to finish.
 * After every restart, every piece any earlier run reported verified is verified again at once
 * (never lost), every verified piece is right on disk (never corrupt), and the final file is
 * byte-identical. docs/storage.md (Fsync policy) says why: a piece is reported only after its
 * write returned, and a file changed after the last resume save is rehashed at open.
 * Fault checked once: storage that skips rehashing odd pieces at open (piece-store.ts) fails
 * this test (the restarted download stalls and hits its deadline). Every wait has a deadline,
 * and the children are killed by pid whatever happens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '../../src/engine/index.js';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';
import { rngOf } from '../fuzz/engine.js';

const PIECE = 64 * 1024;
const data = bytes(8 * 1024 * 1024, 41);
const PIECES = data.length / PIECE;
const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));
/**
 * The twenty by default (`TORRENTTP_CRASH_KILLS` for more or fewer). A kill cycle used
 * to be a process start (node itself, then importing the engine: 0.6-1.5 s on a loaded machine,
 * 0.4 s of CPU), the storage open (the disk threads start, and the file, written since the
 * last resume save, is hashed again whole: 0.6-0.9 s loaded), a wait of 0.1-1 s, this process's
 * check of the file (reading 8 MiB: 0.1-0.3 s) and the exit: about 2.7 s. Now the next child
 * starts while the previous one runs and waits for its peers on stdin, so only the storage open
 * is on the clock, and the check runs while the run connects; the kill comes 0-0.5 s after
 * the run's first verified piece (so every kill lands among commits, not before any).
 */
const KILLS = Number(process.env['TORRENTTP_CRASH_KILLS'] ?? 20);
/** The longest random wait between a run's first verified piece and its kill. */
const MAX_WAIT_MS = 500;

interface Run {
  start: Set<number> | undefined;
  pieces: number[];
  done: boolean;
  exited: Promise<void>;
  /** Tells the waiting child its peers: it opens the torrent now. */
  go(peers: string[]): void;
  kill(): void;
}

function startChild(args: string[]): Run {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined); // a child killed before it read its line
  let buf = '';
  let err = '';
  const run: Run = {
    start: undefined,
    pieces: [],
    done: false,
    exited: new Promise((resolve) => child.on('exit', () => resolve())),
    go: (peers) => void child.stdin.end(`${peers.join(' ')}\n`),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    },
  };
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith('start')) run.start = new Set(line.slice(6).split(',').filter((x) => x !== '').map(Number));
      else if (line.startsWith('piece ')) run.pieces.push(Number(line.slice(6)));
      else if (line === 'done') run.done = true;
    }
  });
  void run.exited.then(() => {
    if (err !== '' && !run.done && child.signalCode !== 'SIGKILL') process.stderr.write(`crash-child: ${err}\n`);
  });
  return run;
}

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out (${ms} ms) waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test(`a download killed with SIGKILL at ${KILLS} random moments in a row resumes every time and ends byte-identical`, { timeout: 30_000 + KILLS * 8000 }, (t) =>
  withTempDir(t, async (dir) => {
    const seedDir = join(dir, 'seed');
    const dlDir = join(dir, 'dl');
    mkdirSync(seedDir);
    mkdirSync(dlDir);
    writeFileSync(join(seedDir, 'payload.bin'), data);
    const torrent = join(dir, 't.torrent');
    writeFileSync(torrent, torrentBytes({ name: 'payload.bin', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) }));
    // The killed runs download from a seed limited so that every kill lands mid-download: a run
    // gets the bucket's burst (one second's worth, refilled while the next run starts) and then
    // the rate until its kill (0.25 s on average), about 1.3 s worth; the rate makes all the runs
    // together take about half the file (142 KiB/s for twenty; at 1 MiB/s the file was whole
    // after 5 runs). The last run, which must finish, also has a second seed without a limit.
    const rate = Math.max(16 * 1024, Math.min(192 * 1024, Math.floor((data.length * 0.45) / KILLS / 1.3)));
    const seed = new Client({ host: '127.0.0.1', uploadLimit: rate });
    const fast = new Client({ host: '127.0.0.1' });
    const runs: Run[] = [];
    try {
      await seed.add(torrent, { path: seedDir, trackers: false, webSeeds: false });
      await fast.add(torrent, { path: seedDir, trackers: false, webSeeds: false, resumeDir: join(dir, 'fast-resume') });
      const args = [torrent, dlDir];
      const slow = [`127.0.0.1:${seed.port}`];
      const rng = rngOf(18);
      const everVerified = new Set<number>();
      const checkStart = (run: Run, k: number): void => {
        const lost = [...everVerified].filter((i) => !run.start!.has(i));
        assert.deepEqual(lost, [], `run ${k}: pieces verified before the kill are verified again at open`);
        let onDisk: Uint8Array | undefined;
        try {
          onDisk = readFileSync(join(dlDir, 'payload.bin'));
        } catch {
          assert.equal(run.start!.size, 0);
          return;
        }
        for (const i of run.start!) {
          const want = data.subarray(i * PIECE, (i + 1) * PIECE);
          assert.ok(Buffer.from(onDisk.subarray(i * PIECE, (i + 1) * PIECE)).equals(want), `run ${k}: verified piece ${i} is right on disk`);
        }
      };
      let kills = 0;
      const started = Date.now();
      let openMs = 0;
      // Each child starts (node, the engine's modules) while the one before it still runs, and
      // waits; it opens the torrent only once the one before is dead.
      let next = startChild(args);
      runs.push(next);
      for (let k = 0; k < KILLS; k++) {
        const run = next;
        const opening = Date.now();
        run.go(slow);
        next = startChild(args);
        runs.push(next);
        await until(`run ${k} to open its storage`, () => run.start !== undefined || run.done, 15_000);
        openMs += Date.now() - opening;
        checkStart(run, k); // while the run connects: the pieces it checks are never written again
        // Killed while pieces are being committed: a random moment after its first one.
        const opened = Date.now();
        await until(`run ${k} to verify a piece`, () => run.pieces.length > 0 || run.done || Date.now() - opened > 3000, 5000);
        await new Promise((r) => setTimeout(r, Math.floor(rng() * MAX_WAIT_MS)));
        run.kill();
        await run.exited;
        for (const i of run.pieces) everVerified.add(i);
        if (run.done) break;
        kills++;
      }
      const killing = Date.now() - started;
      const last = next;
      last.go([...slow, `127.0.0.1:${fast.port}`]);
      await until('the last run to open its storage', () => last.start !== undefined, 15_000);
      checkStart(last, KILLS);
      await until('the last run to finish', () => last.done, 30_000);
      await last.exited;
      t.diagnostic(`${kills} kills in ${(killing / 1000).toFixed(1)} s (${Math.round(killing / Math.max(1, kills))} ms a cycle, of which ${Math.round(openMs / Math.max(1, kills))} ms opening the storage), ${everVerified.size} of ${PIECES} pieces before the last run`);
      assert.equal(kills, KILLS, `every kill mid-download (pieces before the last run: ${everVerified.size} of ${PIECES})`);
      assert.ok(Buffer.from(readFileSync(join(dlDir, 'payload.bin'))).equals(data), 'the final file is byte-identical');
    } finally {
      for (const r of runs) r.kill();
      const deadline = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
      await Promise.race([Promise.all(runs.map((r) => r.exited)), deadline(5000)]);
      await Promise.race([Promise.all([seed.close(), fast.close()]), deadline(10_000)]);
    }
  }),
);

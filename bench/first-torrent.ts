/**
 * Time to first torrent: how long `serve` takes to answer the first `Accept:
 * application/x-bittorrent` request for a file it has never hashed (lazy hashing on its worker
 * threads, `503` + `Retry-After` meanwhile), beside `torrenttp create` and `mktorrent` of the
 * same file, in the same run, turn and turn about.
 *
 *   npm run bench:first-torrent -- [--size-mib 1024] [--runs 5]
 *
 * Each round starts a fresh `serve` with an empty metainfo cache (`--cache` in a new folder) on
 * a file already in the page cache, waits until it answers, then asks for the torrent every
 * 10 ms until it gets `200`: the time from the first ask to the torrent is serve's figure (its
 * start-up is not counted: a server is up before anyone asks). `create` and `mktorrent` are
 * timed as whole processes (their start-up counted: a user waits for it). All three must give
 * the same info-hash. Prints medians and the median of per-round ratios.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTorrent } from '../src/metainfo/index.js';
import { numberArg } from './args.js';
import { freePort, median, payloadFile } from './usage.js';

const SIZE_MIB = numberArg('size-mib', 1024);
const RUNS = numberArg('runs', 5);
const POLL_MS = 10;
/** mktorrent's smallest piece length (2^15); files under 64 MiB get smaller pieces by default and are timed without it. */
const MKTORRENT_MIN_PIECE = 32 * 1024;
const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

function bigFile(): { root: string; file: string } {
  const file = payloadFile(SIZE_MIB, 'torrenttp-bench-first-torrent');
  spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] }); // page cache
  return { root: dirname(file), file };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startServe(root: string, cache: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN, 'serve', root, '--port', String(port), '--host', '127.0.0.1', '--cache', cache, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`serve exited (${child.exitCode})`);
    try {
      const r = await fetch(`${url}/.torrenttp/status.json`);
      await r.arrayBuffer();
      if (r.ok) return { url, child };
    } catch {
      // not up yet
    }
    await sleep(25);
  }
  throw new Error('serve did not answer');
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** Seconds from the first torrent request to the torrent, and the torrent's info-hash. */
async function firstTorrent(url: string): Promise<{ s: number; infoHash: string }> {
  const t0 = performance.now();
  for (;;) {
    const r = await fetch(url, { headers: { accept: 'application/x-bittorrent' } });
    const body = new Uint8Array(await r.arrayBuffer());
    if (r.status === 200) {
      if (r.headers.get('content-type') !== 'application/x-bittorrent') throw new Error(`not a torrent: ${r.headers.get('content-type')}`);
      return { s: (performance.now() - t0) / 1000, infoHash: parseTorrent(body).infoHash };
    }
    if (r.status !== 503 && r.status !== 202) throw new Error(`GET ${url}: ${r.status}`);
    await sleep(POLL_MS);
  }
}

function timed(cmd: string, args: string[], out: string): { s: number; infoHash: string } {
  rmSync(out, { force: true });
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return { s, infoHash: parseTorrent(readFileSync(out)).infoHash };
}

async function main(): Promise<void> {
  const { root, file } = bigFile();
  const name = file.slice(root.length + 1);
  const work = mkdtempSync(join(tmpdir(), 'torrenttp-bench-ft-'));
  const serveS: number[] = [];
  const createS: number[] = [];
  const mkS: number[] = [];
  const hasMk = spawnSync('mktorrent', ['-v'], { encoding: 'utf8' }).error === undefined;
  try {
    for (let round = 0; round <= RUNS; round++) {
      const cache = mkdtempSync(join(work, 'cache-'));
      const serve = await startServe(root, cache);
      let ft: { s: number; infoHash: string };
      try {
        ft = await firstTorrent(`${serve.url}/${name}`);
      } finally {
        await stop(serve.child);
        rmSync(cache, { recursive: true, force: true });
      }
      // serve chose the piece length; create and mktorrent are given the same one
      const out = join(work, 'c.torrent');
      const created = timed(process.execPath, [MAIN, 'create', file, '--no-date', '-f', '-o', out], out);
      if (created.infoHash !== ft.infoHash) throw new Error(`info-hashes differ: serve ${ft.infoHash}, create ${created.infoHash}`);
      let mk: { s: number } | undefined;
      const pieceLength = parseTorrent(readFileSync(out)).pieceLength;
      if (hasMk && pieceLength >= MKTORRENT_MIN_PIECE) {
        const mout = join(work, 'm.torrent');
        const m = timed('mktorrent', ['-l', String(Math.log2(pieceLength)), '-d', '-o', mout, file], mout);
        if (m.infoHash !== ft.infoHash) throw new Error(`info-hashes differ: serve ${ft.infoHash}, mktorrent ${m.infoHash}`);
        mk = m;
      }
      const line = `round ${round}${round === 0 ? ' (warm-up)' : ''}: serve ${ft.s.toFixed(3)} s, create ${created.s.toFixed(3)} s${mk ? `, mktorrent ${mk.s.toFixed(3)} s` : ''}`;
      process.stderr.write(line + '\n');
      if (round === 0) continue;
      serveS.push(ft.s);
      createS.push(created.s);
      if (mk) mkS.push(mk.s);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const ratio = (a: number[], b: number[]) => median(a.map((x, i) => x / b[i]!)).toFixed(2);
  console.log(`time to first torrent, ${SIZE_MIB} MiB file, ${RUNS} rounds after a warm-up (medians)`);
  console.log(`serve (first ask → torrent)   ${median(serveS).toFixed(3)} s`);
  console.log(`torrenttp create (process)    ${median(createS).toFixed(3)} s   serve/create ${ratio(serveS, createS)}×`);
  if (mkS.length > 0) console.log(`mktorrent (process)           ${median(mkS).toFixed(3)} s   serve/mktorrent ${ratio(serveS, mkS)}×`);
}

await main();

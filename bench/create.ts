/**
 * `torrenttp create` beside `mktorrent` on the same file, in the same run, turn and turn about.
 *
 *   npm run bench:create -- [--size-mib 1024] [--runs 5] [--piece-exp 20]
 *
 * Makes (once) a random file under the OS temp folder, reads it once so both tools hash from
 * the page cache, then times whole processes: wall seconds, MB/s and peak RSS (from
 * /usr/bin/time when it is installed). Prints each tool's median and the median of the
 * per-pair ratios torrenttp/mktorrent, which holds up better than absolute times on a shared
 * machine. Both tools must produce the same info-hash, or the run fails.
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseTorrent } from '../src/metainfo/index.js';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    runs: { type: 'string', default: '5' },
    'piece-exp': { type: 'string', default: '20' },
  },
});
const sizeMiB = Number(values['size-mib']);
const runs = Number(values.runs);
const pieceExp = Number(values['piece-exp']);
const cli = resolve(fileURLToPath(import.meta.url), '../../src/cli/main.js');
const dir = join(tmpdir(), 'torrenttp-bench');
mkdirSync(dir, { recursive: true });
const file = join(dir, `random-${sizeMiB}MiB.bin`);

if (!existsSync(file) || statSync(file).size !== sizeMiB * 1024 * 1024) {
  process.stderr.write(`writing ${file}\n`);
  const fd = openSync(file, 'w');
  const buf = new Uint8Array(1024 * 1024);
  for (let i = 0; i < sizeMiB; i++) writeSync(fd, randomFillSync(buf));
  closeSync(fd);
}
for (let i = 0; i < 2; i++) spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] }); // page cache

const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
interface Sample { wallS: number; rssMiB: number | undefined }

function run(cmd: string, args: string[], out: string): Sample {
  rmSync(out, { force: true });
  const argv = timeBin ? ['-f', '%M', cmd, ...args] : args;
  const t0 = performance.now();
  const r = spawnSync(timeBin ?? cmd, argv, { encoding: 'utf8' });
  const wallS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const rss = timeBin ? Number(r.stderr.trim().split('\n').at(-1)) / 1024 : undefined;
  return { wallS, rssMiB: rss };
}

const ours = join(dir, 'torrenttp.torrent');
const theirs = join(dir, 'mktorrent.torrent');
const a: Sample[] = [];
const b: Sample[] = [];
for (let i = 0; i <= runs; i++) {
  const sa = run(process.execPath, [cli, 'create', file, '-l', String(pieceExp), '--no-date', '-f', '-o', ours], ours);
  const sb = run('mktorrent', ['-l', String(pieceExp), '-d', '-o', theirs, file], theirs);
  if (i > 0) {
    a.push(sa);
    b.push(sb);
  } // the first pair is a warm-up
}
const hashA = parseTorrent(readFileSync(ours)).infoHash;
const hashB = parseTorrent(readFileSync(theirs)).infoHash;
if (hashA !== hashB) throw new Error(`info-hashes differ: ${hashA} vs ${hashB}`);

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const mb = sizeMiB * 1.048576;
const row = (name: string, s: Sample[]) => {
  const w = median(s.map((x) => x.wallS));
  const rss = s[0]!.rssMiB === undefined ? 'n/a' : `${median(s.map((x) => x.rssMiB!)).toFixed(0)} MiB`;
  return `${name.padEnd(10)} median ${w.toFixed(3)} s  (min ${Math.min(...s.map((x) => x.wallS)).toFixed(3)}, max ${Math.max(...s.map((x) => x.wallS)).toFixed(3)})  ${(mb / w).toFixed(0)} MB/s  peak RSS ${rss}`;
};
console.log(`create, ${sizeMiB} MiB file, piece length 2^${pieceExp}, ${runs} runs each after a warm-up, same info-hash ${hashA}`);
console.log(row('torrenttp', a));
console.log(row('mktorrent', b));
console.log(`ratio torrenttp/mktorrent wall (median of pairs): ${median(a.map((x, i) => x.wallS / b[i]!.wallS)).toFixed(3)}`);

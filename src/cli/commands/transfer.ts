import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { Client, type AddOptions, type Torrent, type TorrentStats } from '../../engine/index.js';
import { TorrenttpError } from '../../errors/index.js';
import type { Metainfo } from '../../metainfo/index.js';
import { printJson, type CliContext } from '../context.js';
import { formatBytes, parseSize } from '../format.js';
import { loadInput } from '../load.js';
import { selectFilesOrUsageError } from '../select.js';

/**
 * `download` and `seed`: one Client, one torrent, a live progress bar on a terminal (plain
 * lines, or JSON lines with --json, otherwise), and a clean stop on Ctrl-C or SIGTERM: the
 * trackers hear `stopped` and the resume state is saved before exit.
 */
interface TransferFlags {
  output?: string;
  peer: string[];
  seed?: boolean;
  sequential?: boolean;
  port?: string;
  recheck?: boolean;
  skipVerify?: boolean;
  uploadLimit?: string;
  downloadLimit?: string;
  json?: boolean;
  trackers: boolean;
  webSeeds: boolean;
  /** `download --select` / `--only` (src/cli/select.ts), and the 0-based files they chose. */
  select?: string[];
  only?: string[];
  selectedFiles?: number[] | undefined;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function register(program: Command, ctx: CliContext): void {
  const common = (c: Command) =>
    c
      .option('--peer <host:port>', 'connect to this peer too; repeatable', collect, [])
      .option('--port <n>', 'listening port for incoming peers (default: any free port)')
      .option('--upload-limit <rate>', 'upload limit in bytes/s (256K, 1M…)')
      .option('--download-limit <rate>', 'download limit in bytes/s')
      .option('--no-trackers', "don't announce to the torrent's trackers")
      .option('--no-web-seeds', "don't use the torrent's web seeds")
      .option('--json', 'print JSON lines (progress, then a summary)');

  common(
    program
      .command('download')
      .description('download a torrent (and seed it with --seed)')
      .argument('<torrent>', '.torrent file or metainfo .json')
      .option('-o, --output <dir>', 'download folder (default: the current folder)')
      .option('--seed', 'keep seeding after the download completes, until interrupted')
      .option('--sequential', 'download pieces in order (streaming)')
      .option('--recheck', 'hash the data on disk instead of trusting the resume file')
      .option('--select <list>', 'download only these files: indexes as `info` lists them, e.g. 1,3-5; repeatable', collect, [])
      .option('--only <glob>', "download only files whose path in the torrent matches, e.g. '*.mkv'; repeatable", collect, []),
  ).action(async (input: string, flags: TransferFlags, cmd: Command) => {
    const metainfo = await metainfoOf(input, ctx);
    const dir = resolve(ctx.cwd, flags.output ?? '.');
    const selectedFiles = selectFilesOrUsageError(cmd, metainfo, flags.select ?? [], flags.only ?? []);
    await run(ctx, metainfo, dir, { ...flags, selectedFiles }, 'download');
  });

  common(
    program
      .command('seed')
      .description('serve a torrent from data you have, until interrupted')
      .argument('<torrent>', '.torrent file or metainfo .json')
      .argument('<data>', "the torrent's file or folder (or the folder that holds it)")
      .option('--skip-verify', 'trust the data without hashing it (sizes must match)'),
  ).action(async (input: string, data: string, flags: TransferFlags) => {
    const metainfo = await metainfoOf(input, ctx);
    const path = resolve(ctx.cwd, data);
    // `seed x.torrent ./payload.bin` names the data itself; `seed x.torrent ./folder` its parent.
    const dir = basename(path) === metainfo.name ? dirname(path) : path;
    await stat(resolve(dir, metainfo.name)).catch((cause: unknown) => {
      throw new TorrenttpError('CLI_INPUT_NOT_FOUND', { detail: `${resolve(dir, metainfo.name)} (the data to seed)`, cause });
    });
    await run(ctx, metainfo, dir, { ...flags, seed: true }, 'seed');
  });
}

async function metainfoOf(input: string, ctx: CliContext): Promise<Metainfo> {
  const loaded = await loadInput(input, ctx.cwd);
  if (loaded.kind === 'magnet') {
    // TODO(issue 5 follow-up): BEP 9 metadata exchange and BEP 10 extensions.
    throw new TorrenttpError('CLI_UNKNOWN_INPUT', { detail: 'magnet links need the metadata exchange (BEP 9), which is not built yet: use the .torrent' });
  }
  return loaded.metainfo;
}

function rate(flag: string | undefined, name: string): number | undefined {
  if (flag === undefined) return undefined;
  const n = parseSize(flag);
  if (n === undefined || n <= 0) throw new TorrenttpError('INVALID_ARGUMENT', { detail: `${name} ${flag}` });
  return n;
}

async function run(ctx: CliContext, metainfo: Metainfo, dir: string, flags: TransferFlags, mode: 'download' | 'seed'): Promise<void> {
  const port = flags.port === undefined ? 0 : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TorrenttpError('INVALID_ARGUMENT', { detail: `--port ${flags.port}` });
  const client = new Client({ port });
  const out = new Reporter(ctx, flags.json === true);
  const started = performance.now();
  let signalled!: (signal: string) => void;
  const stopped = new Promise<string>((resolve) => (signalled = resolve));
  const onInt = () => signalled('SIGINT');
  const onTerm = () => signalled('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  try {
    const uploadLimit = rate(flags.uploadLimit, '--upload-limit');
    const downloadLimit = rate(flags.downloadLimit, '--download-limit');
    const add: AddOptions = {
      path: dir,
      peers: flags.peer,
      trackers: flags.trackers,
      webSeeds: flags.webSeeds,
      ...(flags.sequential === true ? { sequential: true } : {}),
      ...(flags.selectedFiles === undefined ? {} : { selectedFiles: flags.selectedFiles }),
      ...(flags.recheck === true ? { recheck: true } : {}),
      ...(flags.skipVerify === true ? { skipVerify: true } : {}),
      ...(uploadLimit === undefined ? {} : { uploadLimit }),
      ...(downloadLimit === undefined ? {} : { downloadLimit }),
      onCheckProgress: (done, total) => out.checking(done, total),
    };
    const t = await client.add(metainfo, add);
    out.start(t, client.port, mode);
    t.on('progress', (s) => out.progress(s));
    client.on('warning', (msg) => out.warning(msg));
    let how = await Promise.race([t.done.then(() => 'complete'), stopped.then((sig) => `stopped (${sig})`)]);
    if (how === 'complete' && flags.seed === true) {
      if (mode === 'download') out.summary(t.stats(), (performance.now() - started) / 1000, how);
      out.seeding(t);
      how = `stopped seeding (${await stopped})`;
    }
    out.summary(t.stats(), (performance.now() - started) / 1000, how);
    if (!t.complete) ctx.exitCode = 130; // interrupted before the end: not a success (128 + SIGINT, as shells say)
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    out.stop();
    await client.close(); // `stopped` to the trackers, resume state saved
  }
}

/** Progress output: a bar on a terminal, a line every few seconds otherwise, JSON lines with --json. */
class Reporter {
  private bar: { update(v: number, payload: object): void; stop(): void; start(total: number, v: number, payload: object): void } | undefined;
  private lastLine = 0;

  constructor(
    private readonly ctx: CliContext,
    private readonly json: boolean,
  ) {}

  checking(done: number, total: number): void {
    if (this.json) printJson(this.ctx, { event: 'checking', checkedBytes: done, totalBytes: total });
  }

  start(t: Torrent, port: number, mode: string): void {
    const s = t.stats();
    if (this.json) {
      printJson(this.ctx, { event: 'started', mode, infoHash: s.infoHash, name: s.name, length: s.length, port, verifiedBytes: s.verifiedBytes });
      return;
    }
    this.ctx.stderr.write(`${mode === 'seed' ? 'seeding' : 'downloading'} ${s.name} (${formatBytes(s.length)}, ${s.infoHash}) on port ${port}\n`);
  }

  progress(s: TorrentStats): void {
    if (this.json) {
      printJson(this.ctx, { event: 'progress', ...s });
      return;
    }
    const payload = {
      speed: `${formatBytes(s.downloadRate)}/s`,
      up: `${formatBytes(s.uploadRate)}/s`,
      peers: s.peers,
      eta: s.etaSec === undefined ? '-' : `${Math.ceil(s.etaSec)}s`,
    };
    if (this.ctx.stdout.isTTY === true) {
      if (this.bar === undefined) {
        void import('cli-progress').then(({ SingleBar }) => {
          if (this.bar !== undefined) return;
          this.bar = new SingleBar({
            format: '{bar} {percentage}% | ↓ {speed} ↑ {up} | {peers} peers | ETA {eta}',
            stream: this.ctx.stderr,
            hideCursor: true,
          });
          this.bar.start(s.length, s.verifiedBytes, payload);
        });
      } else this.bar.update(s.verifiedBytes, payload);
      return;
    }
    const now = Date.now();
    if (now - this.lastLine < 5000) return;
    this.lastLine = now;
    this.ctx.stdout.write(`${(s.progress * 100).toFixed(1)}% ↓ ${payload.speed} ↑ ${payload.up} ${s.peers} peers ETA ${payload.eta}\n`);
  }

  seeding(t: Torrent): void {
    this.stop();
    if (this.json) printJson(this.ctx, { event: 'seeding', infoHash: t.infoHash });
    else this.ctx.stderr.write('seeding until interrupted (Ctrl-C)\n');
  }

  warning(msg: string): void {
    if (this.json) printJson(this.ctx, { event: 'warning', message: msg });
  }

  summary(s: TorrentStats, seconds: number, how: string): void {
    this.stop();
    if (this.json) {
      printJson(this.ctx, { event: 'summary', status: how, seconds, ...s });
      return;
    }
    this.ctx.stdout.write(
      `${how}: ${s.name} ${(s.progress * 100).toFixed(1)}% in ${seconds.toFixed(1)} s, ↓ ${formatBytes(s.downloaded)} (${formatBytes(s.downloaded / Math.max(seconds, 1e-3))}/s) ↑ ${formatBytes(s.uploaded)}\n`,
    );
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

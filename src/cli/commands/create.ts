import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { createTorrent, magnetOf, type CreateOptions } from '../../metainfo/index.js';
import { printJson, writeOutput, type CliContext } from '../context.js';
import { formatBytes } from '../format.js';
import { integer, pieceLength, repeatable, trackerTier, webSeedUrl } from '../options.js';

interface CreateFlags {
  /** One tier per `-t`. */
  tracker?: string[][];
  webSeed?: string[];
  pieceLength?: number;
  private?: boolean;
  comment?: string;
  source?: string;
  name?: string;
  date: boolean;
  output?: string;
  force?: boolean;
  json?: boolean;
  threads?: number;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('create')
    .description('create a .torrent from a file or folder')
    .argument('<path>', 'file or folder to share')
    .option('-t, --tracker <url[,url...]>', 'tracker announce URL; comma-separated URLs share a tier, each -t adds a tier', repeatable(trackerTier))
    .option('-w, --web-seed <url>', 'web seed URL (BEP 19); repeatable', repeatable(webSeedUrl))
    .option('-l, --piece-length <size>', 'piece length: bytes (262144), with a unit (256K, 1M) or a power of two like mktorrent (18); default automatic', pieceLength)
    .option('-p, --private', 'set the private flag (BEP 27)')
    .option('-c, --comment <text>', 'comment')
    .option('-s, --source <text>', 'source tag (inside info: changes the info-hash)')
    .option('-n, --name <name>', 'torrent name (default: the file or folder name)')
    .option('-d, --no-date', 'leave out the creation date (reproducible output)')
    .option('-o, --output <file>', 'where to write the .torrent (default: <name>.torrent)')
    .option('-f, --force', 'overwrite the output file')
    .addOption(new Option('--threads <n>', 'hashing threads (default: one per core)').argParser(integer(1, 1024)).hideHelp())
    .option('--json', 'print a JSON summary')
    .action(async (path: string, flags: CreateFlags) => {
      const showBar = ctx.stderr.isTTY === true && flags.json !== true; // drawn on stderr
      // Loaded only for a terminal: scripts and pipes skip the module's start-up cost.
      const bar = showBar
        ? new (await import('cli-progress')).SingleBar({
            format: 'hashing {bar} {percentage}% | {done} of {size} | {speed}',
            stream: ctx.stderr,
            hideCursor: true,
            clearOnComplete: true,
          })
        : undefined;
      const started = performance.now();
      let barStarted = false;
      const opts: CreateOptions = {
        announceList: flags.tracker ?? [],
        urlList: flags.webSeed ?? [],
        private: flags.private === true,
        creationDate: flags.date ? undefined : null,
        ...(flags.pieceLength === undefined ? {} : { pieceLength: flags.pieceLength }),
        ...(flags.comment === undefined ? {} : { comment: flags.comment }),
        ...(flags.source === undefined ? {} : { source: flags.source }),
        ...(flags.name === undefined ? {} : { name: flags.name }),
        ...(flags.threads === undefined ? {} : { threads: flags.threads }),
        onProgress: (done, size) => {
          if (bar === undefined) return;
          if (!barStarted) {
            bar.start(size, 0, { done: '0 B', size: formatBytes(size), speed: '' });
            barStarted = true;
          }
          const secs = (performance.now() - started) / 1000;
          bar.update(done, { done: formatBytes(done), size: formatBytes(size), speed: `${formatBytes(done / Math.max(secs, 1e-3))}/s` });
        },
      };
      let created;
      try {
        created = await createTorrent(resolve(ctx.cwd, path), opts);
      } finally {
        if (barStarted) bar?.stop();
      }
      const { metainfo, torrent } = created;
      const output = resolve(ctx.cwd, flags.output ?? `${metainfo.name}.torrent`);
      await writeOutput(output, torrent, flags.force === true);
      for (const url of flags.webSeed ?? []) {
        const why = webSeedUrlProblem(url, metainfo.name, metainfo.multiFile);
        if (why !== undefined) ctx.stderr.write(`torrenttp: warning: ${why}\n`);
      }
      const seconds = (performance.now() - started) / 1000;
      if (flags.json === true) {
        printJson(ctx, {
          output,
          infoHash: metainfo.infoHash,
          name: metainfo.name,
          length: metainfo.length,
          pieceLength: metainfo.pieceLength,
          pieceCount: metainfo.pieceCount,
          files: metainfo.files.length,
          magnet: magnetOf(metainfo),
          seconds,
        });
        return;
      }
      ctx.stdout.write(
        [
          `created   ${output}`,
          `name      ${metainfo.name}`,
          `info hash ${metainfo.infoHash}`,
          `size      ${formatBytes(metainfo.length)} in ${metainfo.files.length} file${metainfo.files.length === 1 ? '' : 's'}`,
          `pieces    ${metainfo.pieceCount} × ${formatBytes(metainfo.pieceLength)}`,
          `hashed in ${seconds.toFixed(2)} s (${formatBytes(metainfo.length / Math.max(seconds, 1e-3))}/s)`,
          `magnet    ${magnetOf(metainfo)}`,
          '',
        ].join('\n'),
      );
    });
}

/**
 * Why web seed `url` cannot be right for a torrent named `name`, or undefined. BEP 19 clients
 * (aria2, libtorrent, ours) append the torrent's name to a folder URL (multi-file) or to a URL
 * ending in `/` (single file), so a URL that already ends with the name asks for
 * `…/name/name…` and gets 404s. The likeliest mistake: the shared folder's own URL.
 */
export function webSeedUrlProblem(url: string, name: string, multiFile: boolean): string | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return `web seed ${url} is not a URL`;
  }
  const slash = path.endsWith('/');
  if (!multiFile && !slash) return undefined; // a single file's own URL
  const last = path.split('/').filter((p) => p.length > 0).at(-1);
  let decoded: string | undefined;
  try {
    decoded = last === undefined ? undefined : decodeURIComponent(last);
  } catch {
    decoded = last;
  }
  if (decoded !== name) return undefined;
  const parent = url.slice(0, url.indexOf(path)) + path.slice(0, path.replace(/\/$/, '').lastIndexOf('/') + 1);
  return `web seed ${url} ends with the torrent's name, and clients append the name to it (BEP 19), so they will ask for …/${name}/${name}${multiFile ? '/…' : ''} and get 404s; give the URL of the folder that holds ${JSON.stringify(name)}: ${parent}`;
}

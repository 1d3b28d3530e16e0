import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { TorrenttpError } from '../../errors/index.js';
import { parseInfoHashList, redactUrl, RedisSwarmStore, TrackerServer, tuneProcessForTracker, type TrackerLogger } from '../../tracker/index.js';
import type { CliContext } from '../context.js';
import { integer, port, redisUrl } from '../options.js';
import { untilSignal } from '../until-signal.js';
import { withPortHint } from '../port-in-use.js';
import { commandLogger, logFormatOption, logLevelOption, type LogFormat } from '../logger.js';

interface TrackerFlags {
  readonly port: number;
  readonly host: string;
  readonly interval: number;
  readonly allow?: string;
  readonly deny?: string;
  readonly private?: boolean;
  readonly fullScrape?: boolean;
  readonly trustIp?: boolean;
  readonly redis?: string;
  readonly logLevel: string;
  readonly logFormat?: LogFormat;
}

async function readList(ctx: CliContext, file: string | undefined): Promise<Set<string> | undefined> {
  if (file === undefined) return undefined;
  const path = resolve(ctx.cwd, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TorrenttpError('CLI_INPUT_NOT_FOUND', { detail: path, cause: err });
  }
  return parseInfoHashList(text, path);
}

/** Latin1 keys from `parseInfoHashList` back to bytes for the server options. */
function toBytes(keys: Set<string> | undefined): Uint8Array[] | undefined {
  if (keys === undefined) return undefined;
  return [...keys].map((k) => Uint8Array.from(k, (c) => c.charCodeAt(0)));
}

/** `torrenttp tracker`: an HTTP + UDP BitTorrent tracker (and TorrentTTP JSON announce) on one port. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('tracker')
    .description('run a BitTorrent tracker: HTTP and UDP (BEP 15) on one port, plus TorrentTTP JSON announce')
    .option('--port <n>', 'port for both HTTP (TCP) and UDP; 0 picks a free one', port(true), 6969)
    .option('--host <addr>', 'address to listen on (:: for IPv6 and IPv4)', '0.0.0.0')
    .option('--interval <s>', 'announce interval in seconds', integer(1, 86_400), 1800)
    .option('--allow <file>', 'info-hashes (40 hex per line) admitted in --private mode')
    .option('--deny <file>', 'info-hashes (40 hex per line) always refused')
    .option('--private', 'admit only info-hashes on the --allow list; no full scrape')
    .option('--full-scrape', 'answer /scrape without info_hash with every torrent')
    .option('--trust-ip', "honour the client's ip parameter (only behind a trusted proxy or on a LAN)")
    .option('--redis <url>', 'keep swarms in Redis (redis://host:port[/db]) so several trackers serve the same swarms', redisUrl)
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (flags: TrackerFlags) => {
      tuneProcessForTracker(); // this process is the tracker
      const logger = await commandLogger(ctx, flags);
      const allow = toBytes(await readList(ctx, flags.allow));
      const deny = toBytes(await readList(ctx, flags.deny));
      if (flags.allow !== undefined && flags.private !== true) {
        logger.warn({ allow: flags.allow }, 'the allow list only restricts announces with --private');
      }
      // Errors while connecting end in one clear TRACKER_STORE_UNAVAILABLE line; only once Redis
      // was up are the client's errors (lost connection, reconnects) worth a log line each.
      let redisUp = false;
      const store = flags.redis === undefined
        ? undefined
        : await RedisSwarmStore.connect({
          url: flags.redis,
          peerTimeoutMs: 2 * flags.interval * 1000,
          onError: (err) => {
            if (redisUp) logger.warn({ err, redis: redactUrl(flags.redis ?? '') }, 'Redis client error');
          },
        });
      redisUp = true;
      const server = new TrackerServer({
        ...(store === undefined ? {} : { store }),
        host: flags.host,
        port: flags.port,
        intervalSec: flags.interval,
        privateMode: flags.private === true,
        fullScrape: flags.fullScrape === true,
        trustIp: flags.trustIp === true,
        ...(allow === undefined ? {} : { allow }),
        ...(deny === undefined ? {} : { deny }),
        logger: logger as TrackerLogger,
      });
      const { host, port } = await server.listen().catch((err: unknown) => {
        throw withPortHint(err, { listen: '--port' });
      });
      const shown = host.includes(':') ? `[${host}]` : host;
      ctx.stdout.write(
        `tracker listening on http://${shown}:${port}/announce (HTTP, JSON at /ttp/v1/announce, /stats) ` +
          `and udp://${shown}:${port} (UDP${server.udpTransport === 'batch' ? ', recvmmsg batches' : ''}), interval ${flags.interval} s` +
          `${flags.redis === undefined ? '' : `, swarms in ${redactUrl(flags.redis)}`}\n`,
      );
      const reload = (): void => {
        Promise.all([readList(ctx, flags.allow), readList(ctx, flags.deny)])
          .then(([a, d]) => {
            const lists = { ...(a === undefined ? {} : { allow: toBytes(a)! }), ...(d === undefined ? {} : { deny: toBytes(d)! }) };
            server.setAccessLists(lists);
            logger.info({ allow: a?.size, deny: d?.size }, 'access lists reloaded');
          })
          .catch((err: unknown) => logger.error({ err }, 'access list reload failed; keeping the old lists'));
      };
      await untilSignal(() => server.close(), logger, reload);
      logger.flush();
    });
}

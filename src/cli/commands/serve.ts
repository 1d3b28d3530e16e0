import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_GATEWAY_PORT, DEFAULT_MIN_SIZE_BYTES, Gateway, type GatewayLogger } from '../../gateway/index.js';
import { redactUrl } from '../../tracker/index.js';
import type { CliContext } from '../context.js';
import { formatBytes } from '../format.js';
import { byteSize, hostName, listenAddress, pieceLength, port, rate, repeatable } from '../options.js';
import { ENCRYPTION_HELP, encryptionPolicy } from '../encryption-option.js';
import { readTls } from '../tls.js';
import { untilSignal } from '../until-signal.js';
import { withPortHint } from '../port-in-use.js';
import { commandLogger, logFormatOption, logLevelOption, type LogFormat } from '../logger.js';

interface ServeFlags {
  readonly port: number;
  readonly trackerPort?: number;
  readonly host: string;
  readonly hostName?: string[];
  readonly list?: boolean;
  readonly cert?: string;
  readonly key?: string;
  readonly minSize?: number;
  readonly include: string[];
  readonly exclude: string[];
  readonly cache?: string;
  readonly pieceLength?: number;
  readonly openTracker?: boolean;
  readonly peerPort: number;
  readonly encryption?: 'prefer' | 'require' | 'off';
  readonly redis?: string;
  readonly maxUploadRate?: number;
  readonly status: boolean;
  readonly ttp: boolean;
  readonly logLevel: string;
  readonly logFormat?: LogFormat;
}

/** `torrenttp serve [DIR]`: a static web server that is also tracker and first seed of its files. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('serve a folder over HTTP; files are also offered as torrents (tracker and seed built in)')
    .argument('[dir]', 'folder to serve', '.')
    .option('--port <n>', 'port for HTTP(S) and the embedded tracker (TCP and UDP); 0 picks a free one', port(true), DEFAULT_GATEWAY_PORT)
    .option('--tracker-port <n>', 'give the embedded tracker a port of its own (plain HTTP and UDP), which the torrents name; 0 picks a free one', port(true))
    .option('--host <addr>', 'address to listen on (:: for IPv6 and IPv4)', listenAddress, '0.0.0.0')
    .option('--host-name <name>', 'with --host on loopback: another name the server answers to (a Host header naming none is refused, against DNS rebinding); repeatable', repeatable(hostName))
    .option('--list', 'show an HTML index of folders that have no index.html')
    .option('--cert <file>', 'PEM certificate: serve HTTPS (with --key)')
    .option('--key <file>', 'PEM private key for --cert')
    .option('--min-size <size>', `smallest file offered as a torrent (default ${formatBytes(DEFAULT_MIN_SIZE_BYTES)})`, byteSize)
    .option('--include <glob>', 'offer only files matching this glob as torrents; repeatable', repeatable(String), [])
    .option('--exclude <glob>', 'never offer files matching this glob as torrents; repeatable', repeatable(String), [])
    .option('--cache <dir>', 'metainfo cache folder (default DIR/.torrenttp)')
    .option('--piece-length <size>', 'piece length of made torrents (default automatic, as torrenttp create)', pieceLength)
    .option('--open-tracker', 'let the embedded tracker track any info-hash, not only the served files')
    .option('--peer-port <n>', 'BitTorrent port of the seed; 0 picks a free one', port(true), 0)
    .option('--encryption <policy>', ENCRYPTION_HELP, encryptionPolicy)
    .option('--redis <url>', 'keep swarms in Redis (redis://host:port[/db]): several serve processes behind a load balancer share one swarm per file')
    .option('--max-upload-rate <rate>', 'bytes/s for everything served (500K, 100M…): plain downloads, web-seed ranges and the seed\'s peers share it', rate)
    .option('--no-status', 'no status page and JSON at /.torrenttp/')
    .option('--no-ttp', 'no TorrentTTP peer at /ttp/v1/torrents/… (a folder named ttp/v1 is then served as files)')
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (dir: string, flags: ServeFlags, cmd: Command) => {
      const minSizeBytes = flags.minSize;
      const pieceLength = flags.pieceLength;
      const tls = await readTls(ctx, cmd, flags.cert, flags.key);
      const logger = await commandLogger(ctx, flags);
      const gateway = await Gateway.start({
        root: resolve(ctx.cwd, dir),
        host: flags.host,
        ...(flags.hostName === undefined ? {} : { hostNames: flags.hostName }),
        port: flags.port,
        ...(flags.trackerPort === undefined ? {} : { trackerPort: flags.trackerPort }),
        list: flags.list === true,
        include: flags.include,
        exclude: flags.exclude,
        openTracker: flags.openTracker === true,
        peerPort: flags.peerPort,
        ...(flags.encryption === undefined ? {} : { encryption: flags.encryption }),
        status: flags.status,
        ttp: flags.ttp,
        logger: logger as GatewayLogger,
        ...(tls === undefined ? {} : { tls }),
        ...(minSizeBytes === undefined ? {} : { minSizeBytes }),
        ...(pieceLength === undefined ? {} : { pieceLength }),
        ...(flags.cache === undefined ? {} : { cacheDir: resolve(ctx.cwd, flags.cache) }),
        ...(flags.redis === undefined ? {} : { redis: flags.redis }),
        ...(flags.maxUploadRate === undefined ? {} : { maxUploadRate: flags.maxUploadRate }),
      }).catch((err: unknown) => {
        throw withPortHint(err, { listen: '--port', peer: '--peer-port', tracker: '--tracker-port' });
      });
      const { port } = gateway.address;
      const trackerHost = new URL(gateway.url).hostname;
      // On its own port the tracker speaks plain HTTP, even beside HTTPS (tracker-port.ts).
      const trackerHttp = gateway.trackerPort === port ? gateway.url : `http://${trackerHost}:${gateway.trackerPort}`;
      ctx.stdout.write(
        `serving ${gateway.root} at ${gateway.url}/\n` +
          `  tracker ${trackerHttp}/announce and udp://${trackerHost}:${gateway.trackerPort} (${flags.openTracker === true ? 'open' : 'served files only'}), ` +
          `seed on port ${gateway.peerPort}, torrents for files of ${formatBytes(minSizeBytes ?? DEFAULT_MIN_SIZE_BYTES)} or more, ` +
          `cache ${gateway.cacheDir}${gateway.cacheReadOnly ? ' (read-only: new torrents are not stored)' : ''}${flags.redis === undefined ? '' : `, swarms in ${redactUrl(flags.redis)}`}` +
          `${flags.maxUploadRate === undefined ? '' : `, uploads capped at ${formatBytes(flags.maxUploadRate)}/s`}\n` +
          (flags.status ? `  status ${gateway.url}/.torrenttp/\n` : '') +
          (flags.ttp ? `  TorrentTTP ${gateway.url}/ttp/v1/torrents/<info-hash> (announce ${gateway.url}/ttp/v1/announce)\n` : '') +
          `  torrent of a file: its URL with Accept: application/x-bittorrent, or URL?torrent${flags.host === '0.0.0.0' ? ` (listening on all addresses, port ${port})` : ''}\n`,
      );
      await untilSignal(() => gateway.close(), logger);
      logger.flush();
    });
}

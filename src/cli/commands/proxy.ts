import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_PROXY_CACHE_BYTES, DEFAULT_PROXY_FRESH_MS, DEFAULT_PROXY_PORT, DEFAULT_PROXY_STALL_MS, Proxy, type GatewayLogger } from '../../gateway/index.js';
import { isLoopback } from '../../tracker/index.js';
import type { CliContext } from '../context.js';
import { formatBytes } from '../format.js';
import { byteSize, duration, listenAddress, port } from '../options.js';
import { untilSignal } from '../until-signal.js';
import { withPortHint } from '../port-in-use.js';
import { commandLogger, logFormatOption, logLevelOption, type LogFormat } from '../logger.js';

interface ProxyFlags {
  readonly port: number;
  readonly listen: string;
  readonly cache?: string;
  readonly cacheSize?: number;
  readonly fresh?: number;
  readonly stall?: number;
  readonly peerPort: number;
  readonly logLevel: string;
  readonly logFormat?: LogFormat;
}

/** `$XDG_CACHE_HOME/torrenttp/proxy`, else `~/.cache/torrenttp/proxy` (the XDG base directory default). */
function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'torrenttp', 'proxy');
}

/** `torrenttp proxy`: a local HTTP proxy that fetches files from the swarm when their origin offers a torrent. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('proxy')
    .description('local HTTP proxy: programs using it get files from the swarm when the origin offers a torrent, plain HTTP otherwise')
    .option('--port <n>', 'proxy port; 0 picks a free one', port(true), DEFAULT_PROXY_PORT)
    .option('--listen <addr>', 'address to listen on; anything but loopback makes an open proxy', listenAddress, '127.0.0.1')
    .option('--cache <dir>', 'cache folder of downloaded pieces (default $XDG_CACHE_HOME/torrenttp/proxy)')
    .option('--cache-size <size>', `largest cache; least recently used files go first (default ${formatBytes(DEFAULT_PROXY_CACHE_BYTES)})`, byteSize)
    .option('--fresh <duration>', "how long a URL's torrent is used without asking the origin again (default 60s)", duration('s'))
    .option('--stall <duration>', 'no byte from the swarm this long: the origin sends the rest; as long again: the response is cut short (default 15s)', duration('s'))
    .option('--peer-port <n>', 'BitTorrent port for peers; 0 picks a free one', port(true), 0)
    .addOption(logLevelOption('one line per request at info; logs go to stderr'))
    .addOption(logFormatOption())
    .action(async (flags: ProxyFlags) => {
      const logger = await commandLogger(ctx, flags);
      if (!isLoopback(flags.listen)) {
        ctx.stderr.write(`torrenttp: warning: listening on ${flags.listen}: anyone who can reach this port can use your network through the proxy (an open proxy); keep it behind a firewall\n`);
      }
      const cacheSize = flags.cacheSize ?? DEFAULT_PROXY_CACHE_BYTES;
      const cacheDir = flags.cache === undefined ? defaultCacheDir() : resolve(ctx.cwd, flags.cache);
      const proxy = await Proxy.start({
        host: flags.listen,
        port: flags.port,
        cacheDir,
        cacheSizeBytes: cacheSize,
        freshMs: (flags.fresh ?? DEFAULT_PROXY_FRESH_MS / 1000) * 1000,
        stallMs: (flags.stall ?? DEFAULT_PROXY_STALL_MS / 1000) * 1000,
        peerPort: flags.peerPort,
        logger: logger as GatewayLogger,
      }).catch((err: unknown) => {
        throw withPortHint(err, { listen: '--port', peer: '--peer-port' });
      });
      ctx.stdout.write(
        `proxy at ${proxy.url} (peers on port ${proxy.peerPort}), cache ${cacheDir} up to ${formatBytes(cacheSize)}\n` +
          `  use it: curl -x ${proxy.url} URL, or http_proxy=${proxy.url} for most programs\n`,
      );
      await untilSignal(() => proxy.close(), logger);
      logger.flush();
    });
}

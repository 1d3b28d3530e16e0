import { resolve } from 'node:path';
import type { Command } from 'commander';
import { TorrenttpError } from '../../errors/index.js';
import { encodeTorrent, toMetainfoJson, type Metainfo } from '../../metainfo/index.js';
import { writeOutput, type CliContext } from '../context.js';
import { loadInput } from '../load.js';
import { oneOf } from '../options.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('convert')
    .description('convert between a .torrent and its JSON metainfo document (same info-hash)')
    .argument('<input>', '.torrent or metainfo .json file, or the http(s) URL of either')
    .option('--to <format>', 'json or torrent (default: from the output name, else the other format)', oneOf('json', 'torrent'))
    .option('-o, --output <file>', 'write here instead of standard output')
    .option('-f, --force', 'overwrite the output file')
    .action(async (input: string, flags: { to?: 'json' | 'torrent'; output?: string; force?: boolean }) => {
      const loaded = await loadInput(input, ctx.cwd);
      if (loaded.kind === 'magnet') throw new TorrenttpError('CLI_UNKNOWN_INPUT', { detail: 'a magnet URI holds no metainfo to convert' });
      const to = flags.to ?? (flags.output?.endsWith('.json') ? 'json' : flags.output?.endsWith('.torrent') ? 'torrent' : loaded.kind === 'json' ? 'torrent' : 'json');
      const out = to === 'json' ? new TextEncoder().encode(`${JSON.stringify(toMetainfoJson(loaded.metainfo), null, 2)}\n`) : torrentOf(loaded.metainfo);
      if (flags.output === undefined) {
        if (to === 'torrent' && ctx.stdout.isTTY === true) {
          throw new TorrenttpError('INVALID_ARGUMENT', { detail: 'not writing a binary .torrent to a terminal: use -o FILE' });
        }
        ctx.stdout.write(out);
        return;
      }
      const path = resolve(ctx.cwd, flags.output);
      await writeOutput(path, out, flags.force === true);
    });
}

function torrentOf(m: Metainfo): Uint8Array {
  const extras = {
    announceList: m.announceList,
    urlList: m.urlList,
    ...(m.creationDate === undefined ? {} : { creationDate: m.creationDate }),
    ...(m.comment === undefined ? {} : { comment: m.comment }),
    ...(m.createdBy === undefined ? {} : { createdBy: m.createdBy }),
  };
  return encodeTorrent(m.infoBytes, extras);
}

import type { Command } from 'commander';
import { Client } from '../../engine/index.js';
import { escapeControls } from '../../errors/index.js';
import { magnetOf, type Magnet, type Metainfo } from '../../metainfo/index.js';
import { printJson, type CliContext } from '../context.js';
import { formatBytes } from '../format.js';
import { loadInput } from '../load.js';
import { duration, peerAddress, repeatable } from '../options.js';

/** Files listed before "… and N more" in the human output; `--json` lists all. */
const MAX_LISTED_FILES = 100;

export function register(program: Command, ctx: CliContext): void {
  program
    .command('info')
    .description('show what a .torrent, metainfo JSON document or magnet URI holds')
    .argument('<input>', '.torrent file, metainfo .json file, the http(s) URL of either, a TorrentTTP torrent URL, or a magnet: URI')
    .option('--json', 'print JSON')
    .option('--fetch', "magnet links: fetch the metadata from the link's peers and trackers (BEP 9) and show it")
    .option('--timeout <seconds>', 'with --fetch: give up after this long (default 120)', duration('s'))
    .option('--peer <host:port>', 'with --fetch: ask this peer too; repeatable', repeatable(peerAddress), [])
    .action(async (input: string, flags: { json?: boolean; fetch?: boolean; timeout?: number; peer: string[] }) => {
      const loaded = await loadInput(input, ctx.cwd);
      if (loaded.kind === 'magnet' && flags.fetch === true) {
        const client = new Client();
        let saidPeers = -1;
        try {
          const { metainfo } = await client.fetchMetadata(input, {
            peers: flags.peer,
            ...(flags.timeout === undefined ? {} : { timeoutMs: flags.timeout * 1000 }),
            onProgress: (p) => {
              if (flags.json === true || p.peers === saidPeers) return;
              saidPeers = p.peers;
              ctx.stderr.write(`fetching metadata from ${p.peers} peer${p.peers === 1 ? '' : 's'}\n`);
            },
          });
          if (flags.json === true) printJson(ctx, { kind: 'magnet', ...summary(metainfo) });
          else ctx.stdout.write(describe(metainfo));
        } finally {
          await client.close();
        }
        return;
      }
      if (loaded.kind === 'magnet') {
        if (flags.json === true) printJson(ctx, { kind: 'magnet', ...loaded.magnet });
        else ctx.stdout.write(describeMagnet(loaded.magnet));
        return;
      }
      if (flags.json === true) printJson(ctx, { kind: loaded.kind, ...summary(loaded.metainfo) });
      else ctx.stdout.write(describe(loaded.metainfo));
    });
}

export function summary(m: Metainfo) {
  return {
    infoHash: m.infoHash,
    name: m.name,
    length: m.length,
    pieceLength: m.pieceLength,
    pieceCount: m.pieceCount,
    private: m.private,
    multiFile: m.multiFile,
    // `index` is 1-based, as in aria2's --show-files: what `download --select` takes.
    files: m.files.map((f, i) => ({ index: i + 1, path: f.path.join('/'), length: f.length, ...(f.attr === undefined ? {} : { attr: f.attr }) })),
    announceList: m.announceList,
    urlList: m.urlList,
    ...(m.source === undefined ? {} : { source: m.source }),
    ...(m.creationDate === undefined ? {} : { creationDate: m.creationDate }),
    ...(m.comment === undefined ? {} : { comment: m.comment }),
    ...(m.createdBy === undefined ? {} : { createdBy: m.createdBy }),
    magnet: magnetOf(m),
    warnings: m.warnings,
  };
}

function describe(m: Metainfo): string {
  const lines = [
    `name          ${m.name}`,
    `info hash     ${m.infoHash}`,
    `size          ${formatBytes(m.length)} (${m.length} bytes)`,
    `pieces        ${m.pieceCount} × ${formatBytes(m.pieceLength)}`,
    `private       ${m.private ? 'yes' : 'no'}`,
  ];
  if (m.source !== undefined) lines.push(`source        ${m.source}`);
  if (m.creationDate !== undefined) lines.push(`created       ${new Date(m.creationDate * 1000).toISOString()}`);
  if (m.createdBy !== undefined) lines.push(`created by    ${m.createdBy}`);
  if (m.comment !== undefined) lines.push(`comment       ${m.comment}`);
  if (m.announceList.length === 0) lines.push('trackers      none');
  m.announceList.forEach((tier, i) => lines.push(`${i === 0 ? 'trackers' : ''.padEnd(8)}      tier ${i + 1}: ${tier.join(', ')}`));
  if (m.urlList.length > 0) lines.push(`web seeds     ${m.urlList.join(', ')}`);
  lines.push(`files         ${m.files.length} (index, size, path; download --select takes the index)`);
  const width = String(Math.min(m.files.length, MAX_LISTED_FILES)).length;
  m.files.slice(0, MAX_LISTED_FILES).forEach((f, i) => {
    lines.push(`  ${String(i + 1).padStart(width)}  ${formatBytes(f.length).padStart(10)}  ${m.multiFile ? `${m.name}/` : ''}${f.path.join('/')}`);
  });
  if (m.files.length > MAX_LISTED_FILES) lines.push(`  … and ${m.files.length - MAX_LISTED_FILES} more (--json lists all)`);
  for (const w of m.warnings) lines.push(`warning       ${w}`);
  lines.push(`magnet        ${magnetOf(m)}`, '');
  return lines.map(escapeControls).join('\n'); // a torrent's names, comment and URLs are its author's
}

function describeMagnet(m: Magnet): string {
  const lines = [`info hash     ${m.infoHash}`];
  if (m.name !== undefined) lines.push(`name          ${m.name}`);
  if (m.length !== undefined) lines.push(`size          ${formatBytes(m.length)} (${m.length} bytes)`);
  lines.push(`trackers      ${m.trackers.length === 0 ? 'none' : m.trackers.join(', ')}`);
  if (m.webSeeds.length > 0) lines.push(`web seeds     ${m.webSeeds.join(', ')}`);
  if (m.peers.length > 0) lines.push(`peers         ${m.peers.join(', ')}`);
  lines.push('(a magnet link holds no file list: info --fetch asks its peers for it)', '');
  return lines.map(escapeControls).join('\n');
}

/**
 * The downloading child of crash-loop.test.ts: downloads a torrent from one peer and reports on
 * stdout, one line each: `start <verified piece indexes, comma-separated>` once storage is
 * open (after any recheck), `piece <i>` for each piece verified and written, `done` at the end.
 * Usage: node crash-child.js <torrent> <download dir> <host:port>
 */
import { Client } from '../../src/engine/index.js';

const [torrent, dir, peer] = process.argv.slice(2);
if (torrent === undefined || dir === undefined || peer === undefined) {
  process.stderr.write('usage: crash-child <torrent> <dir> <host:port>\n');
  process.exit(2);
}
const client = new Client({ listen: false, allowLoopbackPeers: true });
const t = await client.add(torrent, { path: dir, peers: [peer], trackers: false, webSeeds: false });
process.stdout.write(`start ${[...t.have].join(',')}\n`);
t.on('piece', (i) => process.stdout.write(`piece ${i}\n`));
await t.done;
await client.close();
process.stdout.write('done\n');

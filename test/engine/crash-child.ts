/**
 * The downloading child of crash-loop.test.ts: starts, then waits for one line on stdin naming
 * its peers (`host:port`, space-separated) before it opens the torrent, so that the test can
 * start it while the previous run still lives and only the storage open is on the clock. Then
 * it downloads and reports on stdout, one line each: `start <verified piece indexes,
 * comma-separated>` once storage is open (after any recheck), `piece <i>` for each piece
 * verified and written, `done` at the end.
 * Usage: node crash-child.js <torrent> <download dir>, then `<host:port> ...` on stdin
 */
import { once } from 'node:events';
import { Client } from '../../src/engine/index.js';

const [torrent, dir] = process.argv.slice(2);
if (torrent === undefined || dir === undefined) {
  process.stderr.write('usage: crash-child <torrent> <dir>, peers on stdin\n');
  process.exit(2);
}
let line = '';
while (!line.includes('\n')) {
  const [chunk] = (await once(process.stdin, 'data')) as [Buffer];
  line += chunk.toString();
}
process.stdin.destroy();
const peers = line.trim().split(/\s+/);
const client = new Client({ listen: false, allowLoopbackPeers: true });
const t = await client.add(torrent, { path: dir, peers, trackers: false, webSeeds: false });
process.stdout.write(`start ${[...t.have].join(',')}\n`);
t.on('piece', (i) => process.stdout.write(`piece ${i}\n`));
await t.done;
await client.close();
process.stdout.write('done\n');

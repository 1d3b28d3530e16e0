/**
 * The seed of seed-under-attack.test.ts, a process of its own so that its memory can be measured
 * apart from the attackers' and the downloaders': a torrenttp Client on 127.0.0.1 that limits
 * loopback addresses like any other (`limitLoopback`), seeding one torrent. Prints `port <n>`
 * once listening, then `peers <n>` whenever its peer count changes (checked every 100 ms). Ends
 * on SIGTERM.
 * Usage: node attack-seed-child.js <torrent> <data dir>
 */
import { Client } from '../../src/engine/index.js';

const [torrent, dir] = process.argv.slice(2);
if (torrent === undefined || dir === undefined) {
  process.stderr.write('usage: attack-seed-child <torrent> <dir>\n');
  process.exit(2);
}
const client = new Client({ host: '127.0.0.1', limitLoopback: true });
const t = await client.add(torrent, { path: dir, webSeeds: false });
process.stdout.write(`port ${client.port}\n`);
let last = -1;
const timer = setInterval(() => {
  if (t.peerCount !== last) process.stdout.write(`peers ${(last = t.peerCount)}\n`);
}, 100);
process.on('SIGTERM', () => {
  clearInterval(timer);
  void client.close().finally(() => process.exit(0));
});

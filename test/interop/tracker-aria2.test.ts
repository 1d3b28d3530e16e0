/**
 * Interop: two real aria2c processes find each other only through our tracker and move a random
 * file, once over an http:// announce URL and once over udp://. LPD and PEX are off. DHT is off
 * for http://; aria2c speaks UDP trackers only through its DHT socket (aria2 issue #1491), so for
 * udp:// DHT is on but has no node to start from: a fresh dht.dat and no entry point.
 * aria2c and mktorrent are required: CI installs them (.ci/run), and a missing one fails here.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, requireTool, run, until } from '../helpers/processes.js';
import { ourTrackerSwarm } from '../helpers/swarm.js';
import { withTempDir } from '../helpers/torrents.js';

const PAYLOAD_BYTES = 4 * 1024 * 1024;
const TRANSFER_TIMEOUT_MS = 60_000;

const ARIA_COMMON = [
  '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
  '--summary-interval=0', '--console-log-level=notice', '--disable-ipv6=true',
];

async function dhtArgs(scheme: 'http' | 'udp', dir: string, name: string): Promise<string[]> {
  if (scheme === 'http') return ['--enable-dht=false'];
  return ['--enable-dht=true', `--dht-listen-port=${await freePort()}`, `--dht-file-path=${join(dir, `${name}-dht.dat`)}`];
}

async function transfer(t: TestContext, scheme: 'http' | 'udp'): Promise<void> {
  requireTool('aria2c', ['--version']);
  // Removed after every hook the body registers (a client or aria2 stopped there may still write its state).
  return withTempDir(t, async (dir) => {
    const dlDir = join(dir, 'dl');
    mkdirSync(dlDir);
    const { server, seedDir, payload, torrent } = await ourTrackerSwarm(t, dir, scheme, PAYLOAD_BYTES);

    const seedPort = await freePort();
    const seed = run(t, 'aria2c', [
      `--dir=${seedDir}`, '--check-integrity=true', '--seed-ratio=0.0', `--listen-port=${seedPort}`, ...ARIA_COMMON, ...(await dhtArgs(scheme, dir, 'seed')), torrent,
    ]);
    await until('the aria2c seed to listen', () => seed.output.includes('listening on TCP port'), 20_000, seed);
    await until('the seed to announce to our tracker', async () => (await server.stats()).seeders === 1, 20_000, seed);

    const leechPort = await freePort();
    const leech = run(t, 'aria2c', [
      `--dir=${dlDir}`, '--seed-time=0', '--file-allocation=none', `--listen-port=${leechPort}`, ...ARIA_COMMON, ...(await dhtArgs(scheme, dir, 'leech')), torrent,
    ]);
    const timer = setTimeout(() => leech.child.kill(), TRANSFER_TIMEOUT_MS);
    const code = await leech.exited;
    clearTimeout(timer);
    assert.equal(code, 0, `aria2c leecher failed:\n${leech.output}\n--- seed:\n${seed.output}`);
    assert.ok(readFileSync(join(dlDir, 'payload.bin')).equals(payload), 'downloaded file differs from the seed');

    const stats = await server.stats();
    assert.ok(stats.announcesTotal[scheme] >= 2, `expected announces over ${scheme}: ${JSON.stringify(stats.announcesTotal)}`);
    assert.equal(stats.announcesTotal[scheme === 'http' ? 'udp' : 'http'], 0);
  });
}

test('aria2c seed → aria2c leech through our tracker over http://', { timeout: 120_000 }, (t) => transfer(t, 'http'));
test('aria2c seed → aria2c leech through our tracker over udp://', { timeout: 120_000 }, (t) => transfer(t, 'udp'));

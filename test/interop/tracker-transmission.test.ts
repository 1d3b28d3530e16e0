/**
 * Interop: Transmission (daemon, driven by transmission-remote) announces to our tracker over
 * http:// and over udp:// and downloads a random file from an aria2c seed that learned
 * Transmission's address from our tracker.
 *
 * Transmission 3.00 drops loopback peers it hears of from a tracker, so the seed has to dial it
 * (shared/PEERS.md): Transmission leech first, then the aria2c seed, which gets 127.0.0.1:<its peer
 * port> in its announce reply and connects. DHT, LPD, uTP and PEX are off in Transmission; aria2c
 * speaks UDP trackers only through its DHT socket, so for udp:// its DHT is on with no node to start
 * from (as in tracker-aria2.test.ts). transmission-daemon, transmission-remote, aria2c and mktorrent
 * are required (.ci/run installs them); a missing one fails here.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, requireTool, run, type Proc } from '../helpers/processes.js';
import { ourTrackerSwarm } from '../helpers/swarm.js';
import { withTempDir } from '../helpers/torrents.js';

const PAYLOAD_BYTES = 4 * 1024 * 1024;
/** Transmission sends "interested" on its 10 s rechoke pulse, then ramps up: ~15 s here, budget 60. */
const TRANSFER_TIMEOUT_MS = 60_000;

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, procs: readonly Proc[] = [], extra = (): string => ''): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    for (const p of procs) if (p.child.exitCode !== null) assert.fail(`${what}: a process exited early:\n${p.output}`);
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}\n${procs.map((p) => p.output).join('\n---\n')}${extra()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function remote(rpcPort: number, args: string[]): string {
  const r = spawnSync('transmission-remote', [`127.0.0.1:${rpcPort}`, ...args], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout : '';
}

async function transfer(t: TestContext, scheme: 'http' | 'udp'): Promise<void> {
  for (const [tool, args] of [['transmission-daemon', ['-V']], ['transmission-remote', ['--version']], ['aria2c', ['--version']], ['mktorrent', ['-v']]] as const) {
    requireTool(tool, [...args]);
  }
  // Removed after every hook the body registers (a client or aria2 stopped there may still write its state).
  return withTempDir(t, async (dir) => {
    const cfgDir = join(dir, 'tr-cfg');
    const dlDir = join(dir, 'tr-dl');
    for (const d of [cfgDir, dlDir]) mkdirSync(d);
    const { server, seedDir, payload, torrent } = await ourTrackerSwarm(t, dir, scheme, PAYLOAD_BYTES);

    // Transmission leech: fresh config dir, settings from shared/PEERS.md, ports picked now.
    const peerPort = await freePort();
    const rpcPort = await freePort();
    writeFileSync(join(cfgDir, 'settings.json'), JSON.stringify({
      'dht-enabled': false, 'lpd-enabled': false, 'utp-enabled': false, 'pex-enabled': false,
      'port-forwarding-enabled': false,
      'peer-port': peerPort, 'peer-port-random-on-start': false, 'bind-address-ipv4': '127.0.0.1',
      'rpc-enabled': true, 'rpc-bind-address': '127.0.0.1', 'rpc-port': rpcPort,
      'rpc-authentication-required': false, 'rpc-whitelist-enabled': true, 'rpc-whitelist': '127.0.0.1',
      'download-dir': dlDir, 'incomplete-dir-enabled': false, 'rename-partial-files': false,
      'download-queue-enabled': false, 'seed-queue-enabled': false,
      'ratio-limit-enabled': false, 'idle-seeding-limit-enabled': false,
      'speed-limit-down-enabled': false, 'speed-limit-up-enabled': false, 'message-level': 2,
    }, null, 2));
    const daemon = run(t, 'transmission-daemon', ['-f', '-g', cfgDir, '--logfile', join(dir, 'daemon.log')]);
    const daemonLog = (): string => {
      try {
        return `\n--- daemon.log:\n${readFileSync(join(dir, 'daemon.log'), 'utf8')}`;
      } catch {
        return '';
      }
    };
    await until('the Transmission RPC', () => remote(rpcPort, ['-l']) !== '', 20_000, [daemon], daemonLog);
    assert.match(remote(rpcPort, ['-a', torrent, '-w', dlDir]), /success/);
    await until('Transmission to announce to our tracker', async () => (await server.stats()).leechers === 1, 20_000, [daemon], daemonLog);

    // aria2c seed, started after: its announce reply holds 127.0.0.1:<peerPort>, which it dials.
    const seedPort = await freePort();
    const dht = scheme === 'http'
      ? ['--enable-dht=false']
      : ['--enable-dht=true', `--dht-listen-port=${await freePort()}`, `--dht-file-path=${join(dir, 'seed-dht.dat')}`];
    const seed = run(t, 'aria2c', [
      `--dir=${seedDir}`, '--check-integrity=true', '--seed-ratio=0.0', `--listen-port=${seedPort}`,
      '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--summary-interval=0',
      '--console-log-level=notice', '--disable-ipv6=true', ...dht, torrent,
    ]);
    await until('the aria2c seed to listen', () => seed.output.includes('listening on TCP port'), 20_000, [seed]);
    await until(
      'Transmission to finish the download',
      () => /Percent Done: 100%/.test(remote(rpcPort, ['-t', 'all', '-i'])),
      TRANSFER_TIMEOUT_MS,
      [daemon, seed],
      () => `\n--- transmission-remote -i:\n${remote(rpcPort, ['-t', 'all', '-i'])}${daemonLog()}`,
    );
    const got = createHash('sha1').update(readFileSync(join(dlDir, 'payload.bin'))).digest('hex');
    assert.equal(got, createHash('sha1').update(payload).digest('hex'), 'downloaded file differs from the seed');

    const stats = await server.stats();
    assert.ok(stats.announcesTotal[scheme] >= 2, `expected announces over ${scheme}: ${JSON.stringify(stats.announcesTotal)}`);
    assert.equal(stats.announcesTotal[scheme === 'http' ? 'udp' : 'http'], 0);
  });
}

test('Transmission leech ← aria2c seed through our tracker over http://', { timeout: 120_000 }, (t) => transfer(t, 'http'));
test('Transmission leech ← aria2c seed through our tracker over udp://', { timeout: 120_000 }, (t) => transfer(t, 'udp'));

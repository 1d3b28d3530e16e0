/**
 * Interop: our `Client` moves a torrent to and from a real Transmission 3.00 daemon (Debian
 * packages `transmission-daemon` and `transmission-cli`, installed by .ci/run), all on 127.0.0.1.
 *
 * Transmission drops loopback peers it hears of from trackers and has no RPC call to add a peer,
 * so in both directions our side dials Transmission's peer port (/work/shared/PEERS.md). Each
 * test gets a fresh config dir (Transmission keeps known peers and resume state there) with DHT,
 * LPD, uTP and PEX off. Transmission sends `interested` and unchokes only on its 10-second
 * rechoke pulse, so a transfer starts about 10 s in: the payload is kept small.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, type Torrent } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { freePort, requireTool, run, until, type Proc } from '../helpers/processes.js';
import { bytes, sha1Hex } from '../helpers/torrents.js';

const PAYLOAD_BYTES = 12 * 1024 * 1024 + 12_345; // a short last piece too
const PIECE_LENGTH = 256 * 1024;
const TRANSFER_TIMEOUT_MS = 60_000;

const execFileP = promisify(execFile);

interface Transmission {
  readonly proc: Proc;
  readonly rpcPort: number;
  readonly peerPort: number;
  readonly downloadDir: string;
  /** `transmission-remote <rpc port> ...args`, asynchronously: our Client shares this event loop. */
  remote(...args: string[]): Promise<string>;
  /** The daemon's log file, for failure messages. */
  log(): string;
}

async function startTransmission(t: TestContext, root: string): Promise<Transmission> {
  const cfg = join(root, 'tr-cfg');
  const downloadDir = join(root, 'tr-dl');
  mkdirSync(cfg);
  mkdirSync(downloadDir);
  const rpcPort = await freePort();
  const peerPort = await freePort();
  const settings = {
    'dht-enabled': false,
    'lpd-enabled': false,
    'utp-enabled': false,
    'pex-enabled': false,
    'port-forwarding-enabled': false,
    'peer-port': peerPort,
    'peer-port-random-on-start': false,
    'rpc-enabled': true,
    'rpc-bind-address': '127.0.0.1',
    'rpc-port': rpcPort,
    'rpc-authentication-required': false,
    'rpc-whitelist-enabled': true,
    'rpc-whitelist': '127.0.0.1',
    'download-dir': downloadDir,
    'incomplete-dir-enabled': false,
    'rename-partial-files': false,
    'download-queue-enabled': false,
    'seed-queue-enabled': false,
    'ratio-limit-enabled': false,
    'idle-seeding-limit-enabled': false,
    'speed-limit-down-enabled': false,
    'speed-limit-up-enabled': false,
    'message-level': 3,
  };
  writeFileSync(join(cfg, 'settings.json'), JSON.stringify(settings, null, 2));
  const logFile = join(root, 'tr-daemon.log');
  const proc = run(t, 'transmission-daemon', ['-f', '-g', cfg, '--logfile', logFile]);
  const remote = async (...args: string[]): Promise<string> => (await execFileP('transmission-remote', [String(rpcPort), ...args], { encoding: 'utf8' })).stdout;
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '(no log)';
    }
  };
  await until(
    'Transmission RPC',
    () => remote('-l').then(() => true, () => false),
    15_000,
    proc,
  );
  return { proc, rpcPort, peerPort, downloadDir, remote, log };
}

async function percentDone(tr: Transmission): Promise<string> {
  const info = await tr.remote('-t', 'all', '-i');
  return /Percent Done: ([\d.]+%)/.exec(info)?.[1] ?? '?';
}

/** Stops a process by its pid and waits for it (Transmission saves its state first, about 1 s). */
async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill();
  await p.exited;
}

/** Our side of the story for failure messages: connections, closes with their reasons, warnings. */
function recordPeers(client: Client, torrent: Torrent): string[] {
  const t0 = performance.now();
  const events: string[] = [];
  const at = (): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  client.on('warning', (m) => events.push(`${at()} warning ${m}`));
  torrent.on('peer', (l) => events.push(`${at()} connected ${l.id}`));
  torrent.on('peerClosed', (l, r) => events.push(`${at()} closed ${l.id}: ${r?.code ?? ''} ${r?.message ?? ''}`));
  return events;
}

function tempRoot(name: string): string {
  return mkdtempSync(join(tmpdir(), `torrenttp-transmission-${name}-`));
}

/** A payload file under `dir/name` and its torrent (no trackers: peers are dialled by hand). */
async function makeTorrent(dir: string): Promise<{ payload: Uint8Array; torrentPath: string; torrent: Uint8Array }> {
  const payload = bytes(PAYLOAD_BYTES, 7);
  writeFileSync(join(dir, 'payload.bin'), payload);
  const { torrent } = await createTorrent(join(dir, 'payload.bin'), { pieceLength: PIECE_LENGTH, creationDate: null });
  const torrentPath = join(dir, 'payload.torrent');
  writeFileSync(torrentPath, torrent);
  return { payload, torrentPath, torrent };
}

test('torrenttp seed → Transmission leech (we dial its peer port)', { timeout: 90_000 }, async (t) => {
  requireTool('transmission-daemon', ['--version']);
  requireTool('transmission-remote', ['--version']);
  const root = tempRoot('leech');
  const seedDir = join(root, 'seed');
  mkdirSync(seedDir);
  const { payload, torrentPath, torrent } = await makeTorrent(seedDir);
  const tr = await startTransmission(t, root);
  const client = new Client({ port: 0, host: '127.0.0.1', allowLoopbackPeers: true });
  try {
    await tr.remote('-a', torrentPath, '-w', tr.downloadDir);
    const seed = await client.add(torrent, { path: seedDir, peers: [`127.0.0.1:${tr.peerPort}`], trackers: false, webSeeds: false });
    assert.equal(seed.complete, true, 'our seed verified its data');
    const events = recordPeers(client, seed);
    await until(
      'Transmission to reach 100%',
      async () => (await percentDone(tr)) === '100%',
      TRANSFER_TIMEOUT_MS,
      tr.proc,
    ).catch(async (err: unknown) => {
      const peers = await tr.remote('-t', 'all', '-ip').catch(() => '');
      throw new Error(`${String(err)}\nTransmission's peers:\n${peers}\nour stats: ${JSON.stringify(seed.stats())}\nour peers:\n${events.join('\n')}\nlog:\n${tr.log()}`);
    });
    const got = readFileSync(join(tr.downloadDir, 'payload.bin'));
    assert.equal(got.length, payload.length);
    assert.equal(sha1Hex(got), sha1Hex(payload), 'Transmission has byte-identical data');
    assert.ok(seed.stats().uploaded >= payload.length, 'the bytes came from us');
  } finally {
    await client.close();
    await stop(tr.proc);
    rmSync(root, { recursive: true, force: true });
  }
});

test('Transmission seed → torrenttp leech (we dial its peer port)', { timeout: 90_000 }, async (t) => {
  requireTool('transmission-daemon', ['--version']);
  requireTool('transmission-remote', ['--version']);
  const root = tempRoot('seed');
  const srcDir = join(root, 'src');
  const dlDir = join(root, 'dl');
  mkdirSync(srcDir);
  mkdirSync(dlDir);
  const { payload, torrentPath, torrent } = await makeTorrent(srcDir);
  const tr = await startTransmission(t, root);
  const client = new Client({ port: 0, host: '127.0.0.1', allowLoopbackPeers: true });
  try {
    writeFileSync(join(tr.downloadDir, 'payload.bin'), payload);
    await tr.remote('-a', torrentPath, '-w', tr.downloadDir); // verifies the data on add
    await until('Transmission to verify its data', async () => (await percentDone(tr)) === '100%', 20_000, tr.proc);
    const leech = await client.add(torrent, { path: dlDir, peers: [`127.0.0.1:${tr.peerPort}`], trackers: false, webSeeds: false });
    const events = recordPeers(client, leech);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        void tr.remote('-t', 'all', '-ip').catch(() => '').then((peers) =>
          reject(new Error(`timed out leeching from Transmission\nTransmission's peers:\n${peers}\nour stats: ${JSON.stringify(leech.stats())}\nour peers:\n${events.join('\n')}\nlog:\n${tr.log()}`)),
        );
      }, TRANSFER_TIMEOUT_MS);
    });
    try {
      await Promise.race([leech.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
    assert.equal(leech.stats().verifiedBytes, payload.length);
    await client.close(); // flushes and closes the files
    const got = readFileSync(join(dlDir, 'payload.bin'));
    assert.equal(sha1Hex(got), sha1Hex(payload), 'we have byte-identical data');
  } finally {
    await client.close();
    await stop(tr.proc);
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * A Transmission 3.00 daemon for interop tests (Debian packages `transmission-daemon` and
 * `transmission-cli`): a fresh config dir with DHT, LPD, uTP and PEX off, free RPC and peer
 * ports, stopped by its pid when the test ends (see /work/shared/PEERS.md for its habits).
 */
import type { TestContext } from 'node:test';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, run, until, type Proc } from './processes.js';

const execFileP = promisify(execFile);

export interface Transmission {
  readonly proc: Proc;
  readonly rpcPort: number;
  readonly peerPort: number;
  readonly downloadDir: string;
  /** `transmission-remote <rpc port> ...args`, asynchronously: our Client shares this event loop. */
  remote(...args: string[]): Promise<string>;
  /** The daemon's log file, for failure messages. */
  log(): string;
}

/**
 * `settings`: keys to add or override in settings.json (`{ encryption: 2 }`: encrypted peers only).
 * `files`: more files for the config dir, written before the daemon starts (`dht.bootstrap`).
 */
export async function startTransmission(t: TestContext, root: string, settings: Readonly<Record<string, unknown>> = {}, files: Readonly<Record<string, string>> = {}): Promise<Transmission> {
  const cfg = join(root, 'tr-cfg');
  const downloadDir = join(root, 'tr-dl');
  mkdirSync(cfg);
  mkdirSync(downloadDir);
  const rpcPort = await freePort();
  const peerPort = await freePort();
  const all = {
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
    ...settings,
  };
  writeFileSync(join(cfg, 'settings.json'), JSON.stringify(all, null, 2));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cfg, name), text);
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

export async function percentDone(tr: Transmission): Promise<string> {
  const info = await tr.remote('-t', 'all', '-i');
  return /Percent Done: ([\d.]+%)/.exec(info)?.[1] ?? '?';
}

/** Stops a process by its pid and waits for it (Transmission saves its state first, about 1 s). */
export async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill();
  await p.exited;
}


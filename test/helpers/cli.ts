import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { runProgram } from '../../src/cli/program.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

class Sink extends Writable {
  text = '';
  isTTY: boolean;
  constructor(tty: boolean) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** Runs the CLI in-process with captured streams. */
export async function cli(cwd: string, args: readonly string[], opts: { tty?: boolean; stdin?: string } = {}): Promise<CliResult> {
  const stdout = new Sink(opts.tty === true);
  const stderr = new Sink(opts.tty === true);
  const stdin = opts.stdin === undefined ? {} : { stdin: Readable.from([Buffer.from(opts.stdin)]) };
  const code = await runProgram({ stdout, stderr, cwd, ...stdin }, COMMANDS, args);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** The built CLI, run as a user runs it. */
export const CLI_BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliProcess {
  readonly child: ChildProcess;
  /** Everything printed so far. */
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

/** Spawns `torrenttp args…` in `cwd`; the test kills it by pid when it ends. */
export function spawnCli(t: TestContext, cwd: string, args: readonly string[]): CliProcess {
  return watched(t, spawn(process.execPath, [CLI_BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** A spawned CLI's output gathered, and the process killed by pid when the test ends. */
function watched(t: TestContext, child: ChildProcessByStdio<null, Readable, Readable>): CliProcess {
  const p: CliProcess = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  child.stdout.on('data', (d: Buffer) => (p.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (p.stderr += d.toString()));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return p;
}

/** The JSON lines printed so far (`--json`). */
export function jsonLines(p: CliProcess): { readonly event: string; readonly [k: string]: unknown }[] {
  return p.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event: string });
}

/** `torrenttp args…` with `dl` a `sizeBytes` tmpfs in a private mount namespace (root; nothing outside sees it). */
export function spawnOnTmpfs(t: TestContext, dir: string, sizeBytes: number, args: readonly string[]): CliProcess {
  const script = `mount -t tmpfs -o size=${sizeBytes} tmpfs dl && exec "$0" "$@"`;
  return watched(t, spawn('unshare', ['-m', 'sh', '-c', script, process.execPath, CLI_BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
}

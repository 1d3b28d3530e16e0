/**
 * Real programs in tests: free loopback ports, child processes stopped by pid when the test
 * ends (never by name), and polling with a deadline that shows the process output on failure.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { TestContext } from 'node:test';

export function requireTool(name: string, args: string[]): void {
  const r = spawnSync(name, args, { encoding: 'utf8' });
  if (r.error !== undefined) {
    assert.fail(`${name} is required for this interop test and could not be run (${r.error.message}); install it with apt-get (.ci/run does)`);
  }
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const addr = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  assert.ok(typeof addr === 'object' && addr !== null);
  return addr.port;
}

export interface Proc {
  readonly child: ChildProcess;
  output: string;
  readonly exited: Promise<number | null>;
}

export function run(t: TestContext, cmd: string, args: string[]): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const p: { child: ChildProcess; output: string; exited: Promise<number | null> } = {
    child,
    output: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout?.on('data', (d: Buffer) => (p.output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (p.output += d.toString()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(); // by pid, SIGTERM: aria2c exits at once
      await p.exited;
    }
  });
  return p;
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, proc?: Proc): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (proc !== undefined && proc.child.exitCode !== null) assert.fail(`${what}: process exited early:\n${proc.output}`);
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}${proc === undefined ? '' : `:\n${proc.output}`}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}


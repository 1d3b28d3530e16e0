/**
 * A private `redis-server` for a test: a free loopback port, no persistence, stopped by its pid
 * when the test ends. `redis-server` is required (CI installs it in .ci/run); a missing binary
 * fails the test with the install hint instead of skipping it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { TestContext } from 'node:test';
import { freePort } from '../../helpers/processes.js';

/** One PING over a raw socket: true once Redis answers +PONG. */
async function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
  });
}

/** Starts redis-server; resolves to its `redis://` URL once it answers PING. */
export async function startRedis(t: TestContext): Promise<string> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) {
    assert.fail(`redis-server is required for the Redis store tests and could not be run (${probe.error.message}); install it: apt-get install -y redis-server`);
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(); // SIGTERM by pid: redis-server exits at once without --save
      await exited;
    }
  });
  const end = Date.now() + 10_000;
  while (!(await pong(port))) {
    if (child.exitCode !== null) assert.fail(`redis-server exited early:\n${log}`);
    if (Date.now() > end) assert.fail(`redis-server did not answer PING within 10 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return `redis://127.0.0.1:${port}`;
}

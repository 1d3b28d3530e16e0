import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { Proxy, type ProxyOptions } from '../../src/gateway/index.js';
import { recordingLogger } from './helpers.js';

/** A proxy on a free loopback port with a recording logger, closed when the test ends. */
export async function startProxy(t: TestContext, opts: Partial<ProxyOptions> & { cacheDir: string }): Promise<{ proxy: Proxy; log: ReturnType<typeof recordingLogger> }> {
  const log = recordingLogger();
  const proxy = await Proxy.start({ port: 0, host: '127.0.0.1', logger: log, ...opts });
  t.after(() => proxy.close());
  return { proxy, log };
}

/** How each request was served, from the proxy's log lines (`how`). */
export function servedBy(log: ReturnType<typeof recordingLogger>): string[] {
  return log.entries.filter((e) => e.level === 'info' && 'how' in e.obj).map((e) => `${(e.obj as { status: number }).status} ${(e.obj as { how: string }).how}`);
}

export interface CurlResult {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Runs curl (a real program using the proxy); stopped by pid if the test ends first. */
export function curl(t: TestContext, args: readonly string[]): Promise<CurlResult> {
  const child = spawn('curl', ['-sS', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<CurlResult>((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err })));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill();
      await exited;
    }
  });
  return exited;
}

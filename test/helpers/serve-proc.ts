/**
 * The CLI as real processes for crash and fault tests: `torrenttp serve` of a few files as the
 * origin (its torrents ready), any command until its start line, a process killed with SIGKILL
 * by pid.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseTorrent, type Metainfo } from '../../src/metainfo/index.js';
import { run, until, type Proc } from './processes.js';

export const MAIN = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

/** `cmd` run until its output matches `line`, whose first group is the URL it prints. */
export async function started(t: TestContext, cmd: string[], line: RegExp): Promise<{ url: string; proc: Proc }> {
  const proc = run(t, cmd[0]!, cmd.slice(1));
  await until(`${cmd.join(' ')} to print its start line`, () => line.test(proc.output), 20_000, proc);
  return { url: line.exec(proc.output)![1]!, proc };
}

/** `serve DIR/www` of `files`, each already offered as a torrent (their metainfo, by name). */
export async function serveFiles(t: TestContext, dir: string, files: Record<string, Uint8Array>, args: string[] = []): Promise<{ url: string; torrents: Map<string, Metainfo> }> {
  const root = join(dir, 'www');
  mkdirSync(root);
  for (const [name, data] of Object.entries(files)) writeFileSync(join(root, name), data);
  const s = await started(t, [process.execPath, MAIN, 'serve', root, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn', '--cache', join(dir, 'scache'), ...args], /serving .* at (http:\/\/127\.0\.0\.1:\d+)\//);
  const torrents = new Map<string, Metainfo>();
  for (const name of Object.keys(files)) {
    await until(
      `${name}'s torrent`,
      async () => {
        const r = await fetch(`${s.url}/${name}?torrent`);
        const body = new Uint8Array(await r.arrayBuffer());
        if (r.status === 200) torrents.set(name, parseTorrent(body));
        return r.status === 200;
      },
      20_000,
      s.proc,
    );
  }
  return { url: s.url, torrents };
}

/** SIGKILL, by pid; resolves once it exited. */
export async function killed(p: Proc): Promise<void> {
  process.kill(p.child.pid!, 'SIGKILL');
  await p.exited;
}

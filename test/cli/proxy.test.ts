/**
 * `torrenttp proxy` as a process in front of `torrenttp serve` as a process, with the programs
 * the issue names: curl (`-x`), wget (`-e use_proxy=yes -e http_proxy=…`) and python3's urllib
 * with a `ProxyHandler`. Each gets the exact file; the first from the swarm, the others from the
 * cache; the proxy logs one line per request saying how it was served. Bad flags are usage errors.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli } from '../helpers/cli.js';
import { requireTool, run, until, type Proc } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const MAIN = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');
const MIB = 1024 * 1024;

async function started(t: TestContext, args: string[], line: RegExp): Promise<{ url: string; proc: Proc }> {
  const proc = run(t, process.execPath, [MAIN, ...args]);
  await until(`${args[0]} to print its start line`, () => line.test(proc.output), 20_000, proc);
  return { url: line.exec(proc.output)![1]!, proc };
}

function program(t: TestContext, cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stderr: string }>((r) => child.on('close', (code) => r({ code, stderr })));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill();
      await done;
    }
  });
  return done;
}

test('curl, wget and python urllib through torrenttp proxy get the served file: swarm first, then the cache', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('wget', ['--version']);
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(6 * MIB + 3, 61);
    writeFileSync(join(root, 'app.tar'), payload);
    const serve = await started(t, ['serve', root, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn', '--cache', join(dir, 'gcache')], /serving .* at (http:\/\/127\.0\.0\.1:\d+)\//);
    const fileUrl = `${serve.url}/app.tar`;
    for (let i = 0; i < 200; i++) {
      const r = await fetch(`${fileUrl}?torrent`);
      await r.arrayBuffer();
      if (r.status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const proxy = await started(t, ['proxy', '--port', '0', '--cache', join(dir, 'pcache'), '--stall', '5s'], /proxy at (http:\/\/127\.0\.0\.1:\d+)/);

    const curl = await program(t, 'curl', ['-sS', '-x', proxy.url, fileUrl, '-o', join(dir, 'curl.tar')]);
    assert.equal(curl.code, 0, curl.stderr);
    const wget = await program(t, 'wget', ['-q', '-e', 'use_proxy=yes', '-e', `http_proxy=${proxy.url}`, '-O', join(dir, 'wget.tar'), fileUrl]);
    assert.equal(wget.code, 0, wget.stderr);
    const py = [
      'import sys, urllib.request',
      'opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": sys.argv[1]}))',
      'open(sys.argv[3], "wb").write(opener.open(sys.argv[2]).read())',
    ].join('\n');
    const python = await program(t, 'python3', ['-c', py, proxy.url, fileUrl, join(dir, 'py.tar')]);
    assert.equal(python.code, 0, python.stderr);
    for (const name of ['curl.tar', 'wget.tar', 'py.tar']) assert.ok(readFileSync(join(dir, name)).equals(Buffer.from(payload)), `${name}: byte-identical`);

    await until('three request log lines', () => (proxy.proc.output.match(/"how":"(swarm|cache)"/g) ?? []).length >= 3, 5000, proxy.proc);
    const hows = [...proxy.proc.output.matchAll(/"how":"(\w+)"/g)].map((m) => m[1]);
    assert.deepEqual(hows, ['swarm', 'cache', 'cache'], proxy.proc.output);
  }));

test('proxy flags: bad values are usage errors; loopback only by default; --listen on a public address warns of an open proxy', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    for (const args of [['--port', 'x'], ['--cache-size', 'lots'], ['--stall', '0'], ['--listen', 'example.com']]) {
      const r = await cli(dir, ['proxy', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /proxy --help/);
    }
    const open = await started(t, ['proxy', '--port', '0', '--listen', '0.0.0.0', '--cache', join(dir, 'c'), '--log-level', 'warn'], /proxy at (http:\/\/127\.0\.0\.1:\d+)/);
    assert.match(open.proc.output, /warning: listening on 0\.0\.0\.0: .*open proxy/);
    // A URL a program can be given: 0.0.0.0 is where it listens, not an address to connect to.
    assert.doesNotMatch(open.proc.output, /http:\/\/0\.0\.0\.0/, open.proc.output);
    // Without --listen: loopback only, no warning (the start line says 127.0.0.1 either way, so ask the kernel).
    const closed = await started(t, ['proxy', '--port', '0', '--cache', join(dir, 'c2'), '--log-level', 'warn'], /proxy at (http:\/\/127\.0\.0\.1:\d+)/);
    assert.doesNotMatch(closed.proc.output, /warning/);
    if (existsSync('/proc/net/tcp')) {
      const listening = (url: string): string[] => {
        const port = Number(new URL(url).port).toString(16).toUpperCase().padStart(4, '0');
        return readFileSync('/proc/net/tcp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f[3] === '0A' && f[1]?.endsWith(`:${port}`)).map((f) => f[1]!.split(':')[0]!);
      };
      assert.deepEqual(listening(closed.url), ['0100007F'], 'bound to 127.0.0.1 only');
      assert.deepEqual(listening(open.url), ['00000000'], 'bound to every address');
    }
  }));

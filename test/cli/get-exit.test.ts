/**
 * `torrenttp get` of a small file ends with its download: nothing left for the process to wait
 * for after the command (V8 once spent 0.3 to 0.6 s of CPU after the last byte compiling undici's
 * HTTP parser a second time, and node waited for it before exiting).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { bytes, withTempDir } from '../helpers/torrents.js';

const PROGRAM = new URL('../../src/cli/program.js', import.meta.url).href;
const LAZY = new URL('../../src/cli/commands/lazy.js', import.meta.url).href;
const CONTEXT = new URL('../../src/cli/context.js', import.meta.url).href;

/** Runs `get` through the CLI's own entry points, then reports the CPU the process spends after the command. */
const CHILD = `
import { runProgram } from ${JSON.stringify(PROGRAM)};
import { commandsFor } from ${JSON.stringify(LAZY)};
import { defaultContext } from ${JSON.stringify(CONTEXT)};
const argv = process.argv.slice(2);
const code = await runProgram(defaultContext(), await commandsFor(argv), argv);
const cpu = process.cpuUsage();
const started = performance.now();
process.once('beforeExit', () => {
  const after = process.cpuUsage(cpu);
  process.stdout.write(JSON.stringify({ code, afterCpuMs: (after.user + after.system) / 1000, afterMs: performance.now() - started }));
});
`;

test('get of a small file: the process has nothing left to do once the command ends (no background compile to wait for)', async (t) => {
  const body = bytes(64 * 1024, 7);
  const server = createServer((_req, res) => res.end(body));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/small.bin`;
  await withTempDir(t, async (dir) => {
    const script = join(dir, 'child.mjs');
    writeFileSync(script, CHILD);
    const out = join(dir, 'small.bin');
    const child = spawn(process.execPath, [script, 'get', '-s', url, '-o', out], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => child.kill()); // by pid, if still running
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    const [exitCode] = (await once(child, 'exit')) as [number | null];
    assert.equal(exitCode, 0, text);
    const report = JSON.parse(text) as { code: number; afterCpuMs: number; afterMs: number };
    assert.equal(report.code, 0);
    assert.deepEqual(readFileSync(out), Buffer.from(body));
    // The optimizing compile of llhttp costs 300 ms of CPU and more; exiting costs a few ms.
    assert.ok(report.afterCpuMs < 150, `the process spent ${report.afterCpuMs.toFixed(0)} ms of CPU (${report.afterMs.toFixed(0)} ms) after the command ended`);
  });
});

/**
 * `npm start` is how README starts the main job, and a supervisor, a terminal's job control or a
 * script that started it stops it by npm's pid. npm forwards SIGTERM to the script's process; if
 * that is a `sh -c` wrapping node (Debian's dash does not exec the last command), the shell dies
 * and `serve` lives on, an orphan holding the port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '../helpers/processes.js';
import { withTempDir } from '../helpers/torrents.js';

const root = resolve(fileURLToPath(import.meta.url), '../../../..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('npm start then SIGTERM to npm\'s pid: serve stops too, no orphan left holding the port', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const npm = spawn('npm', ['--prefix', root, 'start', '--', '--port', '0', '--host', '127.0.0.1', '--log-format', 'json'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    let output = '';
    npm.stdout.on('data', (d: Buffer) => (output += d.toString()));
    npm.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const npmExited = new Promise<void>((r) => npm.on('exit', () => r()));
    let servePid: number | undefined;
    t.after(async () => {
      if (npm.exitCode === null && npm.signalCode === null) {
        npm.kill();
        await npmExited;
      }
      if (servePid !== undefined && alive(servePid)) process.kill(servePid, 'SIGKILL'); // the orphan this test found
    });
    // serve's JSON log (stderr) names its pid ("tracker listening" is its last start line); the
    // start line "serving DIR at URL" is on stdout, which may come before or after it: wait for both.
    const serving = new RegExp(`serving ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at http://127\\.0\\.0\\.1:\\d+/`);
    await until('serve to start under npm', () => /"pid":(\d+)[^\n]*"msg":"tracker listening"/.test(output) && serving.test(output), 30_000);
    servePid = Number(/"pid":(\d+)[^\n]*"msg":"tracker listening"/.exec(output)![1]);
    assert.match(output, serving, 'npm start serves the folder it is run from');
    assert.notEqual(servePid, npm.pid);
    npm.kill('SIGTERM');
    await npmExited;
    await until(`serve (pid ${servePid}) to stop after npm's`, () => !alive(servePid!), 10_000);
  }));

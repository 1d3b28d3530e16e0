/**
 * `serve`, `proxy` and `tracker` log for a person on a terminal and for a machine elsewhere:
 * `--log-format pretty` is one readable line per entry, `json` one JSON object per line, and
 * without the flag the terminal decides (a test's pipe is not one: JSON).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { logFormat } from '../../src/cli/logger.js';
import { run, until } from '../helpers/processes.js';
import { withTempDir } from '../helpers/torrents.js';

const MAIN = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

test('without --log-format, a terminal gets pretty lines and anything else JSON; the flag wins', () => {
  const ctx = (isTTY: boolean) => ({ stdout: new PassThrough(), stderr: Object.assign(new PassThrough(), { isTTY }), cwd: '/' });
  assert.equal(logFormat(ctx(true), { logLevel: 'info' }), 'pretty');
  assert.equal(logFormat(ctx(false), { logLevel: 'info' }), 'json');
  assert.equal(logFormat(ctx(true), { logLevel: 'info', logFormat: 'json' }), 'json');
  assert.equal(logFormat(ctx(false), { logLevel: 'info', logFormat: 'pretty' }), 'pretty');
});

for (const [command, args] of [
  ['serve', ['serve', '.', '--port', '0']],
  ['tracker', ['tracker', '--host', '127.0.0.1', '--port', '0']],
  ['proxy', ['proxy', '--port', '0', '--peer-port', '0']],
] as const) {
  test(`${command} --log-format pretty writes a readable line, the default on a pipe a JSON object`, async (t) => {
    await withTempDir(t, async (dir) => {
      const cacheArgs = command === 'proxy' ? ['--cache', resolve(dir, 'cache')] : [];
      const pretty = run(t, process.execPath, [MAIN, ...args, ...cacheArgs, '--log-format', 'pretty'].map((a) => (a === '.' ? dir : a)));
      const json = run(t, process.execPath, [MAIN, ...args, ...cacheArgs].map((a) => (a === '.' ? dir : a)));
      // serve and tracker log "tracker listening" at info; the proxy logs each request.
      if (command === 'proxy') {
        for (const p of [pretty, json]) {
          await until('the proxy to print its URL', () => /proxy at (http:\S+)/.test(p.output), 20_000, p);
          await fetch(`${/proxy at (http:\S+)/.exec(p.output)![1]!}/`).then((r) => r.arrayBuffer());
        }
      }
      await until(`${command} --log-format pretty to log a line`, () => / INFO: /.test(pretty.output), 20_000, pretty);
      await until(`${command} to log a JSON line`, () => /^\{"level":30,/m.test(json.output), 20_000, json);
      assert.doesNotMatch(pretty.output, /^\{"level"/m, 'no JSON line in the pretty log');
      assert.match(pretty.output, /^\[\d\d:\d\d:\d\d\] INFO: \S/m, 'time, level, message');
      assert.doesNotMatch(pretty.output, /\u001b\[/, 'no colour codes when stderr is not a terminal');
    });
  });
}

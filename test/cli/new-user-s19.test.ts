/**
 * What a new user met walking README.md, docs/cli.md, serve.md and proxy.md from a fresh clone
 * (session 19): `get -v`'s retry line in other words than the line `--retry` prints, `get --port
 * abc` not saying what is wrong, a start line's bare "port N", and a URL typed without its scheme.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from '../helpers/cli.js';
import { httpOrigin } from '../helpers/origin.js';
import { withTempDir } from '../helpers/torrents.js';

test('get -v --retry: the "* " line says the retry in the words and count of the line --retry prints (curl\'s)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    let n = 0;
    const url = await httpOrigin(t, (_req, res) => {
      if (++n <= 2) return void res.writeHead(503, { 'retry-after': '0' }).end('busy');
      res.end('ok\n');
    });
    const r = await cli(dir, ['get', `${url}/f`, '-o', 'f', '--retry', '2', '-v']);
    assert.equal(r.code, 0, r.stderr);
    const plain = r.stderr.split('\n').filter((l) => l.startsWith('torrenttp: ') && l.includes('Will retry'));
    const verbose = r.stderr.split('\n').filter((l) => l.startsWith('* ') && l.includes('503'));
    assert.equal(plain.length, 2, r.stderr);
    assert.deepEqual(verbose, plain.map((l) => `* ${l.slice('torrenttp: '.length)}`), r.stderr);
    assert.match(verbose[0]!, /\. Will retry in 0 seconds\. 2 retries left\.$/);
    // -sv hides the plain line; -v's still says it.
    n = 0;
    const quiet = await cli(dir, ['get', `${url}/f`, '-o', 'f', '--retry', '2', '-sv']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /^torrenttp: /m);
    assert.match(quiet.stderr, /^\* .*503.*\. Will retry in 0 seconds\. 1 retry left\.$/m, quiet.stderr);
  }));

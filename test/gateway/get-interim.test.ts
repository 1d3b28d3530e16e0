/**
 * `torrenttp get` of a plain file from an origin that sends interim answers (an unasked
 * `100 Continue`, `103 Early Hints`, `102 Processing`) before its real one: skipped (node's
 * client, RFC 9110 §15.2), the file taken whole, the resumed request too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getUrl } from '../../src/gateway/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { interimOrigin } from '../helpers/interim.js';
import { TEST_STALL_MS } from './helpers.js';

test('get: a plain file from an origin that sends interim answers first, and its resumed tail', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const file = bytes(200_000, 12);
    const o = await interimOrigin(t, (req, res) => {
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m === null) return void res.writeHead(200, { 'content-length': file.length }).end(file);
      const from = Number(m[1]);
      res.writeHead(206, { 'content-length': file.length - from, 'content-range': `bytes ${from}-${file.length - 1}/${file.length}` }).end(file.subarray(from));
    });
    const out = join(dir, 'f.bin');
    const r = await getUrl({ url: `${o.base}/f.bin`, output: { kind: 'file', path: out }, lingerMs: 0, stallMs: TEST_STALL_MS });
    assert.equal(r.status, 'complete');
    assert.ok(readFileSync(out).equals(Buffer.from(file)));
    // Half a file there: `-C -` asks for the rest.
    const part = join(dir, 'g.bin');
    writeFileSync(part, file.subarray(0, 70_000));
    const resumed = await getUrl({ url: `${o.base}/g.bin`, output: { kind: 'file', path: part }, resume: true, lingerMs: 0, stallMs: TEST_STALL_MS });
    assert.equal(resumed.status, 'complete');
    assert.ok(readFileSync(part).equals(Buffer.from(file)));
  }));

/**
 * `torrenttp proxy` against an origin that sends interim answers (an unasked `100 Continue`,
 * `103 Early Hints`, `102 Processing`) before its real one (RFC 9110 §15.2): the program gets the
 * real answer, never a 502: for the GET the proxy first asks for a torrent (undici) and for what
 * passes through (node's client).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { interimOrigin } from '../helpers/interim.js';
import { curl, servedBy, startProxy } from './proxy-helpers.js';

test('proxy: interim answers before the origin\'s real one are skipped, for a GET and a POST, never a 502', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const file = bytes(256 * 1024 + 3, 41);
    const o = await interimOrigin(t, (req, res) => {
      if (req.url === '/file.bin') {
        res.writeHead(200, { 'content-length': file.length, 'content-type': 'application/x-thing' });
        res.end(file);
      } else if (req.url === '/echo' && req.method === 'POST') {
        res.writeHead(201);
        req.pipe(res);
      } else res.writeHead(404).end();
    });
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const out = join(dir, 'file.bin');
    for (let i = 0; i < 2; i++) {
      const r = await curl(t, ['-x', proxy.url, `${o.base}/file.bin`, '-o', out, '-w', '%{http_code}']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), '200', `GET ${i}`);
      assert.ok(readFileSync(out).equals(Buffer.from(file)), 'byte-identical');
    }
    const posted = await curl(t, ['-x', proxy.url, '--data-binary', 'hello body', `${o.base}/echo`, '-w', ' %{http_code}']);
    assert.equal(posted.stdout.toString(), 'hello body 201');
    assert.ok(!servedBy(log).some((s) => s.startsWith('502')), servedBy(log).join());
  }));

/**
 * Request targets a browser never sends but a proxy or an attacker may: the absolute form, and a
 * file's path with a trailing slash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { rawRequest, startGateway } from './helpers.js';

async function site(dir: string): Promise<{ root: string; small: Uint8Array; big: Uint8Array }> {
  const root = join(dir, 'www');
  mkdirSync(join(root, 'sub'), { recursive: true });
  const small = bytes(1000, 3);
  const big = bytes(1024 * 1024 + 3, 4);
  writeFileSync(join(root, 's.bin'), small);
  writeFileSync(join(root, 'big.bin'), big);
  writeFileSync(join(root, 'sub', 'index.html'), '<p>hi</p>');
  return { root, small, big };
}

test('an absolute-form target is served as its path (RFC 9112 §3.2.2), its authority taking the place of Host', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root, small } = await site(dir);
    const g = await startGateway(t, { root });
    const port = g.address.port;
    const ok = await rawRequest(port, `http://127.0.0.1:${port}/s.bin`);
    assert.equal(ok.status, 200);
    assert.ok(ok.body.equals(small));
    const upper = await rawRequest(port, `HTTP://127.0.0.1:${port}/sub/`);
    assert.equal(upper.status, 200);
    assert.equal(upper.body.toString(), '<p>hi</p>');
    // The path rules still apply to the path of an absolute target.
    for (const bad of ['/%2e%2e/s.bin', '/../s.bin', '/a%2fb']) {
      assert.equal((await rawRequest(port, `http://127.0.0.1:${port}${bad}`)).status, 400, bad);
    }
    // Bound to loopback: the target's host is checked as Host would be (DNS rebinding).
    assert.equal((await rawRequest(port, 'http://evil.example/s.bin')).status, 421);
    // The tracker and the status page are reached the same way.
    assert.equal((await rawRequest(port, `http://127.0.0.1:${port}/.torrenttp/status.json`)).status, 200);
    // Still refused: other schemes and forms.
    assert.equal((await rawRequest(port, `ftp://127.0.0.1:${port}/s.bin`)).status, 400);
    assert.equal((await rawRequest(port, 's.bin')).status, 400);
  }));

test('a file asked for with a trailing slash is 404, as nginx: one URL per file', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root, small } = await site(dir);
    const g = await startGateway(t, { root });
    const port = g.address.port;
    assert.equal((await rawRequest(port, '/s.bin')).status, 200);
    for (const target of ['/s.bin/', '/s.bin//', '/big.bin/', '/big.bin/?torrent', '/sub/index.html/']) {
      const r = await rawRequest(port, target);
      assert.equal(r.status, 404, target);
      assert.ok(!r.body.includes(Buffer.from(small.subarray(0, 64))), target);
    }
    assert.equal((await rawRequest(port, '/sub/')).status, 200);
    assert.equal((await rawRequest(port, '/sub')).status, 301);
  }));

test('CONNECT, which is for proxies, gets 405 and not a silent close', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root, small } = await site(dir);
    const g = await startGateway(t, { root });
    for (const target of ['/s.bin', `127.0.0.1:${g.address.port}`]) {
      const r = await rawRequest(g.address.port, target, {}, 'CONNECT');
      assert.equal(r.status, 405, target);
      assert.match(r.head, /\r\nallow: GET, HEAD/i);
    }
    const ok = await rawRequest(g.address.port, '/s.bin');
    assert.ok(ok.body.equals(small));
  }));

test('a Host the URL parser refuses (port past 65535) is answered, the torrent naming the address reached', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root } = await site(dir);
    const g = await startGateway(t, { root });
    const port = g.address.port;
    for (const host of ['127.0.0.1:99999', 'localhost:70000']) {
      let r = await rawRequest(port, '/big.bin?torrent', { Host: host });
      for (let i = 0; r.status === 503 && i < 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        r = await rawRequest(port, '/big.bin?torrent', { Host: host });
      }
      assert.equal(r.status, 200, host);
      assert.ok(r.body.includes(`http://127.0.0.1:${port}/announce`), host);
    }
  }));

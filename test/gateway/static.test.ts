/**
 * `torrenttp serve` as a plain static web server: byte-identical bodies, ranges, conditionals,
 * HEAD, keep-alive, HTTPS, folder handling, and no byte from outside the served folder whatever
 * the path trick (encoded, double-encoded, backslash, NUL, symlinks, dotfiles).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { rawRequest, startGateway } from './helpers.js';
import { selfSignedCert } from '../helpers/tls.js';

const SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOT';

function site(dir: string): { root: string; small: Uint8Array; big: Uint8Array } {
  const root = join(dir, 'www');
  mkdirSync(join(root, 'sub', 'deeper'), { recursive: true });
  mkdirSync(join(root, 'withindex'));
  const small = bytes(1000, 1);
  const big = bytes(3 * 1024 * 1024 + 7, 2);
  writeFileSync(join(root, 'small.txt'), small);
  writeFileSync(join(root, 'big.bin'), big);
  writeFileSync(join(root, 'sub', 'deeper', 'x.json'), '{"a":1}');
  writeFileSync(join(root, 'withindex', 'index.html'), '<p>hi</p>');
  writeFileSync(join(root, '.env'), SECRET);
  mkdirSync(join(root, '.git'));
  writeFileSync(join(root, '.git', 'config'), SECRET);
  writeFileSync(join(dir, 'outside.txt'), SECRET);
  symlinkSync(join(dir, 'outside.txt'), join(root, 'link-out'));
  symlinkSync(dir, join(root, 'dir-out'));
  symlinkSync('.env', join(root, 'link-to-dotfile'));
  symlinkSync('small.txt', join(root, 'link-in'));
  return { root, small, big };
}

test('plain GET, ranges, conditionals, HEAD and content types', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root, small, big } = site(dir);
    const g = await startGateway(t, { root });
    const get = (path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') => request(`${g.url}${path}`, { method, headers });

    const whole = await get('/big.bin');
    assert.equal(whole.statusCode, 200);
    assert.deepEqual(Buffer.from(await whole.body.arrayBuffer()), Buffer.from(big));
    assert.equal(whole.headers['content-length'], String(big.length));
    assert.equal(whole.headers['accept-ranges'], 'bytes');
    assert.equal(whole.headers['content-type'], 'application/octet-stream');
    const etag = whole.headers['etag'] as string;
    const lastModified = whole.headers['last-modified'] as string;
    assert.match(etag, /^"[0-9a-f-]+"$/);

    const txt = await get('/small.txt');
    assert.equal(txt.headers['content-type'], 'text/plain; charset=utf-8');
    assert.deepEqual(Buffer.from(await txt.body.arrayBuffer()), Buffer.from(small));
    assert.equal((await get('/sub/deeper/x.json')).headers['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(Buffer.from(await (await get('/link-in')).body.arrayBuffer()), Buffer.from(small), 'a symlink inside the root is served');

    const part = await get('/big.bin', { range: 'bytes=1000-1999' });
    assert.equal(part.statusCode, 206);
    assert.equal(part.headers['content-range'], `bytes 1000-1999/${big.length}`);
    assert.deepEqual(Buffer.from(await part.body.arrayBuffer()), Buffer.from(big.subarray(1000, 2000)));
    const tail = await get('/big.bin', { range: 'bytes=-10' });
    assert.equal(tail.statusCode, 206);
    assert.deepEqual(Buffer.from(await tail.body.arrayBuffer()), Buffer.from(big.subarray(big.length - 10)));

    const past = await get('/big.bin', { range: `bytes=${big.length}-` });
    assert.equal(past.statusCode, 416);
    assert.equal(past.headers['content-range'], `bytes */${big.length}`);
    await past.body.dump();
    const several = await get('/big.bin', { range: 'bytes=0-1,10-20' });
    assert.equal(several.statusCode, 200, 'several ranges get the whole file');
    assert.equal((await several.body.arrayBuffer()).byteLength, big.length);

    const conditionals: Record<string, string>[] = [{ 'if-none-match': etag }, { 'if-modified-since': lastModified }, { 'if-none-match': `"nope", ${etag}` }];
    for (const headers of conditionals) {
      const r = await get('/big.bin', headers);
      assert.equal(r.statusCode, 304, JSON.stringify(headers));
      assert.equal(r.headers['etag'], etag);
      assert.equal((await r.body.arrayBuffer()).byteLength, 0);
    }
    assert.equal((await get('/big.bin', { 'if-none-match': '"other"' })).statusCode, 200);
    assert.equal((await get('/big.bin', { 'if-match': '"other"' })).statusCode, 412);
    // RFC 9110 §13.2.2's order (docs/serve.md: where nginx differs): If-None-Match before Range,
    // If-Modified-Since ignored beside If-None-Match, If-Unmodified-Since beside If-Match.
    const old = 'Thu, 01 Jan 1998 00:00:00 GMT';
    assert.equal((await get('/big.bin', { 'if-none-match': etag, range: 'bytes=0-9' })).statusCode, 304);
    assert.equal((await get('/big.bin', { 'if-none-match': etag, 'if-modified-since': old })).statusCode, 304);
    assert.equal((await get('/big.bin', { 'if-none-match': '"other"', 'if-modified-since': lastModified })).statusCode, 200);
    assert.equal((await get('/big.bin', { 'if-unmodified-since': old })).statusCode, 412);
    assert.equal((await get('/big.bin', { 'if-unmodified-since': old, 'if-match': etag })).statusCode, 200);
    assert.equal((await get('/big.bin', { 'if-unmodified-since': 'not a date' })).statusCode, 200);
    assert.equal((await get('/big.bin', { 'if-match': '"other"', range: 'bytes=0-9' })).statusCode, 412);
    // If-Range with the current validator: the range; with a stale one: the whole file.
    assert.equal((await get('/big.bin', { range: 'bytes=0-9', 'if-range': etag })).statusCode, 206);
    const stale = await get('/big.bin', { range: 'bytes=0-9', 'if-range': '"stale"' });
    assert.equal(stale.statusCode, 200);
    assert.equal((await stale.body.arrayBuffer()).byteLength, big.length);

    const head = await get('/big.bin', {}, 'HEAD');
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], String(big.length));
    assert.equal((await head.body.arrayBuffer()).byteLength, 0);

    const post = await request(`${g.url}/big.bin`, { method: 'POST', body: 'x' });
    assert.equal(post.statusCode, 405);
    assert.equal(post.headers['allow'], 'GET, HEAD');
    await post.body.dump();
  }));

test('keep-alive: many requests reuse one connection', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root, small } = site(dir);
    const g = await startGateway(t, { root });
    let connects = 0;
    const agent = new Agent({ connections: 1, connect: { timeout: 5000 } });
    agent.on('connect', () => connects++);
    t.after(() => agent.close());
    for (let i = 0; i < 20; i++) {
      const r = await request(`${g.url}/small.txt`, { dispatcher: agent });
      assert.equal((await r.body.arrayBuffer()).byteLength, small.length);
    }
    assert.equal(connects, 1);
  }));

test('folders: redirect to the slash form, index.html, 403 without --list, a plain index with it', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root } = site(dir);
    const off = await startGateway(t, { root });
    const redirect = await request(`${off.url}/sub?x=1`);
    assert.equal(redirect.statusCode, 301);
    assert.equal(redirect.headers['location'], '/sub/?x=1');
    await redirect.body.dump();
    assert.equal(await (await request(`${off.url}/withindex/`)).body.text(), '<p>hi</p>');
    assert.equal((await request(`${off.url}/`)).statusCode, 403);
    assert.equal((await request(`${off.url}/sub/`)).statusCode, 403);

    const on = await startGateway(t, { root, list: true });
    const index = await request(`${on.url}/`);
    assert.equal(index.statusCode, 200);
    const html = await index.body.text();
    assert.match(html, /<a href="big\.bin">big\.bin<\/a>/);
    assert.match(html, /<a href="sub\/">sub\/<\/a>/);
    assert.doesNotMatch(html, /\.env|\.git|\.torrenttp/, 'no dotfiles in listings');
  }));

test('path tricks never reach outside the root or dotfiles: all 4xx, no secret byte', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root } = site(dir);
    const g = await startGateway(t, { root, list: true });
    const { port } = g.address;
    const attempts = [
      '/../outside.txt', '/sub/../../outside.txt', '/%2e%2e/outside.txt', '/%2E%2E/outside.txt', '/.%2e/outside.txt',
      '/%252e%252e/outside.txt', '/sub%2f..%2f..%2foutside.txt', '/sub%2F..%2F..%2Foutside.txt', '/..%5coutside.txt',
      '/..\\outside.txt', '/sub\\..\\..\\outside.txt', '/big.bin%00.txt', '/%c0%ae%c0%ae/outside.txt', '/%uff0e%uff0e/outside.txt',
      '/link-out', '/dir-out/outside.txt', '/dir-out/', '/link-to-dotfile', '/.env', '/.git/config', '/%2eenv', '/sub/../.env',
      '/.torrenttp/meta/', '/.torrenttp/resume/', '/%2etorrenttp/', '//../outside.txt', 'outside.txt', '/' + '../'.repeat(20) + 'etc/passwd', '/dir-out/www/.env',
    ];
    for (const target of attempts) {
      for (const method of ['GET', 'HEAD']) {
        const r = await rawRequest(port, target, {}, method);
        assert.ok(r.status >= 400 && r.status < 500, `${method} ${target}: status ${r.status}`);
        assert.ok(!r.body.toString('latin1').includes(SECRET), `${method} ${target} leaked the secret`);
      }
    }
    // The same through a client that sends what it is given (undici keeps encoded forms).
    for (const target of ['/%2e%2e/outside.txt', '/link-out', '/.env']) {
      const r = await request(`${g.url}${target}`);
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, target);
      assert.ok(!(await r.body.text()).includes(SECRET));
    }
  }));

test('HTTPS with --cert/--key', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root, small } = site(dir);
    const { key, cert } = selfSignedCert(dir);
    const g = await startGateway(t, { root, tls: { cert: readFileSync(cert), key: readFileSync(key) } });
    assert.match(g.url, /^https:/);
    const agent = new Agent({ connect: { ca: readFileSync(cert), servername: undefined, rejectUnauthorized: false } });
    t.after(() => agent.close());
    const r = await request(`${g.url}/small.txt`, { dispatcher: agent });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(Buffer.from(await r.body.arrayBuffer()), Buffer.from(small));
  }));

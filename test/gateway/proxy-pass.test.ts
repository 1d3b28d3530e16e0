/**
 * What the proxy does not answer from the swarm passes through untouched: a server that offers
 * no torrent (fixed length, chunked, a redirect not followed, an error status, a POST body; and
 * python3's http.server, issue 19's own example), an HTTPS `CONNECT` tunnelled byte for byte to a
 * local TLS server; websockets upgrades, targets that are not absolute http URLs, unreachable or
 * unresolvable origins and huge headers get clean HTTP errors.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';
import { freePort, requireTool, run, until } from '../helpers/processes.js';
import { rawRequest } from './helpers.js';
import { curl, servedBy, startProxy } from './proxy-helpers.js';
import { selfSignedCert } from '../helpers/tls.js';

const MIB = 1024 * 1024;

async function listen(t: TestContext, server: ReturnType<typeof createServer> | ReturnType<typeof createHttpsServer>): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

test('pass-through: fixed length, chunked, redirects, errors and POST bodies as the origin sent them', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const file = bytes(3 * MIB + 7, 21);
    const accepts: (string | undefined)[] = [];
    const port = await listen(
      t,
      createServer((req: IncomingMessage, res: ServerResponse) => {
        accepts.push(req.headers.accept);
        if (req.url === '/file.bin') {
          res.writeHead(200, { 'content-length': file.length, 'content-type': 'application/x-thing' });
          res.end(file);
        } else if (req.url === '/chunked') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          let i = 0;
          const tick = setInterval(() => {
            if (i++ < 5) res.write(`part ${i}\n`);
            else {
              clearInterval(tick);
              res.end();
            }
          }, 5);
        } else if (req.url === '/moved') {
          res.writeHead(302, { location: '/file.bin', 'content-length': 0 });
          res.end();
        } else if (req.url === '/echo' && req.method === 'POST') {
          res.writeHead(201, { 'x-method': req.method });
          req.pipe(res);
        } else {
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('nothing here\n');
        }
      }),
    );
    const origin = `http://127.0.0.1:${port}`;
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });

    const out = join(dir, 'file.bin');
    const r = await curl(t, ['-x', proxy.url, `${origin}/file.bin`, '-o', out, '-D', '-']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /content-type: application\/x-thing/i);
    assert.ok(readFileSync(out).equals(Buffer.from(file)), 'byte-identical');
    // The second GET of the same URL: known to be plain, no negotiation (curl's own Accept).
    await curl(t, ['-x', proxy.url, `${origin}/file.bin`, '-o', '/dev/null']);
    assert.deepEqual(accepts.slice(-1), ['*/*']);
    // Both say why they passed through (docs/proxy.md), the second as well as the first.
    const whys = log.entries.filter((e) => e.level === 'info' && (e.obj as { how?: string }).how === 'passthrough').map((e) => (e.obj as { why?: string }).why);
    assert.deepEqual(whys, ['no torrent offered', 'no torrent for this URL (found within --fresh; not asked again)']);

    const chunked = await curl(t, ['-x', proxy.url, `${origin}/chunked`, '-D', '-']);
    assert.match(chunked.stdout.toString(), /transfer-encoding: chunked/i);
    assert.match(chunked.stdout.toString(), /part 1\npart 2\npart 3\npart 4\npart 5\n$/);

    const moved = await curl(t, ['-x', proxy.url, `${origin}/moved`, '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}']);
    assert.equal(moved.stdout.toString(), `302 ${origin}/file.bin`, 'the redirect is the program’s to follow');

    const missing = await curl(t, ['-x', proxy.url, `${origin}/none`, '-w', ' %{http_code}']);
    assert.equal(missing.stdout.toString(), 'nothing here\n 404');

    const posted = await curl(t, ['-x', proxy.url, '--data-binary', 'hello body', `${origin}/echo`, '-w', ' %{http_code}']);
    assert.equal(posted.stdout.toString(), 'hello body 201');
    assert.ok(servedBy(log).every((s) => s.endsWith('passthrough')), servedBy(log).join());
  }));

test('CONNECT tunnels HTTPS byte for byte; websocket upgrades are refused with 501', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { key, cert } = selfSignedCert(dir, { ipSan: true });
    const secret = bytes(2 * MIB, 33);
    const port = await listen(
      t,
      createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => {
        res.writeHead(200, { 'content-length': secret.length });
        res.end(secret);
      }),
    );
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const out = join(dir, 'secret.bin');
    const r = await curl(t, ['-x', proxy.url, '--cacert', cert, `https://127.0.0.1:${port}/secret`, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(out).equals(Buffer.from(secret)), 'byte-identical through the tunnel');
    // Logged when the tunnel closes, just after curl hangs up.
    await until('the tunnel to be logged', () => servedBy(log).length > 0, 5000);
    assert.deepEqual(servedBy(log), ['200 tunnel']);

    const ws = await rawRequest(proxy.address.port, `http://127.0.0.1:${port}/chat`, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' });
    assert.equal(ws.status, 501);
    assert.equal(JSON.parse(ws.body.toString()).code, 'GATEWAY_PROXY_UPGRADE');
  }));

test('bad input: origin-form and non-http targets, a bad CONNECT target, an unreachable origin, huge headers', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const port = proxy.address.port;
    const originForm = await rawRequest(port, '/file.bin');
    assert.equal(originForm.status, 400);
    assert.equal(JSON.parse(originForm.body.toString()).code, 'GATEWAY_PROXY_BAD_TARGET');
    assert.equal((await rawRequest(port, 'ftp://127.0.0.1/x')).status, 400);
    assert.equal((await rawRequest(port, 'http://user:pw@127.0.0.1/x')).status, 400);
    assert.equal((await rawRequest(port, 'http://[::1/x')).status, 400);
    assert.equal((await rawRequest(port, 'nohost:99999', {}, 'CONNECT')).status, 400);
    const closed = await freePort();
    const unreachable = await curl(t, ['-x', proxy.url, `http://127.0.0.1:${closed}/file.bin`, '-w', ' %{http_code}']);
    assert.match(unreachable.stdout.toString(), /"code":"GATEWAY_PROXY_UPSTREAM".*ECONNREFUSED.* 502$/);
    const tunnelRefused = await curl(t, ['-x', proxy.url, `https://127.0.0.1:${closed}/`, '-o', '/dev/null']);
    assert.notEqual(tunnelRefused.code, 0);
    assert.equal((await rawRequest(port, `http://127.0.0.1:${closed}/`, { 'X-Huge': 'a'.repeat(64 * 1024) })).status, 431);
    // A host that does not resolve (.invalid never does, RFC 6761 §6.4): 502 naming it, as for one that refuses.
    const nowhere = await curl(t, ['-x', proxy.url, 'http://no-such-host.invalid/file.bin', '-w', ' %{http_code}']);
    assert.match(nowhere.stdout.toString(), /"code":"GATEWAY_PROXY_UPSTREAM".*no-such-host\.invalid.* 502$/);
  }));

test('a file from python3 -m http.server (no torrent offered, no Range support) passes through byte-identical, a Range as its 200', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('python3', ['--version']);
    const site = join(dir, 'site');
    mkdirSync(site);
    const file = bytes(3 * MIB + 5, 24);
    writeFileSync(join(site, 'file.bin'), file);
    const py = run(t, 'python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', site]);
    await until('http.server to listen', () => /port (\d+)/.test(py.output), 20_000, py);
    const url = `http://127.0.0.1:${/port (\d+)/.exec(py.output)![1]}/file.bin`;
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    for (const round of ['first', 'second']) {
      const out = join(dir, `${round}.bin`);
      const r = await curl(t, ['-x', proxy.url, url, '-o', out, '-w', '%{http_code}']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), '200');
      assert.ok(readFileSync(out).equals(Buffer.from(file)), `${round}: byte-identical`);
    }
    // http.server ignores Range: its 200 of the whole file is what the program gets, as from it directly.
    const ranged = await curl(t, ['-x', proxy.url, '-r', '1000-1999', url, '-o', join(dir, 'r.bin'), '-w', '%{http_code}']);
    assert.equal(ranged.stdout.toString(), '200');
    assert.ok(readFileSync(join(dir, 'r.bin')).equals(Buffer.from(file)));
    await until('every request to be logged', () => servedBy(log).length >= 3, 5000);
    assert.deepEqual(servedBy(log), ['200 passthrough', '200 passthrough', '200 passthrough']);
  }));

test('a torrent of other bytes than the URL: the origin\'s answer passes through, and the torrent opened while its length was checked leaves the cache', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const file = bytes(2 * MIB, 22);
    const other = bytes(2 * MIB + 1, 23); // the torrent describes these, one byte longer
    const torrent = torrentBytes({ name: 'file.bin', 'piece length': 256 * 1024, length: other.length, pieces: piecesOf(other, 256 * 1024) });
    let heads = 0;
    const port = await listen(
      t,
      createServer((req: IncomingMessage, res: ServerResponse) => {
        if (req.method === 'HEAD') heads++;
        if ((req.headers.accept ?? '').startsWith('application/x-bittorrent')) {
          res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': torrent.length });
          res.end(torrent);
          return;
        }
        res.writeHead(200, { 'content-length': file.length, 'content-type': 'application/octet-stream' });
        res.end(req.method === 'HEAD' ? undefined : file);
      }),
    );
    const cacheDir = join(dir, 'pcache');
    const { proxy, log } = await startProxy(t, { cacheDir });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, `http://127.0.0.1:${port}/file.bin`, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(out).equals(Buffer.from(file)), 'the origin\'s bytes');
    await until('every request to be logged', () => servedBy(log).length >= 1, 5000); // logged once a response has ended: curl may exit first
    assert.deepEqual(servedBy(log), ['200 passthrough']);
    // The length came with the answer to the first piece's GET (this origin ignores ranges: a 200 of the whole file).
    assert.equal(heads, 0, 'no HEAD: the length was in the piece\'s answer');
    await until('the prepared torrent removed', () => proxy.cache.usage().torrents === 0 && readdirSync(cacheDir).length === 0, 40_000);
  }),
);

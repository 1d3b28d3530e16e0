/**
 * The `Host` check against DNS rebinding (src/gateway/host-check.ts, docs/security.md): a server
 * bound to loopback answers only requests that name it; one on a wildcard address serves any
 * `Host`. Over real HTTP, for the TorrentTTP peer server and for `serve`'s gateway (its files,
 * status JSON and `/ttp/v1` routes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostCheckFor, isLoopbackBind } from '../../src/gateway/host-check.js';
import { withTempDir } from '../helpers/torrents.js';
import { startGateway } from './helpers.js';
import { demoTorrent, get, ttpSeed } from './ttp-helpers.js';

test('hostCheckFor: only loopback binds check; localhost, IP literals, the bound address and given names pass', () => {
  for (const h of ['127.0.0.1', '127.3.2.1', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.equal(isLoopbackBind(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.0.2.10', '10.0.0.1', 'example.org']) {
    assert.equal(isLoopbackBind(h), false, h);
    assert.equal(hostCheckFor(h), undefined, h);
  }
  const c = hostCheckFor('127.0.0.2', ['My.Box', 'seed.lan.'])!;
  const pass = [undefined, 'localhost', 'LOCALHOST:8080', 'localhost.:1', 'app.localhost:3000', '127.0.0.1:80', '127.0.0.2', '[::1]:6881', '[::1]', '192.0.2.10:80', 'my.box:8080', 'MY.BOX', 'seed.lan', 'seed.lan.:9'];
  for (const h of pass) assert.equal(c.allows(h), true, String(h));
  const refuse = ['evil.example', 'evil.example:8080', 'localhost.evil.example', 'my.box.evil.example', '127.0.0.1.nip.io', '', ':80', 'my', '[::1', 'evil.example:80@127.0.0.1'];
  for (const h of refuse) assert.equal(c.allows(h), false, h);
});

test('TorrentTTP peer server on 127.0.0.1: Host evil.example gets 421 GATEWAY_UNKNOWN_HOST; its own names are served', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent } = await demoTorrent(dir);
    const s = await ttpSeed(t, torrent, dir, { server: { hostNames: ['seed.example'] } });
    const port = new URL(s.url).port;
    for (const path of ['', '/have', '/pieces/0', '/metainfo.json']) {
      for (const method of ['GET', 'HEAD'] as const) {
        const r = await get(`${s.url}${path}`, { host: `evil.example:${port}` }, method);
        assert.equal(r.status, 421, `${method} ${path}`);
        assert.equal(r.h('content-type'), 'application/problem+json');
        assert.equal(r.h('cache-control'), 'no-store');
        assert.equal(r.h('access-control-allow-origin'), '*');
        if (method === 'GET') assert.equal(r.json()['code'], 'GATEWAY_UNKNOWN_HOST');
        else assert.equal(r.body.length, 0);
      }
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `seed.example:${port}`, `[::1]:${port}`]) {
      const r = await get(`${s.url}/pieces/0`, { host });
      assert.equal(r.status, 200, host);
      assert.equal(r.body.length, 16384, host);
    }
    assert.equal((await get(`${s.url}/have`)).status, 200, 'a plain request (Host 127.0.0.1:port)');
  }),
);

test('TorrentTTP peer server on 0.0.0.0 serves any Host (public by design)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent } = await demoTorrent(dir);
    const s = await ttpSeed(t, torrent, dir, { server: { host: '0.0.0.0' } });
    const url = `http://127.0.0.1:${s.server.address.port}/ttp/v1/torrents/${s.torrent.infoHash}`;
    const r = await get(`${url}/pieces/1`, { host: 'evil.example' });
    assert.equal(r.status, 200);
  }),
);

test('serve on 127.0.0.1: files, status JSON and /ttp/v1 refuse an unknown Host with 421; --host-name names pass; on 0.0.0.0 any Host', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'site');
    mkdirSync(root);
    writeFileSync(join(root, 'a.txt'), 'hello\n');
    const g = await startGateway(t, { root, hostNames: ['files.example'] });
    const base = `http://127.0.0.1:${g.address.port}`;
    for (const path of ['/a.txt', '/.torrenttp/status.json', '/.torrenttp/', '/ttp/v1/torrents/0123456789abcdef0123456789abcdef01234567/have', '/announce?info_hash=x']) {
      const r = await get(`${base}${path}`, { host: 'evil.example' });
      assert.equal(r.status, 421, path);
      assert.equal(r.json()['code'], 'GATEWAY_UNKNOWN_HOST', path);
    }
    for (const host of [undefined, 'localhost', `files.example:${g.address.port}`]) {
      const r = await get(`${base}/a.txt`, host === undefined ? {} : { host });
      assert.equal(r.status, 200, String(host));
      assert.equal(r.text(), 'hello\n');
      assert.equal((await get(`${base}/.torrenttp/status.json`, host === undefined ? {} : { host })).status, 200, String(host));
    }
    const open = await startGateway(t, { root, host: '0.0.0.0' });
    const r = await get(`http://127.0.0.1:${open.address.port}/a.txt`, { host: 'evil.example' });
    assert.equal(r.status, 200);
  }),
);

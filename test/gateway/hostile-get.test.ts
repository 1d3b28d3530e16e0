/**
 * `torrenttp get` (getUrl) against origins that break HTTP mid-body (issue 16's bad input): the
 * download fails with a typed error, or stops when interrupted, and never hangs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { getUrl } from '../../src/gateway/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';

/** An origin that answers every request with `raw` and then closes (or holds) the connection. */
async function rawOrigin(t: { after: (fn: () => unknown) => void }, raw: string, hold = false): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('data', () => {
      s.write(raw);
      if (!hold) setTimeout(() => s.destroy(), 50);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`;
}

const bodies: [string, string][] = [
  ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nxx\r\n0\r\n\r\n'],
  ['a chunk size past 2^64', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello'],
  ['a chunked body cut mid-chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhello'],
  ['a body shorter than its Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello'],
];

for (const [what, raw] of bodies) {
  test(`get of ${what}: a typed error, no hang`, { timeout: 30_000 }, (t) =>
    withTempDir(t, async (dir) => {
      const url = await rawOrigin(t, raw);
      await assert.rejects(getUrl({ url, output: { kind: 'file', path: join(dir, 'f.bin') }, plainOnly: true }), (err: Error & { code?: string }) => {
        assert.match(String(err.code), /^GATEWAY_GET_/);
        assert.doesNotMatch(err.message, /internal error/, 'the server broke HTTP: not our internal error');
        return true;
      });
      // Negotiating (no --no-swarm) takes the same path for a server that offers no torrent.
      await assert.rejects(getUrl({ url, output: { kind: 'file', path: join(dir, 'g.bin') } }), /GATEWAY_GET_|failed|ended/);
    }));
}

test('get of a body that stalls: aborting ends it as interrupted', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const url = await rawOrigin(t, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello', true);
    const ac = new AbortController();
    const run = getUrl({ url, output: { kind: 'file', path: join(dir, 'f.bin') }, plainOnly: true, signal: ac.signal });
    setTimeout(() => ac.abort(), 300);
    const r = await run;
    assert.equal(r.status, 'interrupted');
  }));

test('get of a TorrentTTP torrent URL (…/ttp/v1/torrents/<info-hash>) names the file after the torrent, not the info-hash', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const content = bytes(1024 * 1024 + 77, 5);
    writeFileSync(join(root, 'movie.bin'), content);
    const g = await startGateway(t, { root });
    const m = parseTorrent(await torrentOf(`${g.url}/movie.bin`));
    await g.swarm.settled();
    const out = join(dir, 'out');
    mkdirSync(out);
    const r = await getUrl({ url: `${g.url}/ttp/v1/torrents/${m.infoHash}`, output: { kind: 'named', dir: out }, lingerMs: 0 });
    assert.equal(r.mode, 'swarm');
    assert.deepEqual(readdirSync(out), ['movie.bin']);
    assert.ok(readFileSync(join(out, 'movie.bin')).equals(content));
  }));

test('bytes whose Link names a torrent that is no torrent: the bytes are downloaded plainly', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const content = Buffer.from('the plain bytes\n');
    const asked: string[] = [];
    const server = createHttpServer((req, res) => {
      asked.push(req.url ?? '');
      if (req.url === '/f.bin?torrent') {
        res.writeHead(200, { 'content-type': 'application/x-bittorrent' });
        res.end('d4:infod6:lengthi-5e4:name1:x12:piece lengthi0e6:pieces0:ee');
        return;
      }
      res.writeHead(200, { 'content-length': content.length, link: '</f.bin?torrent>; rel="describedby"; type="application/x-bittorrent"' });
      res.end(content);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const path = join(dir, 'f.bin');
    const r = await getUrl({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`, output: { kind: 'file', path } });
    assert.equal(r.mode, 'plain');
    assert.ok(asked.includes('/f.bin?torrent'), 'the link was followed');
    assert.ok(readFileSync(path).equals(content));
  }));

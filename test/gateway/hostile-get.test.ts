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
import { createTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, TEST_STALL_MS, torrentOf } from './helpers.js';

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
      await assert.rejects(getUrl({ url, output: { kind: 'file', path: join(dir, 'f.bin') }, plainOnly: true, stallMs: TEST_STALL_MS }), (err: Error & { code?: string }) => {
        assert.match(String(err.code), /^GATEWAY_GET_/);
        assert.doesNotMatch(err.message, /internal error/, 'the server broke HTTP: not our internal error');
        return true;
      });
      // Negotiating (no --no-swarm) takes the same path for a server that offers no torrent.
      await assert.rejects(getUrl({ url, output: { kind: 'file', path: join(dir, 'g.bin') }, stallMs: TEST_STALL_MS }), /GATEWAY_GET_|failed|ended/);
    }));
}

test('get of a body that stalls: aborting ends it as interrupted', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const url = await rawOrigin(t, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello', true);
    const ac = new AbortController();
    const run = getUrl({ url, output: { kind: 'file', path: join(dir, 'f.bin') }, plainOnly: true, signal: ac.signal, stallMs: TEST_STALL_MS });
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
    const r = await getUrl({ url: `${g.url}/ttp/v1/torrents/${m.infoHash}`, output: { kind: 'named', dir: out }, lingerMs: 0, stallMs: TEST_STALL_MS });
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
    const r = await getUrl({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`, output: { kind: 'file', path }, stallMs: TEST_STALL_MS });
    assert.equal(r.mode, 'plain');
    assert.ok(asked.includes('/f.bin?torrent'), 'the link was followed');
    assert.ok(readFileSync(path).equals(content));
  }));

test('a torrent named by the server (".ssh" holding authorized_keys) never writes a dotfile, nor into what is there, unless -C -', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // The hostile torrent: a folder ".ssh" with an authorized_keys, its web seed the same server.
    const src = join(dir, 'src', '.ssh');
    mkdirSync(src, { recursive: true });
    const keys = Buffer.from('ssh-ed25519 AAAA attacker\n');
    writeFileSync(join(src, 'authorized_keys'), keys);
    writeFileSync(join(src, 'pad.bin'), bytes(40_000, 8));
    let withSeed = Buffer.alloc(0);
    const server = createHttpServer((req, res) => {
      if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': withSeed.length });
        res.end(withSeed);
        return;
      }
      // BEP 19: <web seed>/<name>/<path>
      const file = join(dir, 'src', decodeURIComponent((req.url ?? '').slice(1)));
      const body = readFileSync(file);
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    withSeed = Buffer.from((await createTorrent(src, { creationDate: null, urlList: [`${base}/`] })).torrent);

    const home = join(dir, 'home');
    mkdirSync(home);
    const r = await getUrl({ url: `${base}/`, output: { kind: 'named', dir: home }, lingerMs: 0, stallMs: TEST_STALL_MS });
    assert.equal(r.status, 'complete');
    assert.deepEqual(readdirSync(home), ['ssh'], 'the dots dropped: no .ssh');
    assert.ok(readFileSync(join(home, 'ssh', 'authorized_keys')).equals(keys));

    // A second time: "ssh" is there, and the server chose the name: refused, nothing touched.
    writeFileSync(join(home, 'ssh', 'authorized_keys'), 'mine\n');
    await assert.rejects(getUrl({ url: `${base}/`, output: { kind: 'named', dir: home }, lingerMs: 0, stallMs: TEST_STALL_MS }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'GATEWAY_GET_OUTPUT_EXISTS');
      assert.match(err.message, /home\/ssh \(the torrent's name, chosen by the server\): give -o, or -C - to continue it/);
      return true;
    });
    assert.equal(readFileSync(join(home, 'ssh', 'authorized_keys'), 'utf8'), 'mine\n');
    // -C -: the user asked to continue it.
    const again = await getUrl({ url: `${base}/`, output: { kind: 'named', dir: home }, resume: true, lingerMs: 0, stallMs: TEST_STALL_MS });
    assert.equal(again.status, 'complete');
    // -o names it: as given, dots and all.
    await getUrl({ url: `${base}/`, output: { kind: 'file', path: join(dir, '.chosen') }, lingerMs: 0, stallMs: TEST_STALL_MS });
    assert.ok(readFileSync(join(dir, '.chosen', 'authorized_keys')).equals(keys));
  }));

test('a server that takes the connection and never answers: GATEWAY_GET_FAILED after stallMs, not a hang', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const url = await rawOrigin(t, '', true);
    for (const plainOnly of [false, true]) {
      await assert.rejects(getUrl({ url, output: { kind: 'file', path: join(dir, 'f.bin') }, plainOnly, stallMs: 1000 }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'GATEWAY_GET_FAILED');
        assert.match(err.message, /no answer from http:\/\/127\.0\.0\.1:\d+\/f\.bin within 1 s/);
        return true;
      });
    }
    // Ctrl-C meanwhile is still an interruption, not a failure.
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    assert.equal((await getUrl({ url, output: { kind: 'file', path: join(dir, 'f.bin') }, signal: ac.signal, stallMs: 10_000 })).status, 'interrupted');
  }));

test('a torrent answer that does not parse: the URL is downloaded plainly, the start line naming the parser\'s code', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const accepts: string[] = [];
    const server = createHttpServer((req, res) => {
      accepts.push(req.headers.accept ?? '');
      if (/x-bittorrent/.test(req.headers.accept ?? '')) return void res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': '9' }).end('d3:fooi1e');
      res.end('the bytes');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const reasons: string[] = [];
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`;
    const r = await getUrl({ url, output: { kind: 'file', path: join(dir, 'f.bin') }, onEvent: (e) => void (e.type === 'start' && reasons.push(e.reason)), stallMs: TEST_STALL_MS });
    assert.equal(r.mode, 'plain');
    assert.equal(readFileSync(join(dir, 'f.bin'), 'utf8'), 'the bytes');
    assert.equal(accepts.length, 2);
    assert.equal(accepts[1], '*/*', 'the bytes asked for plainly');
    assert.equal(reasons.length, 1);
    assert.match(reasons[0]!, /^the offered torrent is unusable: .*\[BENCODE_UNEXPECTED_EOF\]$/);
  }));

test('get -J: a file or symlink that appears under the server-chosen name after the check is not written through (opened exclusively, as curl -J)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const url = await rawOrigin(t, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Disposition: attachment; filename="evil.txt"\r\n\r\nhello');
    const out = join(dir, 'out');
    mkdirSync(out);
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'keep');
    const { symlinkSync } = await import('node:fs');
    // The `start` event comes after the name was found free and before the file is opened: the window a racer has.
    const onEvent = (e: { type: string }): void => {
      if (e.type === 'start') symlinkSync(victim, join(out, 'evil.txt'));
    };
    await assert.rejects(getUrl({ url, output: { kind: 'named', dir: out }, plainOnly: true, remoteHeaderName: true, onEvent, stallMs: TEST_STALL_MS }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'GATEWAY_GET_OUTPUT_EXISTS');
      return true;
    });
    assert.equal(readFileSync(victim, 'utf8'), 'keep', 'the symlink was not written through');
  }));

/**
 * `getUrl` sends its negotiation and its plain body through node's own HTTP client
 * (negotiate-client.ts `NodeAgents`), not undici: redirects followed, `-H` headers and the
 * user agent sent, one keep-alive connection reused after a small body read out (`discard`), a
 * long one cut off; and a plain get in a fresh process loads no module of undici.
 * Faults checked once: `discard` destroying every body (a second connection), `getUrl` back on
 * undici (its modules in the child's require cache).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayError, getUrl } from '../../src/gateway/index.js';
import { encodeProblem, PROBLEM_CONTENT_TYPE } from '../../src/tracker/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { TEST_STALL_MS } from './helpers.js';

async function server(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; connections: () => number }> {
  const s = createServer(handler);
  let connections = 0;
  s.on('connection', (_socket: Socket) => connections++);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    s.closeAllConnections();
    return new Promise<void>((r) => s.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, connections: () => connections };
}

test('plain get over node http: a redirect followed, headers sent, one connection kept after a small 503 body', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(300 * 1024, 5);
    const seen: Record<string, string | undefined>[] = [];
    let asked = 0;
    const s = await server(t, (req, res) => {
      seen.push({ path: req.url, ua: req.headers['user-agent'], x: req.headers['x-token'] as string | undefined, accept: req.headers.accept });
      if (req.url === '/old') {
        res.writeHead(301, { location: '/file.bin', 'content-length': '5' }).end('moved');
        return;
      }
      // The torrent request: serve's "still hashing" (its problem document), a small body to read out.
      if (asked++ === 0) {
        const body = encodeProblem(new GatewayError('GATEWAY_HASHING', { detail: 'retry in 1 s' }));
        res.writeHead(503, { 'retry-after': '1', 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) }).end(body);
        return;
      }
      res.writeHead(200, { 'content-length': String(payload.length) }).end(payload);
    });
    const out = join(dir, 'out.bin');
    const r = await getUrl({ url: `${s.url}/old`, output: { kind: 'file', path: out }, headers: { 'x-token': 'abc' }, stallMs: TEST_STALL_MS });
    assert.equal(r.mode, 'plain');
    assert.equal(r.status, 'complete');
    assert.ok(readFileSync(out).equals(Buffer.from(payload)), 'byte-identical');
    // The bytes are asked for at the URL given, after the 503: the redirect again.
    assert.deepEqual(seen.map((x) => x.path), ['/old', '/file.bin', '/old', '/file.bin']);
    assert.ok(seen.every((x) => x.ua === 'torrenttp' && x.x === 'abc'), JSON.stringify(seen));
    assert.match(seen[0]!.accept!, /application\/x-bittorrent/);
    assert.equal(seen[3]!.accept, '*/*', 'the bytes asked for plainly after the 503');
    assert.equal(s.connections(), 1, 'the small bodies were read out and the connection reused');
  }));

test('a plain get loads no module of undici (node http before the first byte)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const s = await server(t, (_req, res) => res.writeHead(200, { 'content-length': '3' }).end('abc'));
    const client = join(fileURLToPath(import.meta.url), '../../../src/gateway/client.js');
    const script = `
      import { createRequire } from 'node:module';
      import { Writable } from 'node:stream';
      const { getUrl } = await import(${JSON.stringify(client)});
      const sink = new Writable({ write: (_c, _e, cb) => cb() });
      const r = await getUrl({ url: process.argv[1], output: { kind: 'stream', stream: sink } });
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('/undici/'));
      console.log(JSON.stringify({ mode: r.mode, bytes: r.downloadedBytes, loaded }));
    `;
    // Not spawnSync: the server answers from this process's event loop.
    const child = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, `${s.url}/x.txt`], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    const got = JSON.parse(child.stdout.trim()) as { mode: string; bytes: number; loaded: string[] };
    assert.deepEqual(got, { mode: 'plain', bytes: 3, loaded: [] });
  }));

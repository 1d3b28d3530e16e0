/**
 * A program that sends part of a request head to the proxy and then nothing (slowloris): it gets
 * `408` once the head timeout passes, as `serve` does, and the proxy keeps serving others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { withTempDir } from '../helpers/torrents.js';
import { curl, startProxy } from './proxy-helpers.js';

test('a half-sent request head gets 408 after the head timeout, not 400 after up to 30 s more', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'cache'), headersTimeoutMs: 500 });
    const s = connect(proxy.address.port, '127.0.0.1');
    s.on('error', () => {});
    s.write('GET http://127.0.0.1:1/x HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-Slow: ');
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    assert.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 408 /);
  }));

test('a program that half-closes before its answer is done has its request ended at once, as Squid\'s (half_closed_clients off) and nginx\'s', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // An origin that answers after a moment, as any real one does; it sees its request aborted.
    let aborted!: () => void;
    const originAborted = new Promise<void>((resolve) => (aborted = resolve));
    const origin = createHttpServer((req, res) => {
      req.socket.once('close', () => aborted());
      setTimeout(() => res.end('from the origin'), 5000).unref();
    });
    origin.listen(0, '127.0.0.1');
    await once(origin, 'listening');
    t.after(() => origin.close());
    const port = (origin.address() as AddressInfo).port;
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'cache') });
    const s = connect(proxy.address.port, '127.0.0.1');
    s.on('error', () => {});
    t.after(() => s.destroy());
    s.end(`GET http://127.0.0.1:${port}/x HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString('latin1'), '', 'closed without an answer');
    await originAborted; // the request to the origin went with it
  }));

test('a long URL is cut in the request log with a mark (…), never as if it were the whole', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const origin = createHttpServer((_req, res) => res.end('from the origin'));
    origin.listen(0, '127.0.0.1');
    await once(origin, 'listening');
    t.after(() => origin.close());
    const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/${'x'.repeat(5000)}`;
    const { proxy, log } = await startProxy(t, { cacheDir: join(dir, 'cache') });
    const r = await curl(t, ['-x', `http://127.0.0.1:${proxy.address.port}`, url]);
    assert.equal(r.stdout.toString(), 'from the origin', r.stderr);
    const line = log.entries.find((e) => e.level === 'info' && 'how' in e.obj);
    assert.ok(line !== undefined);
    assert.equal((line.obj as { url: string }).url, `${url.slice(0, 499)}…`);
    assert.ok(line.msg?.startsWith(`GET ${url.slice(0, 199)}… `), line.msg);
  }));

/**
 * An origin that lies about its body (issue 19, bad input): the program gets the bytes the
 * origin's head promised or a connection closed short (curl: exit 18), never a short body ended
 * as if whole nor bytes past the promised length; a head that cannot be framed (two lengths, a
 * negative or overflowing one, both a length and chunked, endless headers, a bad status) is a
 * 502. The proxy keeps serving.
 */
test('an origin whose Content-Length lies: closed short or cut at the length; unframable heads are 502', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const answers: Record<string, string> = {
      '/short': `HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(10)}`,
      '/long': `HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n${'b'.repeat(1000)}`,
      '/unsafe': `HTTP/1.1 200 OK\r\nContent-Length: 9007199254740993\r\n\r\n${'c'.repeat(10)}`,
      '/dup': `HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 10\r\n\r\n${'d'.repeat(10)}`,
      '/neg': `HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n${'e'.repeat(10)}`,
      '/overflow': `HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n${'f'.repeat(10)}`,
      '/both': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nggggg\r\n0\r\n\r\n',
      '/headers': `HTTP/1.1 200 OK\r\n${Array.from({ length: 5000 }, (_, i) => `X-${i}: v`).join('\r\n')}\r\nContent-Length: 2\r\n\r\nok`,
      '/status': 'HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok',
    };
    const { createServer } = await import('node:net');
    const origin = createServer((c) => {
      c.on('error', () => {});
      c.once('data', (d: Buffer) => {
        const path = d.toString('latin1').split(' ')[1]!.replace(/^http:\/\/[^/]+/, '');
        c.end(answers[path] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', 'latin1');
      });
    });
    origin.listen(0, '127.0.0.1');
    await once(origin, 'listening');
    t.after(() => origin.close());
    const base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'cache') });
    const through = async (path: string): Promise<{ status: number; length: number | undefined; body: Buffer }> => {
      const s = connect(proxy.address.port, '127.0.0.1');
      s.on('error', () => {});
      s.write(`GET ${base}${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const chunks: Buffer[] = [];
      for await (const c of s) chunks.push(c as Buffer);
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, split).toString('latin1');
      const length = /\r\ncontent-length: (\d+)/i.exec(head)?.[1];
      return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), length: length === undefined ? undefined : Number(length), body: all.subarray(split + 4) };
    };
    const short = await through('/short');
    assert.equal(short.status, 200);
    assert.equal(short.length, 100000, 'the promised length, so the program sees the cut');
    assert.ok(short.body.length < 100000 && /^a*$/.test(short.body.toString()), 'closed short, never ended as whole');
    const long = await through('/long');
    assert.equal(long.status, 200);
    assert.equal(long.body.toString(), 'bbbbb', 'cut at the promised length');
    const unsafe = await through('/unsafe');
    assert.ok(unsafe.status === 502 || (unsafe.status === 200 && unsafe.body.length === 10 && unsafe.length !== 10), `past 2^53: ${unsafe.status}`);
    for (const path of ['/dup', '/neg', '/overflow', '/both', '/headers', '/status']) {
      const r = await through(path);
      assert.equal(r.status, 502, path);
      assert.match(r.body.toString(), /GATEWAY_PROXY_UPSTREAM/, path);
    }
    assert.equal((await through('/long')).body.toString(), 'bbbbb', 'still serving');
  }));

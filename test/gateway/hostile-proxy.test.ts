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

test('a program that half-closes after its request (printf … | nc) still gets the origin\'s answer', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // An origin that answers after a moment, as any real one does.
    const origin = createHttpServer((_req, res) => void setTimeout(() => res.end('from the origin'), 100));
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
    const got = Buffer.concat(chunks).toString('latin1');
    assert.match(got, /^HTTP\/1\.1 200 /);
    assert.match(got, /from the origin$/);
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

/**
 * A program that sends part of a request head to the proxy and then nothing (slowloris): it gets
 * `408` once the head timeout passes, as `serve` does, and the proxy keeps serving others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { withTempDir } from '../helpers/torrents.js';
import { startProxy } from './proxy-helpers.js';

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

/**
 * Slowloris against the tracker's HTTP side: a client that sends part of a request head and then
 * nothing gets `408` once the head timeout passes, not up to 30 s later (Node's default check
 * interval), and the tracker keeps answering others meanwhile.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'undici';
import { TrackerServer } from '../../../src/tracker/index.js';

test('a half-sent request head gets 408 within the head timeout and a quarter of it; others are answered meanwhile', { timeout: 20_000 }, async (t) => {
  const server = new TrackerServer({ host: '127.0.0.1', port: 0, headersTimeoutMs: 1000 });
  const { port } = await server.listen();
  t.after(() => server.close());
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  s.write('GET /announce?info_hash=');
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
  const other = await request(`http://127.0.0.1:${port}/scrape`);
  assert.equal(other.statusCode, 200);
  await other.body.dump();
  const started = performance.now();
  await closed;
  assert.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 408 /);
  // Node's default check runs every 30 s; ours every quarter of the timeout. A generous bound
  // (a loaded machine), still far below the default's.
  assert.ok(performance.now() - started < 10_000, `closed after ${Math.round(performance.now() - started)} ms`);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONNECTION_ID_BUCKET_MS, ConnectionIds } from '../../../src/tracker/index.js';

const B = CONNECTION_ID_BUCKET_MS;

test('connection ids live 2–4 minutes, per address and port, whatever order the clock is read in', () => {
  const secret = new Uint8Array(32).fill(7);
  const ids = new ConnectionIds(secret);
  const t0 = 10 * B + 1;
  const id = ids.issue('192.0.2.1', 6881, t0);
  assert.ok(ids.verify(id, '192.0.2.1', 6881, t0));
  assert.ok(!ids.verify(id, '192.0.2.1', 6882, t0));
  assert.ok(!ids.verify(id, '192.0.2.2', 6881, t0));
  assert.ok(!ids.verify(id ^ 1n, '192.0.2.1', 6881, t0));
  assert.ok(ids.verify(id, '192.0.2.1', 6881, t0 + B)); // next bucket: still valid
  assert.ok(ids.verify(id, '192.0.2.1', 6881, t0)); // an older reading after a newer one
  assert.ok(!ids.verify(id, '192.0.2.1', 6881, t0 + 2 * B)); // two buckets on: expired
  assert.ok(!ids.verify(id, '192.0.2.1', 6881, t0 + 50 * B)); // a jump
  assert.ok(ids.verify(id, '192.0.2.1', 6881, t0)); // and back: cache rebuilt, same answer
  // the cache changes nothing: a fresh instance with the same secret agrees at every step
  const other = new ConnectionIds(secret);
  assert.equal(other.issue('192.0.2.1', 6881, t0 + B - 2), id);
  assert.notEqual(new ConnectionIds(new Uint8Array(32)).issue('192.0.2.1', 6881, t0), id);
});

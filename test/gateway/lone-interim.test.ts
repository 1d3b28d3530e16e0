/**
 * A lone get's stream (lone-stream.ts, its own head parser on a raw socket) from an origin that
 * sends interim answers (an unasked `100 Continue`, `103 Early Hints`, `102 Processing`) before
 * its real one: they are skipped (RFC 9110 §15.2), and the stream takes the file as without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getUrl } from '../../src/gateway/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { front } from './lone-front.js';
import { TEST_STALL_MS } from './helpers.js';

test('a lone get streams an origin that sends interim answers first: one GET, every byte from it', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const f = await front(t, dir, { interim: true });
    const out = join(dir, 'out.bin');
    const r = await getUrl({ url: f.url, output: { kind: 'file', path: out }, lingerMs: 0, stallMs: TEST_STALL_MS });
    assert.equal(r.status, 'complete');
    assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(f.payload)), 'byte-identical');
    assert.deepEqual(r.sources, { plain: 0, wire: 0, webseed: f.payload.length, http: 0 }, 'all from the stream');
    assert.deepEqual(f.ranges, ['bytes=0-']);
  }));

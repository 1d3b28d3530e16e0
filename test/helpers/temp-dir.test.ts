/**
 * withTempDir(t, fn) keeps the folder until the hooks `fn` registered have run: a client closed
 * in `t.after` writes its last resume save into it (CI once failed with ENOENT when the folder was
 * removed first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withTempDir } from './torrents.js';

let kept = '';
let seenInHook = false;

test('the folder outlives the t.after hooks registered inside fn, and is removed after them', (t) =>
  withTempDir(t, async (dir) => {
    kept = dir;
    t.after(() => {
      seenInHook = existsSync(dir);
      writeFileSync(join(dir, 'late-save'), 'x');
    });
  }));

test('…and is gone once that test has ended', () => {
  assert.ok(seenInHook, 'the hook found the folder');
  assert.ok(kept !== '' && !existsSync(kept), `${kept} was removed`);
});

test('without a test context the folder is removed when fn ends', async () => {
  const dir = await withTempDir(async (d) => d);
  assert.equal(existsSync(dir), false);
});

/**
 * A folder on the way to a file swapped for a symlink that leads out of the served folder, while
 * requests come (someone who can write inside the served tree races the server): the file out
 * there is never served. The real path is checked, then the file opened; the open follows a
 * folder swapped meanwhile, so the opened descriptor's own path is checked again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withTempDir } from '../helpers/torrents.js';
import { startGateway } from './helpers.js';

test('a folder swapped for an outside symlink mid-request: the outside file is never served', { timeout: 60_000, skip: !existsSync('/proc/self/fd') && 'needs /proc/self/fd' }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    const outside = join(dir, 'secret');
    mkdirSync(join(root, 'sub'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(root, 'sub', 'f.txt'), 'inside\n');
    writeFileSync(join(outside, 'f.txt'), 'OUTSIDE\n');
    // Spare names to swap with (not dot-named: a dot in the real path is refused anyway).
    symlinkSync(outside, join(root, 'link'));
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    let swapping = true;
    // sub → real folder or outside symlink, alternating, by atomic renames.
    const swapper = (async () => {
      let linked = false;
      while (swapping) {
        if (linked) {
          renameSync(join(root, 'sub'), join(root, 'link'));
          renameSync(join(root, 'real'), join(root, 'sub'));
        } else {
          renameSync(join(root, 'sub'), join(root, 'real'));
          renameSync(join(root, 'link'), join(root, 'sub'));
        }
        linked = !linked;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const seen = new Map<string, number>();
    try {
      // 3,000 requests, and on until the file inside was served at least once (the swaps leave
      // `sub` a symlink about half the time).
      for (let i = 0; i < 3000 || (seen.get('inside\n') === undefined && i < 30_000); i++) {
        const r = await fetch(`${g.url}/sub/f.txt`);
        const text = r.status === 200 ? await r.text() : String(r.status);
        if (r.status !== 200) await r.arrayBuffer();
        seen.set(text, (seen.get(text) ?? 0) + 1);
      }
    } finally {
      swapping = false;
      await swapper;
    }
    t.diagnostic(JSON.stringify([...seen]));
    assert.ok((seen.get('inside\n') ?? 0) > 0, 'the file inside was served');
    assert.equal(seen.get('OUTSIDE\n'), undefined, 'never the file outside');
  }));

/**
 * `serve --cache DIR` where DIR takes no writes (a read-only file system, no write permission):
 * one that holds metainfo already (a cache made beforehand, shipped read-only) is used read-only,
 * its torrents reused without hashing, nothing stored, and one warning at start; one that holds
 * nothing to reuse is refused at start (GATEWAY_CACHE_IO), as a cache folder that cannot work.
 * Root writes anywhere whatever the permission bits, so as root the file system's answer is
 * injected instead: every write under DIR fails with EROFS, as on a read-only mount.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { request } from 'undici';
import { Gateway } from '../../src/gateway/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { recordingLogger } from './helpers.js';

const MIB = 1024 * 1024;
const asRoot = process.getuid?.() === 0;

/** `dir` (and the folders in it) made read-only until the test ends: by permission bits, or as root by EROFS on every write under it. */
function readOnly(t: TestContext, dir: string): void {
  const folders = [dir, ...readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(dir, d.name))];
  if (!asRoot) {
    for (const f of folders) chmodSync(f, 0o555);
    t.after(() => folders.forEach((f) => chmodSync(f, 0o755)));
    return;
  }
  t.diagnostic('running as root (permission bits are not enforced): writes under the cache fail with an injected EROFS');
  const real = fsp.writeFile;
  fsp.writeFile = ((...args: Parameters<typeof real>) => {
    if (typeof args[0] === 'string' && args[0].startsWith(`${dir}/`)) return Promise.reject(Object.assign(new Error(`EROFS: read-only file system, open '${args[0]}'`), { code: 'EROFS' }));
    return real(...args);
  }) as typeof real;
  syncBuiltinESMExports();
  t.after(() => {
    fsp.writeFile = real;
    syncBuiltinESMExports();
  });
}

async function torrentReady(g: Gateway, name = 'big.bin'): Promise<void> {
  for (;;) {
    const r = await request(`${g.url}/${name}?torrent`);
    await r.body.dump();
    if (r.statusCode === 200) return;
    await g.swarm.settled();
  }
}

test('a --cache folder that takes no writes but holds metainfo is used read-only: reused, nothing stored, one warning', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(2 * MIB, 5));
    const cacheDir = join(dir, 'cache');
    const first = await Gateway.start({ root, host: '127.0.0.1', port: 0, cacheDir, checkEveryMs: 0 });
    await torrentReady(first);
    await first.swarm.settled(); // the SHA-256 and the cache entry
    assert.equal(first.cacheReadOnly, false);
    const [infoHash] = first.swarm.infoHashes();
    await first.close();
    const stored = readdirSync(join(cacheDir, 'meta'));
    assert.equal(stored.length, 1);

    readOnly(t, cacheDir);
    writeFileSync(join(root, 'new.bin'), bytes(2 * MIB, 6)); // not in the cache: hashed, served, not stored
    const log = recordingLogger();
    const g = await Gateway.start({ root, host: '127.0.0.1', port: 0, cacheDir, checkEveryMs: 0, logger: log });
    t.after(() => g.close());
    assert.equal(g.cacheReadOnly, true, 'said in serve\'s start line');
    await torrentReady(g);
    await torrentReady(g, 'new.bin');
    await g.swarm.settled();
    assert.equal(g.swarm.infoHashes().length, 2);
    const ready = log.entries.find((e) => e.msg === 'torrent ready')?.obj as { infoHash: string; cached: boolean } | undefined;
    assert.deepEqual(ready && { infoHash: ready.infoHash, cached: ready.cached }, { infoHash, cached: true }, 'the cached torrent, not hashed again');
    const warnings = log.entries.filter((e) => e.level === 'warn' || e.level === 'error').map((e) => e.msg);
    assert.deepEqual(warnings, ['the metainfo cache takes no writes: the torrents it holds are reused, new ones are not stored (hashed again at each start)']);
    assert.deepEqual(readdirSync(join(cacheDir, 'meta')), stored, 'nothing stored');
  }));

test('a --cache folder that takes no writes and holds nothing to reuse is refused at start (GATEWAY_CACHE_IO)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const cacheDir = join(dir, 'cache');
    mkdirSync(cacheDir);
    readOnly(t, cacheDir);
    await assert.rejects(Gateway.start({ root: dir, host: '127.0.0.1', port: 0, cacheDir }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'GATEWAY_CACHE_IO');
      assert.match(e.message, /takes no writes and holds no metainfo to reuse/);
      return true;
    });
  }));

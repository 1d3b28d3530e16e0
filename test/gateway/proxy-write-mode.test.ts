/**
 * The proxy's cache writes buffered (docs/storage.md, Write modes): it reads every piece back
 * for the program as it verifies, from the page cache. Seen from the fds its disk threads keep on
 * the cached file: read-write, none of them `O_DIRECT`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canListFds, openFds } from '../helpers/fds.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';
import { curl, startProxy } from './proxy-helpers.js';

test("the proxy's cache writes pieces buffered: no O_DIRECT fd on the file it downloads", { timeout: 120_000, skip: !canListFds && 'needs /proc' }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(3 * 1024 * 1024 + 4321, 11);
    writeFileSync(join(root, 'big.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'gcache'), pieceLength: 256 * 1024 });
    const url = `${g.url}/big.bin`;
    await torrentOf(url);
    const cacheDir = join(dir, 'pcache');
    const { proxy } = await startProxy(t, { cacheDir });
    const out = join(dir, 'out.bin');
    const r = await curl(t, ['-x', proxy.url, url, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(out).equals(Buffer.from(payload)));
    // The proxy keeps the torrent (it seeds it), and its disk threads their fds on the file
    // (the low two bits of the flags: the access mode).
    const fds = openFds((p) => p.startsWith(cacheDir));
    assert.ok(fds.some((f) => (f.flags & 3) === constants.O_RDWR), `a disk thread wrote the cached file (${JSON.stringify(fds)})`);
    assert.deepEqual(fds.filter((f) => (f.flags & constants.O_DIRECT) !== 0), [], 'no O_DIRECT fd');
  }));

/**
 * A get's swarm writes its pieces buffered (`GET_WRITE_MODE`, docs/storage.md, Write modes), as
 * its lone stream and curl do: seen from the fds its inline disk jobs keep on the file it
 * downloads, read-write and none of them `O_DIRECT`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { getUrl } from '../../src/gateway/index.js';
import { canListFds, openFds } from '../helpers/fds.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';

test("a get's swarm writes pieces buffered: no O_DIRECT fd on the file it downloads", { timeout: 120_000, skip: !canListFds && 'needs /proc' }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(2 * 1024 * 1024 + 777, 23);
    writeFileSync(join(root, 'big.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache'), pieceLength: 64 * 1024 });
    const url = `${g.url}/big.bin`;
    await torrentOf(url);
    // A stream's pieces wait in a folder under tmpDir; its first chunk is a piece written there,
    // and the disk jobs keep that file's fds open between jobs.
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    let fds: { path: string; flags: number }[] | undefined;
    const chunks: Buffer[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        fds ??= openFds((p) => p.startsWith(tmp));
        chunks.push(chunk);
        cb();
      },
    });
    // Over the swarm (alone, a get would stream the origin, written buffered anyway: lone-stream.ts).
    const result = await getUrl({ url, output: { kind: 'stream', stream: out }, stallMs: 30_000, loneStream: false, tmpDir: tmp });
    out.end();
    assert.equal(result.mode, 'swarm');
    assert.ok(Buffer.concat(chunks).equals(Buffer.from(payload)), 'byte-identical');
    assert.ok(fds !== undefined && fds.some((f) => (f.flags & 3) === constants.O_RDWR), `the get wrote the file (${JSON.stringify(fds)})`);
    assert.deepEqual(fds.filter((f) => (f.flags & constants.O_DIRECT) !== 0), [], 'no O_DIRECT fd');
  }),
);

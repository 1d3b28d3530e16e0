/**
 * `torrenttp get` killed with SIGKILL mid swarm download (no Ctrl-C, no last write of any state),
 * then `get -C -` of the same URL: the `.part` left behind is hashed, not trusted (a piece the
 * kill left half-written, or one altered on disk meanwhile, is fetched again), and the file ends
 * byte-identical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { run, until } from '../helpers/processes.js';
import { killed, MAIN, serveFiles } from '../helpers/serve-proc.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const MIB = 1024 * 1024;

test('get killed (SIGKILL) mid swarm download, a piece of its .part altered: get -C - hashes the .part and ends with the exact file', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(2 * MIB + 13, 81);
    // 1 MiB/s: the download is under way when it is killed.
    const origin = await serveFiles(t, dir, { 'app.bin': payload }, ['--max-upload-rate', '1M']);
    const url = `${origin.url}/app.bin`;
    const m = origin.torrents.get('app.bin')!;
    const out = join(dir, 'app.bin');
    const part = `${out}.part`;
    const first = run(t, process.execPath, [MAIN, 'get', url, '-o', out, '-s']);
    // Some of it on disk (a sparse file: allocated blocks are written pieces), not all of it.
    const written = (): number => {
      try {
        return statSync(part).blocks * 512;
      } catch {
        return 0;
      }
    };
    await until('pieces in the .part', () => written() >= 4 * m.pieceLength, 10_000, first);
    await killed(first);
    assert.ok(written() < payload.length, 'killed mid download');
    // Piece 0 (written: the stream runs from byte 0) altered after the kill.
    const fd = openSync(part, 'r+');
    writeSync(fd, Buffer.from('not the bytes of piece 0'), 0, undefined, 10);
    closeSync(fd);
    const again = run(t, process.execPath, [MAIN, 'get', url, '-o', out, '-C', '-']);
    assert.equal(await again.exited, 0, again.output);
    assert.match(again.output, /resuming at/, again.output);
    assert.ok(readFileSync(out).equals(payload), 'byte-identical');
  }));

/**
 * An output that cannot be written says why, in words that match (issue 13, item 9): a
 * read-only filesystem is EROFS, a file where a folder is needed is named as such.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTorrent } from '../../src/metainfo/index.js';
import { CLI_BIN, spawnCli } from '../helpers/cli.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('create -o on a read-only filesystem: "the output file cannot be written: … read-only file system (EROFS)"', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'p.bin'), bytes(50_000, 61));
    mkdirSync(join(dir, 'ro'));
    // A read-only tmpfs in a private mount namespace: nothing outside this process tree sees it.
    const script = `mount -t tmpfs -o ro tmpfs ro && exec "$0" "$@"`;
    const child = spawn('unshare', ['-m', 'sh', '-c', script, process.execPath, CLI_BIN, 'create', 'p.bin', '-o', 'ro/x.torrent'], { cwd: dir });
    t.after(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /^torrenttp: the output file cannot be written: \/\S+\/ro\/x\.torrent: read-only file system \(EROFS\) \[CLI_OUTPUT_UNWRITABLE\]$/m);
    assert.doesNotMatch(stderr, /cannot read/);
  }));

test('a file where a folder is needed is named as such, for create -o and download -o', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'p.bin'), bytes(50_000, 62));
    writeFileSync(join(dir, 'afile'), 'in the way');
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const create = spawnCli(t, dir, ['create', 'p.bin', '-o', 'afile/x.torrent']);
    assert.equal(await create.exited, 1, create.stderr);
    assert.match(create.stderr, /^torrenttp: the output file cannot be written: \S+\/afile\/x\.torrent: \S+\/afile is a file, not a folder \(ENOTDIR\) \[CLI_OUTPUT_UNWRITABLE\]$/m);
    const download = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'afile', '--no-trackers']);
    assert.equal(await download.exited, 1, download.stderr);
    assert.match(download.stderr, /^torrenttp: a path the torrent needs is taken by something else: \S+\/afile is a file, where a folder is needed \[STORAGE_PATH_CONFLICT\]$/m);
  }));

/**
 * Our info-hash equals mktorrent's (Debian package `mktorrent`, installed by .ci/run) for the
 * same files and piece length: a single file, a folder with nested, hidden, empty, non-ASCII
 * and symlinked files, and the private and source flags.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

function mktorrent(args: string[]): void {
  try {
    execFileSync('mktorrent', args, { stdio: 'pipe' });
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') assert.fail('mktorrent is not installed (apt-get install mktorrent; .ci/run does)');
    throw err;
  }
}

async function same(dir: string, target: string, mkArgs: string[], opts: Parameters<typeof createTorrent>[1]): Promise<void> {
  const out = join(dir, `mk-${Math.random().toString(36).slice(2)}.torrent`);
  mktorrent([...mkArgs, '-d', '-a', 'http://127.0.0.1:1/announce', '-o', out, target]);
  const theirs = parseTorrent(readFileSync(out));
  const ours = await createTorrent(target, { ...opts, creationDate: null });
  assert.equal(ours.metainfo.infoHash, theirs.infoHash);
  assert.deepEqual(Buffer.from(ours.metainfo.infoBytes), Buffer.from(theirs.infoBytes), 'byte-identical info dict');
}

test('single file, several piece lengths: info-hash equals mktorrent', () =>
  withTempDir(async (dir) => {
    const file = join(dir, 'payload.bin');
    writeFileSync(file, bytes(3 * 1024 * 1024 + 12345, 11));
    for (const exp of [15, 18, 20]) await same(dir, file, ['-l', String(exp)], { pieceLength: 2 ** exp });
  }));

test('folder with nested, hidden, empty, UTF-8 and symlinked files: info-hash equals mktorrent', () =>
  withTempDir(async (dir) => {
    const root = join(dir, 'share');
    mkdirSync(join(root, 'sub', 'deeper'), { recursive: true });
    mkdirSync(join(root, 'Upper'));
    writeFileSync(join(root, 'a.txt'), 'small');
    writeFileSync(join(root, 'a-b'), 'x');
    writeFileSync(join(root, 'sub', 'deeper', 'big.bin'), bytes(700_000, 5));
    writeFileSync(join(root, 'sub', 'x'), bytes(20_000, 6));
    writeFileSync(join(root, 'Upper', 'u'), 'u');
    writeFileSync(join(root, '.hidden'), 'h');
    writeFileSync(join(root, 'empty'), '');
    writeFileSync(join(root, 'ünï cødé ✓.txt'), 'unicode');
    symlinkSync('a.txt', join(root, 'link.txt'));
    await same(dir, root, ['-l', '16'], { pieceLength: 2 ** 16 });
    await same(dir, root, ['-l', '18'], { pieceLength: 2 ** 18 });
  }));

test('private and source flags: info-hash equals mktorrent', () =>
  withTempDir(async (dir) => {
    const file = join(dir, 'p.bin');
    writeFileSync(file, bytes(100_000, 9));
    await same(dir, file, ['-l', '16', '-p'], { pieceLength: 2 ** 16, private: true });
    await same(dir, file, ['-l', '16', '-p', '-s', 'TRACKER'], { pieceLength: 2 ** 16, private: true, source: 'TRACKER' });
    await same(dir, file, ['-l', '16', '-n', 'other-name'], { pieceLength: 2 ** 16, name: 'other-name' });
  }));

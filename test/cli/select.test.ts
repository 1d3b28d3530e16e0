/**
 * `info` lists 1-based file indexes; `download --select` / `--only` parse them, and a bad
 * selection is a usage error (exit 2) before anything touches the disk or the network.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIndexList, selectFiles } from '../../src/cli/select.js';
import { cli } from '../helpers/cli.js';
import { errorCode } from '../helpers/errors.js';
import { threeFiles, threeFilesTorrent } from '../helpers/three-files.js';
import { withTempDir } from '../helpers/torrents.js';

const metainfo = threeFiles();
const torrent = threeFilesTorrent();

test('info shows each file with its 1-based index, human and --json', () =>
  withTempDir(async (dir) => {
    writeFileSync(join(dir, 'set.torrent'), torrent);
    const human = await cli(dir, ['info', 'set.torrent']);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^ {2}1 +40\.0 KiB {2}set\/a\.bin$/m);
    assert.match(human.stdout, /^ {2}3 +80\.0 KiB {2}set\/sub\/c\.bin$/m);
    assert.match(human.stdout, /^ {2}4 +0 B {2}set\/empty$/m);
    const json = JSON.parse((await cli(dir, ['info', 'set.torrent', '--json'])).stdout) as { files: { index: number; path: string }[] };
    assert.deepEqual(json.files.map((f) => [f.index, f.path]), [[1, 'a.bin'], [2, 'b.bin'], [3, 'sub/c.bin'], [4, 'empty']]);
  }));

test('--select lists and --only globs choose files (0-based out), adding up', () => {
  assert.deepEqual(parseIndexList('1,3-5, 7'), [[1, 1], [3, 5], [7, 7]]);
  assert.equal(selectFiles(metainfo, [], []), undefined, 'no flag: everything');
  assert.deepEqual(selectFiles(metainfo, ['1,3'], []), [0, 2]);
  assert.deepEqual(selectFiles(metainfo, ['3', '1-2'], []), [0, 1, 2]);
  assert.deepEqual(selectFiles(metainfo, [], ['*.bin']), [0, 1, 2], 'a pattern without / matches the name in any folder');
  assert.deepEqual(selectFiles(metainfo, [], ['sub/**']), [2]);
  assert.deepEqual(selectFiles(metainfo, [], ['*']), [0, 1, 2, 3]);
  assert.deepEqual(selectFiles(metainfo, ['4'], ['a.*']), [0, 3]);
  for (const [lists, globs] of [[['0'], []], [['5'], []], [['2-9'], []], [['3-2'], []], [['1,,2'], []], [['x'], []], [[''], []], [[], ['*.mkv']]] as const) {
    assert.equal(errorCode(() => selectFiles(metainfo, lists, globs)), 'METAINFO_BAD_FILE_SELECTION', `${lists.join(' ')} ${globs.join(' ')}`);
  }
});

test('download with a bad selection exits 2 with the code, and creates nothing', () =>
  withTempDir(async (dir) => {
    writeFileSync(join(dir, 'set.torrent'), torrent);
    for (const args of [['--select', '0'], ['--select', '5'], ['--select', '1-9'], ['--only', '*.mkv']]) {
      const r = await cli(dir, ['download', 'set.torrent', '-o', 'dl', '--no-trackers', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /\[METAINFO_BAD_FILE_SELECTION\]/);
    }
    assert.equal(existsSync(join(dir, 'dl')), false);
  }));

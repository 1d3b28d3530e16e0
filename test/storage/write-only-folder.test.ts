/**
 * A download folder we may write in and search but not list (mode 0333: a drop folder, a
 * download target shared with others): the storage holds folders to create and look at files in
 * them (`holdFolder`), and holds them without read permission (Linux `O_PATH`), so it works there
 * as it does in any folder. Root reads any folder whatever its mode, so the download runs in a
 * child process that, when we are root, drops to uid 65534 (nobody) before it starts: the
 * permission bits then apply, as they do for any user.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { withTempDir } from '../helpers/torrents.js';
import { writeOnlyTorrents } from './helpers.js';

const child = fileURLToPath(new URL('./write-only-child.js', import.meta.url));
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

test('a download into a folder that may be written but not listed (mode 0333) completes', { skip: !existsSync('/proc/self/fd') && 'holding folders by fd needs /proc/self/fd' }, (t) =>
  withTempDir(t, async (dir) => {
    chmodSync(dir, 0o711); // nobody passes through the test's own folder
    const drop = join(dir, 'drop');
    mkdirSync(drop);
    chmodSync(drop, 0o333);
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [child, drop, ...(asRoot ? [String(NOBODY)] : [])], { encoding: 'utf8' });
      assert.equal(stdout.trim(), 'ok');
      for (const tt of writeOnlyTorrents()) {
        for (let f = 0; f < tt.metainfo.files.length; f++) assert.deepEqual(new Uint8Array(readFileSync(tt.pathOf(drop, f))), tt.fileData(f));
      }
    } finally {
      chmodSync(drop, 0o755); // listed again, so the temp folder can be removed
    }
  }));

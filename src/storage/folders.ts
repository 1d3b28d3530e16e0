import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { StorageError, toStorageError } from './errors.js';

/** Most bytes in one file name: Linux's NAME_MAX (ext4, xfs, btrfs, tmpfs). */
export const NAME_MAX_BYTES = 255;

/**
 * `mkdir -p` that always ends, one folder at a time from the deepest one that exists. Node's
 * `mkdir(dir, { recursive: true })` loops for ever at 100 % CPU (and no signal gets through) where
 * a filesystem answers ENOENT for a folder it will not create, as /proc does, and on a read-only
 * filesystem it says ENOENT instead of EROFS. Here each `mkdir` is tried once and its own error
 * is the answer.
 */
export async function makeFolders(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let cur = resolve(dir); ; ) {
    let st;
    try {
      st = await stat(cur);
    } catch (err) {
      const parent = dirname(cur);
      if ((err as { code?: unknown }).code !== 'ENOENT' || parent === cur) throw toStorageError(err, cur);
      missing.push(cur);
      cur = parent;
      continue;
    }
    if (!st.isDirectory()) throw new StorageError('STORAGE_PATH_CONFLICT', { detail: `${cur} is ${st.isFile() ? 'a file' : 'not a folder'}, where a folder is needed` });
    break;
  }
  for (const folder of missing.reverse()) {
    try {
      await mkdir(folder);
    } catch (err) {
      const errno = (err as { code?: unknown }).code;
      if (errno === 'EEXIST') continue; // made meanwhile by someone else: fine if it is a folder, and the next mkdir or open says if not
      if (errno === 'ENOENT') {
        // Its parent exists (we just checked or made it): the filesystem will not hold new folders.
        throw new StorageError('STORAGE_IO', { detail: `cannot create the folder ${folder}: its filesystem does not allow new folders there (ENOENT)`, errno, cause: err });
      }
      throw toStorageError(err, `cannot create the folder ${folder}`);
    }
  }
}

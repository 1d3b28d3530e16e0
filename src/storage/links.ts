import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { StorageError, toStorageError } from './errors.js';
import { checkOpened } from './file-table.js';
import { holdFolder, inspectFile, type FileOnDisk } from './layout.js';

/**
 * Files with other names (hard links). A planted `ln ~/precious dl/payload.bin` would make a
 * download write into `~/precious`: `O_NOFOLLOW` stops symlinks, not hard links, which are the
 * same inode under two names. libtorrent and aria2 write such a file in place; we do not.
 *
 * Rules:
 * - A file with more than one link that the torrent never writes (whole, every piece touching it
 *   verified) is kept: seeding a file hard-linked into a library, or cross-seeding through
 *   links, only reads it.
 * - One that would be written (shorter than the torrent says, or holding a piece not verified)
 *   is replaced, before anything writes, by a copy of its own (same bytes, so nothing verified is
 *   lost, and same mode) renamed over its path. Its other names keep their inode and bytes. The
 *   copy is made from an fd opened with `O_NOFOLLOW` whose link count is read on the fd, not the
 *   path, so a swap between the check and the copy cannot redirect it; the file is read, and its
 *   copy created and renamed, in its folder held by a checked fd (`holdFolder`), so a folder on
 *   the way swapped for a symlink leads none of it outside.
 * - The disk threads check the link count on each fd they open for writing and refuse a file
 *   linked since (STORAGE_HARD_LINK): it may be another file swapped in under our name.
 */

/** Copied this much at a time; an all-zero chunk is skipped, so a sparse file stays sparse. */
const COPY_CHUNK_BYTES = 1024 * 1024;

/**
 * `file` as a file with one link: itself when it has one, else a private copy renamed over its
 * path. Resolves to the file as it is now and, when it was replaced, the links it had (else 0).
 */
export async function unshareFile(file: FileOnDisk): Promise<{ file: FileOnDisk; replaced: number }> {
  if (!file.exists || file.links <= 1) return { file, replaced: 0 };
  const tmpName = `.torrenttp-${randomBytes(6).toString('hex')}.tmp`;
  let links: number;
  // The file is read, its copy made and renamed over it in its folder held by a checked fd
  // (`holdFolder`): a folder on the way swapped for a symlink since it was checked leads none outside.
  const dir = await holdFolder(dirname(file.path)).catch((err: unknown) => {
    throw toStorageError(err, `replacing ${file.path}, which has other names (hard links), by a copy of its own`);
  });
  try {
    const src = await open(dir.path(basename(file.path)), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      checkOpened(src.fd, file.path); // the folder held is still where it was checked
      const st = await src.stat();
      if (!st.isFile()) throw new StorageError('STORAGE_PATH_CONFLICT', { detail: `${file.path} is not a regular file` });
      links = st.nlink;
      if (links <= 1) return { file: await inspectFile(file.path, file.length), replaced: 0 };
      const dst = await open(dir.path(tmpName), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, st.mode & 0o777);
      try {
        await copyData(src, dst, st.size);
        await dst.chmod(st.mode & 0o777); // the umask may have narrowed it: the copy reads as the original did
        await dst.sync();
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
    await rename(dir.path(tmpName), dir.path(basename(file.path)));
  } catch (err) {
    await rm(dir.path(tmpName), { force: true }).catch(() => undefined);
    throw toStorageError(err, `replacing ${file.path}, which has other names (hard links), by a copy of its own`);
  } finally {
    await dir.close();
  }
  return { file: await inspectFile(file.path, file.length), replaced: links };
}

async function copyData(src: FileHandle, dst: FileHandle, size: number): Promise<void> {
  const buf = Buffer.alloc(COPY_CHUNK_BYTES);
  const zeros = Buffer.alloc(COPY_CHUNK_BYTES);
  for (let pos = 0; pos < size; ) {
    const { bytesRead } = await src.read(buf, 0, Math.min(COPY_CHUNK_BYTES, size - pos), pos);
    if (bytesRead === 0) throw new StorageError('STORAGE_IO', { detail: 'the file shrank while it was copied' });
    if (buf.compare(zeros, 0, bytesRead, 0, bytesRead) !== 0) {
      for (let done = 0; done < bytesRead; ) done += (await dst.write(buf, done, bytesRead - done, pos + done)).bytesWritten;
    }
    pos += bytesRead;
  }
  await dst.truncate(size);
}

/** The warning for files replaced by `unshareFile`: which, and how many names each had. */
export function unsharedFilesWarning(replaced: readonly { readonly path: string; readonly links: number }[]): StorageError {
  const names = replaced.map((r) => `${r.path} (${r.links} links)`);
  const list = names.length <= 12 ? names.join(', ') : `${names.slice(0, 12).join(', ')} and ${names.length - 12} more`;
  return new StorageError('STORAGE_HARD_LINK', {
    detail: `replaced by a copy of its own before writing, its other names keep their bytes: ${list}`,
  });
}

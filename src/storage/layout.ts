import { constants, existsSync, type BigIntStats } from 'node:fs';
import { lstat, mkdir, open, realpath, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Metainfo } from '../metainfo/index.js';
import { StorageError, toStorageError } from './errors.js';
import { checkOpened } from './file-table.js';
import { makeFolders } from './folders.js';

/**
 * Where a torrent's files live under the download folder, and making them exist safely.
 *
 * Rules:
 * - Single-file torrents are `<root>/<name>`; multi-file ones `<root>/<name>/<path…>` (BEP 3).
 * - Nothing is created outside `root`. Metainfo already refused `..`, separators and NUL in
 *   names, so the only way out is a symlink already inside `root`: every folder on the way is
 *   `lstat`ed and a symlink is refused (STORAGE_PATH_ESCAPE), the file itself is opened with
 *   `O_NOFOLLOW` here and in the disk workers. `root` itself may be a symlink: the user chose it.
 *   A file with other names (hard links) is never written in place (`links.ts`).
 * - Node has no `openat`: every fd opened by path must lead to exactly that path (`checkOpened`),
 *   and files are created in their folder held by a checked fd (`holdFolder`), so a folder on the
 *   way swapped for a symlink after the checks leads nothing outside; so are folders made, and
 *   files and folders looked at (`lstat`), through their parent held (`inHeldFolder`).
 * - A file that is shorter than the torrent says (or missing) is extended with `ftruncate`:
 *   sparse, no zeros written, existing bytes kept (and rechecked). A longer one is never cut:
 *   opening fails with STORAGE_FILE_TOO_LONG and the user decides.
 */

/** One file of the torrent as found on disk. */
export interface FileOnDisk {
  readonly path: string;
  readonly length: number;
  /** Bytes on disk before allocation; 0 when missing. */
  readonly size: number;
  readonly exists: boolean;
  /** Nanoseconds, for the resume file's change check; 0n when missing. */
  readonly mtimeNs: bigint;
  /** Names the file has (hard links); 0 when missing. More than 1: see `links.ts`. */
  readonly links: number;
}

/** The download folder, created when missing, with symlinks in its own path resolved. */
export async function resolveRoot(dir: string): Promise<string> {
  await makeFolders(dir);
  try {
    return await realpath(dir);
  } catch (err) {
    throw toStorageError(err, dir);
  }
}

/** Path components under `root` of each file, in torrent order. */
export function relativePaths(metainfo: Metainfo): string[][] {
  return metainfo.files.map((f) => (metainfo.multiFile ? [metainfo.name, ...f.path] : [metainfo.name]));
}

/**
 * Creates the folders of `components` (all but the last) under `root`, refusing symlinks and
 * non-folders on the way. `known` remembers folders already checked, so a torrent of 100,000
 * files checks each folder once. Each folder is looked at, and made when missing, in its parent
 * held by a checked fd (`inHeldFolder`), from `root` down: a parent swapped for a symlink since
 * it was checked gets no folder made outside (STORAGE_PATH_ESCAPE). `create: false` (files
 * seeded as they are, `skipVerify`) makes none: undefined when one is missing.
 */
export async function ensureFolders(root: string, components: readonly string[], known: Set<string>): Promise<string>;
export async function ensureFolders(root: string, components: readonly string[], known: Set<string>, opts: { readonly create: false }): Promise<string | undefined>;
export async function ensureFolders(root: string, components: readonly string[], known: Set<string>, opts?: { readonly create: false }): Promise<string | undefined> {
  let cur = root;
  for (let i = 0; i < components.length - 1; i++) {
    cur = join(cur, components[i]!);
    if (known.has(cur)) continue;
    const st = await inHeldFolder(cur, async (at) => {
      try {
        return await lstat(at);
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
      }
      if (opts?.create === false) return undefined;
      await mkdir(at).catch((e: unknown) => {
        if ((e as { code?: unknown }).code !== 'EEXIST') throw e;
      });
      return lstat(at);
    });
    if (st === undefined) return undefined;
    if (st.isSymbolicLink()) throw new StorageError('STORAGE_PATH_ESCAPE', { detail: `${cur} is a symlink` });
    if (!st.isDirectory()) throw new StorageError('STORAGE_PATH_CONFLICT', { detail: `${cur} is ${st.isFile() ? 'a file' : 'not a folder'}, where a folder is needed` });
    known.add(cur);
  }
  return join(cur, components[components.length - 1]!);
}

/**
 * The path of `components` under `root` without creating anything, for a file that is not to be
 * written (not selected): undefined when a folder on the way is missing, a symlink or not a
 * folder. Such a file counts as absent, so it is neither read nor served.
 */
export async function findFile(root: string, components: readonly string[], known: Set<string>): Promise<string | undefined> {
  let cur = root;
  for (let i = 0; i < components.length - 1; i++) {
    cur = join(cur, components[i]!);
    if (known.has(cur)) continue;
    try {
      const st = await lstat(cur);
      if (!st.isDirectory()) return undefined; // a symlink is not a directory to lstat
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw toStorageError(err, cur);
    }
    known.add(cur);
  }
  return join(cur, components[components.length - 1]!);
}

/**
 * What is at `path` now: a regular file or nothing; anything else is refused. Looked at in its
 * folder held (`lstatHeld`): the size and mtime the resume check trusts are those of exactly this
 * path, never of a file behind a folder swapped for a symlink since `ensureFolders` checked it.
 */
export async function inspectFile(path: string, length: number): Promise<FileOnDisk> {
  const st = await lstatHeld(path);
  if (st === undefined) return { path, length, size: 0, exists: false, mtimeNs: 0n, links: 0 };
  if (st.isSymbolicLink()) throw new StorageError('STORAGE_PATH_ESCAPE', { detail: `${path} is a symlink` });
  if (!st.isFile()) throw new StorageError('STORAGE_PATH_CONFLICT', { detail: `${path} is not a regular file` });
  const size = Number(st.size);
  if (size > length) throw new StorageError('STORAGE_FILE_TOO_LONG', { detail: `${path} has ${size} bytes, the torrent says ${length}` });
  return { path, length, size, exists: true, mtimeNs: st.mtimeNs, links: Number(st.nlink) };
}

/**
 * Creates `file` or extends it to its full length, sparsely. A no-op for a complete file;
 * returns whether it changed anything (then the file's mtime did too).
 */
export async function allocate(file: FileOnDisk): Promise<boolean> {
  if (file.exists && file.size === file.length) return false;
  try {
    const fh = await openToAllocate(file);
    try {
      // Re-check through the fd: the file may have grown, or gained a name, since it was inspected.
      const { size, nlink } = await fh.stat();
      if (nlink > 1) throw new StorageError('STORAGE_HARD_LINK', { detail: `${file.path} has ${nlink} links since it was inspected: not written in place` });
      if (size > file.length) throw new StorageError('STORAGE_FILE_TOO_LONG', { detail: `${file.path} has ${size} bytes, the torrent says ${file.length}` });
      if (size < file.length) await fh.truncate(file.length);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw toStorageError(err, file.path);
  }
  return true;
}

/**
 * Creates `file` empty when missing, without extending it: for an unselected file that shares a
 * piece with a selected one, whose bytes of that piece are all that is ever written to it.
 * Returns whether it created the file.
 */
export async function createIfMissing(file: FileOnDisk): Promise<boolean> {
  if (file.exists) return false;
  try {
    await (await openToAllocate(file)).close();
  } catch (err) {
    throw toStorageError(err, file.path);
  }
  return true;
}

let procFds: boolean | undefined;

/**
 * Linux's `O_PATH`, which node does not export in `fs.constants`: an fd that holds a folder for
 * `/proc/self/fd/N/name` lookups without reading it, so a folder we may search and write but not
 * list (mode 0333, a drop folder) is held as well as any. Its value is the generic one, valid on
 * x86-64 and arm64 (alpha, parisc and sparc differ); elsewhere folders are opened for reading.
 */
const O_PATH = (constants as { readonly O_PATH?: number }).O_PATH ?? (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64') ? 0o10000000 : 0);

/** A folder held open, and the paths of names in it that resolve through the fd held, not the folder's path. */
export interface HeldFolder {
  path(name: string): string;
  close(): Promise<void>;
}

/**
 * `folder` (a real path: `ensureFolders` checked it) held by an fd that leads to exactly it
 * (`checkOpened`), for creating and renaming in it as `/proc/self/fd/N/name`: the kernel takes
 * the folder the fd holds and resolves no path again (Node has no `openat`), so a folder on the
 * way swapped for a symlink since the check leads nothing outside. The fd is `O_PATH` on Linux
 * (a folder we may write in but not list is held too). Without /proc, by path.
 */
export async function holdFolder(folder: string): Promise<HeldFolder> {
  if (!(procFds ??= existsSync('/proc/self/fd'))) return { path: (name) => join(folder, name), close: async () => {} };
  // Shared while held: a storage's open allocates the files of a folder side by side (`mapLimit`).
  let shared = held.get(folder);
  if (shared === undefined) {
    const fd = open(folder, constants.O_RDONLY | constants.O_DIRECTORY | O_PATH).then(async (dir) => {
      try {
        checkOpened(dir.fd, folder);
      } catch (err) {
        await dir.close();
        throw err;
      }
      return dir;
    });
    shared = { dir: fd, users: 0 };
    held.set(folder, shared);
  }
  const s = shared;
  s.users++;
  const release = async (): Promise<void> => {
    if (--s.users > 0) return;
    if (held.get(folder) === s) held.delete(folder);
    await (await s.dir.catch(() => undefined))?.close();
  };
  let dir: FileHandle;
  try {
    dir = await s.dir;
  } catch (err) {
    await release();
    throw err;
  }
  return { path: (name) => `/proc/self/fd/${dir.fd}/${name}`, close: release };
}

const held = new Map<string, { readonly dir: Promise<FileHandle>; users: number }>();

/**
 * `file` opened for writing, created when missing, through no folder swapped for a symlink since
 * `ensureFolders` checked them: a file that exists is opened without `O_CREAT` and its fd must
 * lead to exactly its path (`checkOpened`), so no outside file is extended; a missing one is
 * created in its folder held (`holdFolder`), so nothing is created outside either.
 */
async function openToAllocate(file: FileOnDisk): Promise<FileHandle> {
  let fh: FileHandle | undefined;
  if (file.exists) {
    fh = await open(file.path, constants.O_WRONLY | constants.O_NOFOLLOW).catch((err: unknown) => {
      if ((err as { code?: unknown }).code === 'ENOENT') return undefined; // gone since inspected: created below, as before
      throw err;
    });
  }
  if (fh === undefined) {
    const dir = await holdFolder(dirname(file.path));
    try {
      fh = await open(dir.path(basename(file.path)), constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o666);
    } finally {
      await dir.close();
    }
  }
  try {
    checkOpened(fh.fd, file.path);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}

/**
 * Size and mtime of each file now, for the resume file: each looked at in its folder held
 * (`lstatHeld`), so a folder swapped for a symlink fails the save (STORAGE_PATH_ESCAPE) rather
 * than recording an outside file's size and mtime.
 */
export async function statFiles(paths: readonly string[]): Promise<{ size: number; mtimeNs: bigint }[]> {
  // A missing file is recorded as empty with mtime 0: never trusted on open, since it does not exist.
  return mapLimit(paths, 16, async (p) => {
    const st = await lstatHeld(p);
    return st === undefined ? { size: 0, mtimeNs: 0n } : { size: Number(st.size), mtimeNs: st.mtimeNs };
  });
}

/**
 * `fn` given the path of `path`'s last component through its folder held by a checked fd
 * (`holdFolder`): what it looks at or makes is in exactly that folder, whatever was swapped on
 * the way since it was checked. Errors as `StorageError`s about `path`.
 */
async function inHeldFolder<T>(path: string, fn: (at: string) => Promise<T>): Promise<T> {
  try {
    const dir = await holdFolder(dirname(path));
    try {
      return await fn(dir.path(basename(path)));
    } finally {
      await dir.close();
    }
  } catch (err) {
    throw toStorageError(err, path);
  }
}

/** `lstat` of `path` in its folder held (`inHeldFolder`); undefined when it (or its folder) is missing. */
async function lstatHeld(path: string): Promise<BigIntStats | undefined> {
  try {
    return await inHeldFolder(path, (at) => lstat(at, { bigint: true }));
  } catch (err) {
    if (err instanceof StorageError && err.errno === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * `fn` over `items`, at most `limit` at a time, results in order. On the first failure no new
 * item starts, and it rejects only once the running ones ended: nothing still touches the disk
 * after the caller saw the error.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const run = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  if (failure !== undefined) throw failure.err;
  return out;
}

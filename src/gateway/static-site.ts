import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync, type BigIntStats } from 'node:fs';
import { readdir, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { openedElsewhere } from '../metainfo/hash-pieces.js';
import { GatewayError } from './errors.js';

/**
 * The served folder: request segments to an open file, with no way out of the root. The real
 * path of every target is resolved (so symlinks are followed) and must lie under the root's real
 * path; the final open uses O_NOFOLLOW, so a symlink swapped in after that check is refused
 * rather than followed. Inside the root, symlinks work as nginx's default
 * (`disable_symlinks off`) does.
 *
 * The path's checks (realpath, open, fstat, lstat, close) are synchronous calls on the request's
 * own turn, as nginx's are: each takes 4 to 10 µs on a local file system with its entries cached,
 * where the same call through libuv's thread pool cost 30 to 40 µs of the main thread's CPU alone
 * and about 130 µs under load on the development VM (the hand-off and the futex wake-ups around
 * it); a 4 KiB keep-alive request spent 60 % of its CPU in that `lstat`. A file system that
 * stalls (a hung NFS mount) stalls the server on it, as it does nginx. Body reads stay
 * asynchronous (send-file.ts): they are the ones that may wait on a disk.
 */
export type Target =
  | {
      readonly kind: 'file';
      /** The open file, or undefined when `bytes` holds all of it (a small file). */
      readonly handle: OpenFile | undefined;
      readonly bytes?: Buffer;
      readonly stat: BigIntStats;
      readonly absPath: string;
      readonly segments: readonly string[];
    }
  | { readonly kind: 'folder'; readonly absPath: string; readonly segments: readonly string[] };

export const INDEX_FILE = 'index.html';

/** A file descriptor the caller must close (once; a second close does nothing). */
export interface OpenFile {
  readonly fd: number;
  close(): Promise<void>;
}

function openFile(fd: number): OpenFile {
  let closed = false;
  return {
    fd,
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      try {
        closeSync(fd);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}

/**
 * Files up to this size are kept in memory once read (as nginx's open_file_cache keeps
 * descriptors): a request for one then costs one `lstat` instead of realpath, open, fstat, read
 * and close.
 */
export const SMALL_FILE_BYTES = 64 * 1024;
/** Small files kept (at most 64 KiB each: 256 MiB at worst). */
const SMALL_FILE_ENTRIES = 4096;
/**
 * A file whose ctime is this recent is not kept: file times come from a coarse kernel clock
 * (a few ms), so two writes that close together may leave the same times (git's "racily clean"
 * problem). Once a file's ctime is older than this when it is read, any later change gives it a
 * later ctime, which the `lstat` check sees.
 */
const RACY_MS = 1000;

interface SmallFile {
  readonly realPath: string;
  readonly stat: BigIntStats;
  readonly bytes: Buffer;
}

/**
 * Small-file rule: the kept bytes are served only while `lstat` of the real path shows the very
 * inode, size and mtime they were read from (a file read whole, and unchanged across the read).
 * A changed, replaced or removed file, or a path that now leads elsewhere (a folder swapped for
 * a symlink), shows another identity and goes the long way, with every check.
 */
function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

export class StaticSite {
  private readonly small = new Map<string, SmallFile>();

  private constructor(readonly root: string) {}

  /** Opens the site at `root` (its real path); throws `GATEWAY_ROOT_UNUSABLE` when it is not a readable folder. */
  static async open(root: string): Promise<StaticSite> {
    try {
      const real = await realpath(root);
      await readdir(real);
      return new StaticSite(real);
    } catch (cause) {
      throw new GatewayError('GATEWAY_ROOT_UNUSABLE', { detail: root, cause });
    }
  }

  /** The file or folder at `segments` (already checked by `parseRequestPath`). Throws 404/403. */
  async resolve(segments: readonly string[]): Promise<Target> {
    const key = segments.join('/');
    const kept = this.small.get(key);
    if (kept !== undefined) {
      let now: BigIntStats | undefined;
      try {
        now = lstatSync(kept.realPath, { bigint: true, throwIfNoEntry: false });
      } catch {
        now = undefined;
      }
      if (now !== undefined && now.isFile() && sameFile(now, kept.stat)) return { kind: 'file', handle: undefined, bytes: kept.bytes, stat: kept.stat, absPath: kept.realPath, segments };
      this.small.delete(key);
    }
    const t = await this.open(segments);
    if (t.kind !== 'file' || t.stat.size > BigInt(SMALL_FILE_BYTES)) return t;
    return this.keep(key, t);
  }

  /** Reads a small file whole and keeps it when it did not change meanwhile; the target then holds the bytes. */
  private async keep(key: string, t: Extract<Target, { kind: 'file' }>): Promise<Target> {
    const handle = t.handle!;
    try {
      const size = Number(t.stat.size);
      const bytes = Buffer.allocUnsafeSlow(size); // its own memory: a pool slice would pin an 8 KiB slab
      // At most 64 KiB, once per file while it stays the same: read on this turn, as its checks are.
      const bytesRead = size === 0 ? 0 : readSync(handle.fd, bytes, 0, size, 0);
      const after = fstatSync(handle.fd, { bigint: true });
      await handle.close();
      // Changed while read: served from a fresh descriptor as it is now, and not kept.
      if (bytesRead !== size || !sameFile(after, t.stat)) return await this.open(t.segments);
      if (Date.now() - Number(t.stat.ctimeMs) < RACY_MS) return { ...t, handle: undefined, bytes };
      if (this.small.size >= SMALL_FILE_ENTRIES) this.small.delete(this.small.keys().next().value!);
      this.small.set(key, { realPath: t.absPath, stat: t.stat, bytes });
      return { ...t, handle: undefined, bytes };
    } catch (cause) {
      await handle.close().catch(() => {});
      throw cause instanceof GatewayError ? cause : fsError(cause);
    }
  }

  private async open(segments: readonly string[]): Promise<Target> {
    const candidate = segments.length === 0 ? this.root : join(this.root, ...segments);
    let real: string;
    try {
      real = realpathSync.native(candidate);
    } catch (cause) {
      throw fsError(cause);
    }
    this.checkServable(real);
    let handle: OpenFile;
    try {
      handle = openFile(openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK));
    } catch (cause) {
      throw fsError(cause);
    }
    let stat: BigIntStats;
    try {
      // O_NOFOLLOW guards the last component only: a folder on the way swapped for a symlink
      // between the realpath and the open (someone who can write in the served tree) is followed.
      // What was opened is checked again by the descriptor's own path: out of the folder is 403,
      // anything else that moved meanwhile 404.
      const opened = openedElsewhere(handle.fd, real);
      if (opened !== undefined) {
        this.checkServable(opened);
        throw new GatewayError('GATEWAY_NOT_FOUND', { detail: 'the path changed while it was opened' });
      }
      stat = fstatSync(handle.fd, { bigint: true });
    } catch (cause) {
      await handle.close().catch(() => {});
      throw cause instanceof GatewayError ? cause : fsError(cause);
    }
    if (stat.isDirectory()) {
      await handle.close();
      return { kind: 'folder', absPath: real, segments };
    }
    if (!stat.isFile()) {
      await handle.close();
      throw new GatewayError('GATEWAY_FORBIDDEN', { detail: 'not a regular file' });
    }
    return { kind: 'file', handle, stat, absPath: real, segments };
  }

  /** Throws unless `real` (a real path) is the root or below it with no dot-named part. */
  private checkServable(real: string): void {
    if (real !== this.root && !real.startsWith(this.root + sep)) throw new GatewayError('GATEWAY_FORBIDDEN', { detail: 'symlink leads out of the served folder' });
    // Every part of the real path below the root must be visible too: a symlink `a` → `.secret`
    // would otherwise publish a dotfile.
    const inside = real === this.root ? [] : real.slice(this.root.length + 1).split(sep);
    if (inside.some((s) => s.startsWith('.'))) throw new GatewayError('GATEWAY_NOT_FOUND');
  }

  /** Visible entries of a folder for a listing: no dotfiles, folders marked, sorted by name. */
  async list(absPath: string): Promise<{ name: string; folder: boolean }[]> {
    let entries;
    try {
      entries = await readdir(absPath, { withFileTypes: true });
    } catch (cause) {
      throw fsError(cause);
    }
    return entries
      .filter((e) => !e.name.startsWith('.') && (e.isFile() || e.isDirectory() || e.isSymbolicLink()))
      .map((e) => ({ name: e.name, folder: e.isDirectory() }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

function fsError(cause: unknown): GatewayError {
  const code = (cause as { code?: string }).code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') return new GatewayError('GATEWAY_NOT_FOUND', { cause });
  if (code === 'EACCES' || code === 'EPERM' || code === 'ELOOP') return new GatewayError('GATEWAY_FORBIDDEN', { cause });
  return new GatewayError('GATEWAY_NOT_FOUND', { detail: code, cause });
}

/** A plain HTML index of a folder (only with `--list`), like nginx's `autoindex`. */
export function listingHtml(urlPath: string, entries: readonly { name: string; folder: boolean }[]): string {
  const title = escapeHtml(decodeURIComponentSafe(urlPath));
  const rows = entries.map((e) => {
    const href = encodeURIComponent(e.name) + (e.folder ? '/' : '');
    return `<li><a href="${escapeHtml(href)}">${escapeHtml(e.name)}${e.folder ? '/' : ''}</a></li>`;
  });
  const up = urlPath === '/' ? '' : '<li><a href="../">../</a></li>\n';
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Index of ${title}</title></head>\n<body><h1>Index of ${title}</h1>\n<ul>\n${up}${rows.join('\n')}\n</ul></body></html>\n`;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

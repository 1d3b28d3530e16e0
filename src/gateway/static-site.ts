import { constants, type BigIntStats } from 'node:fs';
import { open, readdir, realpath, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { GatewayError } from './errors.js';

/**
 * The served folder: request segments to an open file, with no way out of the root. The real
 * path of every target is resolved (so symlinks are followed) and must lie under the root's real
 * path; the final open uses O_NOFOLLOW, so a symlink swapped in after that check is refused
 * rather than followed. Inside the root, symlinks work as nginx's default
 * (`disable_symlinks off`) does.
 */
export type Target =
  | { readonly kind: 'file'; readonly handle: FileHandle; readonly stat: BigIntStats; readonly absPath: string; readonly segments: readonly string[] }
  | { readonly kind: 'folder'; readonly absPath: string; readonly segments: readonly string[] };

export const INDEX_FILE = 'index.html';

export class StaticSite {
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
    const candidate = segments.length === 0 ? this.root : join(this.root, ...segments);
    let real: string;
    try {
      real = await realpath(candidate);
    } catch (cause) {
      throw fsError(cause);
    }
    if (real !== this.root && !real.startsWith(this.root + sep)) throw new GatewayError('GATEWAY_FORBIDDEN', { detail: 'symlink leads out of the served folder' });
    // Every part of the real path below the root must be visible too: a symlink `a` → `.secret`
    // would otherwise publish a dotfile.
    const inside = real === this.root ? [] : real.slice(this.root.length + 1).split(sep);
    if (inside.some((s) => s.startsWith('.'))) throw new GatewayError('GATEWAY_NOT_FOUND');
    let handle: FileHandle;
    try {
      handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (cause) {
      throw fsError(cause);
    }
    let stat: BigIntStats;
    try {
      stat = await handle.stat({ bigint: true });
    } catch (cause) {
      await handle.close().catch(() => {});
      throw fsError(cause);
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

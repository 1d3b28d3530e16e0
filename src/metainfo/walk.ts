import { readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { MetainfoError } from './errors.js';
import { checkPathComponent } from './paths.js';

/** One file to share: where it is on disk and where it goes in the torrent. */
export interface SourceFile {
  readonly absPath: string;
  /** Path components inside the torrent's folder (or `[name]` for a single file). */
  readonly path: readonly string[];
  readonly length: number;
  readonly mtimeMs: number;
}

export interface Source {
  readonly name: string;
  readonly multiFile: boolean;
  readonly files: readonly SourceFile[];
}

/**
 * Lists what `createTorrent` shares, deterministically. Folders are walked recursively,
 * following symbolic links (once per real folder, so a link loop ends) and keeping hidden and
 * empty files; files are ordered by their full `/`-joined path compared as UTF-8 bytes. That is
 * mktorrent's order (it keeps its file list sorted with strcmp), so for the same files and
 * piece length our info-hash equals mktorrent's.
 *
 * Synchronous on purpose: `createTorrent` runs it on a hash worker, where blocking calls cost
 * nothing and are several times faster than a thread-pool round trip per `stat` (20,000 files:
 * about 50 ms instead of 200 ms).
 */
export function listSourceSync(path: string): Source {
  const root = resolve(path);
  const st = statOrThrow(root);
  const name = basename(root);
  if (st.isFile()) {
    checkPathComponent(name, 'file name');
    return { name, multiFile: false, files: [{ absPath: root, path: [name], length: st.size, mtimeMs: st.mtimeMs }] };
  }
  if (!st.isDirectory()) throw new MetainfoError('CREATE_IO', { detail: `${path} is neither a file nor a folder` });
  checkPathComponent(name, 'folder name');
  const files: SourceFile[] = [];
  walk(root, [], files, new Set([realpathSync(root)]));
  const encoder = new TextEncoder();
  const keyed = files.map((f) => ({ f, key: encoder.encode(f.path.join('/')) }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return { name, multiFile: true, files: keyed.map((k) => k.f) };
}

function walk(dir: string, prefix: readonly string[], out: SourceFile[], seen: Set<string>): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (cause) {
    throw new MetainfoError('CREATE_IO', { detail: `cannot read folder ${dir}`, cause });
  }
  for (const e of entries) {
    const abs = join(dir, e.name);
    const rel = [...prefix, e.name];
    checkPathComponent(e.name, abs);
    // Dirent types do not follow links; stat does. A dangling link has nothing to share.
    const st = e.isSymbolicLink() ? statSync(abs, { throwIfNoEntry: false }) : statOrThrow(abs);
    if (st === undefined) continue;
    if (st.isDirectory()) {
      const real = realpathSync(abs);
      if (seen.has(real)) continue;
      seen.add(real);
      walk(abs, rel, out, seen);
    } else if (st.isFile()) {
      out.push({ absPath: abs, path: rel, length: st.size, mtimeMs: st.mtimeMs });
    }
  }
}

function statOrThrow(p: string): Stats {
  try {
    return statSync(p);
  } catch (cause) {
    throw new MetainfoError('CREATE_IO', { detail: `cannot stat ${p}`, cause });
  }
}

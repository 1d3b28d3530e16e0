import { MetainfoError } from './errors.js';

/**
 * What a file path in a torrent may contain. A torrent is hostile input: its paths must never
 * leave the download folder or name something the file system reads specially.
 *
 * A component must be non-empty, not `.` or `..`, and contain no `/`, `\` or NUL (a separator
 * inside a component would smuggle in a path; `\` is a separator on Windows).
 */
export function checkPathComponent(component: string, where: string): void {
  if (component.length === 0) throw new MetainfoError('METAINFO_BAD_PATH', { detail: `${where}: empty path component` });
  if (component === '.' || component === '..') {
    throw new MetainfoError('METAINFO_BAD_PATH', { detail: `${where}: path component ${JSON.stringify(component)}` });
  }
  if (/[/\\\0]/.test(component)) {
    throw new MetainfoError('METAINFO_BAD_PATH', { detail: `${where}: separator or NUL in ${JSON.stringify(component)}` });
  }
}

/** Rejects two files at one path, and a file whose path is another file's folder. */
export function checkDistinctPaths(paths: readonly (readonly string[])[]): void {
  const files = new Set<string>();
  const dirs = new Set<string>();
  for (const p of paths) {
    const key = p.join('/');
    if (files.has(key) || dirs.has(key)) throw new MetainfoError('METAINFO_BAD_PATH', { detail: `two entries at ${JSON.stringify(key)}` });
    files.add(key);
    for (let i = 1; i < p.length; i++) {
      const dir = p.slice(0, i).join('/');
      if (files.has(dir)) throw new MetainfoError('METAINFO_BAD_PATH', { detail: `${JSON.stringify(dir)} is both a file and a folder` });
      dirs.add(dir);
    }
  }
}

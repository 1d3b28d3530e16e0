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

/**
 * On-disk paths for a torrent whose files collide: a file at the path of an earlier file, or at
 * a path another file needs as a folder, is renamed to the first free `base.N.ext` (N from 1,
 * the extension after the last dot, none for a leading dot: `a.txt` → `a.1.txt`, `x` → `x.1`,
 * `.rc` → `.rc.1`). That is libtorrent's rule (`resolve_duplicate_filenames`: folders claimed
 * first, files in torrent order), so such a torrent, which BEP 3 does not forbid and real clients
 * accept, lands as it does there. Only the last component changes, so folders stay as listed.
 * The info dict is untouched: the info-hash and the pieces are those of the original bytes.
 *
 * Returns, per file, the new path or `undefined` when the file keeps its own. Linear in the
 * paths' total length: a folder is named by its parent folder's number and its own name, so no
 * key is longer than one component plus a number (joining every prefix of a 256-deep path made
 * hostile torrents quadratic: issue 18, 1.5 GB for 2,000 such paths), and each path has its own
 * next N, so many equal paths (or the names they would take) cost a probe per file, not per
 * pair. Paths compare byte for byte, as a Linux file system does.
 */
export function resolveDuplicatePaths(paths: readonly (readonly string[])[]): (readonly string[] | undefined)[] {
  // `${parent}/${name}` → folder number; the torrent's root is 0. Folders are claimed first.
  const folders = new Map<string, number>();
  const parents = paths.map((p) => {
    let id = 0;
    for (let i = 0; i < p.length - 1; i++) {
      const key = `${id}/${p[i]!}`;
      let next = folders.get(key);
      if (next === undefined) folders.set(key, (next = folders.size + 1));
      id = next;
    }
    return id;
  });
  const taken = new Set<string>();
  const nextN = new Map<string, number>();
  const free = (key: string): boolean => !taken.has(key) && !folders.has(key);
  return paths.map((p, i) => {
    const parent = parents[i]!;
    const last = p.at(-1)!;
    const key = `${parent}/${last}`;
    if (free(key)) {
      taken.add(key);
      return undefined;
    }
    const dot = last.lastIndexOf('.');
    const [base, ext] = dot > 0 ? [last.slice(0, dot), last.slice(dot)] : [last, ''];
    let n = nextN.get(key) ?? 1;
    while (!free(`${parent}/${base}.${n}${ext}`)) n++;
    nextN.set(key, n + 1);
    taken.add(`${parent}/${base}.${n}${ext}`);
    return [...p.slice(0, -1), `${base}.${n}${ext}`];
  });
}

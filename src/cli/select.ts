import type { Command } from 'commander';
import picomatch from 'picomatch';
import { MetainfoError, type Metainfo } from '../metainfo/index.js';

/**
 * `download --select 1,3-5` and `--only GLOB`: which files to download.
 *
 * - Indexes are 1-based, as in aria2's `--select-file` and `--show-files` and in `info`.
 *   A list is comma-separated indexes and inclusive ranges `a-b`; `--select` may be repeated.
 * - A GLOB matches the file's path inside the torrent (`sub/a.mkv`, without the torrent's
 *   name; a single-file torrent's one path is its name). `*` stays within a folder, `**` crosses
 *   folders, and a pattern without `/` also matches a bare file name in any folder (`*.mkv`).
 *   Dot files match like any other: a torrent's paths are not hidden from anyone.
 * - Several `--select` and `--only` add up. An index of 0 or past the last file, a glob that
 *   matches nothing, or a malformed list is METAINFO_BAD_FILE_SELECTION (a usage error).
 */
export function selectFiles(metainfo: Metainfo, lists: readonly string[], globs: readonly string[]): number[] | undefined {
  if (lists.length === 0 && globs.length === 0) return undefined;
  const count = metainfo.files.length;
  const chosen = new Set<number>();
  for (const list of lists) {
    for (const [from, to] of parseIndexList(list)) {
      if (to > count) throw new MetainfoError('METAINFO_BAD_FILE_SELECTION', { detail: `--select ${list}: file ${to} does not exist, the torrent has ${count} (see info)` });
      for (let i = from; i <= to; i++) chosen.add(i - 1);
    }
  }
  const paths = metainfo.files.map((f) => f.path.join('/'));
  for (const glob of globs) {
    const match = picomatch(glob, { dot: true, basename: !glob.includes('/') });
    let matched = 0;
    paths.forEach((p, i) => {
      if (match(p)) {
        chosen.add(i);
        matched++;
      }
    });
    if (matched === 0) throw new MetainfoError('METAINFO_BAD_FILE_SELECTION', { detail: `--only ${glob} matches no file (see info)` });
  }
  return [...chosen].sort((a, b) => a - b);
}

/** `1,3-5` → [[1, 1], [3, 5]]: inclusive ranges of 1-based indexes, as written. */
export function parseIndexList(list: string): [number, number][] {
  const out: [number, number][] = [];
  for (const part of list.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const from = m === null ? NaN : Number(m[1]);
    const to = m?.[2] === undefined ? from : Number(m[2]);
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || to < from) {
      throw new MetainfoError('METAINFO_BAD_FILE_SELECTION', {
        detail: `--select ${list}: "${part}" is not a file index (1, 2, …) or range (3-5)`,
      });
    }
    out.push([from, to]);
  }
  return out;
}

/**
 * `selectFiles` for a command: a bad selection is a usage error (exit 2, as commander's own),
 * printed in the usual one line with its code.
 */
export function selectFilesOrUsageError(cmd: Command, metainfo: Metainfo, lists: readonly string[], globs: readonly string[]): number[] | undefined {
  try {
    return selectFiles(metainfo, lists, globs);
  } catch (err) {
    if (!(err instanceof MetainfoError)) throw err;
    return cmd.error(`torrenttp: ${err.message} [${err.code}]`, { exitCode: 2, code: 'torrenttp.fileSelection' });
  }
}

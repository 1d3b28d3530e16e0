import picomatch from 'picomatch';

/**
 * Which files are offered as torrents. Small files gain nothing from a swarm (the metainfo and a
 * tracker round trip cost more than the bytes), so by default only files of at least 1 MiB are.
 * Globs match the path relative to the served folder (`a/b.iso`); a glob without `/` matches the
 * file name anywhere (`*.iso`).
 */
export interface EligibilityOptions {
  /** Default 1 MiB. */
  readonly minSizeBytes?: number;
  /** When given, only files matching one of these are offered. */
  readonly include?: readonly string[];
  /** Files matching one of these are never offered. */
  readonly exclude?: readonly string[];
}

export const DEFAULT_MIN_SIZE_BYTES = 1024 * 1024;

export type Eligibility = (relPath: string, sizeBytes: number) => boolean;

export function eligibility(opts: EligibilityOptions = {}): Eligibility {
  const min = opts.minSizeBytes ?? DEFAULT_MIN_SIZE_BYTES;
  const include = matcher(opts.include);
  const exclude = matcher(opts.exclude);
  return (relPath, sizeBytes) => {
    // An empty file has no pieces: no torrent can describe it.
    if (sizeBytes < Math.max(1, min)) return false;
    if (include !== undefined && !include(relPath)) return false;
    return exclude === undefined || !exclude(relPath);
  };
}

/** One matcher for several globs; picomatch's `basename` breaks globs that hold a `/`, so it is set per glob. */
function matcher(globs: readonly string[] | undefined): ((path: string) => boolean) | undefined {
  if (globs === undefined || globs.length === 0) return undefined;
  const each = globs.map((g) => picomatch(g, { basename: !g.includes('/') }));
  return (path) => each.some((m) => m(path));
}

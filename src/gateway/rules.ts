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
  const include = opts.include !== undefined && opts.include.length > 0 ? picomatch([...opts.include], { basename: true }) : undefined;
  const exclude = opts.exclude !== undefined && opts.exclude.length > 0 ? picomatch([...opts.exclude], { basename: true }) : undefined;
  return (relPath, sizeBytes) => {
    // An empty file has no pieces: no torrent can describe it.
    if (sizeBytes < Math.max(1, min)) return false;
    if (include !== undefined && !include(relPath)) return false;
    return exclude === undefined || !exclude(relPath);
  };
}

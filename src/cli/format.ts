import { clip, escapeControls, SHOWN_URL_CHARS } from '../errors/index.js';

/** Human-readable figures for CLI output. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}

/** Parses `262144`, `256K`, `256KiB`, `1M`, `4MiB`; a bare number below 64 is a power of two (mktorrent's `-l 18`). */
export function parseSize(s: string): number | undefined {
  const m = /^\s*(\d+)\s*(k|m|g|kb|mb|gb|kib|mib|gib|b)?\s*$/i.exec(s);
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  if (unit === '' && n < 64) return 2 ** n;
  const mult = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 ** 2 : unit.startsWith('g') ? 1024 ** 3 : 1;
  return n * mult;
}

/** What a rate option says of a value `parseRate` refuses. */
export const RATE_HELP = 'not a rate in bytes/s (like 500K or 2M)';

/** Bytes per second, `500K`, `2M`, `1048576` (a bare number is bytes, not a power of two as for create): undefined unless above 0. */
export function parseRate(value: string): number | undefined {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : parseSize(value);
  return n === undefined || !Number.isFinite(n) || n <= 0 ? undefined : n;
}

/** A duration as aria2 shows an ETA: `45s`, `1m29s`, `2h5m0s`; days past 99 hours (`4d3h`). */
export function formatDuration(seconds: number): string {
  let s = Math.max(0, Math.ceil(seconds));
  if (s >= 100 * 3600) return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** `1 peer`, `2 peers`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export { clip, SHOWN_URL_CHARS };

/**
 * A message for the terminal: its control characters escaped (`escapeControls`: a tracker's or
 * server's text cannot clear the screen or forge a line), every `scheme://…` in it clipped (`clip`).
 */
export function clipUrls(message: string): string {
  const shown = escapeControls(message);
  return shown.length <= SHOWN_URL_CHARS ? shown : shown.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (url) => clip(url));
}

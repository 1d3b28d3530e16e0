import { isIP } from 'node:net';
import { InvalidArgumentError } from 'commander';
import { isTrackerUrl, isWebSeedUrl } from '../metainfo/index.js';
import { checkTorrentUrl } from '../tracker/client.js';
import { parseRate, parseSize, RATE_HELP } from './format.js';

/**
 * Option-value parsers for commander's `argParser`. A bad value throws `InvalidArgumentError`,
 * so commander reports it as a usage error (exit 2, docs/cli.md) naming the option, before any
 * command runs: `--port abc` fails the same way in every command.
 */

export { integer, port } from './integer-option.js';

/** Bytes per second: `500K`, `2M`, `1048576`. */
export function rate(value: string): number {
  const n = parseRate(value);
  if (n === undefined) throw new InvalidArgumentError(RATE_HELP);
  return n;
}

/** A size in bytes, 0 or more: `0`, `512K`, `1M`, `1048576` (a bare number is bytes). */
export function byteSize(value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : parseSize(value);
  if (n === undefined || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('not a size in bytes (like 512K, 1M or 1048576)');
  return n;
}

/** A piece length as `create` takes it (`262144`, `256K`, or mktorrent's power of two `18`): a power of two from 16 KiB to 1 GiB. */
export function pieceLength(value: string): number {
  const n = parseSize(value);
  if (n === undefined || n < 16 * 1024 || n > 1024 ** 3 || (n & (n - 1)) !== 0) {
    throw new InvalidArgumentError('not a power of two from 16 KiB to 1 GiB (like 262144, 256K, 1M or 18)');
  }
  return n;
}

export { encryptionPolicy } from './encryption-option.js';

/** A positive number (`--seed-ratio 1.5`). */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(value) || !(n > 0)) throw new InvalidArgumentError('not a positive number');
  return n;
}

const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A duration in seconds: `90s`, `30m`, `2h`, `1h30m`, `1d`. A bare number is in `bareUnit`
 * (aria2 counts `--seed-time` in minutes and `--bt-stop-timeout` in seconds). 0 only where
 * `allowZero` (`--json-interval 0`: every event; `--stop-timeout 0`: off, as in aria2).
 */
export function duration(bareUnit: 's' | 'm', opts: { allowZero?: boolean } = {}): (value: string) => number {
  const ok = (n: number): boolean => n > 0 || (n === 0 && opts.allowZero === true);
  return (value) => {
    const v = value.trim().toLowerCase();
    let parsed: number | undefined;
    if (/^\d+(\.\d+)?$/.test(v)) {
      parsed = Number(v) * UNIT_SEC[bareUnit]!;
    } else if (/^(\d+(\.\d+)?[smhd])+$/.test(v)) {
      parsed = 0;
      for (const m of v.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) parsed += Number(m[1]) * UNIT_SEC[m[2]!]!;
    }
    if (parsed !== undefined && ok(parsed)) return parsed;
    const unit = bareUnit === 's' ? 'seconds' : 'minutes';
    // `seed --seed-time 0` is a duration, only not one this option takes: said so, not "not a duration".
    const what = parsed === 0 ? 'not a duration above 0' : 'not a duration';
    throw new InvalidArgumentError(`${what} (like 90s, 30m, 2h or 1h30m; a bare number is in ${unit}${opts.allowZero === true ? '; 0 allowed' : ''})`);
  };
}

/** `host:port` or `[v6]:port`, port 1..65535, returned as given (the engine splits it). */
export function peerAddress(value: string): string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]\s]+):(\d+)$/.exec(value);
  if (m === null) throw new InvalidArgumentError('not HOST:PORT (an IPv6 address goes in brackets: [::1]:6881)');
  if (m[0].startsWith('[') && isIP(m[1]!) !== 6) throw new InvalidArgumentError(`${m[1]} is not an IPv6 address`);
  const p = Number(m[2]);
  if (!/^\d{1,5}$/.test(m[2]!) || p < 1 || p > 65535) throw new InvalidArgumentError(`port ${m[2]} is not from 1 to 65535`);
  return value;
}

/**
 * `--peer`: `host:port` (a BitTorrent wire peer) or an http(s) URL, the torrent URL of a
 * TorrentTTP peer (docs/torrenttp.md §1: no query, fragment, credentials or trailing slash).
 */
export function peerAddressOrUrl(value: string): string {
  if (!/^https?:\/\//i.test(value)) return peerAddress(value);
  try {
    return checkTorrentUrl(value);
  } catch {
    throw new InvalidArgumentError('not a TorrentTTP torrent URL (like http://host:8080/ttp/v1/torrents/<infohash>: no query, no trailing slash)');
  }
}

/** An IP address literal to listen on (`0.0.0.0`, `127.0.0.1`, `::`, `::1`). */
export function listenAddress(value: string): string {
  if (isIP(value) === 0) throw new InvalidArgumentError('not an IP address (like 0.0.0.0, 127.0.0.1, :: or ::1)');
  return value;
}

/** `--host-name`: a DNS name (letters, digits, `-`, `.`) or an IP address, as a `Host` header names a server. */
export function hostName(value: string): string {
  if (isIP(value.replace(/^\[|\]$/g, '')) !== 0 || /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(value)) return value;
  throw new InvalidArgumentError('not a host name (like myhost.local or 192.0.2.10)');
}

/**
 * Repeatable option: each value, parsed, appended. Give it no default (the flag is then
 * undefined when absent): a `[]` default would show as "(default: [])" in --help.
 */
export function repeatable<T>(parse: (value: string) => T): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), parse(value)];
}

/** One of `choices`. */
export function oneOf<T extends string>(...choices: T[]): (value: string) => T {
  return (value) => {
    if (!(choices as string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${choices.join(', ')}`);
    return value as T;
  };
}

/** `create -t`: one tier, comma-separated announce URLs (http, https, udp, ws, wss), as a list. */
export function trackerTier(value: string): string[] {
  const urls = value.split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  if (urls.length === 0) throw new InvalidArgumentError('no announce URL');
  for (const u of urls) {
    if (!isTrackerUrl(u)) throw new InvalidArgumentError(`${u} is not an announce URL (http://, https://, udp://, ws:// or wss://)`);
  }
  return urls;
}

/** `create -w`: a web seed URL (BEP 19), http:// or https://. */
export function webSeedUrl(value: string): string {
  if (!isWebSeedUrl(value)) throw new InvalidArgumentError('not an http:// or https:// URL');
  return value;
}

/** `tracker --redis`: `redis://` or `rediss://` (TLS) `[user:pass@]host[:port][/db]`. */
export function redisUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new InvalidArgumentError('not a URL (like redis://127.0.0.1:6379 or rediss://host:6380/0)');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new InvalidArgumentError(`${u.protocol}// is not redis:// or rediss://`);
  if (u.hostname === '') throw new InvalidArgumentError('no host (like redis://127.0.0.1:6379)');
  return value;
}

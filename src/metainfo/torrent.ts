import { BencodeRaw, decodeDocument, encode, type BencodeDict, type DecodeOptions, type Encodable } from '../bencode/index.js';
import { MetainfoError } from './errors.js';
import { asBytes, asDict, asInt, asList, isDict, text } from './fields.js';
import { infoHashOf, type InfoHash } from './info-hash.js';
import { parseInfo, type Info, type PathLimits } from './info.js';

/**
 * A v1 `.torrent` (BEP 3): the info dict, kept as its exact bytes, plus the fields around it.
 * Fields outside `info` do not change the info-hash; malformed ones are dropped with a warning
 * rather than failing the whole torrent (what libtorrent and Transmission do), while anything
 * wrong inside `info` is an error, because it decides what is written to disk.
 */
export interface Metainfo extends Info {
  readonly infoHash: InfoHash;
  /** The raw info dict, exactly as it was hashed. */
  readonly infoBytes: Uint8Array;
  /** Tracker tiers (BEP 12); from `announce-list` when present, else `[[announce]]`. */
  readonly announceList: readonly (readonly string[])[];
  /** Web seeds (BEP 19 `url-list`). */
  readonly urlList: readonly string[];
  readonly creationDate?: number;
  readonly comment?: string;
  readonly createdBy?: string;
  /** What was dropped while parsing the fields outside `info`. */
  readonly warnings: readonly string[];
}

/** The fields of a torrent outside `info`, as given to `buildTorrent`. */
export interface TorrentExtras {
  readonly announceList?: readonly (readonly string[])[];
  readonly urlList?: readonly string[];
  readonly creationDate?: number;
  readonly comment?: string;
  readonly createdBy?: string;
}

export interface ParseOptions {
  /**
   * Bencode strictness. Default false: real torrents have unsorted keys, and the info-hash is of
   * the raw bytes anyway. Everything else stays strict.
   */
  readonly strict?: boolean;
  /** Limits for the bencode decoder (depth, tokens, size). */
  readonly limits?: Omit<DecodeOptions, 'strict'>;
  /** Limits on file paths (depth, total components, total bytes); defaults in `PATH_LIMITS`. */
  readonly pathLimits?: PathLimits;
  /**
   * Largest piece length: more fails with METAINFO_PIECE_TOO_LARGE. Default `MAX_PIECE_LENGTH`
   * (1 GiB); `get` and the proxy pass `MAX_FETCH_PIECE_LENGTH` (64 MiB).
   */
  readonly maxPieceLength?: number;
}

export function parseTorrent(bytes: Uint8Array, opts: ParseOptions = {}): Metainfo {
  const doc = decodeDocument(bytes, { ...opts.limits, strict: opts.strict ?? false });
  if (!isDict(doc.value)) throw new MetainfoError('METAINFO_NOT_A_DICT');
  const root = doc.value;
  const infoValue = root.get('info');
  if (infoValue === undefined) throw new MetainfoError('METAINFO_MISSING_FIELD', { detail: 'info' });
  const infoDict = asDict(infoValue, 'info');
  const infoBytes = doc.rawBytesOf(infoDict)!;
  const info = parseInfo(infoDict, opts.pathLimits, opts.maxPieceLength);
  const warnings: string[] = [];
  return {
    ...info,
    infoHash: infoHashOf(infoBytes),
    infoBytes,
    ...parseExtras(root, warnings),
    warnings,
  };
}

/** A `Metainfo` from the raw info dict bytes alone (BEP 9 metadata, the JSON form) plus extras. */
export function metainfoFromInfoBytes(infoBytes: Uint8Array, extras: TorrentExtras = {}, opts: ParseOptions = {}): Metainfo {
  const doc = decodeDocument(infoBytes, { ...opts.limits, strict: opts.strict ?? false });
  const info = parseInfo(asDict(doc.value, 'info'), opts.pathLimits, opts.maxPieceLength);
  return {
    ...info,
    infoHash: infoHashOf(infoBytes),
    infoBytes,
    announceList: (extras.announceList ?? []).map((t) => [...t]).filter((t) => t.length > 0),
    urlList: [...(extras.urlList ?? [])],
    ...optional(extras),
    warnings: [],
  };
}

/** Bencodes a `.torrent`: the info dict is written from its raw bytes, never re-encoded. */
export function encodeTorrent(infoBytes: Uint8Array, extras: TorrentExtras = {}): Uint8Array {
  const root: Record<string, Encodable | undefined> = { info: new BencodeRaw(infoBytes) };
  const tiers = (extras.announceList ?? []).filter((t) => t.length > 0);
  if (tiers.length > 0) {
    root['announce'] = tiers[0]![0]!;
    // BEP 12: announce-list only when there is more than one tracker.
    if (tiers.length > 1 || tiers[0]!.length > 1) root['announce-list'] = tiers.map((t) => [...t]);
  }
  if (extras.urlList !== undefined && extras.urlList.length > 0) {
    root['url-list'] = extras.urlList.length === 1 ? extras.urlList[0]! : [...extras.urlList];
  }
  if (extras.comment !== undefined) root['comment'] = extras.comment;
  if (extras.createdBy !== undefined) root['created by'] = extras.createdBy;
  if (extras.creationDate !== undefined) root['creation date'] = extras.creationDate;
  return encode(root);
}

function optional(extras: TorrentExtras): Pick<Metainfo, 'creationDate' | 'comment' | 'createdBy'> {
  const out: { creationDate?: number; comment?: string; createdBy?: string } = {};
  if (extras.creationDate !== undefined) out.creationDate = extras.creationDate;
  if (extras.comment !== undefined) out.comment = extras.comment;
  if (extras.createdBy !== undefined) out.createdBy = extras.createdBy;
  return out;
}

const TRACKER_SCHEMES = new Set(['http:', 'https:', 'udp:', 'ws:', 'wss:']);
const WEBSEED_SCHEMES = new Set(['http:', 'https:']);

export function isTrackerUrl(url: string): boolean {
  return hasScheme(url, TRACKER_SCHEMES);
}

export function isWebSeedUrl(url: string): boolean {
  return hasScheme(url, WEBSEED_SCHEMES);
}

function hasScheme(url: string, schemes: ReadonlySet<string>): boolean {
  try {
    return schemes.has(new URL(url).protocol);
  } catch {
    return false;
  }
}

function parseExtras(root: BencodeDict, warnings: string[]): Omit<TorrentExtras, 'announceList' | 'urlList'> & {
  announceList: string[][];
  urlList: string[];
} {
  const soft = <T>(key: string, read: () => T): T | undefined => {
    if (!root.has(key)) return undefined;
    try {
      return read();
    } catch (err) {
      warnings.push(err instanceof MetainfoError ? err.message : `${key}: unreadable`);
      return undefined;
    }
  };
  const url = (b: Uint8Array, where: string, ok: (u: string) => boolean): string | undefined => {
    const u = text(b).trim();
    if (ok(u)) return u;
    warnings.push(`${where}: ignored URL ${JSON.stringify(u)}`);
    return undefined;
  };

  const announce = soft('announce', () => url(asBytes(root.get('announce')!, 'announce'), 'announce', isTrackerUrl));
  let announceList =
    soft('announce-list', () =>
      asList(root.get('announce-list')!, 'announce-list').map((tier, i) =>
        asList(tier, `announce-list[${i}]`)
          .map((u, j) => url(asBytes(u, `announce-list[${i}][${j}]`), 'announce-list', isTrackerUrl))
          .filter((u): u is string => u !== undefined),
      ),
    )?.filter((t) => t.length > 0) ?? [];
  // BEP 12: a client that supports announce-list ignores announce when the list is present.
  if (announceList.length === 0 && announce !== undefined) announceList = [[announce]];

  const urlList =
    soft('url-list', () => {
      const v = root.get('url-list')!;
      // BEP 19: a single string or a list of strings; empty strings are common and meaningless.
      const items = v instanceof Uint8Array ? [v] : asList(v, 'url-list').map((u, i) => asBytes(u, `url-list[${i}]`));
      return items
        .filter((b) => b.length > 0)
        .map((b) => url(b, 'url-list', isWebSeedUrl))
        .filter((u): u is string => u !== undefined);
    }) ?? [];

  const out: { announceList: string[][]; urlList: string[]; creationDate?: number; comment?: string; createdBy?: string } = {
    announceList,
    urlList,
  };
  const date = soft('creation date', () => asInt(root.get('creation date')!, 'creation date'));
  if (date !== undefined) out.creationDate = date;
  const comment = soft('comment', () => text(asBytes(root.get('comment.utf-8') ?? root.get('comment')!, 'comment')));
  if (comment !== undefined) out.comment = comment;
  const createdBy = soft('created by', () => text(asBytes(root.get('created by')!, 'created by')));
  if (createdBy !== undefined) out.createdBy = createdBy;
  return out;
}


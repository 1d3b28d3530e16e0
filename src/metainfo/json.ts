import { decode, encode, type BencodeDict, type BencodeValue } from '../bencode/index.js';
import { fromBase64, toBase64 } from './base64.js';
import { MetainfoError } from './errors.js';
import { strictText } from './fields.js';
import { infoHashFromHex } from './info-hash.js';
import { metainfoFromInfoBytes, type Metainfo, type TorrentExtras } from './torrent.js';
import { MAX_METAINFO_BYTES } from './media-type.js';

/**
 * The JSON form of metainfo (TorrentTTP metainfo document, version 1). Normative text:
 * docs/metainfo-json.md. In short:
 *
 * - `info` is a faithful view of the bencoded info dict, key for key, so JSON → bencode gives
 *   back the same bytes and the same info-hash. Mapping: integers → JSON numbers (outside
 *   ±(2^53−1): `{"$int": "<decimal>"}`); byte strings → JSON strings when they are valid UTF-8,
 *   else `{"$bytes": "<base64>"}`; `info.pieces` is always a base64 string; lists → arrays;
 *   dicts → objects. A dict key that is not UTF-8 is written `"$bytes:<base64>"`, and a real
 *   key starting with `$` gets one more `$`, so a one-key object `$int`/`$bytes` is never a dict.
 * - Fields outside `info` use friendly names (`announceList`, `urlList`, …): they are not hashed.
 * - `infoHash` is checked on the way in: a document whose info does not hash to it is rejected.
 */
export const METAINFO_JSON_VERSION = 1;
export { METAINFO_JSON_MEDIA_TYPE } from './media-type.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface MetainfoJson {
  readonly version: 1;
  readonly infoHash: string;
  readonly info: { readonly [key: string]: JsonValue };
  readonly announceList?: string[][];
  readonly urlList?: string[];
  readonly creationDate?: number;
  readonly comment?: string;
  readonly createdBy?: string;
}

export interface JsonLimits {
  /** Largest document in characters. Default 96 MiB: the base64 of the largest bencode input we accept. */
  readonly maxChars?: number;
  /** Deepest nesting inside `info`. Default 100, as for bencode. */
  readonly maxDepth?: number;
  /** Largest piece length (`ParseOptions.maxPieceLength`). */
  readonly maxPieceLength?: number;
}

const MAX_CHARS = MAX_METAINFO_BYTES;
const MAX_DEPTH = 100;

export function toMetainfoJson(m: Metainfo): MetainfoJson {
  let info: BencodeValue;
  try {
    // Strict bencode is canonical bencode: only then can JSON (unordered keys) carry it losslessly.
    info = decode(m.infoBytes, { strict: true });
  } catch (cause) {
    throw new MetainfoError('METAINFO_NOT_CANONICAL', { cause });
  }
  const doc: { -readonly [K in keyof MetainfoJson]: MetainfoJson[K] } = {
    version: METAINFO_JSON_VERSION,
    infoHash: m.infoHash,
    info: dictToJson(info as BencodeDict, true) as { [key: string]: JsonValue },
  };
  if (m.announceList.length > 0) doc.announceList = m.announceList.map((t) => [...t]);
  if (m.urlList.length > 0) doc.urlList = [...m.urlList];
  if (m.creationDate !== undefined) doc.creationDate = m.creationDate;
  if (m.comment !== undefined) doc.comment = m.comment;
  if (m.createdBy !== undefined) doc.createdBy = m.createdBy;
  return doc;
}

/** Parses and checks a JSON metainfo document given as text. */
export function parseMetainfoJson(textDoc: string, limits: JsonLimits = {}): Metainfo {
  const max = limits.maxChars ?? MAX_CHARS;
  if (textDoc.length > max) throw new MetainfoError('METAINFO_BAD_JSON', { detail: `document is larger than ${max} characters` });
  let doc: unknown;
  try {
    doc = JSON.parse(textDoc);
  } catch (cause) {
    throw new MetainfoError('METAINFO_BAD_JSON', { detail: 'not JSON', cause });
  }
  return fromMetainfoJson(doc, limits);
}

/** Builds a `Metainfo` from a parsed JSON document; the info-hash must match. */
export function fromMetainfoJson(doc: unknown, limits: JsonLimits = {}): Metainfo {
  if (!isObject(doc)) throw badJson('the document must be an object');
  if (doc['version'] !== METAINFO_JSON_VERSION) {
    throw new MetainfoError('METAINFO_UNSUPPORTED_VERSION', { detail: `version ${JSON.stringify(doc['version'])}, expected ${METAINFO_JSON_VERSION}` });
  }
  if (typeof doc['infoHash'] !== 'string') throw badJson('infoHash must be a string');
  const claimed = infoHashFromHex(doc['infoHash']);
  const infoJson = doc['info'];
  if (!isObject(infoJson)) throw badJson('info must be an object');
  const infoDict = jsonToDict(infoJson, 'info', limits.maxDepth ?? MAX_DEPTH, 0, true);
  const infoBytes = encode(infoDict);

  const extras: { -readonly [K in keyof TorrentExtras]: TorrentExtras[K] } = {};
  const al = doc['announceList'];
  if (al !== undefined) {
    if (!Array.isArray(al) || !al.every((t) => Array.isArray(t) && t.every((u) => typeof u === 'string'))) {
      throw badJson('announceList must be an array of arrays of strings');
    }
    extras.announceList = al as string[][];
  }
  const ul = doc['urlList'];
  if (ul !== undefined) {
    if (!Array.isArray(ul) || !ul.every((u) => typeof u === 'string')) throw badJson('urlList must be an array of strings');
    extras.urlList = ul as string[];
  }
  const date = doc['creationDate'];
  if (date !== undefined) {
    if (!Number.isSafeInteger(date)) throw badJson('creationDate must be an integer');
    extras.creationDate = date as number;
  }
  for (const key of ['comment', 'createdBy'] as const) {
    const v = doc[key];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw badJson(`${key} must be a string`);
    extras[key] = v;
  }

  const m = metainfoFromInfoBytes(infoBytes, extras, { strict: true, ...(limits.maxPieceLength === undefined ? {} : { maxPieceLength: limits.maxPieceLength }) });
  if (m.infoHash !== claimed) {
    throw badJson(`info hashes to ${m.infoHash}, not the infoHash ${claimed} the document claims`);
  }
  return m;
}

function badJson(detail: string): MetainfoError {
  return new MetainfoError('METAINFO_BAD_JSON', { detail });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ── bencode → JSON ──────────────────────────────────────────────────────────────────────────

function toJson(v: BencodeValue): JsonValue {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return { $int: v.toString() };
  if (v instanceof Uint8Array) {
    const s = strictText(v);
    return s !== undefined ? s : { $bytes: toBase64(v) };
  }
  if (Array.isArray(v)) return v.map(toJson);
  return dictToJson(v, false);
}

function dictToJson(d: BencodeDict, isInfo: boolean): JsonValue {
  const out: { [key: string]: JsonValue } = {};
  for (const [k, v] of d) {
    out[keyToJson(k)] = isInfo && k === 'pieces' && v instanceof Uint8Array ? toBase64(v) : toJson(v);
  }
  return out;
}

function keyToJson(binaryKey: string): string {
  const bytes = Uint8Array.from(binaryKey, (c) => c.charCodeAt(0));
  const s = strictText(bytes);
  if (s === undefined) return `$bytes:${toBase64(bytes)}`;
  return s.startsWith('$') ? `$${s}` : s;
}

// ── JSON → bencode ──────────────────────────────────────────────────────────────────────────

const utf8 = new TextEncoder();

function fromJson(v: unknown, where: string, maxDepth: number, depth: number): BencodeValue {
  if (depth > maxDepth) throw badJson(`${where}: nested deeper than ${maxDepth}`);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw badJson(`${where}: ${v} is not a safe integer (use {"$int": "…"})`);
    return v;
  }
  if (typeof v === 'string') return utf8.encode(v);
  if (Array.isArray(v)) return v.map((item, i) => fromJson(item, `${where}[${i}]`, maxDepth, depth + 1));
  if (isObject(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$int') {
      const s = v['$int'];
      if (typeof s !== 'string' || !/^-?(0|[1-9][0-9]{0,255})$/.test(s) || s === '-0') throw badJson(`${where}: bad $int`);
      const n = BigInt(s);
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
    if (keys.length === 1 && keys[0] === '$bytes') return bytesFrom(v['$bytes'], where);
    return jsonToDict(v, where, maxDepth, depth, false);
  }
  throw badJson(`${where}: ${v === null ? 'null' : typeof v} has no bencode form`);
}

function jsonToDict(o: Record<string, unknown>, where: string, maxDepth: number, depth: number, isInfo: boolean): BencodeDict {
  const out: BencodeDict = new Map();
  for (const [jk, v] of Object.entries(o)) {
    const key = keyFromJson(jk, where);
    if (out.has(key)) throw badJson(`${where}: key ${JSON.stringify(jk)} appears twice`);
    const child = `${where}.${jk}`;
    out.set(key, isInfo && key === 'pieces' ? bytesFrom(v, child) : fromJson(v, child, maxDepth, depth + 1));
  }
  return out;
}

function keyFromJson(jk: string, where: string): string {
  let bytes: Uint8Array;
  if (jk.startsWith('$bytes:')) bytes = bytesFrom(jk.slice(7), `${where} key`);
  else if (jk.startsWith('$$')) bytes = utf8.encode(jk.slice(1));
  else if (jk.startsWith('$')) throw badJson(`${where}: key ${JSON.stringify(jk)} must be escaped as "$${jk}"`);
  else bytes = utf8.encode(jk);
  let key = '';
  for (const b of bytes) key += String.fromCharCode(b);
  return key;
}

function bytesFrom(v: unknown, where: string): Uint8Array {
  const bytes = typeof v === 'string' ? fromBase64(v) : undefined;
  if (bytes === undefined) throw badJson(`${where}: expected strict base64`);
  return bytes;
}

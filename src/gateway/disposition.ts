/**
 * `get -J` (curl's `--remote-header-name`): the file name a `Content-Disposition` field gives
 * (RFC 6266), made safe to create in the output folder. `filename*` (RFC 8187, UTF-8 or
 * ISO-8859-1, percent-encoded) before `filename` (quoted or a token). Only the last segment is
 * kept (`../../x`, `C:\x\y` → `x`, `y`, as curl keeps what follows the last slash), leading dots
 * and spaces are dropped (`.bashrc` → `bashrc`: never a hidden file the user did not ask for), and a name with
 * a control character (C0, C1, line separators, bidi overrides: `invoice` U+202E `fdp.exe` reads
 * as `invoiceexe.pdf`), or nothing left, is none (undefined: the URL's name is used).
 */
import { escapeControls } from '../errors/index.js';
import { NAME_MAX_BYTES } from '../storage/folders.js';

export function dispositionName(field: string | string[] | undefined): string | undefined {
  const value = Array.isArray(field) ? field[0] : field;
  if (value === undefined) return undefined;
  const params = new Map<string, string>();
  // `; name=value` with a quoted or a token value; a quoted one may hold `;` and `\"`.
  for (const m of value.matchAll(/;\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g)) {
    const name = m[1]!.toLowerCase();
    if (!params.has(name)) params.set(name, m[2] === undefined ? m[3]! : m[2].replace(/\\(.)/g, '$1'));
  }
  const extended = params.get('filename*');
  const name = (extended === undefined ? undefined : decodeExtended(extended)) ?? params.get('filename');
  if (name === undefined) return undefined;
  // Leading dots and spaces both go: ' ..' is no name, ' . .bashrc' no hidden file.
  const last = name.split(/[/\\]/).pop()!.replace(/^[\s.]+/, '').trim();
  // Any control `escapeControls` shows (C0, DEL, C1, line separators, bidi overrides): a name that reads as another is none.
  if (last === '' || escapeControls(last) !== last || Buffer.byteLength(last) > NAME_MAX_BYTES) return undefined;
  return last;
}

/** RFC 8187 `charset'lang'pct-encoded`: UTF-8 or ISO-8859-1; anything else or malformed is undefined. */
function decodeExtended(v: string): string | undefined {
  const m = /^(utf-8|iso-8859-1)'[^']*'(.*)$/i.exec(v);
  if (m === null) return undefined;
  try {
    if (m[1]!.toLowerCase() === 'utf-8') return decodeURIComponent(m[2]!);
    return m[2]!.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  } catch {
    return undefined;
  }
}

/**
 * The `Content-Disposition` of a file served for download as `name` (RFC 6266): `attachment`, an
 * ASCII `filename` (other characters, `"`, `\` and `%` as `_`) for old clients, and `filename*`
 * (RFC 8187, UTF-8) with the exact name, which curl `-OJ`, wget `--content-disposition`, aria2 and
 * browsers prefer. `dispositionName` reads back `name`.
 */
export function dispositionField(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/gu, '_');
  // RFC 8187 attr-char: ALPHA DIGIT ! # $ & + - . ^ _ ` | ~; encodeURIComponent also leaves ' ( ) *.
  const extended = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${extended}`;
}

import { keyFromBytes } from '../../bencode/index.js';
import { fromHex } from '../../metainfo/index.js';
import { TrackerError } from '../errors.js';

/**
 * Info-hash lists (allow/deny files): one 40-hex info-hash per line, the format opentracker's
 * whitelist uses. Blank lines and `#` comments are skipped. Returns binary-string keys, the form
 * the stores use, so a lookup per announce costs no hex conversion.
 */
export function parseInfoHashList(text: string, source = 'list'): Set<string> {
  const out = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*/, '').trim();
    if (line === '') continue;
    const bytes = line.length === 40 ? fromHex(line) : undefined;
    if (bytes === undefined) throw new TrackerError('TRACKER_ACCESS_LIST_BAD', { detail: `${source} line ${i + 1}` });
    out.add(keyFromBytes(bytes));
  }
  return out;
}

/** Keys for hashes given as bytes or hex. */
export function infoHashKeys(hashes: Iterable<Uint8Array | string>): Set<string> {
  const out = new Set<string>();
  for (const h of hashes) {
    const bytes = typeof h === 'string' ? fromHex(h) : h;
    if (bytes === undefined || bytes.length !== 20) throw new TrackerError('TRACKER_ACCESS_LIST_BAD', { detail: 'not a 20-byte info-hash' });
    out.add(keyFromBytes(bytes));
  }
  return out;
}

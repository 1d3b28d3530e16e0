/**
 * Proactive negotiation on `Accept` (RFC 9110 §12.5.1), pure. Each offered media type gets the
 * quality of the most specific media range that matches it (`type/subtype` over `type/*` over
 * `*\/*`); a type no range matches gets 0. No `Accept` means `*\/*` (§12.5.1: "no preference").
 * Parameters other than `q` are ignored: no client we serve varies on them.
 */

/** Entries parsed from one header at most; the rest are ignored. Real browsers send under 10. */
const MAX_ENTRIES = 64;
/** A header longer than this is treated as `*\/*` (Node already caps all headers at 16 KiB). */
const MAX_ACCEPT_CHARS = 4096;

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
}

export function parseAccept(header: string | undefined): MediaRange[] {
  if (header === undefined || header.trim() === '' || header.length > MAX_ACCEPT_CHARS) return [{ type: '*', subtype: '*', q: 1 }];
  const out: MediaRange[] = [];
  for (const part of header.split(',', MAX_ENTRIES)) {
    const [range, ...params] = part.split(';');
    const slash = range!.indexOf('/');
    if (slash <= 0) continue;
    const type = range!.slice(0, slash).trim().toLowerCase();
    const subtype = range!.slice(slash + 1).trim().toLowerCase();
    if (type === '' || subtype === '' || (type === '*' && subtype !== '*')) continue;
    let q = 1;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'q') continue;
      const v = p.slice(eq + 1).trim();
      // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); anything else drops the entry.
      q = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(v) ? Number(v) : Number.NaN;
      break;
    }
    if (Number.isNaN(q)) continue;
    out.push({ type, subtype, q });
  }
  return out;
}

/** The quality `ranges` give `mediaType` (`type/subtype`, lower case). */
export function qualityOf(ranges: readonly MediaRange[], mediaType: string): number {
  const slash = mediaType.indexOf('/');
  const type = mediaType.slice(0, slash);
  const subtype = mediaType.slice(slash + 1);
  let best = -1;
  let q = 0;
  for (const r of ranges) {
    const specificity = r.type === type && r.subtype === subtype ? 2 : r.type === type && r.subtype === '*' ? 1 : r.type === '*' ? 0 : -1;
    if (specificity > best) {
      best = specificity;
      q = r.q;
    }
  }
  return q;
}

/**
 * The offer the client prefers: the highest quality, ties going to the earlier offer. Put the
 * plain representation first, so a client that did not ask for metainfo in particular (`*\/*`,
 * a browser's list) gets the bytes. Returns the first offer when every quality is 0: answering
 * 406 to a browser that asks for a .iso with `text/html` helps nobody (nginx ignores Accept).
 */
export function preferredOffer<T extends string>(header: string | undefined, offers: readonly [T, ...T[]]): T {
  const ranges = parseAccept(header);
  let chosen = offers[0];
  let bestQ = qualityOf(ranges, offers[0].toLowerCase());
  for (let i = 1; i < offers.length; i++) {
    const q = qualityOf(ranges, offers[i]!.toLowerCase());
    if (q > bestQ) {
      bestQ = q;
      chosen = offers[i]!;
    }
  }
  return chosen;
}

/**
 * `Range: bytes=…` (RFC 9110 §14.1.2, §14.2), pure. Only one range is ever served: a request for
 * several gets the whole file with 200, which §14.2 allows ("a server MAY ignore the Range header
 * field") and WebTorrent's server does too (nginx sends multipart/byteranges for disjoint ranges,
 * 200 for overlapping ones); a multipart/byteranges body buys a client nothing a second request
 * would not, and several overlapping ranges are a known amplification attack (CVE-2011-3192,
 * Apache's "Range header DoS").
 */
export type RangeDecision =
  /** Serve the whole representation (no Range, an unusable one, or several ranges). */
  | { readonly type: 'whole' }
  /** Serve bytes `[start, end]`, both inclusive, with 206. */
  | { readonly type: 'partial'; readonly start: number; readonly end: number }
  /** 416 with `Content-Range: bytes *\/size`. */
  | { readonly type: 'unsatisfiable' };

/** Header longer than this is ignored, not parsed (nginx caps the whole header at 8 KiB). */
const MAX_RANGE_HEADER = 1024;

const SPEC = /^(\d*)-(\d*)$/;

export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined || header.length > MAX_RANGE_HEADER) return { type: 'whole' };
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return { type: 'whole' }; // unknown unit: ignore (§14.2)
  const specs = header.slice(eq + 1).split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (specs.length === 0) return { type: 'whole' };
  let satisfiable: { start: number; end: number } | undefined;
  let count = 0;
  for (const spec of specs) {
    const m = SPEC.exec(spec);
    if (m === null || (m[1] === '' && m[2] === '')) return { type: 'whole' }; // malformed: ignore the field
    // Digits past 2^53 are still a valid range-spec (RFC 9110 §14.1.1 sets no bound): as numbers
    // they stay past any file's size, so a first-pos that large is unsatisfiable, a last-pos is
    // the file's end and a suffix is the whole file, as the RFC reads (nginx: 416 for all three).
    const first = m[1] === '' ? undefined : Number(m[1]);
    const last = m[2] === '' ? undefined : Number(m[2]);
    let start: number;
    let end: number;
    if (first === undefined) {
      // Suffix range: the last `last` bytes; `-0` selects nothing (§14.1.3).
      if (last === 0) continue;
      start = Math.max(0, size - last!);
      end = size - 1;
    } else {
      if (last !== undefined && last < first) return { type: 'whole' }; // invalid range-spec: ignore
      if (first >= size) continue;
      start = first;
      end = last === undefined ? size - 1 : Math.min(last, size - 1);
    }
    if (size === 0) continue;
    count++;
    satisfiable ??= { start, end };
  }
  if (count === 0) return { type: 'unsatisfiable' };
  if (count > 1) return { type: 'whole' };
  return { type: 'partial', start: satisfiable!.start, end: satisfiable!.end };
}

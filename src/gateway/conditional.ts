/**
 * Conditional requests (RFC 9110 §13), pure: the evaluation order of §13.2.2 for a GET or HEAD
 * of a representation whose validators are a strong `ETag` and, if it has one, `Last-Modified`.
 */
export interface Validators {
  /** Strong entity tag with its quotes: `"…"`. */
  readonly etag: string;
  /**
   * Last-Modified in whole seconds since the epoch (HTTP dates have no finer grain). Undefined or
   * NaN: the representation has no modification date, so `If-Modified-Since` and
   * `If-Unmodified-Since` are ignored (§13.1.3, §13.1.4) and an `If-Range` date never holds.
   */
  readonly lastModifiedSec?: number | undefined;
}

export interface ConditionalHeaders {
  readonly ifMatch?: string | undefined;
  readonly ifNoneMatch?: string | undefined;
  readonly ifModifiedSince?: string | undefined;
  readonly ifUnmodifiedSince?: string | undefined;
}

/** Tags in an `If-Match`/`If-None-Match` list, or '*'. Tags keep their `W/` prefix. */
function tagsOf(header: string): '*' | string[] {
  if (header.trim() === '*') return '*';
  return header.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

function httpDateSec(header: string | undefined): number | undefined {
  if (header === undefined || header.length > 64) return undefined;
  const ms = Date.parse(header);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** 'send' the representation, answer 304, or answer 412. */
export function evaluateConditionals(h: ConditionalHeaders, v: Validators): 'send' | 304 | 412 {
  // §13.2.2 step 1-2: If-Match (strong comparison), else If-Unmodified-Since.
  if (h.ifMatch !== undefined) {
    const tags = tagsOf(h.ifMatch);
    if (tags !== '*' && !tags.includes(v.etag)) return 412;
  } else {
    const ius = httpDateSec(h.ifUnmodifiedSince);
    if (ius !== undefined && v.lastModifiedSec !== undefined && v.lastModifiedSec > ius) return 412;
  }
  // Step 3-4: If-None-Match (weak comparison), else If-Modified-Since.
  if (h.ifNoneMatch !== undefined) {
    const tags = tagsOf(h.ifNoneMatch);
    if (tags === '*' || tags.some((t) => (t.startsWith('W/') ? t.slice(2) : t) === v.etag)) return 304;
  } else {
    const ims = httpDateSec(h.ifModifiedSince);
    if (ims !== undefined && v.lastModifiedSec !== undefined && v.lastModifiedSec <= ims) return 304;
  }
  return 'send';
}

/**
 * Whether a `Range` may be honoured given `If-Range` (§13.1.5): with no `If-Range`, yes; with an
 * entity tag, only if it strongly matches; with a date, only if it equals Last-Modified.
 * When false the whole representation is sent with 200.
 */
export function ifRangeHolds(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true;
  const t = ifRange.trim();
  if (t.startsWith('"') || t.startsWith('W/')) return t === v.etag;
  const date = httpDateSec(t);
  return date !== undefined && date === v.lastModifiedSec;
}

/** The four conditional fields of a request's headers. */
export function conditionalHeaders(h: { readonly [name: string]: string | string[] | undefined }): ConditionalHeaders {
  const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(', ') : v);
  return {
    ifMatch: one(h['if-match']),
    ifNoneMatch: one(h['if-none-match']),
    ifModifiedSince: one(h['if-modified-since']),
    ifUnmodifiedSince: one(h['if-unmodified-since']),
  };
}

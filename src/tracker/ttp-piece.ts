import { clip, quoted } from '../errors/index.js';
import { toHex } from '../metainfo/index.js';
import { TtpError } from './errors.js';
import { readContentRange, retryAfterDelay } from './undici.js';

/**
 * Piece requests of TorrentTTP v1 (docs/torrenttp.md §6), pure: the HTTP form of BEP 3's
 * `request`/`piece`. `GET …/pieces/{index}` is the whole piece; a `Range` header asks for one run
 * of bytes inside it (a block or several).
 *
 * Server rules (`parsePieceRange`):
 * - One range only: `bytes=first-last`, `bytes=first-` or `bytes=-suffix`. Several ranges, a bad
 *   number or `last < first` are `TTP_BAD_RANGE` (400): RFC 9110 §14.2 lets a server reject an
 *   invalid Range, and a multipart/byteranges body would buy a peer nothing.
 * - Another unit than `bytes` is ignored (whole piece), as RFC 9110 §14.2 requires.
 * - `If-Range` that is not the piece's own strong ETag (pieces have no dates) means whole piece,
 *   and the Range is then not read at all: RFC 9110 §13.1.5 says it MUST be ignored, so even a
 *   malformed or oversized one gets 200, never 400.
 * - A range starting at or past the piece's end is `TTP_RANGE_NOT_SATISFIABLE` (416); `last`
 *   past the end is clamped (§14.1.2). More than `maxRequestBytes` is `TTP_RANGE_TOO_LARGE`.
 *
 * Client rules (`checkPieceResponse`): a 206 must carry exactly the range asked for, of a piece of
 * the length the metainfo gives; a 200 must be the whole piece. Bodies are then cut into blocks
 * as they arrive with `PieceBlocks`, which refuses a byte too many or too few.
 */

export const PIECE_MEDIA_TYPE = 'application/octet-stream';

/**
 * Most bytes one request may ask for (a whole piece or a range): 16 MiB, libtorrent's
 * `urlseed_max_request_bytes`, and `torrenttp create`'s largest automatic piece length.
 */
export const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

/** Longest Range header read; a real one is under 40 characters. */
const MAX_RANGE_HEADER = 256;

/** `Cache-Control` of every piece answer (200, 206, and 304): it never changes (§8). */
export const PIECE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/** A run of bytes inside one piece. */
export interface ByteSpan {
  readonly begin: number;
  readonly length: number;
}

export type PieceRangeDecision = { readonly type: 'whole' } | ({ readonly type: 'partial' } & ByteSpan);

export interface PieceRangeOptions {
  /** The request's `If-Range`, if any. */
  readonly ifRange?: string | undefined;
  /** The piece's ETag (`pieceEtag`), against which `If-Range` is compared. */
  readonly etag?: string;
  /** Default MAX_REQUEST_BYTES. */
  readonly maxRequestBytes?: number;
}

/** The strong ETag of a piece: its SHA-1 from the metainfo, `"sha1-<40 hex>"`. */
export function pieceEtag(sha1: Uint8Array): string {
  if (sha1.length !== 20) throw new TtpError('TTP_BAD_HAVE', { detail: 'a piece hash is 20 bytes' });
  return `"sha1-${toHex(sha1)}"`;
}

/** The `Range` header for `span` of a piece: `bytes=begin-last`. */
export function formatRange(span: ByteSpan): string {
  if (!Number.isSafeInteger(span.begin) || !Number.isSafeInteger(span.length) || span.begin < 0 || span.length < 1) {
    throw new TtpError('TTP_BAD_RANGE', { detail: `begin ${span.begin}, length ${span.length}` });
  }
  return `bytes=${span.begin}-${span.begin + span.length - 1}`;
}

const NUM = /^[0-9]{1,16}$/;

/** What a server answers to a piece GET of a piece `pieceBytes` long, given its `Range`. */
export function parsePieceRange(header: string | undefined, pieceBytes: number, opts: PieceRangeOptions = {}): PieceRangeDecision {
  const max = opts.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const tooLarge = (n: number): never => {
    throw new TtpError('TTP_RANGE_TOO_LARGE', { detail: `${n} bytes > ${max}` });
  };
  const whole = (): PieceRangeDecision => (pieceBytes > max ? tooLarge(pieceBytes) : { type: 'whole' });
  if (header === undefined) return whole();
  // RFC 9110 §13.1.5, §13.2.2 step 5: a Range with an If-Range that does not match MUST be
  // ignored, so it is not even read: however malformed, the answer is the whole piece.
  if (opts.ifRange !== undefined && opts.ifRange.trim() !== opts.etag) return whole();
  if (header.length > MAX_RANGE_HEADER) throw new TtpError('TTP_BAD_RANGE', { detail: `longer than ${MAX_RANGE_HEADER} characters` });
  const eq = header.indexOf('=');
  if (eq < 0) throw new TtpError('TTP_BAD_RANGE', { detail: 'no "="' });
  if (header.slice(0, eq).trim().toLowerCase() !== 'bytes') return whole();
  const spec = header.slice(eq + 1).trim();
  if (spec.includes(',')) throw new TtpError('TTP_BAD_RANGE', { detail: 'one range per request' });
  const dash = spec.indexOf('-');
  const a = dash < 0 ? '' : spec.slice(0, dash);
  const b = dash < 0 ? '' : spec.slice(dash + 1);
  if (dash < 0 || (a !== '' && !NUM.test(a)) || (b !== '' && !NUM.test(b)) || (a === '' && b === '')) {
    throw new TtpError('TTP_BAD_RANGE', { detail: quoted(spec, 40) });
  }
  let begin: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) throw new TtpError('TTP_RANGE_NOT_SATISFIABLE', { detail: 'bytes=-0 selects nothing' });
    begin = Math.max(0, pieceBytes - suffix);
    end = pieceBytes - 1;
  } else {
    begin = Number(a);
    const last = b === '' ? Number.POSITIVE_INFINITY : Number(b);
    if (last < begin) throw new TtpError('TTP_BAD_RANGE', { detail: 'last byte before first' });
    if (begin >= pieceBytes) throw new TtpError('TTP_RANGE_NOT_SATISFIABLE', { detail: `first byte ${clip(a, 16)} ≥ piece length ${pieceBytes}` });
    end = Math.min(last, pieceBytes - 1);
  }
  const length = end - begin + 1;
  if (length > max) tooLarge(length);
  return { type: 'partial', begin, length };
}

/** `Content-Range` of a 206: `bytes begin-last/pieceBytes`. */
export function formatContentRange(span: ByteSpan, pieceBytes: number): string {
  return `bytes ${span.begin}-${span.begin + span.length - 1}/${pieceBytes}`;
}

/** `Content-Range` of a 416: `bytes *\/pieceBytes`. */
export function formatUnsatisfiedRange(pieceBytes: number): string {
  return `bytes */${pieceBytes}`;
}

/** Reads `bytes first-last/complete` strictly; a `*` complete length is refused (a piece has one). */
export function parseContentRange(header: string): ByteSpan & { readonly completeLength: number } {
  const cr = readContentRange(header);
  if (cr === undefined || 'unsatisfied' in cr || cr.complete === undefined) throw new TtpError('TTP_BAD_CONTENT_RANGE', { detail: quoted(header, 60) });
  return { begin: cr.first, length: cr.last - cr.first + 1, completeLength: cr.complete };
}

export interface PieceResponseHead {
  readonly status: number;
  readonly contentRange?: string | undefined;
  /** `Content-Length`, when the response has one (HTTP/1.1 chunked and HTTP/2 may not). */
  readonly contentLength?: string | undefined;
}

export interface CheckedPieceResponse extends ByteSpan {
  /** A 200 with the whole piece answered a Range: usable, but count it against the peer (§6.4). */
  readonly rangeIgnored: boolean;
}

/**
 * Checks the head of a 200 or 206 answer to a piece GET that asked for `asked` (undefined: the
 * whole piece) of a piece `pieceBytes` long (from the metainfo), and returns the span the body
 * must hold. Any other status is the caller's to map (§6.5); here it is `TTP_BAD_CONTENT_RANGE`.
 */
export function checkPieceResponse(asked: ByteSpan | undefined, pieceBytes: number, head: PieceResponseHead): CheckedPieceResponse {
  let got: CheckedPieceResponse;
  if (head.status === 206) {
    if (head.contentRange === undefined) throw new TtpError('TTP_BAD_CONTENT_RANGE', { detail: '206 without Content-Range' });
    const cr = parseContentRange(head.contentRange);
    const want = asked ?? { begin: 0, length: pieceBytes };
    if (cr.completeLength !== pieceBytes || cr.begin !== want.begin || cr.length !== want.length) {
      throw new TtpError('TTP_BAD_CONTENT_RANGE', { detail: `${clip(head.contentRange, 60)} for ${formatContentRange(want, pieceBytes)}` });
    }
    got = { begin: cr.begin, length: cr.length, rangeIgnored: false };
  } else if (head.status === 200) {
    got = { begin: 0, length: pieceBytes, rangeIgnored: asked !== undefined && !(asked.begin === 0 && asked.length === pieceBytes) };
  } else {
    throw new TtpError('TTP_BAD_CONTENT_RANGE', { detail: `status ${head.status} has no piece body` });
  }
  if (head.contentLength !== undefined && (!/^[0-9]{1,16}$/.test(head.contentLength) || Number(head.contentLength) !== got.length)) {
    throw new TtpError('TTP_BAD_CONTENT_RANGE', { detail: `Content-Length ${clip(head.contentLength, 20)}, expected ${got.length}` });
  }
  return got;
}

/** What a client does with the status of a piece or have answer (§6.5, §7). */
export type PeerStatusClass =
  /** 200/206: read the body. */
  | 'body'
  /** 304: the have-set did not change. */
  | 'not-modified'
  /** 404: the peer does not hold it (or not this torrent): forget it, refresh the have-set. */
  | 'not-held'
  /** 429/503: the peer chokes us: retry after `Retry-After`. */
  | 'choked'
  /** Anything else, redirects included: count a failure against the peer. */
  | 'error';

export function classifyStatus(status: number): PeerStatusClass {
  if (status === 200 || status === 206) return 'body';
  if (status === 304) return 'not-modified';
  if (status === 404) return 'not-held';
  if (status === 429 || status === 503) return 'choked';
  return 'error';
}

/** Default wait after a 429/503 without a usable `Retry-After` (BEP 17's 30 s is too long between peers). */
export const DEFAULT_RETRY_AFTER_MS = 5000;
/** Longest wait honoured: a peer cannot park us for an hour. */
export const MAX_RETRY_AFTER_MS = 300_000;

/**
 * `Retry-After` (RFC 9110 §10.2.3), delay-seconds or an HTTP-date, in ms from `nowMs`, clamped
 * to [0, MAX_RETRY_AFTER_MS]; DEFAULT_RETRY_AFTER_MS when absent or unreadable (undici.ts's
 * `retryAfterDelay`, the one parser of the header).
 */
export function retryAfterMs(header: string | undefined, nowMs: number): number {
  return retryAfterDelay(header, DEFAULT_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS, nowMs);
}

/**
 * The body of a piece answer (exactly the expected length) cut, as it arrives, into the spans the
 * client asked for: each span goes to `onSpan` as soon as its last byte came, a view of the
 * chunk when one chunk holds it whole, else gathered in the caller's scratch buffer. Nothing of
 * a chunk is kept once `push` returns (the producer may reuse it: a socket's read buffer), and no
 * buffer as long as the body is needed. A byte too many is `TTP_BODY_TOO_LONG` at once, before
 * any span of that chunk is given (abort the request); `complete` before the last byte is
 * `TTP_BODY_TOO_SHORT` (the spans not given yet are the caller's to ask again). Bytes outside
 * the spans (a 200 with the whole piece to a Range, §6.4) are skipped. The bytes are still
 * unverified: the caller hashes the piece before keeping any of it.
 *
 * A span's bytes are valid until the next `push`: the scratch has two halves, a span gathered
 * in one while the last one gathered, given in the same `push`, stays in the other.
 */
export class PieceBlocks {
  private filled = 0;
  /** The span the next bytes go to. */
  private next = 0;
  /** Bytes of span `next` gathered so far (0: none, it may come whole in one chunk). */
  private gathered = 0;
  private half = 0;
  private readonly halfBytes: number;

  /**
   * `spans`: in order, not overlapping, each inside the body, whose first byte is byte `offset`
   * of the piece (spans are in the piece's offsets). `scratch`: at least twice the longest span.
   */
  constructor(
    readonly length: number,
    private readonly offset: number,
    private readonly spans: readonly ByteSpan[],
    private readonly scratch: Uint8Array,
  ) {
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_REQUEST_BYTES) throw new TtpError('TTP_RANGE_TOO_LARGE', { detail: String(length) });
    let at = offset;
    let longest = 0;
    for (const s of spans) {
      if (!(s.length > 0 && s.begin >= at && s.begin + s.length <= offset + length)) throw new RangeError(`span ${s.begin}+${s.length} is not in order inside bytes ${offset}+${length}`);
      at = s.begin + s.length;
      longest = Math.max(longest, s.length);
    }
    if (scratch.length < 2 * longest) throw new RangeError(`a scratch of ${scratch.length} bytes cannot gather two spans of ${longest}`);
    this.halfBytes = longest;
  }

  get received(): number {
    return this.filled;
  }

  /** Spans given so far (span `given` is the next). */
  get given(): number {
    return this.next;
  }

  push(chunk: Uint8Array, onSpan: (i: number, bytes: Uint8Array) => void): void {
    const start = this.filled;
    const end = start + chunk.length;
    if (end > this.length) throw new TtpError('TTP_BODY_TOO_LONG', { detail: `more than ${this.length} bytes`, offset: this.length });
    this.filled = end;
    while (this.next < this.spans.length) {
      const s = this.spans[this.next]!;
      const b = s.begin - this.offset;
      const e = b + s.length;
      if (b >= end) return;
      const from = Math.max(b, start);
      const to = Math.min(e, end);
      if (this.gathered === 0 && from === b && to === e) {
        onSpan(this.next++, chunk.subarray(b - start, e - start));
        continue;
      }
      if (this.gathered === 0) this.half ^= 1; // the other half may hold the span given last
      const base = this.half * this.halfBytes;
      this.scratch.set(chunk.subarray(from - start, to - start), base + from - b);
      this.gathered += to - from;
      if (to < e) return;
      this.gathered = 0;
      onSpan(this.next++, this.scratch.subarray(base, base + s.length));
    }
  }

  /** Throws `TTP_BODY_TOO_SHORT` unless every byte came. */
  complete(): void {
    if (this.filled !== this.length) throw new TtpError('TTP_BODY_TOO_SHORT', { detail: `${this.filled} of ${this.length} bytes`, offset: this.filled });
  }
}

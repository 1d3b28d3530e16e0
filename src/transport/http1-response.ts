/**
 * HTTP/1.1 responses (RFC 9112), decoded incrementally: bytes in, events out. Pure: no I/O, no
 * timers; the TorrentTTP HTTP peer's connections (http1-pool.ts) feed it each socket read.
 *
 * Rules:
 * - `begin({ noBody })` arms the decoder for the answer to one request (`noBody`: a HEAD's); bytes
 *   pushed while no answer is due are refused (TRANSPORT_HTTP1_UNEXPECTED_BYTES).
 * - Heads: a status line `HTTP/1.0` or `HTTP/1.1`, three digits, an optional reason; header lines
 *   `name: value` (names are tokens, no space before the colon; values without control bytes but
 *   tab; only spaces and tabs trimmed at a value's ends; an obs-fold is joined to the value with a space, RFC 9112 §5.2). Lines end with CRLF or a
 *   bare LF (§2.2). Limits: a line `maxLineBytes`, a head `maxHeadBytes`, `maxHeaders` fields;
 *   the same for a chunked body's trailers, which are read and dropped.
 * - Interim answers (1xx but 101) are skipped, their bytes counted in the final head's
 *   `maxHeadBytes`; a 101 (we never ask to upgrade) is refused.
 * - Bodies: none for a HEAD, a 204 or a 304, whatever their framing fields say (§6.3 item 1: they
 *   are not read); `Transfer-Encoding: chunked` (chunk sizes up to
 *   2^53 − 1; it overrides a `Content-Length`, and then the connection is not reused, nor after
 *   an HTTP/1.0 answer with it); `Content-Length` (repeated or
 *   listed values must agree); else the body runs to the connection's end (`end()`). Any other
 *   transfer coding is refused (we ask for identity).
 * - Body bytes are handed over as views of the pushed chunk (zero copy), valid only during the
 *   `onData` call. Nothing of a chunk is kept past `push` but the text of a head line cut in two.
 * - Keep-alive: HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`;
 *   never after a close-delimited body. `onEnd(reusable)` says which.
 * - Every malformed input throws a `TransportError` with a TRANSPORT_HTTP1_* code; the decoder is
 *   then dead (every later call throws the same error).
 */
import { TransportError, type TransportErrorCode } from './errors.js';

export interface Http1Limits {
  /** Longest line of a head (status line, header line, chunk-size line, trailer). Default 8 KiB. */
  readonly maxLineBytes: number;
  /** Largest head (with the interim heads before it; and, apart, trailer section), CRLFs included. Default 16 KiB. */
  readonly maxHeadBytes: number;
  /** Most header fields in a head (and in a trailer section). Default 100. */
  readonly maxHeaders: number;
}

export const HTTP1_LIMITS: Http1Limits = { maxLineBytes: 8 * 1024, maxHeadBytes: 16 * 1024, maxHeaders: 100 };

/** A final response head. Header names lowercase, in order, repeated as they came. */
export class ResponseHead {
  constructor(
    readonly status: number,
    readonly reason: string,
    /** 0 (HTTP/1.0) or 1 (HTTP/1.1). */
    readonly minor: number,
    /** `[name, value, name, value, …]`, names lowercase. */
    readonly headers: readonly string[],
    /** The names as they came (case kept), one for each pair of `headers`: what a proxy passes on (node's `rawHeaders`). */
    readonly rawNames: readonly string[] = [],
  ) {}

  /** `[Name, value, …]` with the names as they came, as node's `rawHeaders`. */
  raw(): string[] {
    const h = this.headers;
    const out = new Array<string>(h.length);
    for (let i = 0; i < h.length; i += 2) {
      out[i] = this.rawNames[i / 2] ?? h[i]!;
      out[i + 1] = h[i + 1]!;
    }
    return out;
  }

  /** The first value of header `name` (lowercase). */
  get(name: string): string | undefined {
    const h = this.headers;
    for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
    return undefined;
  }

  /** Every value of `name`, as one list (RFC 9110 §5.3). */
  all(name: string): string | undefined {
    let out: string | undefined;
    const h = this.headers;
    for (let i = 0; i < h.length; i += 2) if (h[i] === name) out = out === undefined ? h[i + 1] : `${out}, ${h[i + 1]}`;
    return out;
  }
}

export interface Http1Listener {
  /** The final head. May throw: the caller's error goes out of `push` as it is. */
  onHead(head: ResponseHead): void;
  /** Body bytes: a view of the pushed chunk, valid only during this call. */
  onData(data: Uint8Array): void;
  /** The message ended; `reusable`: the connection may carry the next request. */
  onEnd(reusable: boolean): void;
}

const enum S {
  Idle,
  StatusLine,
  HeaderLine,
  Body,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailer,
  UntilClose,
  Dead,
}

const LF = 10;
const CR = 13;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// eslint-disable-next-line no-control-regex
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([0-9]{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;
// Up to 15 digits once leading zeros are dropped (`noLeadingZeros`: RFC 9112 §7.1 `1*HEXDIG`,
// RFC 9110 §8.6 `1*DIGIT` allow any number of them): every count below 2^53 (hex: checked after),
// so a Number holds it exactly. Dropped by hand, not by a `0*` here, which backtracks over them.
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,15})[ \t]*(?:;.*)?$/;
const DIGITS = /^[0-9]{1,15}$/;

export class Http1ResponseDecoder {
  private state = S.Idle;
  private noBody = false;
  private error: TransportError | undefined;
  /** The start of a line cut by the end of a chunk. */
  private partial = '';
  private headBytes = 0;
  private fields: string[] = [];
  /** The names of `fields` as they came. */
  private names: string[] = [];
  private status = 0;
  private reason = '';
  private minor = 1;
  /** Body bytes (or the current chunk's) still due. */
  private remaining = 0;
  private reusable = true;
  private readonly limits: Http1Limits;

  constructor(
    private readonly listener: Http1Listener,
    limits: Partial<Http1Limits> = {},
  ) {
    this.limits = { ...HTTP1_LIMITS, ...limits };
  }

  /** Whether an answer is due or under way (its end not yet seen). */
  get busy(): boolean {
    return this.state !== S.Idle && this.state !== S.Dead;
  }

  /** Whether the current answer's body runs to the connection's end. */
  get untilClose(): boolean {
    return this.state === S.UntilClose;
  }

  /** Whether any byte of the current answer has come. */
  started = false;

  /** Arms the decoder for the answer to one request. */
  begin(opts: { noBody?: boolean } = {}): void {
    this.check();
    if (this.state !== S.Idle) this.fail('TRANSPORT_HTTP1_UNEXPECTED_BYTES', 'a second answer armed before the first ended');
    this.noBody = opts.noBody === true;
    this.started = false;
    this.startHead();
  }

  /** Feeds bytes; events go to the listener before it returns. */
  push(chunk: Uint8Array): void {
    this.check();
    let pos = 0;
    const n = chunk.length;
    if (n > 0) this.started = true;
    try {
      while (pos < n) {
        switch (this.state) {
          case S.Idle:
            this.fail('TRANSPORT_HTTP1_UNEXPECTED_BYTES', `${n - pos} bytes with no request outstanding`);
            break;
          case S.Body:
          case S.ChunkData: {
            // `remaining` bytes of a Content-Length body or of one chunk's data. Which, read before
            // the listener's call (it may end the decoder).
            const inChunk = this.state === S.ChunkData;
            const take = Math.min(this.remaining, n - pos);
            this.remaining -= take;
            const at = pos;
            pos += take;
            this.listener.onData(chunk.subarray(at, pos));
            if (this.remaining > 0) break;
            if (inChunk) this.state = S.ChunkDataEnd;
            else this.finish();
            break;
          }
          case S.UntilClose: {
            const at = pos;
            pos = n;
            this.listener.onData(chunk.subarray(at, n));
            break;
          }
          default: {
            // A line: the status line, a header, a chunk size, the CRLF after a chunk's data, a trailer.
            const lf = chunk.indexOf(LF, pos);
            const end = lf < 0 ? n : lf;
            const len = this.partial.length + (end - pos);
            if (len > this.limits.maxLineBytes + 1) this.fail('TRANSPORT_HTTP1_HEAD_TOO_LARGE', `a line longer than ${this.limits.maxLineBytes} bytes`);
            if (this.state !== S.ChunkDataEnd && this.state !== S.ChunkSize) {
              this.headBytes += end - pos + (lf < 0 ? 0 : 1);
              if (this.headBytes > this.limits.maxHeadBytes) this.fail('TRANSPORT_HTTP1_HEAD_TOO_LARGE', `a head longer than ${this.limits.maxHeadBytes} bytes`);
            }
            const text = latin1(chunk, pos, end);
            if (lf < 0) {
              this.partial += text;
              pos = n;
              break;
            }
            pos = lf + 1;
            let line = this.partial + text;
            this.partial = '';
            if (line.length > 0 && line.charCodeAt(line.length - 1) === CR) line = line.slice(0, -1);
            if (line.length > this.limits.maxLineBytes) this.fail('TRANSPORT_HTTP1_HEAD_TOO_LARGE', `a line longer than ${this.limits.maxLineBytes} bytes`);
            this.line(line);
          }
        }
      }
    } catch (err) {
      if (err instanceof TransportError && err === this.error) throw err;
      // The listener's own error: the decoder cannot go on from a half-handled chunk.
      this.state = S.Dead;
      this.error ??= err instanceof TransportError ? err : undefined;
      throw err;
    }
  }

  /**
   * The connection ended. A close-delimited body ends here (`onEnd(false)`); an answer cut short
   * throws TRANSPORT_HTTP1_TRUNCATED; between answers, nothing happens.
   */
  end(): void {
    this.check();
    if (this.state === S.UntilClose) {
      this.state = S.Idle;
      this.listener.onEnd(false);
      return;
    }
    if (this.state === S.Idle) return;
    this.fail('TRANSPORT_HTTP1_TRUNCATED', this.started ? 'the connection ended within an answer' : 'the connection ended before an answer');
  }

  private check(): void {
    if (this.error !== undefined) throw this.error;
    if (this.state === S.Dead) throw new TransportError('TRANSPORT_HTTP1_UNEXPECTED_BYTES', { detail: 'the decoder failed before' });
  }

  private fail(code: TransportErrorCode, detail: string): never {
    this.state = S.Dead;
    this.error = new TransportError(code, { detail });
    throw this.error;
  }

  private startHead(headBytes = 0): void {
    this.state = S.StatusLine;
    this.headBytes = headBytes;
    this.fields = [];
    this.names = [];
    this.partial = '';
  }

  private line(line: string): void {
    switch (this.state) {
      case S.StatusLine: {
        const m = STATUS_LINE.exec(line);
        if (m === null) this.fail('TRANSPORT_HTTP1_BAD_STATUS_LINE', `not an HTTP/1.x status line: ${JSON.stringify(line.slice(0, 64))}`);
        this.minor = Number(m[1]);
        this.status = Number(m[2]);
        this.reason = m[3] ?? '';
        if (this.status < 100) this.fail('TRANSPORT_HTTP1_BAD_STATUS_LINE', `status ${this.status}`);
        this.state = S.HeaderLine;
        return;
      }
      case S.HeaderLine:
      case S.Trailer: {
        if (line.length === 0) {
          if (this.state === S.Trailer) this.finish();
          else this.headEnd();
          return;
        }
        const c = line.charCodeAt(0);
        if (c === 32 || c === 9) {
          // obs-fold: part of the last field's value.
          if (this.fields.length === 0) this.fail('TRANSPORT_HTTP1_BAD_HEADER', 'a continuation line before any header');
          const v = trimOws(line);
          if (BAD_VALUE.test(v)) this.fail('TRANSPORT_HTTP1_BAD_HEADER', 'a control byte in a header value');
          this.fields[this.fields.length - 1] += ` ${v}`;
          return;
        }
        const colon = line.indexOf(':');
        const name = colon < 0 ? '' : line.slice(0, colon);
        if (!TOKEN.test(name)) this.fail('TRANSPORT_HTTP1_BAD_HEADER', `not a header line: ${JSON.stringify(line.slice(0, 64))}`);
        const value = trimOws(line.slice(colon + 1));
        if (BAD_VALUE.test(value)) this.fail('TRANSPORT_HTTP1_BAD_HEADER', `a control byte in header ${name}`);
        if (this.fields.length / 2 >= this.limits.maxHeaders) this.fail('TRANSPORT_HTTP1_HEAD_TOO_LARGE', `more than ${this.limits.maxHeaders} header fields`);
        this.fields.push(name.toLowerCase(), value);
        this.names.push(name);
        return;
      }
      case S.ChunkSize: {
        const m = CHUNK_SIZE.exec(noLeadingZeros(line, true));
        if (m === null) this.fail('TRANSPORT_HTTP1_BAD_CHUNK', `not a chunk-size line: ${JSON.stringify(line.slice(0, 64))}`);
        this.remaining = parseInt(m[1]!, 16);
        if (this.remaining > Number.MAX_SAFE_INTEGER) this.fail('TRANSPORT_HTTP1_BAD_CHUNK', `chunk size ${m[1]!} (more than 2^53 - 1)`);
        if (this.remaining === 0) {
          this.state = S.Trailer;
          this.headBytes = 0;
          this.fields = [];
          this.names = [];
        } else this.state = S.ChunkData;
        return;
      }
      case S.ChunkDataEnd:
        if (line.length !== 0) this.fail('TRANSPORT_HTTP1_BAD_CHUNK', 'chunk data longer than its size');
        this.state = S.ChunkSize;
        return;
      default:
        this.fail('TRANSPORT_HTTP1_UNEXPECTED_BYTES', 'a line out of place');
    }
  }

  private headEnd(): void {
    const status = this.status;
    const head = new ResponseHead(status, this.reason, this.minor, this.fields, this.names);
    if (status < 200) {
      if (status === 101) this.fail('TRANSPORT_HTTP1_UNEXPECTED_BYTES', '101 Switching Protocols to a request that asked for no upgrade');
      // An interim answer: the final one follows. Its bytes stay counted: `maxHeadBytes` bounds the
      // interim heads and the final one together, or a server could send 1xx heads without end.
      this.startHead(this.headBytes);
      return;
    }
    const connection = (head.all('connection') ?? '').toLowerCase();
    const tokens = connection.split(',').map(trimOws);
    this.reusable = this.minor === 1 ? !tokens.includes('close') : tokens.includes('keep-alive') && !tokens.includes('close');
    const te = head.all('transfer-encoding');
    const cl = head.all('content-length');
    let length: number | undefined;
    let chunked = false;
    // A HEAD's answer, a 204 or a 304 ends at its head "regardless of the header fields present"
    // (RFC 9112 §6.3 item 1): their framing fields describe the GET's answer, not this one, and are
    // not read (a HEAD's answer may well say `Transfer-Encoding: gzip, chunked`).
    const noBody = this.noBody || status === 204 || status === 304;
    if (noBody) {
      if (te !== undefined && (cl !== undefined || this.minor === 0)) this.reusable = false;
    } else if (te !== undefined) {
      const codings = te.toLowerCase().split(',').map(trimOws).filter((t) => t !== '');
      if (codings.length !== 1 || codings[0] !== 'chunked') this.fail('TRANSPORT_HTTP1_BAD_TRANSFER_ENCODING', `Transfer-Encoding ${JSON.stringify(te.slice(0, 64))} (only chunked is read)`);
      chunked = true;
      // Both: chunked wins (RFC 9112 §6.3), and the connection is not trusted after; nor after an HTTP/1.0 answer's (§6.1: faulty framing).
      if (cl !== undefined || this.minor === 0) this.reusable = false;
    } else if (cl !== undefined) {
      for (const v of cl.split(',')) {
        const t = noLeadingZeros(trimOws(v), false);
        if (!DIGITS.test(t)) this.fail('TRANSPORT_HTTP1_BAD_LENGTH', `Content-Length ${JSON.stringify(cl.slice(0, 64))}`);
        const l = Number(t);
        if (length !== undefined && l !== length) this.fail('TRANSPORT_HTTP1_BAD_LENGTH', `Content-Length values differ: ${JSON.stringify(cl.slice(0, 64))}`);
        length = l;
      }
    }
    this.state = noBody ? S.Body : chunked ? S.ChunkSize : length !== undefined ? S.Body : S.UntilClose;
    this.remaining = noBody ? 0 : (length ?? 0);
    if (this.state === S.UntilClose) this.reusable = false;
    this.fields = [];
    this.names = [];
    this.listener.onHead(head);
    if (this.state === S.Body && this.remaining === 0) this.finish();
  }

  private finish(): void {
    this.state = S.Idle;
    this.fields = [];
    this.names = [];
    this.listener.onEnd(this.reusable);
  }
}

/** `s` without the spaces and tabs at its ends (OWS, RFC 9110 §5.6.3); `trim()` would also take VT, FF, CR and U+00A0. */
function trimOws(s: string): string {
  let from = 0;
  let to = s.length;
  while (from < to && (s.charCodeAt(from) === 32 || s.charCodeAt(from) === 9)) from++;
  while (to > from && (s.charCodeAt(to - 1) === 32 || s.charCodeAt(to - 1) === 9)) to--;
  return from === 0 && to === s.length ? s : s.slice(from, to);
}

/** `s` without the zeros it starts with, but the last one of them when no other digit (hex: `hex`) follows. */
function noLeadingZeros(s: string, hex: boolean): string {
  let i = 0;
  while (i + 1 < s.length && s.charCodeAt(i) === 48 && isDigit(s.charCodeAt(i + 1), hex)) i++;
  return i === 0 ? s : s.slice(i);
}

function isDigit(c: number, hex: boolean): boolean {
  return (c >= 48 && c <= 57) || (hex && ((c >= 65 && c <= 70) || (c >= 97 && c <= 102)));
}

function latin1(chunk: Uint8Array, from: number, to: number): string {
  if (to - from < 64) {
    let s = '';
    for (let i = from; i < to; i++) s += String.fromCharCode(chunk[i]!);
    return s;
  }
  return Buffer.from(chunk.buffer, chunk.byteOffset + from, to - from).toString('latin1');
}

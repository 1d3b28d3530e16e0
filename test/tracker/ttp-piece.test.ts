import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TorrenttpError } from '../../src/errors/index.js';
import { decideRange } from '../../src/gateway/index.js';
import {
  checkPieceResponse,
  classifyStatus,
  DEFAULT_RETRY_AFTER_MS,
  formatContentRange,
  formatRange,
  MAX_REQUEST_BYTES,
  MAX_RETRY_AFTER_MS,
  parseContentRange,
  parsePieceRange,
  PieceBlocks,
  pieceEtag,
  retryAfterMs,
  TtpError,
} from '../../src/tracker/index.js';
import { errorCode } from '../helpers/errors.js';

/** A piece length and a span inside it. */
const pieceAndSpan = fc.integer({ min: 1, max: 4 * 1024 * 1024 }).chain((n) =>
  fc.integer({ min: 0, max: n - 1 }).chain((begin) => fc.integer({ min: 1, max: n - begin }).map((length) => ({ n, span: { begin, length } }))),
);

test('Range: parse(format(span)) is the span, and Content-Range round-trips', () => {
  fc.assert(
    fc.property(pieceAndSpan, ({ n, span }) => {
      assert.deepEqual(parsePieceRange(formatRange(span), n), { type: 'partial', ...span });
      assert.deepEqual(parseContentRange(formatContentRange(span, n)), { ...span, completeLength: n });
      assert.deepEqual(checkPieceResponse(span, n, { status: 206, contentRange: formatContentRange(span, n), contentLength: String(span.length) }), { ...span, rangeIgnored: false });
    }),
  );
});

test('Range: the spec forms, clamping, and refusals', () => {
  const n = 7334;
  assert.deepEqual(parsePieceRange(undefined, n), { type: 'whole' });
  assert.deepEqual(parsePieceRange('bytes=4096-', n), { type: 'partial', begin: 4096, length: 3238 });
  assert.deepEqual(parsePieceRange('bytes=4096-99999', n), { type: 'partial', begin: 4096, length: 3238 });
  assert.deepEqual(parsePieceRange('bytes=-100', n), { type: 'partial', begin: 7234, length: 100 });
  assert.deepEqual(parsePieceRange('bytes=-99999', n), { type: 'partial', begin: 0, length: n });
  assert.deepEqual(parsePieceRange(' Bytes = 0-0 ', n), { type: 'partial', begin: 0, length: 1 });
  assert.deepEqual(parsePieceRange('items=0-1', n), { type: 'whole' }); // unknown unit: ignored (RFC 9110 §14.2)
  const etag = pieceEtag(new Uint8Array(20));
  assert.deepEqual(parsePieceRange('bytes=0-9', n, { ifRange: etag, etag }), { type: 'partial', begin: 0, length: 10 });
  assert.deepEqual(parsePieceRange('bytes=0-9', n, { ifRange: '"other"', etag }), { type: 'whole' });
  assert.deepEqual(parsePieceRange('bytes=0-9', n, { ifRange: 'Tue, 01 Dec 2026 00:00:00 GMT', etag }), { type: 'whole' });
  // A Range under a non-matching If-Range is ignored (RFC 9110 §13.1.5), never read: no 400, no 416.
  for (const bad of ['bytes=9-2', 'bytes=0-1,4-5', 'bytes=x', 'nonsense', `bytes=0-${'9'.repeat(300)}`, `bytes=${n}-`, 'bytes=-0']) {
    assert.deepEqual(parsePieceRange(bad, n, { ifRange: '"other"', etag }), { type: 'whole' }, bad.slice(0, 20));
    assert.throws(() => parsePieceRange(bad, n, { ifRange: etag, etag }), TtpError, `${bad.slice(0, 20)} under a matching If-Range is read`);
  }
  const code = (h: string, len = n): string => errorCode(() => parsePieceRange(h, len), TtpError);
  for (const bad of ['bytes=0-1,4-5', 'bytes=5-4', 'bytes=-', 'bytes=a-b', 'bytes=1', 'bytes', 'bytes=+1-2', 'bytes=1-2-3', `bytes=${'9'.repeat(17)}-`, `bytes=0-${'1'.repeat(300)}`]) {
    assert.equal(code(bad), 'TTP_BAD_RANGE', bad);
  }
  assert.throws(() => parsePieceRange('bytes=0-1, 4-5', n), /one range per request/); // said plainly, for client authors
  assert.equal(code('bytes=7334-'), 'TTP_RANGE_NOT_SATISFIABLE');
  assert.equal(code('bytes=8000-8999'), 'TTP_RANGE_NOT_SATISFIABLE');
  assert.equal(code('bytes=-0'), 'TTP_RANGE_NOT_SATISFIABLE');
  assert.equal(code('bytes=0-', 32 * 1024 * 1024), 'TTP_RANGE_TOO_LARGE');
  assert.equal(errorCode(() => parsePieceRange(undefined, MAX_REQUEST_BYTES + 1), TtpError), 'TTP_RANGE_TOO_LARGE');
  assert.deepEqual(parsePieceRange(`bytes=0-${MAX_REQUEST_BYTES - 1}`, 32 * 1024 * 1024), { type: 'partial', begin: 0, length: MAX_REQUEST_BYTES });
});

test('Range: agrees with the gateway (RFC 9110) on every well-formed single range', () => {
  const spec = fc.oneof(
    fc.tuple(fc.nat(100_000), fc.nat(100_000)).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    fc.nat(100_000).map((a) => `${a}-`),
    fc.nat(100_000).map((s) => `-${s}`),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 100_000 }), spec, (n, s) => {
      const header = `bytes=${s}`;
      const theirs = decideRange(header, n);
      let ours: ReturnType<typeof parsePieceRange> | 'unsatisfiable';
      try {
        ours = parsePieceRange(header, n);
      } catch (err) {
        assert.ok(err instanceof TtpError && err.code === 'TTP_RANGE_NOT_SATISFIABLE', String(err));
        ours = 'unsatisfiable';
      }
      if (theirs.type === 'unsatisfiable') assert.equal(ours, 'unsatisfiable');
      else if (theirs.type === 'partial') assert.deepEqual(ours, { type: 'partial', begin: theirs.start, length: theirs.end - theirs.start + 1 });
      else assert.fail(`gateway served whole for ${header}`);
    }),
  );
});

test('Range: hostile headers give a span inside the piece or a typed error', () => {
  const header = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: fc.constantFrom('b', 'y', 't', 'e', 's', '=', '-', ',', ' ', '0', '1', '9') }));
  fc.assert(
    fc.property(header, fc.integer({ min: 1, max: 1 << 24 }), (h, n) => {
      try {
        const d = parsePieceRange(h, n);
        if (d.type === 'partial') assert.ok(d.begin >= 0 && d.length >= 1 && d.begin + d.length <= n);
      } catch (err) {
        assert.ok(err instanceof TorrenttpError, String(err));
      }
    }),
    { numRuns: 3000 },
  );
});

test('checkPieceResponse: a wrong Content-Range, length or status is refused; a 200 to a range is flagged', () => {
  const n = 16384;
  const span = { begin: 4096, length: 8192 };
  const check = (head: Parameters<typeof checkPieceResponse>[2], whole = false): string => errorCode(() => checkPieceResponse(whole ? undefined : span, n, head), TtpError);
  assert.equal(check({ status: 206, contentRange: 'bytes 4096-12287/16384', contentLength: '8192' }), 'ok');
  assert.equal(check({ status: 206, contentRange: 'bytes 4096-12287/16384' }), 'ok'); // no Content-Length (HTTP/2)
  assert.equal(check({ status: 206 }), 'TTP_BAD_CONTENT_RANGE');
  assert.equal(check({ status: 206, contentRange: 'bytes 4096-12288/16384' }), 'TTP_BAD_CONTENT_RANGE');
  assert.equal(check({ status: 206, contentRange: 'bytes 0-8191/16384' }), 'TTP_BAD_CONTENT_RANGE');
  assert.equal(check({ status: 206, contentRange: 'bytes 4096-12287/32768' }), 'TTP_BAD_CONTENT_RANGE');
  assert.equal(check({ status: 206, contentRange: 'bytes 4096-12287/*' }), 'TTP_BAD_CONTENT_RANGE');
  assert.equal(check({ status: 206, contentRange: 'bytes 4096-12287/16384', contentLength: '8193' }), 'TTP_BAD_CONTENT_RANGE');
  assert.equal(check({ status: 206, contentRange: 'bytes 0-16383/16384' }, true), 'ok');
  assert.equal(check({ status: 200, contentLength: '16384' }, true), 'ok');
  assert.equal(check({ status: 200, contentLength: '8192' }, true), 'TTP_BAD_CONTENT_RANGE');
  assert.equal(check({ status: 404 }), 'TTP_BAD_CONTENT_RANGE');
  assert.deepEqual(checkPieceResponse(span, n, { status: 200, contentLength: '16384' }), { begin: 0, length: n, rangeIgnored: true });
  assert.deepEqual(checkPieceResponse({ begin: 0, length: n }, n, { status: 200 }), { begin: 0, length: n, rangeIgnored: false });
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), fc.integer({ min: 100, max: 599 }), (cr, cl, status) => {
      try {
        const got = checkPieceResponse(span, n, { status, contentRange: cr, contentLength: cl });
        assert.ok(got.begin + got.length <= n);
      } catch (err) {
        assert.ok(err instanceof TorrenttpError, String(err));
      }
    }),
  );
});

/** `bytes` pushed as cut at `points` through one reused buffer (a socket's read buffer), overwritten after each push. */
function pushReused(body: PieceBlocks, bytes: Uint8Array, points: readonly number[], onSpan: (i: number, got: Uint8Array) => void): void {
  const reused = new Uint8Array(bytes.length);
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    reused.set(bytes.subarray(prev, p));
    body.push(reused.subarray(0, p - prev), onSpan);
    reused.fill(0xee);
    prev = p;
  }
}

test('PieceBlocks: any chunking gives each span its bytes as soon as they came, through a reused read buffer; a byte too many or too few is refused', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 3000 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 12 }),
      fc.nat({ max: 50 }),
      fc.nat({ max: 50 }),
      (bytes, cuts, lengths, offset, gap) => {
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        // Spans in the piece's offsets (the body starts at `offset`), in order, maybe with gaps, inside the body.
        const spans: { begin: number; length: number }[] = [];
        let at = offset + (gap % 7);
        for (const n of lengths) {
          if (at + n > offset + bytes.length) break;
          spans.push({ begin: at, length: n });
          at += n + (spans.length % 2 === 0 ? gap % 5 : 0);
        }
        const longest = Math.max(1, ...spans.map((s) => s.length));
        const body = new PieceBlocks(bytes.length, offset, spans, new Uint8Array(2 * longest));
        const got: Uint8Array[] = [];
        pushReused(body, bytes, points, (i, view) => {
          assert.equal(i, got.length, 'in order, each once');
          got.push(Uint8Array.from(view)); // the caller copies before the next push
        });
        body.complete();
        assert.equal(body.given, spans.length);
        assert.deepEqual(got, spans.map((s) => bytes.subarray(s.begin - offset, s.begin - offset + s.length)));
        assert.equal(errorCode(() => body.push(new Uint8Array(1), () => {}), TtpError), 'TTP_BODY_TOO_LONG');
      },
    ),
  );
});

test('PieceBlocks: a span in one chunk is a view of it; a span across chunks is gathered whole; the last two gathered stay valid until the next push', () => {
  const bytes = Uint8Array.from({ length: 100 }, (_, i) => i);
  const spans = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90].map((begin) => ({ begin, length: 10 }));
  const body = new PieceBlocks(100, 0, spans, new Uint8Array(20));
  const chunk1 = bytes.slice(0, 35); // spans 0–2 whole, 3 begun
  const seen: Uint8Array[] = [];
  body.push(chunk1, (_i, v) => seen.push(v));
  assert.equal(seen.length, 3);
  assert.ok(seen.every((v) => v.buffer === chunk1.buffer), 'views of the chunk');
  const chunk2 = bytes.slice(35, 65); // span 3 ends (gathered), 4 and 5 whole, 6 begun (gathered in the other half)
  const views2: Uint8Array[] = [];
  body.push(chunk2, (_i, v) => views2.push(v));
  assert.equal(views2.length, 3);
  assert.notEqual(views2[0]!.buffer, chunk2.buffer, 'span 3 straddles: gathered');
  assert.equal(views2[1]!.buffer, chunk2.buffer);
  const straddled = views2[0]!;
  assert.deepEqual([...straddled], [30, 31, 32, 33, 34, 35, 36, 37, 38, 39], 'span 6 begun in the same push did not overwrite span 3');
  body.push(bytes.slice(65, 100), () => {});
  body.complete();
  assert.equal(body.given, 10);
  const short = new PieceBlocks(4, 0, [{ begin: 0, length: 4 }], new Uint8Array(8));
  short.push(new Uint8Array(3), () => assert.fail('not whole yet'));
  assert.equal(errorCode(() => short.complete(), TtpError), 'TTP_BODY_TOO_SHORT');
  assert.equal(short.given, 0);
  assert.throws(() => new PieceBlocks(10, 0, [{ begin: 0, length: 6 }], new Uint8Array(11)), RangeError, 'a scratch of two spans');
  assert.throws(() => new PieceBlocks(10, 5, [{ begin: 0, length: 4 }], new Uint8Array(8)), RangeError, 'a span before the body');
  assert.throws(() => new PieceBlocks(10, 0, [{ begin: 4, length: 4 }, { begin: 0, length: 4 }], new Uint8Array(8)), RangeError, 'out of order');
});

test('status classes and Retry-After', () => {
  assert.deepEqual([200, 206, 304, 404, 429, 503, 301, 416, 500].map(classifyStatus), ['body', 'body', 'not-modified', 'not-held', 'choked', 'choked', 'error', 'error', 'error']);
  const now = Date.parse('Tue, 01 Dec 2026 00:00:00 GMT');
  assert.equal(retryAfterMs('7', now), 7000);
  assert.equal(retryAfterMs('Tue, 01 Dec 2026 00:00:30 GMT', now), 30_000);
  assert.equal(retryAfterMs('Mon, 30 Nov 2026 00:00:00 GMT', now), 0);
  assert.equal(retryAfterMs('999999', now), MAX_RETRY_AFTER_MS);
  assert.equal(retryAfterMs(undefined, now), DEFAULT_RETRY_AFTER_MS);
  assert.equal(retryAfterMs('soon', now), DEFAULT_RETRY_AFTER_MS);
  fc.assert(fc.property(fc.string(), (s) => {
    const ms = retryAfterMs(s, now);
    assert.ok(ms >= 0 && ms <= MAX_RETRY_AFTER_MS);
  }));
});

test('pieceEtag is the quoted SHA-1 with its algorithm', () => {
  assert.equal(pieceEtag(Uint8Array.from({ length: 20 }, (_, i) => i)), '"sha1-000102030405060708090a0b0c0d0e0f10111213"');
});

/**
 * The HTTP/1.1 response decoder (src/transport/http1-response.ts): each framing, each limit, each
 * malformed input's code; and, with fast-check, that any chunking decodes the same and that random
 * bytes end in nothing but a typed error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TransportError } from '../../src/transport/errors.js';
import { Http1ResponseDecoder, type Http1Limits, type ResponseHead } from '../../src/transport/http1-response.js';

interface Message {
  status: number;
  headers: string[];
  body: Buffer;
  reusable: boolean;
}

/** Decodes `input` pushed in the pieces cut at `cuts`, answering `answers` requests (`noBody` for HEADs); `closed`: then the connection ends. */
function decode(input: Buffer, opts: { cuts?: number[]; answers?: number; noBody?: boolean; closed?: boolean; limits?: Partial<Http1Limits> } = {}): { messages: Message[]; error?: string } {
  const messages: Message[] = [];
  let cur: { head: ResponseHead; parts: Buffer[] } | undefined;
  let due = (opts.answers ?? 1) - 1;
  const d: Http1ResponseDecoder = new Http1ResponseDecoder(
    {
      onHead: (head) => void (cur = { head, parts: [] }),
      onData: (data) => void cur!.parts.push(Buffer.from(data)), // a copy: the view is valid only now
      onEnd: (reusable) => {
        messages.push({ status: cur!.head.status, headers: [...cur!.head.headers], body: Buffer.concat(cur!.parts), reusable });
        cur = undefined;
        if (due-- > 0) d.begin({ noBody: opts.noBody === true });
      },
    },
    opts.limits,
  );
  d.begin({ noBody: opts.noBody === true });
  const cuts = [...new Set(opts.cuts ?? [])].filter((c) => c > 0 && c < input.length).sort((a, b) => a - b);
  let at = 0;
  try {
    for (const c of [...cuts, input.length]) {
      // Each piece in a buffer of its own, overwritten after the push: what a reused read buffer does.
      const piece = Buffer.from(input.subarray(at, c));
      d.push(piece);
      piece.fill(0xaa);
      at = c;
    }
    if (opts.closed === true) d.end();
  } catch (err) {
    assert.ok(err instanceof TransportError, `not a TransportError: ${String(err)}`);
    assert.match(err.code, /^TRANSPORT_HTTP1_/);
    return { messages, error: err.code };
  }
  return { messages };
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

test('Content-Length body, keep-alive; headers lowercase in order; body exact', () => {
  const r = decode(b('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a:  2 \r\n\r\nhello'));
  assert.equal(r.error, undefined);
  assert.deepEqual(r.messages, [{ status: 200, headers: ['content-length', '5', 'x-a', '1', 'x-a', '2'], body: b('hello'), reusable: true }]);
});

test('the header names as they came (case kept) beside the lowercase ones, for a proxy to pass on', () => {
  let head: ResponseHead | undefined;
  const d = new Http1ResponseDecoder({ onHead: (h) => void (head = h), onData: () => undefined, onEnd: () => undefined });
  d.begin();
  d.push(b('HTTP/1.1 200 OK\r\nX-Mixed-Case: a\r\nETag: "b"\r\ncontent-length: 0\r\n\r\n'));
  assert.deepEqual(head?.headers, ['x-mixed-case', 'a', 'etag', '"b"', 'content-length', '0']);
  assert.deepEqual(head?.raw(), ['X-Mixed-Case', 'a', 'ETag', '"b"', 'content-length', '0']);
});

test('chunked body with extensions and trailers; chunked over Content-Length makes the connection not reusable', () => {
  const r = decode(b('HTTP/1.1 206 Partial\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-T: y\r\n\r\n'));
  assert.deepEqual(r.messages.map((m) => [m.status, m.body.toString(), m.reusable]), [[206, 'abc0123456789', true]]);
  const both = decode(b('HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n'));
  assert.deepEqual(both.messages.map((m) => [m.body.toString(), m.reusable]), [['x', false]]);
});

test('close-delimited body ends at end(); HTTP/1.0 keep-alive only when asked; Connection: close', () => {
  const r = decode(b('HTTP/1.0 200 OK\r\n\r\nall of it'), { closed: true });
  assert.deepEqual(r.messages.map((m) => [m.body.toString(), m.reusable]), [['all of it', false]]);
  assert.equal(decode(b('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')).messages[0]!.reusable, false);
  assert.equal(decode(b('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n')).messages[0]!.reusable, true);
  assert.equal(decode(b('HTTP/1.1 200 OK\r\nConnection: foo, close\r\nContent-Length: 0\r\n\r\n')).messages[0]!.reusable, false);
});

test('1xx skipped; HEAD, 204 and 304 have no body; bare LF lines; obs-fold joined', () => {
  const r = decode(b('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\nLink: x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  assert.deepEqual(r.messages.map((m) => [m.status, m.body.toString()]), [[200, 'ok']]);
  assert.deepEqual(decode(b('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'), { noBody: true }).messages.map((m) => [m.status, m.body.length, m.reusable]), [[200, 0, true]]);
  const two = decode(b('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n'), { answers: 2 });
  assert.deepEqual(two.messages.map((m) => [m.status, m.body.length]), [[304, 0], [204, 0]]);
  const lf = decode(b('HTTP/1.1 200\nContent-Length: 1\nX: a\n  b\n\nz'));
  assert.deepEqual(lf.messages.map((m) => [m.status, m.headers, m.body.toString()]), [[200, ['content-length', '1', 'x', 'a b'], 'z']]);
});

test('each malformed input fails with its code', () => {
  const cases: [string, string, { closed?: boolean; limits?: Partial<Http1Limits> }?][] = [
    ['HTTP/2 200 OK\r\n\r\n', 'TRANSPORT_HTTP1_BAD_STATUS_LINE'],
    ['ICY 200 OK\r\n\r\n', 'TRANSPORT_HTTP1_BAD_STATUS_LINE'],
    ['HTTP/1.1 20 OK\r\n\r\n', 'TRANSPORT_HTTP1_BAD_STATUS_LINE'],
    ['HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n', 'TRANSPORT_HTTP1_BAD_HEADER'],
    ['HTTP/1.1 200 OK\r\nNoColon\r\n\r\n', 'TRANSPORT_HTTP1_BAD_HEADER'],
    ['HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n', 'TRANSPORT_HTTP1_BAD_HEADER'],
    ['HTTP/1.1 200 OK\r\n continued\r\n\r\n', 'TRANSPORT_HTTP1_BAD_HEADER'],
    ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'TRANSPORT_HTTP1_BAD_LENGTH'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'TRANSPORT_HTTP1_BAD_LENGTH'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n', 'TRANSPORT_HTTP1_BAD_LENGTH'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n', 'TRANSPORT_HTTP1_BAD_LENGTH'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'TRANSPORT_HTTP1_BAD_TRANSFER_ENCODING'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'TRANSPORT_HTTP1_BAD_CHUNK'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n', 'TRANSPORT_HTTP1_BAD_CHUNK'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n', 'TRANSPORT_HTTP1_BAD_CHUNK'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab', 'TRANSPORT_HTTP1_TRUNCATED', { closed: true }],
    ['HTTP/1.1 200 OK\r\nContent-Le', 'TRANSPORT_HTTP1_TRUNCATED', { closed: true }],
    ['', 'TRANSPORT_HTTP1_TRUNCATED', { closed: true }],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab', 'TRANSPORT_HTTP1_UNEXPECTED_BYTES'],
    ['HTTP/1.1 101 Switching Protocols\r\n\r\n', 'TRANSPORT_HTTP1_UNEXPECTED_BYTES'],
    [`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(200)}\r\n\r\n`, 'TRANSPORT_HTTP1_HEAD_TOO_LARGE', { limits: { maxLineBytes: 100 } }],
    [`HTTP/1.1 200 OK\r\n${'X: a\r\n'.repeat(11)}\r\n`, 'TRANSPORT_HTTP1_HEAD_TOO_LARGE', { limits: { maxHeaders: 10 } }],
    [`HTTP/1.1 200 OK\r\n${'X: aaaaaaaaaa\r\n'.repeat(20)}\r\n`, 'TRANSPORT_HTTP1_HEAD_TOO_LARGE', { limits: { maxHeadBytes: 200 } }],
    [`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${'X: a\r\n'.repeat(11)}\r\n`, 'TRANSPORT_HTTP1_HEAD_TOO_LARGE', { limits: { maxHeaders: 10 } }],
    [`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(100_000)}`, 'TRANSPORT_HTTP1_HEAD_TOO_LARGE'], // endless header, no line end
  ];
  for (const [input, code, o] of cases) {
    for (const cuts of [[], [1], [17, 18, 19]]) {
      const r = decode(b(input), { ...o, cuts });
      assert.equal(r.error, code, `${JSON.stringify(input.slice(0, 80))} cut at ${cuts.join(',')}`);
    }
  }
});

test('hostile framing: a chunk size beyond 2^53, control bytes or a no-break space at a value\'s edge are errors, not trimmed; HTTP/1.0 with Transfer-Encoding is not reused', () => {
  const cases: [string, string][] = [
    // 15 hex digits pass the length rule but are 2^60: not a count a Number holds exactly.
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\nab', 'TRANSPORT_HTTP1_BAD_CHUNK'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20000000000000\r\nab', 'TRANSPORT_HTTP1_BAD_CHUNK'],
    // OWS is space and tab only (RFC 9110 §5.6.3): JavaScript's trim() also strips VT, FF, CR and U+00A0.
    ['HTTP/1.1 200 OK\r\nContent-Length: 5\x0b\r\n\r\nhello', 'TRANSPORT_HTTP1_BAD_HEADER'],
    ['HTTP/1.1 200 OK\r\nContent-Length: \x0c5\r\n\r\nhello', 'TRANSPORT_HTTP1_BAD_HEADER'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\r\n\r\nhello', 'TRANSPORT_HTTP1_BAD_HEADER'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 5\xa0\r\n\r\nhello', 'TRANSPORT_HTTP1_BAD_LENGTH'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: \xa0chunked\r\n\r\n0\r\n\r\n', 'TRANSPORT_HTTP1_BAD_TRANSFER_ENCODING'],
    ['HTTP/1.1 200 OK\r\nX: a\r\n \x0bb\r\nContent-Length: 0\r\n\r\n', 'TRANSPORT_HTTP1_BAD_HEADER'],
  ];
  for (const [input, code] of cases) {
    for (const cuts of [[], [1], [17, 18, 19]]) assert.equal(decode(b(input), { cuts }).error, code, `${JSON.stringify(input.slice(0, 80))} cut at ${cuts.join(',')}`);
  }
  // The largest exact chunk size is still read as a size (the body then runs long for the caller to refuse).
  assert.equal(decode(b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1fffffffffffff\r\nab')).error, undefined);
  // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing: the connection is closed after it.
  const old = decode(b('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n'));
  assert.deepEqual(old.messages.map((m) => [m.body.toString(), m.reusable]), [['x', false]]);
});

test('dead after an error: every later call throws the same typed error', () => {
  const d = new Http1ResponseDecoder({ onHead: () => {}, onData: () => {}, onEnd: () => {} });
  d.begin();
  assert.throws(() => d.push(b('nope\r\n')), { code: 'TRANSPORT_HTTP1_BAD_STATUS_LINE' });
  assert.throws(() => d.push(b('HTTP/1.1 200 OK\r\n')), { code: 'TRANSPORT_HTTP1_BAD_STATUS_LINE' });
  assert.throws(() => d.end(), { code: 'TRANSPORT_HTTP1_BAD_STATUS_LINE' });
});

test('body bytes are views of the pushed chunk (zero copy)', () => {
  const views: Uint8Array[] = [];
  const d = new Http1ResponseDecoder({ onHead: () => {}, onData: (v) => void views.push(v), onEnd: () => {} });
  d.begin();
  const chunk = b('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody');
  d.push(chunk);
  assert.equal(views.length, 1);
  assert.equal(views[0]!.buffer, chunk.buffer);
});

test('regression: interim heads count toward maxHeadBytes with the final one: a server that sends 1xx heads without end fails at the limit', () => {
  const endless = 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(1000);
  assert.equal(decode(b(endless)).error, 'TRANSPORT_HTTP1_HEAD_TOO_LARGE');
  assert.equal(decode(b(endless), { cuts: [...Array(1000).keys()].map((i) => i * 25 + 3) }).error, 'TRANSPORT_HTTP1_HEAD_TOO_LARGE');
  // Under the limit together, they are skipped as before.
  const few = `${'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n'.repeat(5)}HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz`;
  const heads = few.length - 1; // all but the body
  assert.deepEqual(decode(b(few), { limits: { maxHeadBytes: heads } }).messages.map((m) => [m.status, m.body.toString()]), [[200, 'z']]);
  assert.equal(decode(b(few), { limits: { maxHeadBytes: heads - 1 } }).error, 'TRANSPORT_HTTP1_HEAD_TOO_LARGE');
});

test('regression: a HEAD\'s answer, a 204 and a 304 end at their head whatever their framing fields say (RFC 9112 §6.3 item 1: not read)', () => {
  const next = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  for (const [first, noBody] of [
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', true],
    ['HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', false],
    ['HTTP/1.1 304 Not Modified\r\nContent-Length: 10, 12\r\n\r\n', false],
    ['HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n', false],
  ] as const) {
    const r = decode(b(first + next.slice(0, noBody ? -2 : undefined)), { answers: 2, noBody }); // after a HEAD, another HEAD's
    assert.equal(r.error, undefined, first);
    assert.deepEqual(r.messages.map((m) => m.body.toString()), ['', noBody ? '' : 'ok'], first);
  }
  // An HTTP/1.0 message with Transfer-Encoding has faulty framing, body or not (§6.1): not reused.
  assert.equal(decode(b('HTTP/1.0 304 Not Modified\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n')).messages[0]!.reusable, false);
});

test('regression: leading zeros in a Content-Length or a chunk size are read past 15 digits (1*DIGIT, 1*HEXDIG); 16 significant digits still fail', () => {
  const z = '0'.repeat(20);
  const r = decode(b(`HTTP/1.1 200 OK\r\nContent-Length: ${z}3\r\n\r\nabc`));
  assert.deepEqual(r.messages.map((m) => m.body.toString()), ['abc']);
  const c = decode(b(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${z}2\r\nab\r\n${z}\r\n\r\n`));
  assert.deepEqual(c.messages.map((m) => m.body.toString()), ['ab']);
  assert.equal(decode(b(`HTTP/1.1 200 OK\r\nContent-Length: ${z}1234567890123456\r\n\r\n`)).error, 'TRANSPORT_HTTP1_BAD_LENGTH');
  assert.equal(decode(b(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${z}ffffffffffffffff\r\n`)).error, 'TRANSPORT_HTTP1_BAD_CHUNK');
});

// ── properties ──────────────────────────────────────────────────────────────────────────────

const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
const value = fc.stringMatching(/^[ -~]{0,20}$/).map((s) => s.trim());
const body = fc.uint8Array({ maxLength: 300 });
const response = fc.record({
  status: fc.constantFrom(200, 206, 404, 429, 503),
  headers: fc.array(fc.tuple(token.filter((t) => !['content-length', 'transfer-encoding', 'connection'].includes(t)), value), { maxLength: 5 }),
  body,
  framing: fc.constantFrom('length', 'chunked'),
  chunks: fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 8 }),
  interim: fc.boolean(),
});

type Resp = typeof response extends fc.Arbitrary<infer T> ? T : never;

function encode(r: Resp): Buffer {
  let head = r.interim ? 'HTTP/1.1 100 Continue\r\n\r\n' : '';
  head += `HTTP/1.1 ${r.status} Reason\r\n`;
  for (const [n, v] of r.headers) head += `${n}: ${v}\r\n`;
  if (r.framing === 'length') return Buffer.concat([b(`${head}Content-Length: ${r.body.length}\r\n\r\n`), Buffer.from(r.body)]);
  const parts = [b(`${head}Transfer-Encoding: chunked\r\n\r\n`)];
  let at = 0;
  for (const c of r.chunks) {
    if (at >= r.body.length) break;
    const piece = r.body.subarray(at, at + c);
    parts.push(b(`${piece.length.toString(16)}\r\n`), Buffer.from(piece), b('\r\n'));
    at += piece.length;
  }
  if (at < r.body.length) parts.push(b(`${(r.body.length - at).toString(16)}\r\n`), Buffer.from(r.body.subarray(at)), b('\r\n'));
  parts.push(b('0\r\n\r\n'));
  return Buffer.concat(parts);
}

test('property: any chunking of a keep-alive stream of answers decodes to the same messages', () => {
  fc.assert(
    fc.property(fc.array(response, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(4000), { maxLength: 30 }), (rs, cuts) => {
      const input = Buffer.concat(rs.map(encode));
      const whole = decode(input, { answers: rs.length });
      assert.equal(whole.error, undefined);
      assert.deepEqual(whole.messages.map((m) => [m.status, m.body]), rs.map((r) => [r.status, Buffer.from(r.body)]));
      const cut = decode(input, { answers: rs.length, cuts });
      assert.deepEqual(cut, whole);
      const bytewise = decode(input, { answers: rs.length, cuts: [...input.keys()] });
      assert.deepEqual(bytewise, whole);
    }),
    { numRuns: 150 },
  );
});

test('property: random bytes (alone or after a valid head) never hang or throw anything but a typed error', () => {
  const start = fc.constantFrom('', 'HTTP/1.1 200 OK\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n');
  fc.assert(
    fc.property(start, fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(400), { maxLength: 10 }), fc.boolean(), (s, junk, cuts, closed) => {
      const input = Buffer.concat([b(s), Buffer.from(junk)]);
      decode(input, { cuts, closed, answers: 3, limits: { maxLineBytes: 64, maxHeadBytes: 256, maxHeaders: 8 } }); // asserts the error's type itself
    }),
    { numRuns: 500 },
  );
});

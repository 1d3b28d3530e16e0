/**
 * fast-check properties of the HTTP/1.1 response decoder (src/transport/http1-response.ts), past
 * the small ones in http1-response.test.ts: a model of valid answers with every framing and the
 * lenient forms RFC 9112 lets a client accept (interim answers, HEAD/204/304 with the framing
 * headers a GET would have had, obs-fold, bare LF, OWS, obs-text, chunk extensions and leading
 * zeros, trailers, repeated Content-Length) decodes to exactly the model, whole or cut at any
 * byte; mutated and lying answers end in a typed error and the same outcome for every cut; a head
 * (interim heads included) never passes the limits; no answer gets more body bytes than declared.
 * Runs are bounded (numRuns) so the file takes a few seconds. No fixed seed: a failure prints its
 * seed and path to replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TransportError } from '../../src/transport/errors.js';
import { HTTP1_LIMITS, Http1ResponseDecoder, type Http1Limits } from '../../src/transport/http1-response.js';

// ── the decoder, driven ─────────────────────────────────────────────────────────────────────

interface Answer {
  status: number;
  reason: string;
  minor: number;
  headers: string[];
  body: Buffer;
  reusable: boolean;
}

interface Outcome {
  answers: Answer[];
  /** The answer under way when the input ran out or failed: its status and the body so far. */
  partial?: { status: number; body: Buffer };
  error?: string;
}

interface Plan {
  /** One entry an answer armed: `noBody` for a HEAD's. */
  noBody: boolean[];
  /** The connection ends after the input. */
  closed?: boolean;
  cuts?: number[];
  limits?: Partial<Http1Limits>;
}

/** The Content-Length an answer's head declares, if its body is framed by it (for the never-more-than-declared check). */
function declared(status: number, headers: readonly string[], noBody: boolean): number | undefined {
  if (noBody || status === 204 || status === 304) return 0;
  const te = headers.some((_, i) => i % 2 === 0 && headers[i] === 'transfer-encoding');
  if (te) return undefined;
  const cl = headers.filter((_, i) => i % 2 === 1 && headers[i - 1] === 'content-length');
  if (cl.length === 0) return undefined;
  return Number(cl[0]!.split(',')[0]!.trim());
}

/**
 * Feeds `input` cut at `plan.cuts`, each piece a copy overwritten after its push (a reused read
 * buffer: a view kept past `push` shows up as 0xaa). Asserts on the way that only a
 * TransportError with a TRANSPORT_HTTP1_* code comes out, that a head keeps to the limits and
 * that a Content-Length body gets no byte past its length.
 */
function run(input: Uint8Array, plan: Plan): Outcome {
  const limits = { ...HTTP1_LIMITS, ...plan.limits };
  const answers: Answer[] = [];
  let cur: { a: Answer; parts: Buffer[]; got: number; max: number | undefined } | undefined;
  let armed = 0;
  const d: Http1ResponseDecoder = new Http1ResponseDecoder(
    {
      onHead: (h) => {
        assert.equal(cur, undefined, 'a head within an answer');
        assert.ok(h.headers.length / 2 <= limits.maxHeaders, 'more fields than maxHeaders');
        assert.ok(h.headers.join('').length <= limits.maxHeadBytes, 'a head past maxHeadBytes');
        assert.ok(h.status >= 200 && h.status <= 999, `final status ${h.status}`);
        cur = { a: { status: h.status, reason: h.reason, minor: h.minor, headers: [...h.headers], body: Buffer.alloc(0), reusable: false }, parts: [], got: 0, max: declared(h.status, h.headers, plan.noBody[armed - 1]!) };
      },
      onData: (data) => {
        assert.ok(cur !== undefined, 'body bytes before a head');
        assert.ok(data.length > 0, 'an empty view');
        cur.got += data.length;
        if (cur.max !== undefined) assert.ok(cur.got <= cur.max, `${cur.got} body bytes for a Content-Length of ${cur.max}`);
        cur.parts.push(Buffer.from(data)); // a copy: the view is valid only now
      },
      onEnd: (reusable) => {
        assert.ok(cur !== undefined, 'an end before a head');
        if (cur.max !== undefined) assert.equal(cur.got, cur.max, 'an answer ended short of its Content-Length');
        answers.push({ ...cur.a, body: Buffer.concat(cur.parts), reusable });
        cur = undefined;
        if (armed < plan.noBody.length) d.begin({ noBody: plan.noBody[armed++] });
      },
    },
    plan.limits,
  );
  d.begin({ noBody: plan.noBody[armed++] });
  const cuts = [...new Set(plan.cuts ?? [])].filter((c) => c > 0 && c < input.length).sort((a, b) => a - b);
  let at = 0;
  const out = (): Outcome => (cur === undefined ? { answers } : { answers, partial: { status: cur.a.status, body: Buffer.concat(cur.parts) } });
  try {
    for (const c of [...cuts, input.length]) {
      const piece = Buffer.from(input.subarray(at, c));
      d.push(piece);
      piece.fill(0xaa);
      at = c;
    }
    if (plan.closed === true) d.end();
  } catch (err) {
    if (!(err instanceof TransportError) || !/^TRANSPORT_HTTP1_/.test(err.code)) throw err;
    // Dead: every later call throws the same error.
    assert.throws(() => d.push(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')), (e) => e === err);
    assert.throws(() => d.end(), (e) => e === err);
    return { ...out(), error: err.code };
  }
  return out();
}

/** Whole, at random cuts, and a byte at a time: the same outcome. */
function sameAtEveryCut(input: Uint8Array, plan: Plan, cuts: number[]): Outcome {
  const whole = run(input, plan);
  assert.deepEqual(run(input, { ...plan, cuts }), whole, `cut at ${cuts.join(',')}`);
  assert.deepEqual(run(input, { ...plan, cuts: [...input.keys()] }), whole, 'a byte at a time');
  return whole;
}

// ── a model of valid answers ────────────────────────────────────────────────────────────────

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Token characters, both cases (names are compared lowercase). */
const name = fc.string({ unit: fc.constantFrom(...'!#$%&\'*+-.^_`|~09azAZ'.split('')), minLength: 1, maxLength: 10 });
/** A field value: visible ASCII, obs-text, and spaces and tabs within (not at the ends). */
const inner = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '"', ',', ';', '=', ':', '/', '\x80', '\xa0', '\xff', ' ', '\t'), maxLength: 12 });
const fieldValue = fc.tuple(fc.constantFrom('x', '\xe9', '9', '"'), inner, fc.constantFrom('y', '\xff', '0')).map(([a, m, z]) => a + m + z);
const maybeValue = fc.oneof(fc.constant(''), fieldValue);
const ows = fc.constantFrom('', ' ', '\t', '  \t ');
const eol = fc.constantFrom('\r\n', '\r\n', '\n');

interface Field {
  name: string;
  value: string;
  /** OWS around the value, trimmed by the decoder. */
  lead: string;
  trail: string;
  /** obs-fold continuations: each joined to the value with one space (RFC 9112 §5.2). */
  folds: string[];
}

const field = (n: fc.Arbitrary<string>, v: fc.Arbitrary<string>, folds = true): fc.Arbitrary<Field> =>
  fc.record({ name: n, value: v, lead: ows, trail: ows, folds: folds ? fc.array(fieldValue, { maxLength: 2 }) : fc.constant([]) });

const framingNames = new Set(['content-length', 'transfer-encoding', 'connection']);
const otherField = field(name.filter((n) => !framingNames.has(n.toLowerCase())), maybeValue);

function encodeFields(fields: Field[], eols: string[], foldWs: string): string {
  let s = '';
  fields.forEach((f, i) => {
    const e = eols[i % eols.length]!;
    s += `${f.name}:${f.lead}${f.value}${f.trail}${e}`;
    for (const fold of f.folds) s += `${foldWs}${fold}${e}`;
  });
  return s;
}

const expectFields = (fields: Field[]): string[] => fields.flatMap((f) => [f.name.toLowerCase(), f.value + f.folds.map((x) => ` ${x}`).join('')]);

type Framing = 'length' | 'chunked' | 'close' | 'head' | 'no-content' | 'not-modified';

interface ModelAnswer {
  interim: { status: number; minor: number; fields: Field[] }[];
  minor: number;
  status: number;
  reason: string | undefined;
  fields: Field[];
  connection: string | undefined;
  framing: Framing;
  /** How Content-Length is written: once, as a list of equal values, twice, with leading zeros. */
  clForm: 'one' | 'list' | 'twice' | 'zeros';
  /** A chunked answer that also has a Content-Length (chunked wins, RFC 9112 §6.3 item 3). */
  clToo: boolean;
  /** What a HEAD answer says the GET's framing would be. */
  headSays: 'length' | 'chunked' | 'gzip' | 'none';
  body: Uint8Array;
  chunks: { size: number; digits: number; upper: boolean; ext: string }[];
  last: { digits: number; ext: string };
  trailers: Field[];
  eols: string[];
  foldWs: string;
  at: number;
}

const ext = fc.oneof(
  fc.constant(''),
  fc.constantFrom(';a', ';a=1', ' ;a=b', '\t; a = "q;\\"x"', ';a;b=2', ';name="\xe9 x"', `;${'e'.repeat(200)}`),
);

const modelAnswer: fc.Arbitrary<ModelAnswer> = fc.record({
  interim: fc.array(fc.record({ status: fc.constantFrom(100, 102, 103, 199), minor: fc.constantFrom(0, 1), fields: fc.array(otherField, { maxLength: 2 }) }), { maxLength: 2 }),
  minor: fc.constantFrom(0, 1, 1),
  status: fc.constantFrom(200, 206, 299, 301, 404, 429, 503, 599, 600, 999),
  reason: fc.option(fc.string({ unit: fc.constantFrom('O', 'k', ' ', '\t', '\x80', '\xff', '1'), maxLength: 8 }), { nil: undefined }),
  fields: fc.array(otherField, { maxLength: 5 }),
  connection: fc.option(fc.constantFrom('close', 'keep-alive', 'Keep-Alive', 'foo, close', 'upgrade,  CLOSE', 'keep-alive, x'), { nil: undefined }),
  framing: fc.constantFrom<Framing>('length', 'length', 'chunked', 'chunked', 'close', 'head', 'no-content', 'not-modified'),
  clForm: fc.constantFrom('one', 'list', 'twice', 'zeros'),
  clToo: fc.boolean(),
  headSays: fc.constantFrom('length', 'chunked', 'gzip', 'none'),
  body: fc.uint8Array({ maxLength: 160 }),
  chunks: fc.array(fc.record({ size: fc.integer({ min: 1, max: 60 }), digits: fc.integer({ min: 0, max: 24 }), upper: fc.boolean(), ext }), { maxLength: 6 }),
  last: fc.record({ digits: fc.integer({ min: 1, max: 24 }), ext }),
  trailers: fc.array(otherField, { maxLength: 3 }),
  eols: fc.array(eol, { minLength: 1, maxLength: 4 }),
  foldWs: fc.constantFrom(' ', '\t', ' \t'),
  at: fc.nat(),
});

const hex = (n: number, digits: number, upper: boolean): string => {
  const h = n.toString(16).padStart(n.toString(16).length + digits, '0');
  return upper ? h.toUpperCase() : h;
};

/** The bytes of `m` (which may be the last of a stream only if close-delimited), what the decoder must give, and whether it is armed as a HEAD's. */
function encodeAnswer(m: ModelAnswer): { bytes: Buffer; want: Answer; noBody: boolean } {
  const e = (i: number): string => m.eols[i % m.eols.length]!;
  let s = '';
  for (const i of m.interim) s += `HTTP/1.${i.minor} ${i.status} Interim${e(0)}${encodeFields(i.fields, m.eols, m.foldWs)}${e(1)}`;
  const status = m.framing === 'no-content' ? 204 : m.framing === 'not-modified' ? 304 : m.status;
  s += `HTTP/1.${m.minor} ${status}${m.reason === undefined ? '' : ` ${m.reason}`}${e(2)}`;
  const framing: Field[] = [];
  const n = m.body.length;
  const cl = (len: number): void => {
    const v = m.clForm === 'zeros' ? `${'0'.repeat(20)}${len}` : m.clForm === 'list' ? `${len},${len} ,\t${len}` : `${len}`;
    framing.push({ name: 'Content-Length', value: v, lead: ' ', trail: '', folds: [] });
    if (m.clForm === 'twice') framing.push({ name: 'content-length', value: `${len}`, lead: '', trail: '\t', folds: [] });
  };
  const te = (v: string): void => void framing.push({ name: 'Transfer-Encoding', value: v, lead: ' ', trail: ' ', folds: [] });
  let body: Buffer = Buffer.alloc(0);
  let wire: Buffer = Buffer.alloc(0);
  let reusableFraming = true;
  switch (m.framing) {
    case 'length':
      cl(n);
      body = wire = Buffer.from(m.body);
      break;
    case 'chunked': {
      te(m.clToo ? 'chunked' : 'Chunked');
      if (m.clToo) cl(n + 7);
      if (m.clToo || m.minor === 0) reusableFraming = false;
      const parts: Buffer[] = [];
      let at = 0;
      for (const c of m.chunks) {
        if (at >= n) break;
        const piece = m.body.subarray(at, at + c.size);
        parts.push(b(`${hex(piece.length, c.digits, c.upper)}${c.ext}${e(at)}`), Buffer.from(piece), b(e(at + 1)));
        at += piece.length;
      }
      if (at < n) parts.push(b(`${(n - at).toString(16)}\r\n`), Buffer.from(m.body.subarray(at)), b('\r\n'));
      parts.push(b(`${'0'.repeat(m.last.digits)}${m.last.ext}${e(3)}${encodeFields(m.trailers, m.eols, m.foldWs)}${e(0)}`));
      body = Buffer.from(m.body);
      wire = Buffer.concat(parts);
      break;
    }
    case 'close':
      body = wire = Buffer.from(m.body);
      reusableFraming = false;
      break;
    case 'head':
    case 'not-modified':
      // What the GET's answer would have had: RFC 9112 §6.3 item 1, no body whatever the fields say.
      if (m.headSays === 'length') cl(n + 1);
      else if (m.headSays === 'chunked') te('chunked');
      else if (m.headSays === 'gzip') te('gzip, chunked');
      // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing, body or not.
      if (m.headSays !== 'length' && m.headSays !== 'none' && m.minor === 0) reusableFraming = false;
      break;
    case 'no-content':
      break;
  }
  if (m.connection !== undefined) framing.push({ name: 'Connection', value: m.connection, lead: ' ', trail: '', folds: [] });
  const fields = [...m.fields];
  fields.splice(m.at % (fields.length + 1), 0, ...framing);
  s += `${encodeFields(fields, m.eols, m.foldWs)}${e(1)}`;
  const tokens = (m.connection ?? '').toLowerCase().split(',').map((t) => t.trim());
  const keep = m.minor === 1 ? !tokens.includes('close') : tokens.includes('keep-alive') && !tokens.includes('close');
  return {
    bytes: Buffer.concat([b(s), wire]),
    want: { status, reason: m.reason ?? '', minor: m.minor, headers: expectFields(fields), body, reusable: keep && reusableFraming },
    noBody: m.framing === 'head',
  };
}

/** 1 to 3 answers on one connection; a close-delimited one only last (it ends at the connection's end). */
const stream = fc.array(modelAnswer, { minLength: 1, maxLength: 3 }).map((ms) => ms.map((m, i) => (m.framing === 'close' && i < ms.length - 1 ? { ...m, framing: 'length' as const } : m)));

function encodeStream(ms: ModelAnswer[]): { input: Buffer; want: Answer[]; plan: Plan } {
  const encoded = ms.map(encodeAnswer);
  return {
    input: Buffer.concat(encoded.map((x) => x.bytes)),
    want: encoded.map((x) => x.want),
    plan: { noBody: encoded.map((x) => x.noBody), closed: ms[ms.length - 1]!.framing === 'close' },
  };
}

const cuts = fc.array(fc.nat(3000), { maxLength: 20 });

// ── (a) valid answers ───────────────────────────────────────────────────────────────────────

test('property: valid answers (every framing, interim heads, HEAD/204/304, obs-fold, bare LF, chunk extensions, trailers) decode to exactly the model, whole or cut anywhere', () => {
  fc.assert(
    fc.property(stream, cuts, (ms, cs) => {
      const { input, want, plan } = encodeStream(ms);
      const got = sameAtEveryCut(input, plan, cs);
      assert.deepEqual(got, { answers: want });
    }),
    { numRuns: 200 },
  );
});

// ── (b) hostile answers ─────────────────────────────────────────────────────────────────────

/** Byte strings that break framing one way or another, for mutations to insert. */
const hostile = [
  '\x00', '\r', '\n', '\r\n', '\r\n\r\n', ' ', '\t', ':', '\x7f', '\xff', ';', ' x\r\n', '\tfolded\r\n',
  'Content-Length: 5\r\n', 'Content-Length: -1\r\n', 'Content-Length: 0\r\n', 'Content-Length: 1,2\r\n', 'Content-Length: 99999999999999999999\r\n', 'Content-Length: +3\r\n',
  'Transfer-Encoding: chunked\r\n', 'Transfer-Encoding: gzip\r\n', 'Transfer-Encoding: chunked, chunked\r\n', 'Transfer-Encoding: identity\r\n',
  'Connection: close\r\n', 'Connection: keep-alive\r\n', 'X\x00Y: z\r\n', 'X: a\x00b\r\n', 'X : y\r\n',
  'ffffffffffffffff\r\n', '1fffffffffffff\r\n', '20000000000000\r\n', '-1\r\n', '0x10\r\n', '0\r\n\r\n', '1\r\nab\r\n', '10;\r\n',
  'HTTP/1.1 200 OK\r\n', 'HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', 'HTTP/1.1 099 Low\r\n', 'HTTP/1.1 1000 High\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc', 'HTTP/1.0 200 OK\r\n\r\n', 'HTTP/2 200\r\n',
].map(b);

type Mutation = { kind: 'insert' | 'delete' | 'flip' | 'repeat'; at: number; len: number; pick: number; byte: number };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('insert', 'insert', 'delete', 'flip', 'repeat'),
  at: fc.nat(),
  len: fc.integer({ min: 1, max: 40 }),
  pick: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
});

function mutate(input: Buffer, ms: Mutation[]): Buffer {
  let s = input;
  for (const m of ms) {
    const at = m.at % (s.length + 1);
    if (m.kind === 'insert') s = Buffer.concat([s.subarray(0, at), hostile[m.pick % hostile.length]!, s.subarray(at)]);
    else if (m.kind === 'delete') s = Buffer.concat([s.subarray(0, at), s.subarray(at + m.len)]);
    else if (m.kind === 'repeat') s = Buffer.concat([s.subarray(0, at + m.len), s.subarray(at)]);
    else if (at < s.length) (s = Buffer.from(s))[at] = m.byte;
  }
  return s;
}

const smallLimits = fc.constantFrom<Partial<Http1Limits>>({}, { maxLineBytes: 40, maxHeadBytes: 200, maxHeaders: 4 }, { maxLineBytes: 300, maxHeadBytes: 120, maxHeaders: 20 });

test('property: mutated answers never throw but a typed error, keep to the limits, give no body byte past a Content-Length, and end the same at every cut', () => {
  fc.assert(
    fc.property(stream, fc.array(mutation, { minLength: 1, maxLength: 4 }), cuts, fc.boolean(), smallLimits, (ms, muts, cs, closed, limits) => {
      const { input, plan } = encodeStream(ms);
      // One more answer armed than the model has: an injected answer may be read as the next.
      sameAtEveryCut(mutate(input, muts), { noBody: [...plan.noBody, false], closed, limits }, cs);
    }),
    { numRuns: 300 },
  );
});

test('property: random bytes after a valid start never throw but a typed error and end the same at every cut', () => {
  const start = fc.constantFrom('', 'HTTP/1.1 200 OK\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'HTTP/1.1 100 Continue\r\n');
  const junk = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.array(fc.constantFrom(...hostile), { maxLength: 12 }).map((xs) => Buffer.concat(xs)));
  fc.assert(
    fc.property(start, junk, cuts, fc.boolean(), smallLimits, (s, j, cs, closed, limits) => {
      sameAtEveryCut(Buffer.concat([b(s), j]), { noBody: [false, false, false], closed, limits }, cs);
    }),
    { numRuns: 300 },
  );
});

// ── limits ──────────────────────────────────────────────────────────────────────────────────

test('property: heads (interim heads and the final one together) and trailers end in HEAD_TOO_LARGE exactly when past a limit, and no later', () => {
  const limits: Http1Limits = { maxLineBytes: 60, maxHeadBytes: 400, maxHeaders: 5 };
  const line = fc.tuple(name.filter((n) => !framingNames.has(n.toLowerCase())), fc.string({ unit: fc.constantFrom('a', ' ', '\xff'), maxLength: 70 })).map(([n, v]) => `${n}: ${v}z`);
  const head = fc.record({ status: fc.constantFrom(100, 103, 200), lines: fc.array(line, { maxLength: 7 }) });
  fc.assert(
    fc.property(fc.array(head, { minLength: 1, maxLength: 12 }), fc.array(line, { maxLength: 7 }), (heads, trailers) => {
      // The heads up to the first final one; the answer chunked, so trailers are read too.
      const upTo = heads.findIndex((h) => h.status >= 200);
      const used = upTo < 0 ? heads : heads.slice(0, upTo + 1);
      const text = (lines: string[]): string => lines.map((l) => `${l}\r\n`).join('');
      const headText = used.map((h, i) => `HTTP/1.1 ${h.status} X\r\n${text(h.status >= 200 && i === used.length - 1 ? [...h.lines, 'Transfer-Encoding: chunked'] : h.lines)}\r\n`).join('');
      const trailerText = `0\r\n${text(trailers)}\r\n`;
      const tooLong = (ls: string[]): boolean => ls.some((l) => l.length > limits.maxLineBytes);
      const headPast = used.some((h) => h.lines.length + (h.status >= 200 ? 1 : 0) > limits.maxHeaders || tooLong(h.lines)) || headText.length > limits.maxHeadBytes;
      const trailerPast = trailers.length > limits.maxHeaders || tooLong(trailers) || trailerText.length - 3 > limits.maxHeadBytes;
      const final = upTo >= 0;
      const input = b(headText + (final ? trailerText : ''));
      // A byte at a time: the error comes at the byte that passes a limit, not later.
      const at = { fed: 0 };
      let headAt = -1;
      let endAt = -1;
      const d = new Http1ResponseDecoder({ onHead: () => void (headAt = at.fed), onData: () => assert.fail('no body'), onEnd: () => void (endAt = at.fed) }, limits);
      const { fed, code } = byteByByte(d, input, at);
      if (headPast) {
        assert.equal(code, 'TRANSPORT_HTTP1_HEAD_TOO_LARGE');
        assert.equal(headAt, -1, 'no head past a limit reaches the caller');
        assert.ok(fed <= limits.maxHeadBytes + 1, `${fed} bytes of heads read before the error`);
      } else if (!final) {
        assert.equal(code, undefined);
        assert.equal(headAt, -1);
      } else if (trailerPast) {
        assert.equal(code, 'TRANSPORT_HTTP1_HEAD_TOO_LARGE');
        assert.equal(headAt, headText.length);
        assert.ok(fed - headText.length <= limits.maxHeadBytes + 3 + 1, 'trailers read past the limit');
      } else {
        assert.equal(code, undefined);
        assert.deepEqual([headAt, endAt], [headText.length, input.length]);
      }
    }),
    { numRuns: 400 },
  );
});

test('property: a chunk-size line (extensions and all) longer than maxLineBytes fails with HEAD_TOO_LARGE no later than the byte past the limit, whatever comes after', () => {
  const limits: Partial<Http1Limits> = { maxLineBytes: 50 };
  const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 120 }), fc.constantFrom('\r\n', '\n', ''), fc.uint8Array({ maxLength: 40 }), (extLength, end, after) => {
      const line = `3;${'x'.repeat(extLength)}`;
      const input = Buffer.concat([b(`${head}${line}${end}`), Buffer.from(after)]);
      const { fed, code } = byteByByte(new Http1ResponseDecoder({ onHead: () => {}, onData: () => {}, onEnd: () => {} }, limits), input);
      if (line.length > 50) {
        assert.equal(code, 'TRANSPORT_HTTP1_HEAD_TOO_LARGE');
        assert.ok(fed - head.length <= 50 + 2, `${fed - head.length} bytes of one chunk-size line read`);
      } else if (code !== undefined) assert.ok(fed - head.length > line.length, 'a line within the limit failed for its length');
    }),
    { numRuns: 200 },
  );
});

// ── (c) never more body than declared ───────────────────────────────────────────────────────

test('property: answers whose bodies lie about their length (longer or shorter than a Content-Length or chunk size) never give more body bytes than declared', () => {
  // Data bytes that are neither hex digits nor LF: the only chunk sizes the decoder can read are the ones written.
  const data = (n: number): Buffer => Buffer.alloc(n, 'xyz');
  const lie = fc.record({
    chunked: fc.boolean(),
    sizes: fc.array(fc.record({ said: fc.integer({ min: 0, max: 40 }), sent: fc.integer({ min: 0, max: 40 }) }), { minLength: 1, maxLength: 4 }),
  });
  fc.assert(
    fc.property(fc.array(lie, { minLength: 1, maxLength: 3 }), cuts, fc.boolean(), (lies, cs, closed) => {
      let total = 0;
      const parts: Buffer[] = [];
      for (const l of lies) {
        if (!l.chunked) {
          const s = l.sizes[0]!;
          total += s.said;
          parts.push(b(`HTTP/1.1 200 OK\r\nContent-Length: ${s.said}\r\n\r\n`), data(s.sent));
          continue;
        }
        parts.push(b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'));
        for (const s of l.sizes) {
          total += s.said;
          if (s.said === 0) continue;
          parts.push(b(`${s.said.toString(16)}\r\n`), data(s.sent), b('\r\n'));
        }
        parts.push(b('0\r\n\r\n'));
      }
      const got = sameAtEveryCut(Buffer.concat(parts), { noBody: lies.map(() => false), closed }, cs);
      const given = [...got.answers.map((a) => a.body.length), got.partial?.body.length ?? 0].reduce((x, y) => x + y, 0);
      assert.ok(given <= total, `${given} body bytes given, ${total} declared`);
    }),
    { numRuns: 300 },
  );
});

/**
 * `input` pushed into a fresh answer of `d` one byte at a time, `at.fed` counting the bytes pushed
 * so far (callbacks read it): how many went in, and the error code if one came (only ours).
 */
function byteByByte(d: Http1ResponseDecoder, input: Uint8Array, at = { fed: 0 }): { fed: number; code: string | undefined } {
  d.begin();
  let code: string | undefined;
  try {
    for (const byte of input) {
      at.fed++;
      d.push(Uint8Array.of(byte));
    }
  } catch (err) {
    assert.ok(err instanceof TransportError);
    code = err.code;
  }
  return { fed: at.fed, code };
}

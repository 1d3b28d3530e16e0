/**
 * docs/torrenttp.md's examples are checked against the codecs, so the spec cannot drift from the
 * code: every ```http block is parsed (request or response), every request under /ttp/v1 is
 * routed and its Range decided by the codecs, and every response is checked against what the
 * codecs say the server must answer to the request before it: status, Content-Range, ETag,
 * Content-Length, the problem `code`, and each JSON body decoded by its codec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpBlocks, type Message } from '../helpers/http-blocks.js';
import { ERROR_CODES, TorrenttpError, type ErrorCode } from '../../src/errors/index.js';
import { encodeTorrent, METAINFO_JSON_MEDIA_TYPE, parseMetainfoJson, type Metainfo } from '../../src/metainfo/index.js';
import {
  checkPieceResponse,
  decodeHaveDocument,
  decodeJsonAnnounceResponse,
  decodeJsonScrapeResponse,
  decodeProblem,
  formatContentRange,
  formatUnsatisfiedRange,
  HAVE_MEDIA_TYPE,
  haveEtag,
  parseHaveQuery,
  parseJsonAnnounceRequest,
  parseJsonScrapeRequest,
  parsePieceRange,
  parseTtpTarget,
  PIECE_CACHE_CONTROL,
  PIECE_MEDIA_TYPE,
  pieceEtag,
  PROBLEM_CONTENT_TYPE,
  type TtpRoute,
} from '../../src/tracker/index.js';

const root = resolve(fileURLToPath(import.meta.url), '../../../..');
const SPEC = resolve(root, 'docs/torrenttp.md');

function codeOf(fn: () => unknown): ErrorCode | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof TorrenttpError, `not a TorrenttpError: ${String(err)}`);
    return err.code;
  }
}

/** What the codecs say a server answers to `req`: a status and, for an error, its code. */
interface Expected {
  readonly status?: number;
  readonly code?: ErrorCode;
  readonly route?: TtpRoute;
  readonly range?: { begin: number; length: number } | undefined;
}

const CORS_EXPOSE = 'Content-Length, Content-Location, Content-Range, ETag, Retry-After';

test('docs/torrenttp.md: every example request and response agrees with the codecs', () => {
  const blocks = httpBlocks(readFileSync(SPEC, 'utf8'));
  assert.ok(blocks.length >= 30, `only ${blocks.length} http blocks`);
  let metainfo: Metainfo | undefined;
  let req: { msg: Message; method: string; target: string; expected: Expected } | undefined;
  const checked = { requests: 0, responses: 0, json: 0, pieces: 0, problems: 0 };

  for (const msg of blocks) {
    const at = `docs/torrenttp.md:${msg.line}`;
    if (msg.start.startsWith('HTTP/1.1 ')) {
      // ── a response, to the request before it ──
      assert.ok(req !== undefined, `${at}: response without a request`);
      checked.responses++;
      const status = Number(msg.start.split(' ')[1]);
      const type = msg.headers.get('content-type');
      const len = msg.headers.get('content-length');
      const route = req.expected.route;
      if (req.expected.status !== undefined) assert.equal(status, req.expected.status, `${at}: status`);
      if (req.expected.code !== undefined) assert.ok(status >= 400, `${at}: the codecs refuse this request (${req.expected.code})`);
      if (status >= 400) assert.equal(msg.headers.get('cache-control'), 'no-store', `${at}: errors are never cached`);
      if (status === 429 || status === 503) assert.match(msg.headers.get('retry-after') ?? '', /^[0-9]+$/, `${at}: Retry-After`);
      if (route !== undefined && route.resource !== 'announce' && route.resource !== 'scrape') {
        assert.equal(msg.headers.get('access-control-allow-origin'), '*', `${at}: CORS`);
        if (req.method !== 'OPTIONS') assert.equal(msg.headers.get('access-control-expose-headers'), CORS_EXPOSE, `${at}: CORS expose`);
      }
      if (msg.body === '') {
        assert.ok(status === 304 || status === 204 || len === '0' || len === undefined, `${at}: no body`);
      } else if (msg.body.startsWith('<')) {
        const m = /^<(\d+) bytes/.exec(msg.body);
        assert.ok(m !== null, `${at}: binary placeholder is "<N bytes: …>"`);
        assert.equal(len, m[1], `${at}: Content-Length is the placeholder's size`);
      } else {
        assert.equal(Number(len), Buffer.byteLength(msg.body), `${at}: Content-Length is the body's byte length`);
      }

      if (type === PROBLEM_CONTENT_TYPE) {
        checked.problems++;
        const p = decodeProblem(msg.body);
        assert.ok(Object.hasOwn(ERROR_CODES, p.code) && p.code !== 'INTERNAL', `${at}: a registered code`);
        assert.equal(p.status, status, `${at}: problem status is the HTTP status`);
        assert.equal(ERROR_CODES[p.code].status, status, `${at}: the code's registered status`);
        assert.equal(p.type, `urn:torrenttp:error:${p.code}`);
        assert.equal(p.title, ERROR_CODES[p.code].message, `${at}: title is the registry message`);
        if (req.expected.code !== undefined) assert.equal(p.code, req.expected.code, `${at}: the code the codecs raise`);
        if (p.code === 'TTP_RANGE_NOT_SATISFIABLE' && route?.resource === 'piece') {
          assert.equal(msg.headers.get('content-range'), formatUnsatisfiedRange(pieceBytes(metainfo!, route.index)), `${at}: 416 Content-Range`);
        }
      } else if (type === HAVE_MEDIA_TYPE) {
        checked.json++;
        assert.equal(route?.resource, 'have', `${at}: a have-set answers a have request`);
        const doc = decodeHaveDocument(msg.body, { infoHash: route.infoHash, pieceCount: metainfo!.pieceCount });
        assert.equal(msg.headers.get('etag'), haveEtag(doc.cursor), `${at}: ETag is the cursor`);
        const q = parseHaveQuery(route.query);
        assert.equal(doc.type === 'delta', q.since !== undefined, `${at}: a delta answers since=`);
        if (doc.type === 'delta') assert.equal(doc.since, q.since);
        assert.equal(msg.headers.get('cache-control'), 'no-cache');
      } else if (type === METAINFO_JSON_MEDIA_TYPE) {
        checked.json++;
        assert.ok(route?.resource === 'torrent' || route?.resource === 'metainfo.json', `${at}: metainfo at a metainfo URL`);
        metainfo = parseMetainfoJson(msg.body);
        assert.equal(metainfo.infoHash, route.infoHash, `${at}: the info-hash of the URL`);
      } else if (type === 'application/x-bittorrent') {
        assert.ok(route?.resource === 'torrent' || route?.resource === 'metainfo.torrent', `${at}: .torrent at a metainfo URL`);
        const bytes = encodeTorrent(metainfo!.infoBytes, { announceList: metainfo!.announceList, createdBy: metainfo!.createdBy! });
        assert.equal(Number(len), bytes.length, `${at}: the .torrent of the JSON example`);
        assert.ok(msg.body.includes(new TextDecoder().decode(bytes.subarray(0, 40))), `${at}: placeholder shows the .torrent's start`);
      } else if (type === PIECE_MEDIA_TYPE) {
        checked.pieces++;
        assert.equal(route?.resource, 'piece', `${at}: piece bytes answer a piece request`);
        const n = pieceBytes(metainfo!, route.index);
        assert.equal(msg.headers.get('etag'), pieceEtag(metainfo!.pieceHashes.subarray(route.index * 20, route.index * 20 + 20)), `${at}: ETag from the piece hash`);
        assert.equal(msg.headers.get('cache-control'), PIECE_CACHE_CONTROL);
        assert.equal(msg.headers.get('accept-ranges'), 'bytes');
        assert.equal(msg.headers.get('x-content-type-options'), 'nosniff');
        const span = checkPieceResponse(req.expected.range, n, { status, contentRange: msg.headers.get('content-range'), contentLength: len });
        assert.equal(span.rangeIgnored, false);
        if (req.expected.range !== undefined) assert.equal(msg.headers.get('content-range'), formatContentRange(req.expected.range, n));
        else assert.equal(status, 200, `${at}: a whole piece is 200`);
      } else if (type === 'application/json') {
        checked.json++;
        if (route?.resource === 'announce') decodeJsonAnnounceResponse(msg.body);
        else if (route?.resource === 'scrape') decodeJsonScrapeResponse(msg.body);
        else assert.fail(`${at}: application/json answers announce or scrape only`);
      } else {
        assert.ok(status === 304 || status === 204, `${at}: unchecked content type ${type}`);
      }
      if (route?.resource === 'torrent' && status === 200) {
        assert.equal(msg.headers.get('vary'), 'Accept', `${at}: negotiated answers vary on Accept`);
        const form = type === 'application/x-bittorrent' ? 'metainfo.torrent' : 'metainfo.json';
        assert.equal(msg.headers.get('content-location'), `/ttp/v1/torrents/${route.infoHash}/${form}`, `${at}: Content-Location`);
      }
      req = undefined;
      continue;
    }

    // ── a request ──
    const m = /^(GET|HEAD|POST|OPTIONS) (\S+) HTTP\/1\.1$/.exec(msg.start);
    assert.ok(m !== null, `${at}: a request line or a status line: ${msg.start}`);
    assert.ok(msg.headers.has('host'), `${at}: Host`);
    checked.requests++;
    const [, method, target] = m as unknown as [string, string, string];
    let expected: Expected = {};
    const routed = codeOf(() => parseTtpTarget(target));
    if (routed !== 'ok') expected = { code: routed, status: ERROR_CODES[routed].status };
    else {
      const route = parseTtpTarget(target);
      expected = route === undefined ? {} : { route };
      if (route?.resource === 'piece' && method !== 'OPTIONS') {
        assert.ok(metainfo !== undefined, `${at}: a piece example after the metainfo example`);
        if (route.index >= metainfo.pieceCount) expected = { route, code: 'TTP_NO_SUCH_PIECE', status: 404 };
        else {
          const n = pieceBytes(metainfo, route.index);
          const decided = codeOf(() => parsePieceRange(msg.headers.get('range'), n));
          if (decided !== 'ok') expected = { route, code: decided, status: ERROR_CODES[decided].status };
          else {
            const d = parsePieceRange(msg.headers.get('range'), n);
            expected = { route, range: d.type === 'partial' ? { begin: d.begin, length: d.length } : undefined };
          }
        }
      }
      if (route?.resource === 'have') parseHaveQuery(route.query);
      if (method === 'POST') {
        assert.equal(msg.headers.get('content-type'), 'application/json', `${at}: JSON body`);
        assert.equal(Number(msg.headers.get('content-length')), Buffer.byteLength(msg.body), `${at}: Content-Length`);
        const parse = route?.resource === 'announce' ? () => parseJsonAnnounceRequest(msg.body) : () => parseJsonScrapeRequest(msg.body);
        const code = codeOf(parse);
        if (code !== 'ok') expected = { ...expected, code, status: ERROR_CODES[code].status };
        else checked.json++;
      }
      if (method === 'OPTIONS') expected = { ...expected, status: 204 };
    }
    req = { msg, method, target, expected };
  }
  assert.ok(checked.requests >= 18 && checked.responses >= 17, JSON.stringify(checked));
  assert.ok(checked.pieces >= 3 && checked.problems >= 5 && checked.json >= 8, JSON.stringify(checked));
});

test('docs/torrenttp.md: no unchecked JSON example blocks', () => {
  // JSON examples live inside ```http blocks, where the test above checks them.
  assert.doesNotMatch(readFileSync(SPEC, 'utf8'), /^```json$/m);
});

function pieceBytes(m: Metainfo, index: number): number {
  return index === m.pieceCount - 1 ? m.length - (m.pieceCount - 1) * m.pieceLength : m.pieceLength;
}

test("docs/torrenttp.md §13: each code's status and title are the registry's", () => {
  // A server written from the document sends these titles; they must be the ones torrenttp sends.
  const spec = readFileSync(SPEC, 'utf8');
  const table = spec.slice(spec.indexOf('## 13. Errors'), spec.indexOf('## 14.'));
  const rows = [...table.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| [^\n]*\| ([^|\n]+) \|$/gm)];
  assert.ok(rows.length >= 15, `rows: ${rows.length}`);
  for (const [, code, status, title] of rows) {
    assert.ok(Object.hasOwn(ERROR_CODES, code!), `${code} is not a registered code`);
    const entry = ERROR_CODES[code as ErrorCode];
    assert.equal(Number(status), entry.status, `${code}: status`);
    assert.equal(title!.trim(), entry.message, `${code}: title`);
  }
});

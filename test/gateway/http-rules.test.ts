/**
 * The gateway's pure HTTP rules: Range (RFC 9110 §14), Accept negotiation (§12.5.1),
 * conditionals (§13.2.2, §13.1.5) and request paths (no way out of the served folder).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decideRange,
  eligibility,
  evaluateConditionals,
  GatewayError,
  ifRangeHolds,
  parseRequestPath,
  preferredOffer,
} from '../../src/gateway/index.js';

test('Range: single ranges, suffixes, open ends, unsatisfiable, several, malformed', () => {
  assert.deepEqual(decideRange(undefined, 100), { type: 'whole' });
  assert.deepEqual(decideRange('bytes=0-9', 100), { type: 'partial', start: 0, end: 9 });
  assert.deepEqual(decideRange('bytes=90-', 100), { type: 'partial', start: 90, end: 99 });
  assert.deepEqual(decideRange('bytes=90-500', 100), { type: 'partial', start: 90, end: 99 });
  assert.deepEqual(decideRange('bytes=-10', 100), { type: 'partial', start: 90, end: 99 });
  assert.deepEqual(decideRange('bytes=-500', 100), { type: 'partial', start: 0, end: 99 });
  assert.deepEqual(decideRange('BYTES = 5-5', 100), { type: 'partial', start: 5, end: 5 });
  assert.deepEqual(decideRange('bytes=100-', 100), { type: 'unsatisfiable' });
  assert.deepEqual(decideRange('bytes=-0', 100), { type: 'unsatisfiable' });
  assert.deepEqual(decideRange('bytes=0-', 0), { type: 'unsatisfiable' });
  assert.deepEqual(decideRange('bytes=200-300, 400-', 100), { type: 'unsatisfiable' });
  // Several satisfiable ranges: the whole file (no multipart), also for overlapping floods.
  assert.deepEqual(decideRange('bytes=0-1,5-6', 100), { type: 'whole' });
  assert.deepEqual(decideRange(`bytes=${Array.from({ length: 100 }, () => '0-99').join(',')}`, 100), { type: 'whole' });
  // One satisfiable among unsatisfiable ones is that one.
  assert.deepEqual(decideRange('bytes=500-600,1-2', 100), { type: 'partial', start: 1, end: 2 });
  // Numbers past 2^53 are numbers: past the end (416), to the end, or a suffix of everything.
  assert.deepEqual(decideRange('bytes=99999999999999999999-', 100), { type: 'unsatisfiable' });
  assert.deepEqual(decideRange(`bytes=${'9'.repeat(400)}-`, 100), { type: 'unsatisfiable' });
  assert.deepEqual(decideRange('bytes=10-99999999999999999999', 100), { type: 'partial', start: 10, end: 99 });
  assert.deepEqual(decideRange('bytes=-99999999999999999999', 100), { type: 'partial', start: 0, end: 99 });
  for (const bad of ['bytes=5-1', 'bytes=a-b', 'bytes=-', 'items=0-1', 'bytes=', 'bytes=1-2-3', 'bytes=-1-2', 'bytes=99999999999999999999-1']) {
    assert.deepEqual(decideRange(bad, 100), { type: 'whole' }, bad);
  }
  assert.deepEqual(decideRange(`bytes=0-1${' '.repeat(2000)}`, 100), { type: 'whole' });
});

test('Accept: q-values and specificity choose bytes, torrent or JSON; ties go to the bytes', () => {
  const offers = ['application/octet-stream', 'application/x-bittorrent', 'application/vnd.torrenttp.metainfo+json'] as const;
  const pick = (h: string | undefined): string => preferredOffer(h, [...offers] as [string, ...string[]]);
  assert.equal(pick(undefined), offers[0]);
  assert.equal(pick('*/*'), offers[0]);
  assert.equal(pick('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'), offers[0]);
  assert.equal(pick('application/x-bittorrent'), offers[1]);
  assert.equal(pick('Application/X-BitTorrent'), offers[1]);
  assert.equal(pick('application/x-bittorrent, application/vnd.torrenttp.metainfo+json;q=0.9, */*;q=0.1'), offers[1]);
  assert.equal(pick('application/vnd.torrenttp.metainfo+json, application/x-bittorrent;q=0.5'), offers[2]);
  assert.equal(pick('application/x-bittorrent;q=0.5, */*'), offers[0]);
  assert.equal(pick('application/*;q=0.2, application/x-bittorrent;q=0.3'), offers[1]);
  assert.equal(pick('application/x-bittorrent;q=0, */*'), offers[0]);
  assert.equal(pick('application/x-bittorrent;q=1.5'), offers[0]); // invalid q drops the entry
  assert.equal(pick('text/html'), offers[0]); // nothing acceptable: the bytes, not 406
  assert.equal(pick(`${'x/y,'.repeat(5000)}application/x-bittorrent`), offers[0]); // huge header: no preference
  assert.equal(pick(';;;,,/,*/x,application/x-bittorrent'), offers[1]);
});

test('conditionals follow RFC 9110 §13.2.2 and If-Range §13.1.5', () => {
  const v = { etag: '"abc"', lastModifiedSec: 1_000_000 };
  const date = (sec: number): string => new Date(sec * 1000).toUTCString();
  assert.equal(evaluateConditionals({}, v), 'send');
  assert.equal(evaluateConditionals({ ifNoneMatch: '"abc"' }, v), 304);
  assert.equal(evaluateConditionals({ ifNoneMatch: 'W/"abc"' }, v), 304);
  assert.equal(evaluateConditionals({ ifNoneMatch: '"x", "abc"' }, v), 304);
  assert.equal(evaluateConditionals({ ifNoneMatch: '*' }, v), 304);
  assert.equal(evaluateConditionals({ ifNoneMatch: '"x"' }, v), 'send');
  // If-None-Match wins over If-Modified-Since.
  assert.equal(evaluateConditionals({ ifNoneMatch: '"x"', ifModifiedSince: date(2_000_000) }, v), 'send');
  assert.equal(evaluateConditionals({ ifModifiedSince: date(1_000_000) }, v), 304);
  assert.equal(evaluateConditionals({ ifModifiedSince: date(999_999) }, v), 'send');
  assert.equal(evaluateConditionals({ ifModifiedSince: 'garbage' }, v), 'send');
  assert.equal(evaluateConditionals({ ifMatch: '"x"' }, v), 412);
  assert.equal(evaluateConditionals({ ifMatch: 'W/"abc"' }, v), 412);
  assert.equal(evaluateConditionals({ ifMatch: '"abc"' }, v), 'send');
  assert.equal(evaluateConditionals({ ifUnmodifiedSince: date(999_999) }, v), 412);
  assert.equal(ifRangeHolds(undefined, v), true);
  assert.equal(ifRangeHolds('"abc"', v), true);
  assert.equal(ifRangeHolds('W/"abc"', v), false);
  assert.equal(ifRangeHolds('"old"', v), false);
  assert.equal(ifRangeHolds(date(1_000_000), v), true);
  assert.equal(ifRangeHolds(date(999_000), v), false);
});

test('request paths: decoded once, no dot segments, separators, NUL or dotfiles', () => {
  assert.deepEqual(parseRequestPath('/a/b%20c.txt?x=1'), { segments: ['a', 'b c.txt'], trailingSlash: false, query: 'x=1' });
  assert.deepEqual(parseRequestPath('//a///b/'), { segments: ['a', 'b'], trailingSlash: true, query: undefined });
  assert.deepEqual(parseRequestPath('/%252e%252e/x').segments, ['%2e%2e', 'x']); // decoded once: a literal name
  const code = (p: string): string => {
    try {
      parseRequestPath(p);
      return 'ok';
    } catch (err) {
      assert.ok(err instanceof GatewayError);
      return err.code;
    }
  };
  for (const p of ['/../etc/passwd', '/a/../../x', '/%2e%2e/x', '/%2E%2e/x', '/.%2e/x', '/a%2f..%2f..%2fx', '/a%2F..', '/a\\..\\x', '/a%5c..%5cx', '/a%00b', '/a\0b', '/%zz', 'http://h/x', '*', '/./x', `/${'a'.repeat(9000)}`]) {
    assert.equal(code(p), 'GATEWAY_BAD_PATH', p);
  }
  for (const p of ['/.hidden', '/a/.git/config', '/.torrenttp/meta', '/%2ehidden']) assert.equal(code(p), 'GATEWAY_NOT_FOUND', p);
});

test('eligibility: size threshold, include and exclude globs', () => {
  const d = eligibility();
  assert.equal(d('a.bin', 1024 * 1024), true);
  assert.equal(d('a.bin', 1024 * 1024 - 1), false);
  const g = eligibility({ minSizeBytes: 0, include: ['*.iso', 'big/**'], exclude: ['**/skip*'] });
  assert.equal(g('x/y.iso', 10), true);
  assert.equal(g('big/a/b.bin', 10), true);
  assert.equal(g('other.bin', 10), false);
  assert.equal(g('big/skip.bin', 10), false);
  assert.equal(g('x/y.iso', 0), false); // an empty file has no pieces
});

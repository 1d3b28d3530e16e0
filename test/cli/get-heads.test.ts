/** `get -v`'s lines on stderr (cli/get-heads.ts): what a server sends is shown, never acted on by the terminal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadWatch, MAX_DUMPED_HEADS, verboseLines } from '../../src/cli/get-heads.js';

test('get -v: a server\'s reason phrase and field values with ESC or U+009B (CSI) are shown escaped, the lines kept', () => {
  const text = verboseLines({
    type: 'response',
    head: {
      method: 'GET',
      url: 'http://127.0.0.1:1/x',
      requestHeaders: { 'user-agent': 'torrenttp' },
      httpVersion: '1.1',
      status: 200,
      statusMessage: 'OK\x1b[31mRED',
      rawHeaders: ['X-A', 'a\u009b2Jb', 'Content-Length', '2'],
    },
  });
  assert.doesNotMatch(text, /[\x1b\u009b]/);
  assert.match(text, /^< HTTP\/1\.1 200 OK\\x1b\[31mRED$/m);
  assert.match(text, /^< X-A: a\\x9b2Jb$/m);
  assert.match(text, /^< Content-Length: 2$/m);
  assert.equal(verboseLines({ type: 'route', message: 'gave way: \x1b]0;title\x07' }), '* gave way: \\x1b]0;title\\x07\n');
});

test('get: a flood of interim answers (1xx) is not kept head by head: -D writes a bounded number of them, and without -D none is kept', () => {
  const head = (status: number, statusMessage: string) => ({
    method: 'GET',
    url: 'http://127.0.0.1:1/x',
    requestHeaders: {},
    httpVersion: '1.1',
    status,
    statusMessage,
    rawHeaders: ['X-Pad', 'a'.repeat(100)],
  });
  let dumped = '';
  const watch = new HeadWatch((text) => (dumped += text));
  const silent = new HeadWatch();
  for (let i = 0; i < 100_000; i++) {
    watch.event({ type: 'response', head: head(100, 'Continue') });
    silent.event({ type: 'response', head: head(100, 'Continue') });
  }
  watch.event({ type: 'response', head: head(200, 'OK') });
  watch.flush();
  const interim = dumped.match(/^HTTP\/1\.1 100 Continue\r$/gm)?.length ?? 0;
  assert.ok(interim >= 1 && interim <= MAX_DUMPED_HEADS, `${interim} interim heads written`);
  assert.match(dumped, /HTTP\/1\.1 200 OK\r\nX-Pad: a+\r\n\r\n$/, 'the final head last');
  assert.equal((silent as unknown as { heads: unknown[] }).heads.length, 0, 'nothing kept for a -D nobody asked for');
});

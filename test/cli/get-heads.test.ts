/** `get -v`'s lines on stderr (cli/get-heads.ts): what a server sends is shown, never acted on by the terminal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verboseLines } from '../../src/cli/get-heads.js';

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

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { webSeedUrlProblem } from '../../src/cli/commands/create.js';
import { cli } from '../helpers/cli.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('create -w warns when the URL ends with the torrent name (BEP 19 appends it: a sure 404)', () =>
  withTempDir(async (dir) => {
    mkdirSync(join(dir, 'my set'));
    writeFileSync(join(dir, 'my set', 'a.bin'), bytes(1000));
    writeFileSync(join(dir, 'one.bin'), bytes(1000));
    const folderItself = await cli(dir, ['create', 'my set', '-w', 'http://h/pub/my%20set/', '--no-date']);
    assert.equal(folderItself.code, 0, folderItself.stderr);
    assert.match(folderItself.stderr, /^torrenttp: warning: web seed http:\/\/h\/pub\/my%20set\/ ends with the torrent's name.*http:\/\/h\/pub\/$/m);
    const right = await cli(dir, ['create', 'my set', '-w', 'http://h/pub/', '--no-date', '-f']);
    assert.equal(right.stderr, '');
    const file = await cli(dir, ['create', 'one.bin', '-w', 'http://h/pub/one.bin', '-w', 'http://h/pub/', '--no-date']);
    assert.equal(file.stderr, '', 'a single file at its own URL, or a folder URL ending in /, is right');
  }));

test('webSeedUrlProblem: only URLs that cannot be right', () => {
  assert.match(webSeedUrlProblem('http://h/a/set/', 'set', true) ?? '', /http:\/\/h\/a\/$/);
  assert.match(webSeedUrlProblem('http://h/a/set', 'set', true) ?? '', /\/set\/set\//);
  assert.match(webSeedUrlProblem('http://h/x.bin/', 'x.bin', false) ?? '', /folder that holds/);
  assert.equal(webSeedUrlProblem('http://h/x.bin', 'x.bin', false), undefined);
  assert.equal(webSeedUrlProblem('http://h/a/', 'set', true), undefined);
  assert.equal(webSeedUrlProblem('http://h/set/sub/', 'set', true), undefined);
  assert.equal(webSeedUrlProblem('http://h/', 'set', true), undefined);
  assert.match(webSeedUrlProblem('not a url', 'set', true) ?? '', /not a URL/);
});

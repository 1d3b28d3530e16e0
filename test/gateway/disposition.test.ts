/** `get -J`'s name from a Content-Disposition field (gateway/disposition.ts): what a server may not choose. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dispositionName } from '../../src/gateway/disposition.js';

test('dispositionName: a name of dots behind spaces is no name, a hidden one behind spaces loses its dots', () => {
  assert.equal(dispositionName('attachment; filename=" .."'), undefined);
  assert.equal(dispositionName('attachment; filename=" . "'), undefined);
  assert.equal(dispositionName('attachment; filename=" .bashrc"'), 'bashrc');
  assert.equal(dispositionName('attachment; filename="x/ ..\\ .profile "'), 'profile');
});

test('dispositionName: a name with a C1, line separator or bidi control is no name (the file would read as another: "invoice\\u202efdp.exe")', () => {
  assert.equal(dispositionName("attachment; filename*=UTF-8''invoice%E2%80%AEfdp.exe"), undefined);
  assert.equal(dispositionName("attachment; filename*=iso-8859-1''a%9Bb.txt"), undefined);
  assert.equal(dispositionName("attachment; filename*=UTF-8''a%E2%80%A8b.txt"), undefined);
  // An ordinary non-ASCII name is kept.
  assert.equal(dispositionName("attachment; filename*=UTF-8''na%C3%AFve.txt"), 'naïve.txt');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../../../..');

test('README: in the checkout, the quick way to run the CLI is named (npx installs the folder and runs prepare: a whole tsc)', () => {
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
  const bin = pkg.bin['torrenttp']!.replace(/^\.\//, '');
  assert.ok(readme.includes(`node ${bin}`), `README names \`node ${bin}\``);
  assert.match(readme, /npm link/);
  const npx = readme.indexOf('npx torrenttp');
  assert.ok(npx >= 0);
  const before = readme.slice(0, readme.indexOf('```sh\nnpx torrenttp'));
  assert.match(before, /`npx torrenttp` is slow[^.]*: npm\s+installs the folder[^.]*`prepare`/, 'the first npx torrenttp example is preceded by why it is slow in the checkout');
});

test('README: `npm start -- --port N --host H` reaches serve (the start script ends with serve and its folder, so npm appends the flags to it)', () => {
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const shown = /`npm start -- (--port \d+ --host [\d.]+)`/.exec(readme);
  assert.ok(shown !== null, 'README shows how to give npm start a port');
  assert.match(pkg.scripts['start']!, /\bserve "\$\{INIT_CWD:-\.\}"$/, 'npm appends `-- …` to the end of the script: serve must be last');
});

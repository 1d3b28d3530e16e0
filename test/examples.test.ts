import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../../..');

test('the example in docs/api.md is examples/share.ts, and it runs', () => {
  const source = readFileSync(resolve(root, 'examples/share.ts'), 'utf8').trim();
  const doc = readFileSync(resolve(root, 'docs/api.md'), 'utf8');
  assert.ok(doc.includes(`\`\`\`ts\n${source}\n\`\`\``), 'docs/api.md shows examples/share.ts verbatim');
  // The example leaves its folder for the reader to look at: run with a TMPDIR of the test's own, removed after.
  const tmp = mkdtempSync(join(tmpdir(), 'torrenttp-test-'));
  try {
    const out = execFileSync(process.execPath, [resolve(root, 'dist/examples/share.js')], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TMPDIR: tmp } });
    assert.match(out, /100% at/);
    assert.match(out, /downloaded hello\.bin \([0-9a-f]{40}\)/);
    assert.ok(out.includes(` to ${tmp}/`), `the example's folder is under the test's TMPDIR: ${out}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

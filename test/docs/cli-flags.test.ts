/**
 * docs/cli.md against the CLI itself: each command's `--help` options are in its section (the
 * tracker's in docs/tracker.md, to which its section sends the reader), every flag its synopsis
 * and its flag tables name is one `--help` knows, and get's exit-code rows name the system errors
 * src/cli/get-exit.ts maps to them, no more and no fewer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GET_EXIT_TABLE } from '../../src/cli/get-exit.js';
import { cli } from '../helpers/cli.js';

const root = resolve(fileURLToPath(import.meta.url), '../../../..');
const COMMANDS = ['create', 'info', 'convert', 'download', 'seed', 'tracker', 'serve', 'get', 'proxy'] as const;
const FLAG = /(?<![\w-])(--?[A-Za-z][\w-]*)/g;

function sections(markdown: string, level: string): Map<string, string> {
  const parts = markdown.split(new RegExp(`^${level} (.+)$`, 'm'));
  const out = new Map<string, string>();
  for (let i = 1; i + 1 < parts.length; i += 2) out.set(parts[i]!.trim(), parts[i + 1]!);
  return out;
}

/** The option names `--help` lists (`-o`, `--output`), without -h/--help. */
async function helpFlags(command: string): Promise<Set<string>> {
  const r = await cli(tmpdir(), [command, '--help']);
  assert.equal(r.code, 0, r.stderr);
  const options = r.stdout.split('\nOptions:\n')[1] ?? '';
  const names = new Set<string>();
  for (const line of options.split('\n')) {
    const m = /^ {2}((?:-[A-Za-z], )?--?[A-Za-z][\w-]*)/.exec(line);
    if (m !== null) for (const name of m[1]!.match(FLAG) ?? []) names.add(name);
  }
  names.delete('-h');
  names.delete('--help');
  assert.ok(names.size > 0, `${command} --help lists options: ${r.stdout}`);
  return names;
}

/** The flags a section states as such: its synopsis (the first sh block) and the first column of its `| flag | meaning |` tables. */
function statedFlags(section: string): Set<string> {
  const stated: string[] = [];
  const synopsis = /```sh\n([\s\S]*?)```/.exec(section);
  if (synopsis !== null) stated.push(synopsis[1]!);
  let inTable = false;
  for (const line of section.split('\n')) {
    if (/^\| flag \| meaning \|/.test(line)) inTable = true;
    else if (!line.startsWith('|')) inTable = false;
    else if (inTable && !line.startsWith('|---')) stated.push(line.split('|')[1]!);
  }
  return new Set(stated.join(' ').match(FLAG) ?? []);
}

test('docs/cli.md: every option of each command\'s --help is in its section, and every flag a synopsis or flag table states is in --help', async () => {
  const doc = sections(readFileSync(resolve(root, 'docs/cli.md'), 'utf8'), '##');
  const trackerDoc = readFileSync(resolve(root, 'docs/tracker.md'), 'utf8');
  for (const command of COMMANDS) {
    const section = doc.get(command);
    assert.ok(section !== undefined, `docs/cli.md has a "## ${command}" section`);
    const help = await helpFlags(command);
    const written = new Set((command === 'tracker' ? section + trackerDoc : section).match(FLAG) ?? []);
    const missing = [...help].filter((f) => !written.has(f));
    assert.deepEqual(missing, [], `torrenttp ${command} --help has options docs/cli.md's "## ${command}" does not name`);
    const unknown = [...statedFlags(section)].filter((f) => !help.has(f));
    assert.deepEqual(unknown, [], `docs/cli.md's "## ${command}" states flags torrenttp ${command} --help does not have`);
  }
});

test('docs/cli.md, get exit codes: each row names exactly the system errors (ENOTFOUND, EAI_AGAIN, …) get-exit.ts maps to its exit', () => {
  const doc = readFileSync(resolve(root, 'docs/cli.md'), 'utf8');
  const errno = /^(?:E[A-Z]+|EAI_[A-Z]+)$/;
  const rows = GET_EXIT_TABLE.filter((row) => row.causes?.some((c) => errno.test(c)) === true);
  assert.ok(rows.length >= 4, 'the resolve, connect, timeout and receive rows');
  for (const row of rows) {
    const line = doc.split('\n').find((l) => l.startsWith(`| **${row.exit}** |`));
    assert.ok(line !== undefined, `docs/cli.md has a row for exit ${row.exit}`);
    const named = new Set([...line.matchAll(/`(?:read )?((?:E[A-Z]+|EAI_[A-Z]+))`/g)].map((m) => m[1]!));
    const mapped = new Set(row.causes!.filter((c) => errno.test(c)));
    assert.deepEqual([...named].sort(), [...mapped].sort(), `exit ${row.exit}: the row names what get-exit.ts maps`);
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { commandsFor, LAZY_COMMANDS } from '../../src/cli/commands/lazy.js';
import { defaultContext } from '../../src/cli/context.js';
import type { Register } from '../../src/cli/program.js';

/** The names a list of registers adds to a program, in order. */
function namesOf(registers: readonly Register[]): string[] {
  const program = new Command();
  for (const register of registers) register(program, defaultContext());
  return program.commands.map((c) => c.name());
}

test('the lazily loaded command table holds every command, in --help order, and each name loads its own', async () => {
  const all = namesOf(COMMANDS);
  const lazy = namesOf(await Promise.all(LAZY_COMMANDS.map((c) => c.load())));
  assert.deepEqual(lazy, all, 'LAZY_COMMANDS (src/cli/commands/lazy.ts) must list what COMMANDS (index.ts) lists');
  assert.deepEqual(LAZY_COMMANDS.flatMap((c) => c.names), all);
  for (const name of all) assert.ok(namesOf(await commandsFor([name, '--x'])).includes(name), `torrenttp ${name} loads its command`);
});

test('--version alone loads no command: it prints and exits before any would run', async () => {
  assert.deepEqual(await commandsFor(['--version']), []);
  assert.deepEqual(await commandsFor(['-V']), []);
  assert.deepEqual(await commandsFor(['--debug', '--version']), []);
  assert.equal((await commandsFor(['--version', '--help'])).length, LAZY_COMMANDS.length, 'help lists them all');
  assert.deepEqual(namesOf(await commandsFor(['get', '--version'])), ['get']);
});

import type { Register } from '../program.js';

/**
 * Every command by name, loaded on demand: `torrenttp get URL` compiles `get.ts` and what it
 * imports, not the tracker, the server or the engine's other users (half of a short download's
 * CPU was start-up, most of it compiling modules the command never ran). `main.ts` loads the one
 * command named on the command line, or all of them for `--help`, an unknown name or none.
 * Keep the names and the order of `index.ts` (`torrenttp --help` lists them in this order).
 */
export const LAZY_COMMANDS: readonly { readonly names: readonly string[]; readonly load: () => Promise<Register> }[] = [
  { names: ['create'], load: async () => (await import('./create.js')).register },
  { names: ['info'], load: async () => (await import('./info.js')).register },
  { names: ['convert'], load: async () => (await import('./convert.js')).register },
  { names: ['download', 'seed'], load: async () => (await import('./transfer.js')).register },
  { names: ['tracker'], load: async () => (await import('./tracker.js')).register },
  { names: ['serve'], load: async () => (await import('./serve.js')).register },
  { names: ['get'], load: async () => (await import('./get.js')).register },
  { names: ['proxy'], load: async () => (await import('./proxy.js')).register },
];

/**
 * The commands argv needs: the one it names (its first word that is not an option; the
 * program's own options, `--debug`, `--help` and `--version`, take no value), none for
 * `--version` (or `-V`) alone, which prints and exits before any command runs, else all.
 */
export async function commandsFor(argv: readonly string[]): Promise<Register[]> {
  const first = argv.find((a) => !a.startsWith('-'));
  if (first === undefined && argv.some((a) => a === '--version' || a === '-V') && !argv.some((a) => a === '--help' || a === '-h')) return [];
  const named = first === undefined ? undefined : LAZY_COMMANDS.find((c) => c.names.includes(first));
  const wanted = named === undefined || argv.includes('help') ? LAZY_COMMANDS : [named];
  return Promise.all(wanted.map((c) => c.load()));
}

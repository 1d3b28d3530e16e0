import type { Register } from '../program.js';

/** Every command, in `torrenttp --help` order. Add a command: one file in this folder, one line here. */
export const COMMANDS: readonly Register[] = [];

import type { Register } from '../program.js';
import { register as tracker } from './tracker.js';

/** Every command, in `torrenttp --help` order. Add a command: one file in this folder, one line here. */
export const COMMANDS: readonly Register[] = [tracker];

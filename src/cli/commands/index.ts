import type { Register } from '../program.js';
import { register as convert } from './convert.js';
import { register as create } from './create.js';
import { register as get } from './get.js';
import { register as info } from './info.js';
import { register as proxy } from './proxy.js';
import { register as serve } from './serve.js';
import { register as tracker } from './tracker.js';
import { register as transfer } from './transfer.js';

/** Every command, in `torrenttp --help` order. Add a command: one file in this folder, one line here. */
export const COMMANDS: readonly Register[] = [create, info, convert, transfer, tracker, serve, get, proxy];

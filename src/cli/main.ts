#!/usr/bin/env node
import { defaultContext } from './context.js';
import { runProgram } from './program.js';
import { COMMANDS } from './commands/index.js';

const code = await runProgram(defaultContext(), COMMANDS, process.argv.slice(2));
process.exitCode = code;

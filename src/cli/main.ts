#!/usr/bin/env -S node --openssl-legacy-provider
import { defaultContext } from './context.js';
import { runProgram } from './program.js';
import { commandsFor } from './commands/lazy.js';

// A closed pipe (`torrenttp info x | head`) is the reader's choice, not our failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    // A command that listens itself ends its own way: `get` first tells its trackers `stopped`
    // (within 1 s), else `serve`'s tracker sends the next gets to a dead peer.
    if (stream.listenerCount('error') > 1) return;
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const argv = process.argv.slice(2);
const code = await runProgram(defaultContext(), await commandsFor(argv), argv);
process.exitCode = code;
// The command is over. Whatever still holds the event loop (a disk job the OS never finishes, a
// socket slow to close) must not keep a finished command running: give it a moment, then exit.
// That is a leak to fix, not a way to end: --debug names what was still open (tests look for it).
setTimeout(() => {
  if (process.argv.includes('--debug')) {
    process.stderr.write(`torrenttp: [debug] still running 2 s after the command ended, exiting anyway; open: ${process.getActiveResourcesInfo().join(', ')}\n`);
  }
  process.exit(code);
}, 2000).unref();

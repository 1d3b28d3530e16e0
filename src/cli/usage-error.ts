import type { Command } from 'commander';

/**
 * A usage error a command finds itself (options that go together, a malformed value commander
 * cannot see): exit 2, said as commander says its own. A module of its own, with nothing but
 * commander's type, so that `get` (whose start-up is part of its time) loads no more for it.
 */
export function usageError(cmd: Command, message: string): never {
  return cmd.error(`error: ${message}`, { exitCode: 2, code: 'torrenttp.usage' });
}

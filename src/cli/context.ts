import type { Writable } from 'node:stream';

/** What a command needs from the outside world; tests can hand in their own streams. */
export interface CliContext {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly cwd: string;
}

export function defaultContext(): CliContext {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() };
}

/** Prints one JSON document per line: the `--json` machine output of every command. */
export function printJson(ctx: CliContext, value: unknown): void {
  ctx.stdout.write(`${JSON.stringify(value)}\n`);
}

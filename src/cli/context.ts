import { writeFile } from 'node:fs/promises';
import { TorrenttpError } from '../errors/index.js';
import type { Writable } from 'node:stream';

/** What a command needs from the outside world; tests can hand in their own streams. */
export interface CliContext {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly cwd: string;
  /** A command that ends without an error but not in success (an interrupted download) sets this. */
  exitCode?: number;
}

export function defaultContext(): CliContext {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() };
}

/** Prints one JSON document per line: the `--json` machine output of every command. */
export function printJson(ctx: CliContext, value: unknown): void {
  ctx.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Writes a command's output file; refuses to overwrite unless `force` (mktorrent refuses too). */
export async function writeOutput(path: string, bytes: Uint8Array, force: boolean): Promise<void> {
  try {
    await writeFile(path, bytes, { flag: force ? 'w' : 'wx' });
  } catch (cause) {
    if ((cause as { code?: string }).code === 'EEXIST') throw new TorrenttpError('CLI_OUTPUT_EXISTS', { detail: path, cause });
    throw new TorrenttpError('CREATE_IO', { detail: `cannot write ${path}`, cause });
  }
}

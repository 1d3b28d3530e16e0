import { stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TorrenttpError } from '../errors/index.js';
import type { Readable, Writable } from 'node:stream';

/** What a command needs from the outside world; tests can hand in their own streams. */
export interface CliContext {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly cwd: string;
  /** Where a command reads what the user pipes in (`get -w @-`); default process.stdin. */
  readonly stdin?: Readable;
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
    throw new TorrenttpError('CLI_OUTPUT_UNWRITABLE', { detail: `${path}: ${await whyUnwritable(path, cause as NodeJS.ErrnoException)}`, cause });
  }
}

/** `read-only file system (EROFS)`, `/x/afile is a file, not a folder (ENOTDIR)`: what the user can act on. */
async function whyUnwritable(path: string, err: NodeJS.ErrnoException): Promise<string> {
  switch (err.code) {
    case 'EROFS':
      return 'read-only file system (EROFS)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${err.code})`;
    case 'ENOSPC':
      return 'no space left on the device (ENOSPC)';
    case 'EISDIR':
      return 'it is a folder (EISDIR)';
    case 'ENAMETOOLONG':
      return 'file name too long (ENAMETOOLONG)';
    case 'ENOENT':
      // A folder that is there but makes no files (/proc, /sys) answers ENOENT too.
      if ((await stat(dirname(path)).catch(() => undefined))?.isDirectory() === true) return `the folder ${dirname(path)} takes no new file (ENOENT)`;
      return `the folder ${dirname(path)} does not exist (ENOENT)`;
    case 'ENOTDIR':
      // The nearest existing ancestor is a file where a folder is needed.
      for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
        const st = await stat(dir).catch(() => undefined);
        if (st !== undefined && !st.isDirectory()) return `${dir} is a file, not a folder (ENOTDIR)`;
      }
      return `a part of the path is not a folder (ENOTDIR)`;
    default:
      return err.message;
  }
}

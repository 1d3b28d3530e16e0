import { Writable } from 'node:stream';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { runProgram } from '../../src/cli/program.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

class Sink extends Writable {
  text = '';
  isTTY: boolean;
  constructor(tty: boolean) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** Runs the CLI in-process with captured streams. */
export async function cli(cwd: string, args: readonly string[], opts: { tty?: boolean } = {}): Promise<CliResult> {
  const stdout = new Sink(opts.tty === true);
  const stderr = new Sink(opts.tty === true);
  const code = await runProgram({ stdout, stderr, cwd }, COMMANDS, args);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

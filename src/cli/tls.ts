import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { usageError } from './usage-error.js';

export interface Tls {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * `--cert`/`--key` of the commands that serve HTTPS (`serve`, and `seed`/`download` with
 * `--http-port`): both or neither, each a PEM file read now, so that a wrong path fails before
 * anything listens. One without the other is a usage error (exit 2, docs/cli.md), as a bad
 * option value is; so are they without the server they are for (`noServer`, said first).
 */
export async function readTls(ctx: CliContext, cmd: Command, cert: string | undefined, key: string | undefined, noServer?: string): Promise<Tls | undefined> {
  if (noServer !== undefined && (cert !== undefined || key !== undefined)) return usageError(cmd, noServer);
  if ((cert === undefined) !== (key === undefined)) return usageError(cmd, `${cert === undefined ? '--key' : '--cert'} needs ${cert === undefined ? '--cert' : '--key'}: --cert and --key go together`);
  if (cert === undefined || key === undefined) return undefined;
  return { cert: await readPem(ctx, cert), key: await readPem(ctx, key) };
}

async function readPem(ctx: CliContext, file: string): Promise<Buffer> {
  try {
    return await readFile(resolve(ctx.cwd, file));
  } catch (cause) {
    const { GatewayError } = await import('../gateway/index.js'); // the error path alone: a download without --cert does not compile the gateway
    throw new GatewayError('GATEWAY_TLS', { detail: file, cause });
  }
}

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TorrenttpError } from '../errors/index.js';
import type { CliContext } from './context.js';

/**
 * `--cert`/`--key` of the commands that serve HTTPS (`serve`, and `seed`/`download` with
 * `--http-port`): both or neither, each a PEM file read now, so that a wrong path fails before
 * anything listens.
 */
export async function readTls(ctx: CliContext, cert: string | undefined, key: string | undefined): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if ((cert === undefined) !== (key === undefined)) throw new TorrenttpError('INVALID_ARGUMENT', { detail: '--cert and --key go together' });
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

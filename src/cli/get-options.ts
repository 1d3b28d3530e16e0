import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { TorrenttpError } from '../errors/index.js';

/** `get`'s flags as commander gives them, and the helpers that read them (commands/get.ts). */
export interface GetFlags {
  encryption?: 'prefer' | 'require' | 'off';
  output?: string;
  remoteName?: boolean;
  continueAt?: string;
  continue?: boolean;
  seed?: boolean;
  swarm: boolean;
  header: string[];
  port?: number;
  json?: boolean;
  silent?: boolean;
  quiet?: boolean;
  connectTimeout?: string;
  maxTime?: string;
  retry?: string;
  limitRate?: string;
  insecure?: boolean;
  cacert?: string;
  range?: string;
  head?: boolean;
  userAgent?: string;
  referer?: string;
  user?: string;
  outputDir?: string;
  directoryPrefix?: string;
  remoteHeaderName?: boolean;
  dumpHeader?: string;
  writeOut?: string;
  verbose?: boolean;
  // wget's spellings
  U?: string;
  password?: string;
  checkCertificate?: boolean;
  caCertificate?: string;
  timeout?: string;
  tries?: string;
}

export const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** An HTTP field name (RFC 9110 token), and what node refuses in a field value (control characters, CR, LF). */
export const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** curl's `-r`: `N-M`, `N-` or `-N`, or a comma-separated list of them (sent as it is: the server's multipart answer is the output, as curl writes it). */
export const CURL_RANGE = /^(?:\d{1,19}-\d{0,19}|-\d{1,19})(?:,(?:\d{1,19}-\d{0,19}|-\d{1,19}))*$/;

/** The longest wait a node timer holds (2^31 - 1 ms, 24.8 days): a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `--connect-timeout`, `--max-time`: seconds, fractions allowed (curl's); 0, or more than a timer holds (24.8 days), is no limit. In ms. */
export function seconds(value: string | undefined, flag: string, usage: (message: string) => never): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\s*(?:\d{1,9}(?:\.\d*)?|\.\d+)\s*$/.test(value)) return usage(`${flag} ${JSON.stringify(value)}: not a number of seconds`);
  const ms = Math.round(Number(value) * 1000);
  return ms === 0 || ms > MAX_TIMER_MS ? undefined : ms;
}

/**
 * wget's spellings, folded into curl's flags before they are read: `-U` is `-A`,
 * `--user U --password P` is `-u U:P`, `--no-check-certificate` is `-k`, `--ca-certificate` is
 * `--cacert`, `-t N` (attempts) is `--retry N-1` (0: no limit), and `-T S` is `--connect-timeout S`
 * plus the most time the answer and the body may send nothing (`stallMs`, wget's read timeout).
 */
export function wgetSpellings(flags: GetFlags, usage: (message: string) => never): { stallMs?: number } {
  const both = (a: string, b: string): never => usage(`${a} and ${b} are the same: give one`);
  if (flags.U !== undefined) flags.userAgent = flags.userAgent === undefined ? flags.U : both('-A', '-U');
  if (flags.password !== undefined) {
    if (flags.user === undefined || flags.user.includes(':')) usage('--password goes with --user USER (or give -u USER:PASSWORD)');
    flags.user = `${flags.user}:${flags.password}`;
  }
  if (flags.checkCertificate === false) flags.insecure = true;
  if (flags.caCertificate !== undefined) flags.cacert = flags.cacert === undefined ? flags.caCertificate : both('--cacert', '--ca-certificate');
  if (flags.tries !== undefined) {
    if (!/^\s*\d{1,9}\s*$/.test(flags.tries)) usage(`--tries ${JSON.stringify(flags.tries)}: not a count (0 for no limit)`);
    if (flags.retry !== undefined) both('--retry', '--tries');
    flags.retry = String(Number(flags.tries) === 0 ? 999_999_999 : Number(flags.tries) - 1);
  }
  if (flags.timeout === undefined) return {};
  const ms = seconds(flags.timeout, '--timeout', usage);
  flags.connectTimeout ??= flags.timeout;
  return ms === undefined ? {} : { stallMs: ms };
}

/**
 * `--cacert FILE`: its PEM certificates, the only CAs trusted (curl's). Unreadable, holding no
 * certificate, or one that does not parse: `GATEWAY_TLS`, exit 77 (curl's "problem reading the SSL CA cert").
 */
export async function readCa(path: string, given: string): Promise<Buffer> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (cause) {
    throw new TorrenttpError('GATEWAY_TLS', { detail: `--cacert ${given}`, cause });
  }
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new TorrenttpError('GATEWAY_TLS', { detail: `--cacert ${given}: no PEM certificate in it` });
  // node's TLS skips a certificate it cannot parse without a word: the get would trust nobody.
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (cause) {
      throw new TorrenttpError('GATEWAY_TLS', { detail: `--cacert ${given}: its certificate ${i + 1} does not parse`, cause });
    }
  }
  return pem;
}

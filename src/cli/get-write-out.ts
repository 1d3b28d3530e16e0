import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';

/**
 * `get -w FORMAT` (curl's `--write-out`): printed to stdout once the get ends, done or failed.
 * `%{name}` is a variable, `%%` a percent sign, `\n`, `\r`, `\t` and `\\` their characters;
 * anything else is itself. An unknown variable is a usage error (curl prints a warning and
 * nothing for it: a typo in a script's format is better said before the download). `-w @FILE`
 * reads the format from FILE, `-w @-` from stdin (`writeOutFormat`).
 */
export interface WriteOutVars {
  /** The last response's status (the file's answer, or the torrent's for a swarm download); 0 when none came. */
  readonly httpCode: number;
  readonly sizeDownload: number;
  readonly timeTotalSeconds: number;
  readonly urlEffective: string;
  readonly exitCode: number;
  readonly contentType: string;
  /** The file written; '' for stdout or none. */
  readonly filenameEffective: string;
  readonly numRedirects: number;
  /** Why the get failed, as its error line says it (without `torrenttp: `); '' when it did not. */
  readonly errorMessage: string;
}

const VARIABLES: Readonly<Record<string, (v: WriteOutVars) => string>> = {
  http_code: (v) => String(v.httpCode).padStart(3, '0'),
  response_code: (v) => String(v.httpCode).padStart(3, '0'),
  size_download: (v) => String(v.sizeDownload),
  time_total: (v) => v.timeTotalSeconds.toFixed(6),
  // curl's: bytes per second, a whole number.
  speed_download: (v) => String(Math.round(v.sizeDownload / Math.max(v.timeTotalSeconds, 1e-6))),
  url_effective: (v) => v.urlEffective,
  exitcode: (v) => String(v.exitCode),
  content_type: (v) => v.contentType,
  filename_effective: (v) => v.filenameEffective,
  num_redirects: (v) => String(v.numRedirects),
  errormsg: (v) => v.errorMessage,
};

export const WRITE_OUT_VARIABLES: readonly string[] = Object.keys(VARIABLES);

const ESCAPES: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t', '\\': '\\' };

/** The format compiled; a string naming the unknown variable instead when there is one. */
export function compileWriteOut(format: string): ((v: WriteOutVars) => string) | string {
  const parts: (string | ((v: WriteOutVars) => string))[] = [];
  const re = /%\{([^}]*)\}|%%|\\([nrt\\])/g;
  let at = 0;
  for (const m of format.matchAll(re)) {
    parts.push(format.slice(at, m.index));
    at = m.index + m[0].length;
    if (m[0] === '%%') parts.push('%');
    else if (m[2] !== undefined) parts.push(ESCAPES[m[2]]!);
    else {
      const variable = Object.hasOwn(VARIABLES, m[1]!) ? VARIABLES[m[1]!] : undefined;
      if (variable === undefined) return m[1]!;
      parts.push(variable);
    }
  }
  parts.push(format.slice(at));
  return (v) => parts.map((p) => (typeof p === 'string' ? p : p(v))).join('');
}

/** Most bytes of a `-w @FILE` format. */
const MAX_FORMAT_BYTES = 64 * 1024;

/**
 * The format `-w ARG` names: ARG itself, or, for `@FILE`, FILE's text (`@-`: stdin's), its line
 * ends dropped as curl drops them (write `\n` for one). Rejects when FILE cannot be read or is
 * larger than 64 KiB (curl prints nothing then; a get says why before the download).
 */
export async function writeOutFormat(arg: string, cwd: string, stdin: Readable): Promise<string> {
  if (!arg.startsWith('@')) return arg;
  const name = arg.slice(1);
  let text: string;
  if (name === '-') {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of stdin as AsyncIterable<Buffer | string>) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      n += b.length;
      if (n > MAX_FORMAT_BYTES) throw new Error(`more than ${MAX_FORMAT_BYTES} bytes on stdin`);
      chunks.push(b);
    }
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    const bytes = await readFile(resolve(cwd, name));
    if (bytes.length > MAX_FORMAT_BYTES) throw new Error(`${name} has more than ${MAX_FORMAT_BYTES} bytes`);
    text = bytes.toString('utf8');
  }
  return text.replace(/[\r\n]/g, '');
}

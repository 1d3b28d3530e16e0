/**
 * `get -w FORMAT` (curl's `--write-out`): printed to stdout once the get ends, done or failed.
 * `%{name}` is a variable, `%%` a percent sign, `\n`, `\r`, `\t` and `\\` their characters;
 * anything else is itself. An unknown variable is a usage error (curl prints a warning and
 * nothing for it: a typo in a script's format is better said before the download).
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

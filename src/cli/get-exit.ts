import { causeCodes, TLS_FAILURE } from '../gateway/client.js';
import { TorrenttpError } from '../errors/index.js';
import { CERTIFICATE_CODES } from './certificates.js';

/**
 * `torrenttp get`'s exit codes: curl's (`man curl`, EXIT CODES) wherever the failure means the
 * same, so that a script written for curl reads them as it reads curl's. The one table of them:
 * docs/cli.md's is this one. The typed errors keep their codes (`GATEWAY_GET_FAILED` says "request
 * failed" for a refused connection and a bad certificate alike); the exit code is read from the
 * error's code and from the codes down its cause chain: node's (`ENOTFOUND`, `ECONNREFUSED`),
 * OpenSSL's (`DEPTH_ZERO_SELF_SIGNED_CERT`) and a get's own (`GetFailure`, gateway/get-io.ts).
 * The first row that matches wins.
 */
export const GET_EXIT = {
  ok: 0,
  /** Any other failure (curl's 1 is "unsupported protocol": here that one is a usage error). */
  failed: 1,
  /** A usage error (commander's and `usageError`'s). curl's 2 is "failed to initialize". */
  usage: 2,
  resolve: 6,
  connect: 7,
  partial: 18,
  range: 33,
  httpStatus: 22,
  write: 23,
  timeout: 28,
  tls: 35,
  redirects: 47,
  emptyReply: 52,
  receive: 56,
  certificate: 60,
  caFile: 77,
  /** Ctrl-C or SIGTERM: 128 + SIGINT, as shells say (curl dies of the signal). */
  interrupted: 130,
} as const;

export type GetExitRow = { readonly exit: number; readonly codes?: readonly string[]; readonly causes?: readonly string[]; readonly causePattern?: RegExp };

/** Exported for test/docs/cli-flags.test.ts, which holds docs/cli.md's rows to it. */
export const GET_EXIT_TABLE: readonly GetExitRow[] = [
  // The output, whatever the cause (ENOSPC, EPIPE): curl's CURLE_WRITE_ERROR. A name the server
  // chose that would replace a file is refused as curl's -J refuses to overwrite (23); several
  // files cannot go to one stream.
  { exit: GET_EXIT.write, codes: ['GATEWAY_GET_OUTPUT', 'GATEWAY_GET_OUTPUT_EXISTS', 'GATEWAY_GET_NOT_ONE_FILE', 'STORAGE_NO_SPACE', 'STORAGE_READ_ONLY', 'STORAGE_IO', 'STORAGE_PATH_CONFLICT', 'STORAGE_HARD_LINK', 'STORAGE_PATH_ESCAPE'] },
  // `--cacert FILE` unreadable or not PEM: curl's "problem reading the SSL CA cert".
  { exit: GET_EXIT.caFile, codes: ['GATEWAY_TLS'] },
  // An HTTP error status (get always fails on one, as curl -f).
  { exit: GET_EXIT.httpStatus, codes: ['GATEWAY_GET_HTTP_STATUS'] },
  { exit: GET_EXIT.timeout, causes: ['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'] },
  { exit: GET_EXIT.partial, causes: ['ERR_GET_PARTIAL'] },
  { exit: GET_EXIT.redirects, causes: ['ERR_GET_REDIRECTS'] },
  // A `416` to `-C -` of a file that is not whole (curl takes any 416 to a resume for success,
  // a range the server ignored for 33: a get fails on the first, and starts over on the second).
  { exit: GET_EXIT.range, causes: ['ERR_GET_RANGE'] },
  { exit: GET_EXIT.resolve, causes: ['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA'] },
  { exit: GET_EXIT.connect, causes: ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EADDRNOTAVAIL', 'ENETDOWN'] },
  { exit: GET_EXIT.certificate, causes: CERTIFICATE_CODES },
  // The handshake failed otherwise (an alert, no common protocol or cipher, a server that does not
  // speak TLS, the connection reset or closed in the middle of it): before the reset row.
  { exit: GET_EXIT.tls, causePattern: TLS_FAILURE },
  // Closed without a byte of answer (under it, node's ECONNRESET `socket hang up`): before the reset row.
  { exit: GET_EXIT.emptyReply, causes: ['ERR_GET_EMPTY_REPLY'] },
  { exit: GET_EXIT.receive, causes: ['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET'] },
];

/** The exit code of a get that failed with `err` (not interrupted: that is `GET_EXIT.interrupted`). */
export function getExitCode(err: unknown): number {
  const code = err instanceof TorrenttpError ? err.code : undefined;
  // A TorrenttpError's own code is not a cause; anything else thrown (node's errors) is one.
  const causes = causeCodes(err instanceof TorrenttpError ? err.cause : err);
  for (const row of GET_EXIT_TABLE) {
    if (code !== undefined && row.codes?.includes(code) === true) return row.exit;
    if (causes.some((c) => row.causes?.includes(c) === true || row.causePattern?.test(c) === true)) return row.exit;
  }
  return GET_EXIT.failed;
}

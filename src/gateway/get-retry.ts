import { retryAfterDelay } from '../transport/http-fetch.js';
import { TorrenttpError } from '../errors/index.js';
import { causeCodes, getFailureOf, TLS_FAILURE } from './get-io.js';

/**
 * `get --retry N`, as curl's: which failures are transient, and how long to wait before the next
 * attempt. curl waits 1 s, then doubles the wait up to 10 minutes, and takes a transient answer's
 * `Retry-After` instead when it sends one; so does this.
 *
 * Transient (curl: "a timeout, … or an HTTP 408, 429, 500, 502, 503 or 504"): those statuses; a
 * timeout (no connection within `--connect-timeout`, no answer or no byte of the body or from
 * the swarm within the stall time); a name that could not be resolved (curl's 6, which curl
 * retries as a timeout: a lookup that failed may succeed later); a connection refused, reset or
 * closed without an answer (curl's 52, `ECONNRESET` under it), a body cut short. curl retries a
 * refused connection only with `--retry-connrefused`, a reset one or a cut body only with
 * `--retry-all-errors`: a get retries them, the failures a server restarting behind a load
 * balancer gives. Never: another status (`404`), TLS (a handshake that a reset or close ended
 * too, its `ECONNRESET` under `TLS_HANDSHAKE_FAILED`: curl's 35, which curl does not retry), a
 * digest that does not match, the output (a full disk).
 */
export const RETRY_FIRST_DELAY_MS = 1000;
export const RETRY_MAX_DELAY_MS = 10 * 60 * 1000;

const TRANSIENT_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_CAUSES: ReadonlySet<string> = new Set([
  'ETIMEDOUT',
  'ERR_GET_PARTIAL',
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EAI_NONAME',
  'EAI_FAIL',
  'EAI_NODATA',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
/** The errors of the request and its answer: never the output's (`GATEWAY_GET_OUTPUT` with its EPIPE) or the storage's. */
const RETRIED_CODES: ReadonlySet<string> = new Set(['GATEWAY_GET_FAILED', 'GATEWAY_GET_BAD_ANSWER', 'GATEWAY_GET_HTTP_STATUS']);

/**
 * The wait before attempt `attempt + 1` after `err` ended attempt `attempt` (from 1); undefined
 * when `err` is not transient.
 */
export function retryDelayMs(err: unknown, attempt: number, nowMs = Date.now()): number | undefined {
  if (!(err instanceof TorrenttpError) || !RETRIED_CODES.has(err.code)) return undefined;
  const backoff = Math.min(RETRY_FIRST_DELAY_MS * 2 ** Math.min(attempt - 1, 30), RETRY_MAX_DELAY_MS);
  const failure = getFailureOf(err);
  if (failure?.code === 'ERR_GET_STATUS') {
    if (failure.status === undefined || !TRANSIENT_STATUS.has(failure.status)) return undefined;
    return retryAfterDelay(failure.retryAfter, backoff, RETRY_MAX_DELAY_MS, nowMs);
  }
  const causes = causeCodes(err);
  if (causes.some((code) => TLS_FAILURE.test(code))) return undefined; // before the reset under it
  return causes.some((code) => TRANSIENT_CAUSES.has(code)) ? backoff : undefined;
}

/** Resolves true after `ms`, or false at once when `signal` aborts first. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted === true) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

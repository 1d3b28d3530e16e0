import { ERROR_CODES, type ErrorCode } from './codes.js';

/**
 * `instanceof` that survives two copies of torrenttp in one process (undici's `Symbol.for`
 * trick): every instance carries the kinds of its class chain under a global symbol, and each
 * class answers `instanceof` by looking for its own kind there.
 */
const kKinds = Symbol.for('torrenttp.error.kinds');

export interface TorrenttpErrorOptions {
  /** Extra words after the registry message, e.g. which field or file. */
  readonly detail?: string;
  /** Absolute byte offset in the input, for codec errors. */
  readonly offset?: number;
  readonly cause?: unknown;
}

export class TorrenttpError extends Error {
  static readonly kind: string = 'TorrenttpError';

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    const kinds = (value as { [kKinds]?: unknown })[kKinds];
    return Array.isArray(kinds) && kinds.includes(this.kind);
  }

  readonly code: ErrorCode;
  readonly offset: number | undefined;
  readonly detail: string | undefined;
  /** Whose fault: `remote` input/peer or our `local` side. From the registry. */
  readonly side: 'local' | 'remote';
  /** HTTP status the gateway would answer with. From the registry. */
  readonly status: number;
  declare readonly [kKinds]: readonly string[];

  constructor(code: ErrorCode, opts: TorrenttpErrorOptions = {}) {
    const spec = ERROR_CODES[code];
    let message: string = spec.message;
    // A cause's message may end in a newline (OpenSSL's do): the error is one line.
    const detail = opts.detail?.trimEnd();
    if (detail !== undefined) message += `: ${detail}`;
    if (opts.offset !== undefined) message += ` (at byte ${opts.offset})`;
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.offset = opts.offset;
    this.detail = detail;
    this.side = spec.side;
    this.status = spec.status;
    const kinds: string[] = [];
    for (let c: unknown = new.target; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
      if (Object.hasOwn(c, 'kind')) kinds.push((c as unknown as { kind: string }).kind);
    }
    Object.defineProperty(this, kKinds, { value: Object.freeze(kinds), enumerable: false });
    this.name = kinds[0] ?? 'TorrenttpError';
  }
}

/** Wraps anything thrown into a TorrenttpError, keeping it as `cause`. */
export function toTorrenttpError(err: unknown, code: ErrorCode = 'INTERNAL'): TorrenttpError {
  if (err instanceof TorrenttpError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new TorrenttpError(code, { detail, cause: err });
}

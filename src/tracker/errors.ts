import { TorrenttpError, type ErrorCode, type TorrenttpErrorOptions } from '../errors/index.js';

export type TrackerErrorCode = Extract<ErrorCode, `TRACKER_${string}`>;

/**
 * Every tracker failure, on both sides: a server rejecting a request and a client rejecting a
 * tracker's reply both throw this (`side: 'remote'`: the other party sent it). Packet codec errors
 * carry the byte `offset` in the packet or query string.
 */
export class TrackerError extends TorrenttpError {
  static override readonly kind: string = 'TrackerError';
  declare readonly code: TrackerErrorCode;
  constructor(code: TrackerErrorCode, opts?: TorrenttpErrorOptions) {
    super(code, opts);
  }
}

export type TtpErrorCode = Extract<ErrorCode, `TTP_${string}`>;

/**
 * A TorrentTTP peer-resource failure (docs/torrenttp.md), on either side: a server refusing a
 * path, query or Range, or a client refusing a peer's have-set, Content-Range or body.
 */
export class TtpError extends TorrenttpError {
  static override readonly kind: string = 'TtpError';
  declare readonly code: TtpErrorCode;
  constructor(code: TtpErrorCode, opts?: TorrenttpErrorOptions) {
    super(code, opts);
  }
}

import { TorrenttpError, type ErrorCode, type TorrenttpErrorOptions } from '../errors/index.js';

export type WireErrorCode = Extract<ErrorCode, `WIRE_${string}`>;

export interface WireErrorOptions extends TorrenttpErrorOptions {
  /** The message id (the byte after the length prefix), once the decoder has read it. */
  readonly messageId?: number;
}

/**
 * Every peer wire failure. Decoder errors carry the absolute `offset` in the peer's byte stream
 * (counting the handshake) of the field that is wrong, and `messageId` when it is known, so a
 * log line can say "have at byte 1234: index 99 out of range" without the caller re-parsing.
 */
export class WireError extends TorrenttpError {
  static override readonly kind: string = 'WireError';
  declare readonly code: WireErrorCode;
  readonly messageId: number | undefined;
  constructor(code: WireErrorCode, opts: WireErrorOptions = {}) {
    super(code, opts);
    this.messageId = opts.messageId;
  }
}

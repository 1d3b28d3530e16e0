import { TorrenttpError, type ErrorCode, type TorrenttpErrorOptions } from '../errors/index.js';

export type TransportErrorCode = Extract<ErrorCode, `TRANSPORT_${string}`>;

/**
 * Every transport failure: a socket, a handshake, a peer that breaks the request rules, or a web
 * seed's HTTP answer. Codec errors from `wire/` (a lying bitfield, an oversized message) keep
 * their own `WireError` and reach the engine unchanged in the `closed` event.
 */
export class TransportError extends TorrenttpError {
  static override readonly kind: string = 'TransportError';
  declare readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, opts: TorrenttpErrorOptions = {}) {
    super(code, opts);
  }
}

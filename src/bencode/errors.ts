import { TorrenttpError, type ErrorCode, type TorrenttpErrorOptions } from '../errors/index.js';

export type BencodeErrorCode = Extract<ErrorCode, `BENCODE_${string}`>;

/** Every bencode failure; decode errors carry the absolute byte `offset` (libtorrent's `error_pos`). */
export class BencodeError extends TorrenttpError {
  static override readonly kind: string = 'BencodeError';
  declare readonly code: BencodeErrorCode;
  constructor(code: BencodeErrorCode, opts?: TorrenttpErrorOptions) {
    super(code, opts);
  }
}

import { TorrenttpError, type ErrorCode, type TorrenttpErrorOptions } from '../errors/index.js';

export type DhtErrorCode = Extract<ErrorCode, `DHT_${string}`>;

/** Every DHT failure: a bad packet or node (`remote`) costs that node alone; `local` is ours. */
export class DhtError extends TorrenttpError {
  static override readonly kind: string = 'DhtError';
  declare readonly code: DhtErrorCode;
  constructor(code: DhtErrorCode, opts: TorrenttpErrorOptions = {}) {
    super(code, opts);
  }
}

import { TorrenttpError, type ErrorCode, type TorrenttpErrorOptions } from '../errors/index.js';

export type GatewayErrorCode = Extract<ErrorCode, `GATEWAY_${string}`>;

export class GatewayError extends TorrenttpError {
  static override readonly kind: string = 'GatewayError';
  declare readonly code: GatewayErrorCode;
  constructor(code: GatewayErrorCode, opts?: TorrenttpErrorOptions) {
    super(code, opts);
  }
}

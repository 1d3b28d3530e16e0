import { TorrenttpError, type ErrorCode, type TorrenttpErrorOptions } from '../errors/index.js';

export type EngineErrorCode = Extract<ErrorCode, `ENGINE_${string}`>;

export class EngineError extends TorrenttpError {
  static override readonly kind: string = 'EngineError';
  declare readonly code: EngineErrorCode;
  constructor(code: EngineErrorCode, opts?: TorrenttpErrorOptions) {
    super(code, opts);
  }
}

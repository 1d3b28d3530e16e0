import { TorrenttpError, type ErrorCode, type TorrenttpErrorOptions } from '../errors/index.js';

export type MetainfoErrorCode = Extract<ErrorCode, `METAINFO_${string}` | `MAGNET_${string}` | `CREATE_${string}`>;

/** Bad metainfo, magnet URIs and failures while creating a torrent. */
export class MetainfoError extends TorrenttpError {
  static override readonly kind: string = 'MetainfoError';
  declare readonly code: MetainfoErrorCode;
  constructor(code: MetainfoErrorCode, opts?: TorrenttpErrorOptions) {
    super(code, opts);
  }
}

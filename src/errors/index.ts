export { ERROR_CODES, errorSpec, type ErrorCode, type ErrorSpec } from './codes.js';
export { TorrenttpError, toTorrenttpError, type TorrenttpErrorOptions } from './torrenttp-error.js';

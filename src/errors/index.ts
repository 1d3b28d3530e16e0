export { ERROR_CODES, errorSpec, type ErrorCode, type ErrorSpec } from './codes.js';
export { TorrenttpError, toTorrenttpError, type TorrenttpErrorOptions } from './torrenttp-error.js';
export { clip, escapeControls, quoted, SHOWN_URL_CHARS } from './clip.js';

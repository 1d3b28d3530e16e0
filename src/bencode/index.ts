export { decode, decodeDocument, DECODE_DEFAULTS, type BencodeDocument, type DecodeOptions } from './decoder.js';
export { encode, compareBytes } from './encoder.js';
export { BencodeError, type BencodeErrorCode } from './errors.js';
export {
  BencodeRaw,
  keyFromBytes,
  keyToBytes,
  type BencodeDict,
  type BencodeList,
  type BencodeValue,
  type Encodable,
  type Span,
} from './types.js';

/**
 * Shared test helpers for the bencode suite (not a test file: it registers no tests).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BencodeError, decode, keyToBytes, type BencodeErrorCode, type DecodeOptions } from '../../src/bencode/index.js';
import { TorrenttpError } from '../../src/errors/index.js';

/** Bytes of a binary string (one char per byte), so tests can write `'d1:\xffi1ee'`. */
export const bin = keyToBytes;

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export function latin1Text(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return s;
}

/** Asserts `f` throws a `BencodeError` with this code and, when given, this byte offset. */
export function assertBencodeError(f: () => unknown, code: BencodeErrorCode, offset?: number): void {
  assert.throws(f, (err: unknown) => {
    assert.ok(err instanceof TorrenttpError, `not a TorrenttpError: ${String(err)}`);
    assert.ok(err instanceof BencodeError, `not a BencodeError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (offset !== undefined) assert.equal(err.offset, offset, err.message);
    return true;
  });
}

export function assertRejects(input: string | Uint8Array, code: BencodeErrorCode, offset: number, opts?: DecodeOptions): void {
  const bytes = typeof input === 'string' ? bin(input) : input;
  assertBencodeError(() => decode(bytes, opts), code, offset);
}

/** Reads `test/fixtures/bencode/<name>` (the sources, not `dist/`, hold the fixtures). */
export function fixture(name: string): Uint8Array {
  const url = new URL(`../../../test/fixtures/bencode/${name}`, import.meta.url);
  return new Uint8Array(readFileSync(fileURLToPath(url)));
}

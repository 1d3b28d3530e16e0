import assert from 'node:assert/strict';
import { TorrenttpError } from '../../src/errors/index.js';

/**
 * The stable `code` of what `fn` throws, checking it is a `kind` (default any TorrenttpError);
 * 'ok' when it does not throw, so `assert.equal(errorCode(…), 'SOME_CODE')` fails then too.
 */
export function errorCode(fn: () => unknown, kind: abstract new (...args: never[]) => TorrenttpError = TorrenttpError): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof kind, `not a ${kind.name}: ${String(err)}`);
    return (err as TorrenttpError).code;
  }
  return 'ok';
}

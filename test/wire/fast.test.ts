import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFastMessage, encodeFastMessage, encodeMessage, WireDecoder, WireError, type FastMessage } from '../../src/wire/index.js';

test('BEP 6 messages: exact bytes, and the decoder hands them over as unknown ids 13–17 that read back', () => {
  const cases: [FastMessage, number[]][] = [
    [{ type: 'suggest', index: 5 }, [0, 0, 0, 5, 13, 0, 0, 0, 5]],
    [{ type: 'haveAll' }, [0, 0, 0, 1, 14]],
    [{ type: 'haveNone' }, [0, 0, 0, 1, 15]],
    [{ type: 'reject', index: 1, begin: 16384, length: 16384 }, [0, 0, 0, 13, 16, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0]],
    [{ type: 'allowedFast', index: 0x01020304 }, [0, 0, 0, 5, 17, 1, 2, 3, 4]],
  ];
  for (const [m, bytes] of cases) {
    const wire = encodeMessage(encodeFastMessage(m));
    assert.deepEqual([...wire], bytes, m.type);
    const [got] = new WireDecoder({ expectHandshake: false }).push(wire);
    assert.ok(got?.type === 'unknown');
    assert.deepEqual(decodeFastMessage(got.id, got.payload), m);
  }
});

test('wrong payload lengths are WIRE_BAD_LENGTH; other ids are not fast messages', () => {
  assert.throws(() => decodeFastMessage(14, new Uint8Array(1)), (e: unknown) => e instanceof WireError && e.code === 'WIRE_BAD_LENGTH');
  assert.throws(() => decodeFastMessage(16, new Uint8Array(8)), (e: unknown) => e instanceof WireError && e.code === 'WIRE_BAD_LENGTH');
  assert.throws(() => decodeFastMessage(13, new Uint8Array(0)), (e: unknown) => e instanceof WireError && e.code === 'WIRE_BAD_LENGTH');
  assert.equal(decodeFastMessage(20, new Uint8Array(3)), undefined);
  assert.throws(() => encodeFastMessage({ type: 'suggest', index: -1 }), (e: unknown) => e instanceof WireError && e.code === 'WIRE_UNENCODABLE');
});

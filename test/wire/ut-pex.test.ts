import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../../src/bencode/index.js';
import { decodePexMessage, encodePexMessage, PEX_FLAGS, WireError, type PexPeer } from '../../src/wire/index.js';

const enc = new TextEncoder();

test('ut_pex: added, added.f, dropped and their IPv6 twins round-trip', () => {
  const added: PexPeer[] = [
    { ip: '10.0.0.1', port: 6881, flags: PEX_FLAGS.seed | PEX_FLAGS.connectable },
    { ip: '2001:db8::1', port: 51413, flags: PEX_FLAGS.utp },
  ];
  const dropped: PexPeer[] = [
    { ip: '192.168.1.9', port: 1, flags: 0 },
    { ip: 'fe80::1:2', port: 65535, flags: 0 },
  ];
  const back = decodePexMessage(encodePexMessage({ added, dropped }));
  assert.deepEqual(back, { added, dropped });
});

test('ut_pex: the wire bytes are BEP 11 compact lists', () => {
  const body = encodePexMessage({ added: [{ ip: '1.2.3.4', port: 0x1ae1, flags: 2 }], dropped: [] });
  assert.deepEqual(body, encode({ added: Uint8Array.of(1, 2, 3, 4, 0x1a, 0xe1), 'added.f': Uint8Array.of(2), dropped: new Uint8Array(0) }));
});

test('ut_pex: a missing added.f means flags 0; unknown keys are ignored; port 0 is skipped', () => {
  const m = decodePexMessage(encode({ added: Uint8Array.of(1, 2, 3, 4, 0, 80, 5, 6, 7, 8, 0, 0), x: 1 }));
  assert.deepEqual(m, { added: [{ ip: '1.2.3.4', port: 80, flags: 0 }], dropped: [] });
});

test('ut_pex: hostile messages are typed errors', () => {
  const bad = (body: Uint8Array, re: RegExp) =>
    assert.throws(() => decodePexMessage(body), (e: unknown) => e instanceof WireError && e.code === 'WIRE_BAD_EXTENSION' && re.test(e.message));
  bad(enc.encode('not bencode'), /not bencode/);
  bad(encode([1, 2]), /not a dictionary/);
  bad(encode({ added: 5 }), /added is not a string/);
  bad(encode({ added: new Uint8Array(7) }), /not a multiple of 6/);
  bad(encode({ dropped6: new Uint8Array(19) }), /not a multiple of 18/);
  bad(encode({ added: new Uint8Array(6 * 201) }), /201 peers/);
  bad(new Uint8Array(9000), /9000 bytes/);
});

test('ut_pex: more than 50 added or dropped, or a bad address, cannot be encoded', () => {
  const many = Array.from({ length: 51 }, (_, i) => ({ ip: `10.0.0.${i}`, port: 1000, flags: 0 }));
  const unencodable = (f: () => unknown) => assert.throws(f, (e: unknown) => e instanceof WireError && e.code === 'WIRE_UNENCODABLE');
  unencodable(() => encodePexMessage({ added: many, dropped: [] }));
  unencodable(() => encodePexMessage({ added: [], dropped: many }));
  unencodable(() => encodePexMessage({ added: [{ ip: '1.2.3', port: 1, flags: 0 }], dropped: [] }));
  unencodable(() => encodePexMessage({ added: [{ ip: '1.2.3.4', port: 0, flags: 0 }], dropped: [] }));
  unencodable(() => encodePexMessage({ added: [{ ip: '1::2::3', port: 1, flags: 0 }], dropped: [] }));
  assert.equal(decodePexMessage(encodePexMessage({ added: many.slice(0, 50), dropped: [] })).added.length, 50);
});

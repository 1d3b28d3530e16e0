import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatIp, ipScope, parseIp, parseIpNormalized } from '../../src/tracker/index.js';

test('ip: parse(format(bytes)) is bytes for IPv4 and IPv6', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })), (b) => {
      assert.deepEqual(parseIp(formatIp(b))?.bytes, b);
    }),
  );
});

test('ip: canonical RFC 5952 text', () => {
  const f = (s: string): string => formatIp(parseIp(s)!.bytes);
  assert.equal(f('2001:0DB8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
  assert.equal(f('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1');
  assert.equal(f('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
  assert.equal(f('::'), '::');
  assert.equal(f('::1'), '::1');
  assert.equal(f('[::1]'), '::1');
  assert.equal(f('::ffff:1.2.3.4'), '::ffff:1.2.3.4');
  assert.deepEqual(parseIpNormalized('::ffff:10.0.0.1'), { family: 4, bytes: Uint8Array.of(10, 0, 0, 1) });
  assert.equal(parseIpNormalized('::1')?.family, 6);
});

test('ip: rejects what is not a literal', () => {
  for (const s of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', 'example.com', '1::2::3', 'fe80::1%eth0', ':::', '1:2:3:4:5:6:7:8:9', 'g::1']) {
    assert.equal(parseIp(s), undefined, s);
  }
});

test('ipScope: where an address leads (BEP 11 peer exchange believes local ones only from local peers)', () => {
  const cases: [string, ReturnType<typeof ipScope>][] = [
    ['8.8.8.8', 'public'], ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['::1', 'loopback'], ['::ffff:127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['172.32.0.1', 'public'], ['192.168.0.1', 'private'],
    ['169.254.1.1', 'private'], ['100.64.0.1', 'private'], ['100.128.0.1', 'public'], ['fc00::1', 'private'], ['fd12::1', 'private'], ['fe80::1', 'private'],
    ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'], ['::', 'unspecified'], ['224.0.0.1', 'multicast'], ['255.255.255.255', 'multicast'], ['ff02::1', 'multicast'],
    ['2606:4700::1111', 'public'], ['::ffff:8.8.8.8', 'public'], ['nonsense', 'invalid'], ['1.2.3', 'invalid'],
  ];
  for (const [ip, want] of cases) assert.equal(ipScope(ip), want, ip);
});

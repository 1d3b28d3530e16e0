/** fast-check generators shared by the tracker codec tests. */
import fc from 'fast-check';
import type { AnnounceRequest } from '../../src/tracker/index.js';

export const hash20 = fc.uint8Array({ minLength: 20, maxLength: 20 });
export const counter = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
export const port = fc.integer({ min: 1, max: 65535 });
export const ipv4 = fc.ipV4();
export const ipv6 = fc.ipV6();

/** A valid announce with every optional field sometimes present. */
export const announceRequest: fc.Arbitrary<AnnounceRequest> = fc
  .record(
    {
      infoHash: hash20,
      peerId: hash20,
      port,
      uploaded: counter,
      downloaded: counter,
      left: counter,
      event: fc.constantFrom('started', 'completed', 'stopped', 'paused') as fc.Arbitrary<AnnounceRequest['event'] & string>,
      compact: fc.boolean(),
      noPeerId: fc.boolean(),
      numwant: fc.integer({ min: 0, max: 1000 }),
      key: fc.uint8Array({ maxLength: 16 }),
      trackerId: fc.uint8Array({ maxLength: 32 }),
      ip: fc.oneof(ipv4, ipv6),
    },
    { noNullPrototype: true, requiredKeys: ['infoHash', 'peerId', 'port', 'uploaded', 'downloaded', 'left'] },
  );

/** Mostly a value the server accepts, else one at or past a bound it checks, else anything. */
function mostly<T>(good: fc.Arbitrary<T>, edge: fc.Arbitrary<T>, any: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: good, weight: 8 }, { arbitrary: edge, weight: 1 }, { arbitrary: any, weight: 1 });
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });

/**
 * A BEP 15 announce packet field by field, each field mostly valid and otherwise often at or just
 * past a bound the server checks (action, event, counters' high words, `ip`, `num_want`, port,
 * length), so accepted and refused packets both come up. `connectionId` supplies bytes 0–7.
 */
export function udpAnnouncePacket(connectionId: fc.Arbitrary<bigint> = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })): fc.Arbitrary<Uint8Array> {
  const hiWord = mostly(fc.constantFrom(0, 1, 0x1fffff), fc.constantFrom(0x200000, 0x7fffffff, 0x80000000, 0xffffffff), u32);
  const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  return fc
    .record({
      connectionId,
      action: mostly(fc.constant(1), fc.constantFrom(0, 2, 3, 0x101, 0x1000001), u32),
      transactionId: u32,
      infoHash: hash20,
      peerId: hash20,
      counters: fc.tuple(hiWord, hiWord, hiWord, u32),
      event: mostly(fc.constantFrom(0, 1, 2, 3), fc.constantFrom(4, 0x100, 0x80000000), u32),
      ip: mostly(fc.constant(0), fc.constantFrom(1, 0x7f000001, 0x1000000), u32),
      key: u32,
      numwant: mostly(fc.constantFrom(-1, 0, 1, 50, 200, 1000), fc.constantFrom(-2, 999, 1001, -(2 ** 31), 2 ** 31 - 1), int32),
      port: mostly(fc.integer({ min: 1, max: 65535 }), fc.constantFrom(0, 1, 65535), fc.integer({ min: 0, max: 65535 })),
      length: mostly(fc.constant(98), fc.constantFrom(97, 99, 150, 151, 1500, 1501), fc.integer({ min: 80, max: 1600 })),
    })
    .map((f) => {
      const b = new Uint8Array(Math.max(f.length, 98));
      const v = new DataView(b.buffer);
      v.setBigUint64(0, f.connectionId);
      v.setUint32(8, f.action);
      v.setUint32(12, f.transactionId);
      b.set(f.infoHash, 16);
      b.set(f.peerId, 36);
      for (let i = 0; i < 3; i++) {
        v.setUint32(56 + 8 * i, f.counters[i]!);
        v.setUint32(60 + 8 * i, (f.counters[3] + i) >>> 0);
      }
      v.setUint32(80, f.event);
      v.setUint32(84, f.ip);
      v.setUint32(88, f.key);
      v.setInt32(92, f.numwant);
      v.setUint16(96, f.port);
      for (let i = 98; i < b.length; i++) b[i] = i & 0xff;
      return b.subarray(0, f.length);
    });
}

/** `UdpRequestLimits` at and around the defaults. */
export const udpLimits = fc.record(
  {
    maxPacketBytes: fc.constantFrom(97, 98, 150, 1500),
    maxNumwant: fc.constantFrom(0, 50, 1000),
  },
  { requiredKeys: [], noNullPrototype: true },
);

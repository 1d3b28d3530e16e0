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

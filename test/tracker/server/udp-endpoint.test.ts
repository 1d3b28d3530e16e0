/**
 * The UDP handler's fused announce path against its generic one: the same packets through a
 * handler whose store has `announceInto` (plain announces take the fused path, the rest the
 * generic decoder) and one whose store has only `announceNow` (everything generic) must send the
 * same bytes and hand the store the same announces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RemoteInfo, Socket } from 'node:dgram';
import fc from 'fast-check';
import { CONNECTION_ID_BUCKET_MS, ConnectionIds, TrackerError, type SwarmAnnounce, type SwarmAnnounceCounts, type SwarmAnnounceResult, type SwarmStore, type TrackerPolicyOptions } from '../../../src/tracker/index.js';
import { TrackerCore } from '../../../src/tracker/server/core.js';
import { udpHandler } from '../../../src/tracker/server/udp-endpoint.js';
import type { UdpRequestLimits } from '../../../src/tracker/udp.js';
import { udpAnnouncePacket } from '../arbitraries.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const DENIED = new Uint8Array(20).fill(0xdd);
const NOW = 1000 * CONNECTION_ID_BUCKET_MS + 12_345;

/** Answers from the announce's own fields, so any difference in what it is handed shows in the reply. */
function fakeStore(withInto: boolean): { store: SwarmStore; seen: string[] } {
  const seen: string[] = [];
  const answer = (a: SwarmAnnounce): { complete: number; incomplete: number; peers: Uint8Array } => {
    seen.push(JSON.stringify({ ...a, infoHash: hex(a.infoHash), peerId: hex(a.peerId), ip: { family: a.ip.family, bytes: hex(a.ip.bytes) } }));
    if (a.infoHash[0]! < 24) throw new TrackerError('TRACKER_FULL', { detail: 'fake' });
    const size = a.reply === 'compact6' ? 18 : 6;
    const k = Math.min(a.numwant, a.infoHash[2]! % 60);
    const peers = Uint8Array.from({ length: k * size }, (_, i) => (i * 7 + a.peerId[3]! + a.port + a.left) & 0xff);
    return { complete: a.infoHash[1]!, incomplete: a.peerId[1]! + (a.event === undefined ? 0 : 1000), peers };
  };
  const announceNow = (a: SwarmAnnounce): SwarmAnnounceResult => {
    const r = answer(a);
    const empty = new Uint8Array(0);
    return { complete: r.complete, incomplete: r.incomplete, peers4: a.reply === 'compact6' ? empty : r.peers, peers6: a.reply === 'compact6' ? r.peers : empty, peers: [] };
  };
  const store: SwarmStore = {
    announce: (a) => Promise.resolve(announceNow(a)),
    announceNow,
    scrape: () => Promise.resolve([]),
    fullScrape: () => Promise.resolve([]),
    stats: () => Promise.resolve({ torrents: 0, peers: 0, seeders: 0, leechers: 0, completed: 0 }),
    expire: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
  if (withInto) {
    store.announceInto = (a: SwarmAnnounce, out: Uint8Array, at: number): SwarmAnnounceCounts => {
      assert.ok(out.length - at >= a.numwant * (a.reply === 'compact6' ? 18 : 6), 'room for numwant peers');
      const r = answer(a);
      out.set(r.peers, at);
      return { complete: r.complete, incomplete: r.incomplete, peerBytes: r.peers.length };
    };
  }
  return { store, seen };
}

function handler(withInto: boolean, ids: ConnectionIds, policy: TrackerPolicyOptions, limits: UdpRequestLimits): {
  handle: (msg: Buffer, rinfo: RemoteInfo) => void;
  sent: string[];
  /** What was handed to `send`, to check later that no reply's bytes changed after it. */
  buffers: Uint8Array[];
  seen: string[];
  core: TrackerCore;
} {
  const { store, seen } = fakeStore(withInto);
  const core = new TrackerCore(policy, store, () => NOW);
  const sent: string[] = [];
  const buffers: Uint8Array[] = [];
  const socket = {
    send: (b: Uint8Array, port: number, address: string) => {
      sent.push(`${address}:${port} ${hex(b)}`);
      buffers.push(b);
    },
  } as unknown as Socket;
  return { handle: udpHandler(core, socket, ids, { limits }), sent, buffers, seen, core };
}

const SOURCES: RemoteInfo[] = [
  { address: '127.0.0.1', family: 'IPv4', port: 40000, size: 98 },
  { address: '::1', family: 'IPv6', port: 40001, size: 98 },
  { address: '::ffff:10.1.2.3', family: 'IPv6', port: 40002, size: 98 },
];

const VARIANTS: { policy: TrackerPolicyOptions; limits: UdpRequestLimits }[] = [
  { policy: {}, limits: {} },
  { policy: { deny: [DENIED], trustIp: true, defaultNumwant: 7, maxPeersPerReply: 30 }, limits: { maxNumwant: 200 } },
  // numwant past what one reply slab holds (4000 × 18 B)
  { policy: { privateMode: true, allow: [DENIED], maxPeersPerReply: 5000 }, limits: { maxNumwant: 5000, maxPacketBytes: 150 } },
];

test('UDP handler: fused and generic announce paths send the same bytes and hand the store the same announces', () => {
  const ids = new ConnectionIds(new Uint8Array([9, 9, 9]));
  for (const { policy, limits } of VARIANTS) {
    const fused = handler(true, ids, policy, limits);
    const generic = handler(false, ids, policy, limits);
    let announced = 0;
    fc.assert(
      fc.property(
        udpAnnouncePacket(),
        fc.integer({ min: 0, max: SOURCES.length - 1 }),
        fc.constantFrom('now', 'now', 'now', 'previous', 'expired', 'random'),
        fc.boolean(),
        fc.oneof({ arbitrary: fc.constant(null), weight: 9 }, { arbitrary: fc.constant(4000), weight: 1 }),
        (packet, s, idAge, denied, bigNumwant) => {
          const rinfo = SOURCES[s]!;
          const b = Buffer.from(packet);
          if (b.length >= 8 && idAge !== 'random') {
            const back = idAge === 'now' ? 0 : idAge === 'previous' ? 1 : 2;
            b.writeBigUInt64BE(ids.issue(rinfo.address, NOW - back * CONNECTION_ID_BUCKET_MS), 0);
          }
          if (denied && b.length >= 36) b.set(DENIED, 16);
          if (bigNumwant !== null && b.length >= 96) b.writeInt32BE(bigNumwant, 92);
          const before = fused.sent.length;
          fused.handle(b, rinfo);
          generic.handle(Buffer.from(b), rinfo);
          assert.deepEqual(fused.sent, generic.sent);
          assert.deepEqual(fused.seen, generic.seen);
          assert.equal(fused.core.announces.udp.total, generic.core.announces.udp.total);
          if (fused.sent.length > before && fused.sent.at(-1)!.split(' ')[1]!.startsWith('00000001')) announced++;
        },
      ),
      { numRuns: 1500 },
    );
    // a queued datagram keeps its buffer: no later reply may have written into an earlier one
    fused.buffers.forEach((b, i) => assert.equal(hex(b), fused.sent[i]!.split(' ')[1], `reply ${i} changed after it was sent`));
    assert.ok(announced > 40, `only ${announced} announces answered`);
  }
});

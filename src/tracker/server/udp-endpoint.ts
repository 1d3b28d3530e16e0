import type { RemoteInfo, Socket } from 'node:dgram';
import { toTorrenttpError } from '../../errors/index.js';
import { TrackerError } from '../errors.js';
import { parseIpNormalized, type ParsedIp } from '../ip.js';
import {
  decodeUdpRequest,
  encodeUdpConnectResponse,
  encodeUdpErrorResponse,
  encodeUdpScrapeResponse,
  isPlainUdpAnnounce,
  readPlainUdpAnnounce,
  readU32BE,
  type UdpRequestLimits,
  UDP_ANNOUNCE_HEADER_BYTES,
  writeUdpAnnounceHeader,
} from '../udp.js';
import type { ConnectionIds } from './connection-id.js';
import type { TrackerCore } from './core.js';
import type { SwarmAnnounce, SwarmAnnounceCounts, SwarmAnnounceResult, SwarmStore } from './swarm-store.js';

/**
 * The BEP 15 side of the tracker. Rules:
 * - `connect` costs no state: the reply is a MAC of the source address and port (`ConnectionIds`).
 * - `announce` and `scrape` need a connection id issued to the same address and port within the
 *   last 2–4 minutes; otherwise an error packet ("connection id invalid"), as small as the
 *   request, so it cannot amplify a spoofed flood.
 * - Malformed packets of at least 16 bytes get an error packet naming the problem; shorter ones
 *   and unknown actions are dropped: they are not BEP 15 clients.
 * - An IPv6 source gets 18-byte peers and only IPv6 peers; an IPv4 (or IPv4-mapped) source gets
 *   6-byte IPv4 peers.
 * - The common announce (`isPlainUdpAnnounce`, on a store with `announceInto`) takes a fused path
 *   that reads the packet's bytes in place; it answers exactly as the generic one (a property test
 *   holds both to it), which takes every other packet, errors included.
 */
/** Source addresses parsed, bounded: one parse per client, not per packet. */
const SOURCE_CACHE_ENTRIES = 65_536;

/**
 * An announce reply's buffer: a slice of Node's shared pool (no zeroing and no allocation of its
 * own below 4 KiB, which covers 200 IPv6 peers). A fresh slice per reply, never one buffer
 * reused: a datagram the kernel cannot take at once is queued with its buffer until sent.
 */
function replyBuffer(peerBytes: number): Buffer {
  return Buffer.allocUnsafe(UDP_ANNOUNCE_HEADER_BYTES + peerBytes);
}

/**
 * `announceInto` replies are carved from slabs of this size, each region handed out once (as with
 * Node's pool: a queued datagram keeps its bytes): the store writes into the slab past the
 * region's start and the reply is a view of exactly the bytes written, so there is one typed array
 * per reply and no size to know in advance. 64 KiB holds ~200 replies of 50 IPv4 peers (Node's
 * 8 KiB pool, 25).
 */
const REPLY_SLAB_BYTES = 65_536;

export function udpHandler(core: TrackerCore, socket: Socket, ids: ConnectionIds, limits: UdpRequestLimits = {}): (msg: Buffer, rinfo: RemoteInfo) => void {
  // No send callback: Node then skips the completion round trip when the kernel takes the datagram
  // at once (the common case); failures surface as the socket's 'error' event, which is logged.
  const send = (bytes: Uint8Array, rinfo: RemoteInfo): void => {
    socket.send(bytes, rinfo.port, rinfo.address);
  };
  const store = core.store;
  const sources = new Map<string, ParsedIp>();

  const sourceOf = (address: string): ParsedIp => {
    let source = sources.get(address);
    if (source === undefined) {
      source = parseIpNormalized(address);
      if (source === undefined) throw new TrackerError('TRACKER_BAD_IP', { detail: address });
      if (sources.size >= SOURCE_CACHE_ENTRIES) sources.clear();
      sources.set(address, source);
    }
    return source;
  };

  const fail = (err: unknown, msg: Uint8Array, rinfo: RemoteInfo): void => {
    const e = toTorrenttpError(err);
    if (e.code === 'INTERNAL') core.logger.error({ err }, 'UDP request failed');
    if (msg.length < 16 || e.code === 'TRACKER_UDP_BAD_ACTION' || e.code === 'TRACKER_UDP_BAD_PROTOCOL_ID' || e.code === 'TRACKER_UDP_TOO_LARGE') return;
    const transactionId = new DataView(msg.buffer, msg.byteOffset, msg.byteLength).getUint32(12);
    send(encodeUdpErrorResponse(transactionId, e.message), rinfo);
  };

  const announced = (transactionId: number, family: 4 | 6, res: SwarmAnnounceResult, rinfo: RemoteInfo): void => {
    const peers = family === 4 ? res.peers4 : res.peers6;
    const out = replyBuffer(peers.length);
    writeUdpAnnounceHeader(out, { transactionId, intervalSec: core.intervalSec, leechers: res.incomplete, seeders: res.complete });
    out.set(peers, UDP_ANNOUNCE_HEADER_BYTES);
    send(out, rinfo);
  };

  let slab = new Uint8Array(0);
  let slabAt = 0;

  /** The whole announce with no promise and no list: the store samples straight into the reply. */
  const announceInto = (into: NonNullable<SwarmStore['announceInto']>, transactionId: number, a: SwarmAnnounce, rinfo: RemoteInfo): void => {
    const room = UDP_ANNOUNCE_HEADER_BYTES + a.numwant * (a.reply === 'compact4' ? 6 : 18);
    let out: Uint8Array;
    let res: SwarmAnnounceCounts;
    if (room <= REPLY_SLAB_BYTES) {
      if (slabAt + room > slab.length) {
        slab = Buffer.allocUnsafeSlow(REPLY_SLAB_BYTES);
        slabAt = 0;
      }
      res = into.call(store, a, slab, slabAt + UDP_ANNOUNCE_HEADER_BYTES);
      out = new Uint8Array(slab.buffer, slab.byteOffset + slabAt, UDP_ANNOUNCE_HEADER_BYTES + res.peerBytes);
      slabAt += out.length;
    } else {
      const full = replyBuffer(room - UDP_ANNOUNCE_HEADER_BYTES);
      res = into.call(store, a, full, UDP_ANNOUNCE_HEADER_BYTES);
      out = full.subarray(0, UDP_ANNOUNCE_HEADER_BYTES + res.peerBytes);
    }
    writeUdpAnnounceHeader(out, { transactionId, intervalSec: core.intervalSec, leechers: res.incomplete, seeders: res.complete });
    send(out, rinfo);
  };

  /** Lent to the store for one `announceInto` call (it copies what it keeps). */
  const infoHash = new Uint8Array(20);
  const peerId = new Uint8Array(20);

  /**
   * The fused announce: answers and returns true, or returns false having done nothing (then
   * `handle` decides, errors included). After `isPlainUdpAnnounce` the checks and their order
   * are `handle`'s: connection id, then policy and store (`prepare`, `announceInto`).
   */
  const plainAnnounce = (into: NonNullable<SwarmStore['announceInto']>, msg: Buffer, rinfo: RemoteInfo): boolean => {
    if (!isPlainUdpAnnounce(msg, limits)) return false;
    const nowMs = core.now();
    const source = sourceOf(rinfo.address);
    if (!ids.verifyWords(readU32BE(msg, 0), readU32BE(msg, 4), source, rinfo.port, nowMs)) throw new TrackerError('TRACKER_CONNECTION_ID_INVALID');
    const req = readPlainUdpAnnounce(msg, infoHash, peerId);
    const a = core.prepare(req, source, 'udp', source.family === 4 ? 'compact4' : 'compact6', undefined, nowMs);
    announceInto(into, readU32BE(msg, 12), a, rinfo);
    return true;
  };

  /** Answers at once if it can (connect, or announce on a store with `announceNow`); else returns the pending work. */
  const handle = (msg: Buffer, rinfo: RemoteInfo): Promise<void> | undefined => {
    const r = decodeUdpRequest(msg, limits);
    const nowMs = core.now();
    const source = sourceOf(rinfo.address);
    if (r.type === 'connect') {
      send(encodeUdpConnectResponse(r.transactionId, ids.issueFor(source, rinfo.port, nowMs)), rinfo);
      return undefined;
    }
    const id = r.connectionId;
    if (!ids.verifyWords(Number(id >> 32n), Number(id & 0xffffffffn), source, rinfo.port, nowMs)) throw new TrackerError('TRACKER_CONNECTION_ID_INVALID');
    if (r.type === 'announce') {
      const a = core.prepare(r.announce, source, 'udp', source.family === 4 ? 'compact4' : 'compact6', undefined, nowMs);
      if (store.announceInto !== undefined) {
        announceInto(store.announceInto, r.transactionId, a, rinfo);
        return undefined;
      }
      if (store.announceNow !== undefined) {
        announced(r.transactionId, source.family, store.announceNow(a), rinfo);
        return undefined;
      }
      return store.announce(a).then((res) => announced(r.transactionId, source.family, res, rinfo));
    }
    return core.scrape(r.infoHashes, 'udp').then((entries) => {
      send(encodeUdpScrapeResponse(r.transactionId, entries.map((e) => ({ seeders: e.complete, completed: e.downloaded, leechers: e.incomplete }))), rinfo);
    });
  };

  const into = store.announceInto;
  return (msg, rinfo) => {
    try {
      if (into !== undefined && plainAnnounce(into, msg, rinfo)) return;
      handle(msg, rinfo)?.catch((err: unknown) => fail(err, msg, rinfo));
    } catch (err) {
      fail(err, msg, rinfo);
    }
  };
}

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
 * - `connect` costs no state: the reply is a MAC of the source address (`ConnectionIds`).
 * - `announce` and `scrape` need a connection id issued to the same address (any port: clients may
 *   share one id across their sockets) within the last 2–4 minutes; otherwise an error packet ("connection id invalid"), as small as the
 *   request, so it cannot amplify a spoofed flood.
 * - Malformed packets of at least 16 bytes get an error packet naming the problem; shorter ones
 *   and unknown actions are dropped: they are not BEP 15 clients.
 * - An IPv6 source gets 18-byte peers and only IPv6 peers; an IPv4 (or IPv4-mapped) source gets
 *   6-byte IPv4 peers.
 * - The common announce (`isPlainUdpAnnounce`, on a store with `announceInto`) takes a fused path
 *   that reads the packet's bytes in place; it answers exactly as the generic one (a property test
 *   holds both to it), which takes every other packet, errors included.
 */
/** Source addresses held parsed (`SourceCache`), bounded: one parse per client, not per packet. */
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

/** Sends a reply to `to`, whatever a transport uses to address one (`RemoteInfo` for `node:dgram`). */
export type UdpSend<To> = (bytes: Uint8Array, to: To) => void;

export interface UdpRequestOptions {
  readonly limits?: UdpRequestLimits;
  /**
   * The transport reuses a datagram's bytes once the handler returns (batched receive): then a
   * request that may be answered later (anything but the fused announce) works on a copy.
   */
  readonly transientBytes?: boolean;
  /**
   * The address a client at `source` reached this socket on, for the embedded peer's entry
   * (`embedded-peer.ts`); undefined or absent: unknown, the store's answer is sent as it is.
   */
  readonly localOf?: (source: ParsedIp) => ParsedIp | undefined | Promise<ParsedIp | undefined>;
}

/**
 * The BEP 15 request handler over any transport: `(datagram, source, to)`, the source address
 * already parsed; replies go through `send(bytes, to)`, at once or (scrape, an async store) later.
 * Never throws: a failure is an error packet or a silent drop, as the rules above say.
 */
export function udpRequests<To>(core: TrackerCore, ids: ConnectionIds, send: UdpSend<To>, opts: UdpRequestOptions = {}): (msg: Uint8Array, source: ParsedIp, to: To) => void {
  const limits = opts.limits ?? {};
  const store = core.store;

  /** An error packet for request `msg` (bytes the transport does not reuse while this may run). */
  const fail = (err: unknown, msg: Uint8Array, to: To): void => {
    const e = toTorrenttpError(err);
    if (e.code === 'INTERNAL') core.logger.error({ err }, 'UDP request failed');
    if (msg.length < 16 || e.code === 'TRACKER_UDP_BAD_ACTION' || e.code === 'TRACKER_UDP_BAD_PROTOCOL_ID' || e.code === 'TRACKER_UDP_TOO_LARGE') return;
    send(encodeUdpErrorResponse(readU32BE(msg, 12), e.message), to);
  };

  const announced = (transactionId: number, family: 4 | 6, res: SwarmAnnounceResult, to: To): void => {
    const peers = family === 4 ? res.peers4 : res.peers6;
    const out = replyBuffer(peers.length);
    writeUdpAnnounceHeader(out, { transactionId, intervalSec: core.intervalSec, leechers: res.incomplete, seeders: res.complete });
    out.set(peers, UDP_ANNOUNCE_HEADER_BYTES);
    send(out, to);
  };

  let slab = new Uint8Array(0);
  let slabAt = 0;

  /** The whole announce with no promise and no list: the store samples straight into the reply. */
  const announceInto = (into: NonNullable<SwarmStore['announceInto']>, transactionId: number, a: SwarmAnnounce, to: To): void => {
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
    send(out, to);
  };

  /** Lent to the store for one `announceInto` call (it copies what it keeps). */
  const infoHash = new Uint8Array(20);
  const peerId = new Uint8Array(20);

  /**
   * The fused announce: answers and returns true, or returns false having done nothing (then
   * `handle` decides, errors included). After `isPlainUdpAnnounce` the checks and their order
   * are `handle`'s: connection id, then policy and store (`prepare`, `announceInto`).
   */
  const plainAnnounce = (into: NonNullable<SwarmStore['announceInto']>, msg: Uint8Array, source: ParsedIp, to: To): boolean => {
    if (!isPlainUdpAnnounce(msg, limits)) return false;
    const nowMs = core.now();
    if (!ids.verifyWords(readU32BE(msg, 0), readU32BE(msg, 4), source, nowMs)) throw new TrackerError('TRACKER_CONNECTION_ID_INVALID');
    const req = readPlainUdpAnnounce(msg, infoHash, peerId);
    if (core.embeds(req.infoHash)) return false; // the generic path adds the embedded peer
    const a = core.prepare(req, source, 'udp', source.family === 4 ? 'compact4' : 'compact6', undefined, nowMs);
    announceInto(into, readU32BE(msg, 12), a, to);
    return true;
  };

  /** Answers at once if it can (connect, or announce on a store with `announceNow`); else returns the pending work. */
  const handle = (msg: Uint8Array, source: ParsedIp, to: To): Promise<void> | undefined => {
    const r = decodeUdpRequest(msg, limits);
    const nowMs = core.now();
    if (r.type === 'connect') {
      send(encodeUdpConnectResponse(r.transactionId, ids.issueFor(source, nowMs)), to);
      return undefined;
    }
    const id = r.connectionId;
    if (!ids.verifyWords(Number(id >> 32n), Number(id & 0xffffffffn), source, nowMs)) throw new TrackerError('TRACKER_CONNECTION_ID_INVALID');
    if (r.type === 'announce') {
      const a = core.prepare(r.announce, source, 'udp', source.family === 4 ? 'compact4' : 'compact6', undefined, nowMs);
      if (core.embeds(a.infoHash)) {
        return Promise.all([opts.localOf?.(source), store.announce(a)]).then(([local, res]) => announced(r.transactionId, source.family, core.finish(a, res, local), to));
      }
      if (store.announceInto !== undefined) {
        announceInto(store.announceInto, r.transactionId, a, to);
        return undefined;
      }
      if (store.announceNow !== undefined) {
        announced(r.transactionId, source.family, store.announceNow(a), to);
        return undefined;
      }
      return store.announce(a).then((res) => announced(r.transactionId, source.family, res, to));
    }
    return core.scrape(r.infoHashes, 'udp').then((entries) => {
      send(encodeUdpScrapeResponse(r.transactionId, entries.map((e) => ({ seeders: e.complete, completed: e.downloaded, leechers: e.incomplete }))), to);
    });
  };

  const into = store.announceInto;
  const transient = opts.transientBytes === true;
  return (msg, source, to) => {
    try {
      if (into !== undefined && plainAnnounce(into, msg, source, to)) return;
      const bytes = transient ? msg.slice() : msg;
      handle(bytes, source, to)?.catch((err: unknown) => fail(err, bytes, to));
    } catch (err) {
      fail(err, msg, to);
    }
  };
}

/**
 * Source addresses parsed, bounded: one parse per client, not per packet. `get(k) ?? add(k,
 * parse())`: no closure per packet.
 */
export class SourceCache<K> {
  private readonly map = new Map<K, ParsedIp>();

  get(key: K): ParsedIp | undefined {
    return this.map.get(key);
  }

  /** Keeps `source` (if it parsed) under `key`, and returns it. */
  add(key: K, source: ParsedIp | undefined): ParsedIp | undefined {
    if (source === undefined) return undefined;
    if (this.map.size >= SOURCE_CACHE_ENTRIES) this.map.clear();
    this.map.set(key, source);
    return source;
  }
}

/**
 * `udpRequests` on a `node:dgram` socket. No send callback: Node then skips the completion round
 * trip when the kernel takes the datagram at once (the common case); failures surface as the
 * socket's 'error' event, which is logged. A source address that does not parse (never seen from
 * a real socket) is dropped.
 */
export function udpHandler(core: TrackerCore, socket: Socket, ids: ConnectionIds, opts: Omit<UdpRequestOptions, 'transientBytes'> = {}): (msg: Buffer, rinfo: RemoteInfo) => void {
  const send = (bytes: Uint8Array, rinfo: RemoteInfo): void => {
    socket.send(bytes, rinfo.port, rinfo.address);
  };
  const handle = udpRequests<RemoteInfo>(core, ids, send, opts);
  const sources = new SourceCache<string>();
  return (msg, rinfo) => {
    const source = sources.get(rinfo.address) ?? sources.add(rinfo.address, parseIpNormalized(rinfo.address));
    if (source !== undefined) handle(msg, source, rinfo);
  };
}

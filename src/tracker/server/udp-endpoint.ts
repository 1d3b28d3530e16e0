import type { RemoteInfo, Socket } from 'node:dgram';
import { toTorrenttpError } from '../../errors/index.js';
import { TrackerError } from '../errors.js';
import { parseIpNormalized } from '../ip.js';
import {
  decodeUdpRequest,
  encodeUdpAnnounceResponse,
  encodeUdpConnectResponse,
  encodeUdpErrorResponse,
  encodeUdpScrapeResponse,
  type UdpRequestLimits,
} from '../udp.js';
import type { ConnectionIds } from './connection-id.js';
import type { TrackerCore } from './core.js';

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
 */
export function udpHandler(core: TrackerCore, socket: Socket, ids: ConnectionIds, limits: UdpRequestLimits = {}): (msg: Buffer, rinfo: RemoteInfo) => void {
  const send = (bytes: Uint8Array, rinfo: RemoteInfo): void => {
    socket.send(bytes, rinfo.port, rinfo.address, (err) => {
      if (err) core.logger.debug({ err, to: rinfo.address }, 'UDP send failed');
    });
  };

  const fail = (err: unknown, msg: Uint8Array, rinfo: RemoteInfo): void => {
    const e = toTorrenttpError(err);
    if (e.code === 'INTERNAL') core.logger.error({ err }, 'UDP request failed');
    if (msg.length < 16 || e.code === 'TRACKER_UDP_BAD_ACTION' || e.code === 'TRACKER_UDP_BAD_PROTOCOL_ID' || e.code === 'TRACKER_UDP_TOO_LARGE') return;
    const transactionId = new DataView(msg.buffer, msg.byteOffset, msg.byteLength).getUint32(12);
    send(encodeUdpErrorResponse(transactionId, e.message), rinfo);
  };

  const handle = async (msg: Buffer, rinfo: RemoteInfo): Promise<void> => {
    const r = decodeUdpRequest(msg, limits);
    const nowMs = core.now();
    if (r.type === 'connect') {
      send(encodeUdpConnectResponse(r.transactionId, ids.issue(rinfo.address, rinfo.port, nowMs)), rinfo);
      return;
    }
    if (!ids.verify(r.connectionId, rinfo.address, rinfo.port, nowMs)) throw new TrackerError('TRACKER_CONNECTION_ID_INVALID');
    if (r.type === 'announce') {
      const source = parseIpNormalized(rinfo.address);
      if (source === undefined) throw new TrackerError('TRACKER_BAD_IP', { detail: rinfo.address });
      const res = await core.announce(r.announce, source, 'udp', source.family === 4 ? 'compact4' : 'compact6');
      send(encodeUdpAnnounceResponse({
        transactionId: r.transactionId,
        intervalSec: core.intervalSec,
        leechers: res.incomplete,
        seeders: res.complete,
        peers: source.family === 4 ? res.peers4 : res.peers6,
      }), rinfo);
      return;
    }
    const entries = await core.scrape(r.infoHashes, 'udp');
    send(encodeUdpScrapeResponse(r.transactionId, entries.map((e) => ({ seeders: e.complete, completed: e.downloaded, leechers: e.incomplete }))), rinfo);
  };

  return (msg, rinfo) => {
    handle(msg, rinfo).catch((err: unknown) => fail(err, msg, rinfo));
  };
}

/**
 * Tracker layer: pure packet codecs for HTTP (BEP 3/7/23/48), UDP (BEP 15) and TorrentTTP JSON
 * announces, shared by clients and the server, and the tracker server itself (`server/`).
 */
export * from './client.js';
// BEP 15 (the UDP codecs and client): not in client.js, which the engine loads; its announcer loads
// the UDP client at a udp:// tracker's first announce.
export {
  decodeUdpRequest,
  decodeUdpResponse,
  encodeUdpAnnounceRequest,
  encodeUdpAnnounceResponse,
  encodeUdpConnectRequest,
  encodeUdpConnectResponse,
  encodeUdpErrorResponse,
  encodeUdpScrapeRequest,
  encodeUdpScrapeResponse,
  MAX_UDP_REQUEST_BYTES,
  MAX_UDP_RESPONSE_BYTES,
  MAX_UDP_SCRAPE_HASHES,
  UDP_ANNOUNCE_HEADER_BYTES,
  UDP_PROTOCOL_ID,
  writeUdpAnnounceHeader,
  type UdpAnnounceHeader,
  type UdpAnnounceRequest,
  type UdpAnnounceResponse,
  type UdpConnectRequest,
  type UdpConnectResponse,
  type UdpErrorResponse,
  type UdpEvent,
  type UdpRequest,
  type UdpRequestLimits,
  type UdpResponse,
  type UdpResponseLimits,
  type UdpScrapeRequest,
  type UdpScrapeResponse,
  type UdpScrapeStats,
} from './udp.js';
export { UdpTrackerClient, UdpTrackerSockets, type UdpTrackerOptions } from './client/udp-client.js';
export * from './server/index.js';

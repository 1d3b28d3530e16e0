/**
 * Dialling peers, one dialer per kind of address. A wire peer is `{ ip, port }` (a tracker's
 * answer, a `--peer`, a `host:port` heard from an embedded tracker); HTTP peers, addressed by
 * `{ url }`, get their own dialer. A dialer opens the connection and runs the handshake; the
 * link it resolves to already sends its events to the given handler.
 */
import type { PeerAddress } from '../tracker/index.js';
import { TransportError } from './errors.js';
import { parseHostPort } from './peer-address.js';
import type { PeerEventHandler } from './peer-link.js';
import { connectWirePeer, type ConnectOptions } from './wire-connect.js';
import type { WirePeerLink, WirePeerOptions, WireTorrent } from './wire-peer.js';

export type WireDialerOptions = Omit<WirePeerOptions, 'onEvent'> & Omit<ConnectOptions, 'signal'>;

export class WireDialer {
  constructor(private readonly opts: WireDialerOptions) {}

  /**
   * Connects to `address` (`{ ip, port }`, or `host:port` / `[v6]:port` text) for `torrent`.
   * Rejects with TRANSPORT_BAD_PEER_ADDRESS for text that is no address, else as
   * `connectWirePeer` does (connect failed, timed out, another info-hash, aborted).
   */
  async dial(address: PeerAddress | string, torrent: WireTorrent, onEvent: PeerEventHandler, signal?: AbortSignal): Promise<WirePeerLink> {
    const where = typeof address === 'string' ? parseHostPort(address) : { host: address.ip, port: address.port };
    if (where === undefined) throw new TransportError('TRANSPORT_BAD_PEER_ADDRESS', { detail: String(address) });
    return connectWirePeer(where.host, where.port, torrent, { ...this.opts, onEvent, ...(signal === undefined ? {} : { signal }) });
  }
}

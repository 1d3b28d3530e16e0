/**
 * Dialling peers, one dialer per kind of address. A wire peer is `{ ip, port }` (a tracker's
 * answer, a `--peer`, a `host:port` heard from an embedded tracker): `WireDialer`. A TorrentTTP
 * HTTP peer is `{ url }`, its torrent URL (a JSON tracker's answer, a `--peer` URL): `HttpDialer`.
 * A dialer opens the connection and runs the handshake; the link it gives already sends its
 * events to the given handler. The wire dialer carries out the encryption policy for the
 * connections it opens (mse-stream.ts: `prefer` falls back to plain per address, `require` never
 * does). HTTP has no handshake: the HTTP dialer's link exists at once, and a peer that cannot be
 * reached closes it after its back-off (TRANSPORT_HTTP_PEER_GAVE_UP).
 */
import { TorrenttpError } from '../errors/index.js';
import type { Metainfo } from '../metainfo/index.js';
import type { PeerAddress } from '../tracker/index.js';
import { mseAvailable } from '../wire/lite.js';
import { TransportError } from './errors.js';
import type { EncryptionPolicy } from './mse-stream.js';
import { hostPort, parseHostPort } from './peer-address.js';
import { createHttpPeer, type HttpPeerOptions } from './http-peer.js';
import type { PeerEventHandler, PeerLink } from './peer-link.js';
import type { ConnectOptions } from './wire-connect.js';
import { connectWirePeer } from './wire-lazy.js';
import type { WirePeerLink, WirePeerOptions, WireTorrent } from './wire-peer.js';

export type WireDialerOptions = Omit<WirePeerOptions, 'onEvent'> &
  Omit<ConnectOptions, 'signal' | 'encrypt'> & {
    /** MSE for the connections we open (mse-stream.ts). Default 'off'. */
    readonly encryption?: EncryptionPolicy;
  };

/** Addresses remembered as plain-only under `prefer` (an encrypted handshake failed there): at most this many, oldest forgotten first. */
export const MAX_PLAIN_PEERS = 4096;

export class WireDialer {
  /** `prefer`: addresses where an encrypted handshake failed and a plain one is tried at once. */
  private readonly plainPeers = new Set<string>();

  constructor(private readonly opts: WireDialerOptions) {}

  /**
   * `prefer`: dial `address` (`host:port`) plain from now on, as if an encrypted handshake had
   * failed there: for a peer whose bytes the same server also serves over plain HTTP, where the
   * obfuscation hides nothing and RC4 costs each side about 1.2 s of CPU per GiB. `require` still
   * dials it encrypted. Text that is no address is ignored (its dial fails anyway).
   */
  dialPlain(address: string): void {
    const where = parseHostPort(address);
    if (where !== undefined) this.rememberPlain(hostPort(where.host, where.port));
  }

  private rememberPlain(key: string): void {
    this.plainPeers.delete(key);
    if (this.plainPeers.size >= MAX_PLAIN_PEERS) this.plainPeers.delete(this.plainPeers.values().next().value!);
    this.plainPeers.add(key);
  }

  /**
   * Connects to `address` (`{ ip, port }`, or `host:port` / `[v6]:port` text) for `torrent`.
   * Rejects with TRANSPORT_BAD_PEER_ADDRESS for text that is no address, else as
   * `connectWirePeer` does (connect failed, timed out, another info-hash, aborted; under
   * `require`, TRANSPORT_ENCRYPTION_FAILED when the encrypted handshake fails).
   */
  async dial(address: PeerAddress | string, torrent: WireTorrent, onEvent: PeerEventHandler, signal?: AbortSignal): Promise<WirePeerLink> {
    const where = typeof address === 'string' ? parseHostPort(address) : { host: address.ip, port: address.port };
    if (where === undefined) throw new TransportError('TRANSPORT_BAD_PEER_ADDRESS', { detail: String(address) });
    const { encryption = 'off', ...opts } = this.opts;
    const connect = { ...opts, onEvent, ...(signal === undefined ? {} : { signal }) };
    const key = hostPort(where.host, where.port);
    const rc4 = mseAvailable();
    if (encryption === 'require' || (encryption === 'prefer' && rc4 && !this.plainPeers.has(key))) {
      try {
        return await connectWirePeer(where.host, where.port, torrent, { ...connect, encrypt: encryption });
      } catch (err) {
        if (encryption === 'require' || !(err instanceof TorrenttpError) || err.code !== 'TRANSPORT_ENCRYPTION_FAILED') throw err;
        // The spec's mode 2: the peer took the connection but not the encrypted handshake; retry plain, and next time start plain.
        this.rememberPlain(key);
      }
    }
    return connectWirePeer(where.host, where.port, torrent, connect);
  }
}

export type HttpDialerOptions = Omit<HttpPeerOptions, 'onEvent'>;

/** TorrentTTP HTTP peers, addressed by `{ url }` (their torrent URL, docs/torrenttp.md §1). */
export class HttpDialer {
  constructor(private readonly opts: HttpDialerOptions = {}) {}

  /**
   * A link to the HTTP peer at `address` for `metainfo`, at once. Never throws: a URL that is not
   * a torrent URL gives a link that closes at once with TTP_BAD_URL.
   */
  dial(address: { readonly url: string } | string, metainfo: Metainfo, onEvent: PeerEventHandler): PeerLink {
    return createHttpPeer(typeof address === 'string' ? address : address.url, metainfo, { ...this.opts, onEvent });
  }
}

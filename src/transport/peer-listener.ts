/**
 * The listening socket for incoming wire peers. It accepts connections, runs the handshake
 * (`acceptWirePeer`) and hands each finished `PeerLink` to whoever the handshake's info-hash
 * named. It holds no swarm state: the owner (the engine's `Client`) decides, through
 * `IncomingPeerHandler`, whether a connection is admitted at all (a connection limit), which
 * torrent answers an info-hash, and where the link goes.
 *
 * One IP address may hold at most `maxPerAddress` incoming connections in all (checked when the
 * connection arrives, before any handshake work) and `maxPerAddressPerTorrent` in one torrent
 * (checked as soon as its handshake names the torrent, before the owner's `lookup` and before we
 * answer); beyond either the socket is closed with `TRANSPORT_ADDRESS_LIMIT`. Loopback addresses
 * are exempt unless `limitLoopback` (local swarms and tests run many clients on 127.0.0.1).
 *
 * Incoming handshakes may be plain or encrypted (MSE, mse-stream.ts): the owner's `infoHashes`
 * lets the listener find the torrent an encrypted one names; `encryption: 'require'` refuses
 * plain ones (TRANSPORT_ENCRYPTION_REQUIRED).
 *
 * Listening fails with a typed error: `TRANSPORT_PORT_IN_USE` (EADDRINUSE) or
 * `TRANSPORT_LISTEN_FAILED` (any other reason, e.g. an address not on this host), detail
 * `host:port`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { toTorrenttpError, type TorrenttpError } from '../errors/index.js';
import { mseAvailable, mseTorrentKey } from '../wire/lite.js';
import { TransportError } from './errors.js';
import { hostPort } from './peer-address.js';
import { adoptWithReadBuffer } from './accepted-reads.js';
import type { AcceptOptions } from './wire-connect.js';
import { acceptWirePeer } from './wire-lazy.js';
import type { WirePeerLink, WirePeerOptions, WireTorrent } from './wire-peer.js';

export interface PeerListenerOptions extends AcceptOptions {
  /** Listening address. Default '0.0.0.0'. */
  readonly host?: string;
  /** Listening port; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** Incoming connections one IP address may hold, all torrents together. Default 8. */
  readonly maxPerAddress?: number;
  /** Incoming connections one IP address may hold in one torrent. Default 4. */
  readonly maxPerAddressPerTorrent?: number;
  /** Apply the per-address limits to loopback addresses too. Default false. */
  readonly limitLoopback?: boolean;
}

/** The per-address limits' defaults (docs/security.md). */
export const PEER_LISTENER_DEFAULTS = { maxPerAddress: 8, maxPerAddressPerTorrent: 4 } as const;

/** `::ffff:1.2.3.4` is `1.2.3.4`: one address, one count. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function isLoopbackAddress(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

/** What the owner says about an incoming peer whose handshake named a torrent it holds. */
export interface IncomingPeer {
  readonly torrent: WireTorrent;
  /** The link's options; its `onEvent` receives every event of the link once it exists. */
  readonly opts: WirePeerOptions;
  /** The handshake finished: the link is the owner's now. */
  attach(link: WirePeerLink): void;
  /** The handshake failed after `lookup` chose this torrent (the error goes to `onError` too). */
  abandon(): void;
}

export interface IncomingPeerHandler {
  /** A connection arrived from `remote` (`host:port`): false closes it at once. */
  admit(remote: string): boolean;
  /** The peer's handshake names `infoHash`: the torrent to answer with, or undefined to close. */
  lookup(infoHash: Uint8Array, remote: string): IncomingPeer | undefined;
  /** An incoming connection failed before it became a link (a bad handshake, an unknown torrent). */
  onError(remote: string, err: TorrenttpError): void;
  /**
   * The info-hashes we serve, for incoming encrypted handshakes (MSE names its torrent only by
   * HASH('req2', infoHash)). Without it, only plain handshakes are understood.
   */
  infoHashes?(): Iterable<Uint8Array>;
}

export class PeerListener {
  private server: Server | undefined;
  private listening: Promise<number> | undefined;
  private actualPort = 0;
  private closed = false;
  /** Open incoming connections per IP address, and per `address infoHash`. */
  private readonly perAddress = new Map<string, number>();
  private readonly perAddressTorrent = new Map<string, number>();
  /** HASH('req2', infoHash) by info-hash hex: one SHA-1 per torrent, not per torrent and connection. */
  private readonly streamKeys = new Map<string, Uint8Array>();

  constructor(
    private readonly handler: IncomingPeerHandler,
    private readonly opts: PeerListenerOptions = {},
  ) {}

  /** The port listened on (0 until `listen` resolves). */
  get port(): number {
    return this.actualPort;
  }

  /** Starts listening (once; later calls share the first call's promise); resolves to the port. */
  listen(): Promise<number> {
    this.listening ??= new Promise<number>((resolve, reject) => {
      // Paused, so that nothing is read before the socket is taken over by one reading into a reused buffer.
      const server = createServer({ pauseOnConnect: true }, (accepted) => this.onConnection(accepted));
      const host = this.opts.host ?? '0.0.0.0';
      const port = this.opts.port ?? 0;
      server.once('error', (err: NodeJS.ErrnoException) => {
        const where = hostPort(host, port);
        reject(
          err.code === 'EADDRINUSE'
            ? new TransportError('TRANSPORT_PORT_IN_USE', { detail: where, cause: err })
            : new TransportError('TRANSPORT_LISTEN_FAILED', { detail: `${where}: ${err.message}`, cause: err }),
        );
      });
      server.listen(port, host, () => {
        this.actualPort = (server.address() as { port: number }).port;
        resolve(this.actualPort);
      });
      this.server = server;
    });
    return this.listening;
  }

  /** Stops accepting; links already handed over are their owner's to close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The served info-hash an encrypted handshake's HASH('req2', SKEY) names, if any. */
  private skeyFor(req2: Uint8Array): Uint8Array | undefined {
    if (this.streamKeys.size > 4096) this.streamKeys.clear(); // torrents come and go: forget the old ones now and then
    for (const infoHash of this.handler.infoHashes?.() ?? []) {
      const hex = Buffer.from(infoHash).toString('hex');
      let key = this.streamKeys.get(hex);
      if (key === undefined) this.streamKeys.set(hex, (key = mseTorrentKey(infoHash)));
      if (Buffer.compare(key, req2) === 0) return infoHash;
    }
    return undefined;
  }

  private onConnection(accepted: Socket): void {
    const { socket, chunks } = adoptWithReadBuffer(accepted);
    const remote = hostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    const address = plainAddress(socket.remoteAddress ?? '?');
    const limited = this.opts.limitLoopback === true || !isLoopbackAddress(address);
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (limited && (this.perAddress.get(address) ?? 0) >= (this.opts.maxPerAddress ?? PEER_LISTENER_DEFAULTS.maxPerAddress)) {
      socket.destroy();
      this.handler.onError(remote, new TransportError('TRANSPORT_ADDRESS_LIMIT', { detail: `${remote}: all torrents` }));
      return;
    }
    if (!this.handler.admit(remote)) {
      socket.destroy();
      return;
    }
    if (limited) {
      bump(this.perAddress, address, 1);
      socket.once('close', () => bump(this.perAddress, address, -1));
    }
    let chosen: IncomingPeer | undefined;
    let refused: TorrenttpError | undefined;
    acceptWirePeer(
      socket,
      (infoHash) => {
        if (limited) {
          const key = `${address} ${Buffer.from(infoHash).toString('hex')}`;
          if ((this.perAddressTorrent.get(key) ?? 0) >= (this.opts.maxPerAddressPerTorrent ?? PEER_LISTENER_DEFAULTS.maxPerAddressPerTorrent)) {
            refused = new TransportError('TRANSPORT_ADDRESS_LIMIT', { detail: `${remote}: one torrent` });
            return undefined;
          }
          bump(this.perAddressTorrent, key, 1);
          socket.once('close', () => bump(this.perAddressTorrent, key, -1));
        }
        chosen = this.handler.lookup(infoHash, remote);
        return chosen === undefined ? undefined : { torrent: chosen.torrent, opts: chosen.opts };
      },
      {
        ...(this.opts.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: this.opts.handshakeTimeoutMs }),
        ...(this.opts.encryption === undefined ? {} : { encryption: this.opts.encryption }),
        chunks,
        ...(this.handler.infoHashes === undefined || !mseAvailable() ? {} : { skeyFor: (req2: Uint8Array) => this.skeyFor(req2) }),
      },
    ).then(
      (link) => chosen!.attach(link),
      (err: unknown) => {
        chosen?.abandon();
        if (refused !== undefined) socket.destroy();
        this.handler.onError(remote, refused ?? toTorrenttpError(err));
      },
    );
  }
}

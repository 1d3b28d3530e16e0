/**
 * The wire protocol's connection code, loaded at its first use: `connectWirePeer` (a wire dial)
 * and `acceptWirePeer` (an incoming connection) load wire-connect.ts, and with it wire-peer.ts,
 * MSE (mse-stream.ts, the cipher pool), the request pipeline and the wire layer's codecs
 * (wire/index.ts), when first called; `connectMetadataPeer` (a magnet's metadata connection)
 * loads metadata-peer.ts and the codecs. A download from TorrentTTP peers alone (which still
 * listens for wire peers) never compiles them: what it names of the wire layer comes from
 * wire/lite.ts. Their defaults live here, so `index.ts` names them without loading the code.
 */
import type { Socket } from 'node:net';
import { toTorrenttpError, type TorrenttpError } from '../errors/index.js';
import { TransportError } from './errors.js';
import { hostPort } from './peer-address.js';
import type * as MetadataPeerModule from './metadata-peer.js';
import type { MetadataPeer, MetadataPeerOptions } from './metadata-peer.js';
import type * as WireConnect from './wire-connect.js';
import type { WirePeerLink } from './wire-peer.js';

export const WIRE_PEER_DEFAULTS = {
  keepAliveMs: 120_000,
  idleTimeoutMs: 300_000,
  requestTimeoutMs: 30_000,
  maxQueueDepth: 500,
  initialQueueDepth: 16,
  queueTimeMs: 1000,
  maxPeerRequests: 256,
  sendBufferBytes: 512 * 1024,
} as const;

/**
 * The largest `request` a torrenttp wire link answers, offered to every BEP 10 peer as
 * `torrenttp_max_request` (wire/extension.ts): a run of blocks within one piece, answered with one
 * `piece` message (which the decoder hands out in 16 KiB blocks). A link asks a peer for runs, and
 * answers a run in one message, only when the peer offered them (real clients do not: they get
 * and send 16 KiB requests and pieces, BEP 3).
 */
export const MAX_RUN_REQUEST_BYTES = 256 * 1024;

export const WIRE_CONNECT_DEFAULTS = {
  /** TCP connect plus the peer's handshake. libtorrent's `peer_connect_timeout` is 15 s. */
  connectTimeoutMs: 15_000,
  /** An incoming peer must send its handshake within this (libtorrent `handshake_timeout`: 10 s). */
  handshakeTimeoutMs: 10_000,
} as const;

let loading: Promise<typeof WireConnect> | undefined;
let loaded: typeof WireConnect | undefined;

/** wire-connect.ts, loaded once. */
export function loadWireConnect(): Promise<typeof WireConnect> {
  return (loading ??= import('./wire-connect.js').then((m) => (loaded = m)));
}

/** wire-connect.ts's `connectWirePeer`, loading it first. */
export async function connectWirePeer(...args: Parameters<typeof WireConnect.connectWirePeer>): Promise<WirePeerLink> {
  return (loaded ?? (await loadWireConnect())).connectWirePeer(...args);
}

/**
 * wire-connect.ts's `acceptWirePeer`, loading it first. While it loads, the socket's error is
 * heard here (nothing else listens yet: unheard, it would end the process); a socket that failed
 * or closed meanwhile rejects with TRANSPORT_PEER_CLOSED.
 */
export async function acceptWirePeer(socket: Socket, ...rest: Parameters<typeof WireConnect.acceptWirePeer> extends [Socket, ...infer R] ? R : never): Promise<WirePeerLink> {
  if (loaded !== undefined) return loaded.acceptWirePeer(socket, ...rest);
  let failed: Error | undefined;
  const onError = (err: Error): void => void (failed ??= err);
  socket.on('error', onError);
  let m: typeof WireConnect;
  try {
    m = await loadWireConnect();
  } finally {
    socket.off('error', onError);
  }
  if (failed !== undefined || socket.destroyed) {
    socket.destroy();
    const where = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    throw new TransportError('TRANSPORT_PEER_CLOSED', { detail: where, ...(failed === undefined ? {} : { cause: failed }) });
  }
  return m.acceptWirePeer(socket, ...rest);
}

export const METADATA_PEER_DEFAULTS = { handshakeTimeoutMs: 10_000 } as const;

let metadataLoading: Promise<typeof MetadataPeerModule> | undefined;
let metadataLoaded: typeof MetadataPeerModule | undefined;

/**
 * metadata-peer.ts's `connectMetadataPeer`, loading it first. The peer is returned at once, as
 * the real one is; while the module loads, a `request` is dropped (the real peer drops it too
 * until the peer's extended handshake) and a `close` ends it before it connects ('closed' in a
 * microtask, as the real one). A module that fails to load closes the peer with the failure.
 */
export function connectMetadataPeer(host: string, port: number, opts: MetadataPeerOptions): MetadataPeer {
  if (metadataLoaded !== undefined) return metadataLoaded.connectMetadataPeer(host, port, opts);
  const id = hostPort(host, port);
  let real: MetadataPeer | undefined;
  let closed = false;
  const end = (reason?: TorrenttpError): void => {
    if (closed) return;
    closed = true;
    queueMicrotask(() => opts.onEvent(reason === undefined ? { type: 'closed' } : { type: 'closed', reason }));
  };
  void (metadataLoading ??= import('./metadata-peer.js').then((m) => (metadataLoaded = m))).then(
    (m) => {
      if (!closed) real = m.connectMetadataPeer(host, port, opts);
    },
    (err: unknown) => end(toTorrenttpError(err)),
  );
  return {
    id,
    request: (piece) => real?.request(piece),
    close: (reason) => (real === undefined ? end(reason) : real.close(reason)),
  };
}

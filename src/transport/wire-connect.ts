/**
 * Opening wire links: dialling a peer and answering one that dialled us. Both end the same way:
 * the peer's handshake is checked, our handshake and bitfield have gone out, and a `WirePeer`
 * takes over the socket and the decoder (with any messages that came in the handshake's
 * segment). Until then the promise is the only thing the caller sees: no events.
 *
 * Dialling, we send our handshake alone and the rest (bitfield, extended handshake) only once
 * the peer's handshake has arrived. aria2 as the accepting side reads the handshake with an
 * exact-size buffer and drops the connection when more bytes than the 68 came in with it
 * ("More than BtHandshakeMessage::MESSAGE_LENGTH bytes are buffered"): a bitfield sent with our
 * handshake cost every connection we dialled to aria2 while we held any piece. libtorrent and
 * Transmission also wait for the peer's handshake before their bitfield.
 *
 * Reserved bytes: BEP 10's bit. To a peer that sets it too we send the extended handshake,
 * after its handshake and our bitfield, with `reqq` = `maxPeerRequests`: Transmission asks for
 * as many blocks as it expects in ten seconds unless the peer names a `reqq`, and would overrun
 * the limit (see wire/extension.ts). Our `m` offers `ut_metadata` (BEP 9) with our
 * `metadata_size`, so a peer that started from a magnet link can fetch the info dict from us,
 * and `ut_pex` (BEP 11) when the torrent exchanges peers (`WireTorrent.pex`).
 * And BEP 6's bit: with a peer that sets it too, have_all / have_none replace a full or empty
 * bitfield, and the link speaks reject and allowed-fast (wire-peer.ts).
 */
import type { Socket } from 'node:net';
import { TorrenttpError, toTorrenttpError } from '../errors/index.js';
import {
  encodeFastMessage,
  encodeMessages,
  MseHandshake,
  type MseSession,
  reservedBytes,
  supportsExtensionProtocol,
  supportsFastExtension,
  WireDecoder,
  type Handshake,
  type WireMessage,
} from '../wire/index.js';
import { TransportError } from './errors.js';
import { ourExtendedHandshake } from './extensions.js';
import { cryptoProvide, mseAccept, mseDial, msePayload, mseSecrets, PrefixedChunks, type EncryptionPolicy, type MsePayload } from './mse-stream.js';
import { chunksOf, dialWithReadBuffer, type SocketChunks } from './socket-chunks.js';
import { MAX_RUN_REQUEST_BYTES, WIRE_CONNECT_DEFAULTS, WIRE_PEER_DEFAULTS } from './wire-lazy.js';
import { WirePeer, type WirePeerLink, type WirePeerOptions, type WireTorrent } from './wire-peer.js';

export { WIRE_CONNECT_DEFAULTS };

export interface ConnectOptions {
  readonly connectTimeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * Open with an MSE handshake (mse-stream.ts) offering what this policy allows, our BEP 3
   * handshake as its IA. 'off' or undefined: plain. Falling back is the dialer's business.
   */
  readonly encrypt?: EncryptionPolicy;
}

export interface AcceptOptions {
  readonly handshakeTimeoutMs?: number;
  /** Incoming MSE (mse-stream.ts): answered under every policy; `require` refuses plain handshakes. Default 'off'. */
  readonly encryption?: EncryptionPolicy;
  /** The info-hash whose HASH('req2', infoHash) this is, among the torrents we serve: an encrypted handshake's SKEY. */
  readonly skeyFor?: (req2: Uint8Array) => Uint8Array | undefined;
  /** The socket's reads, when it reads into a reused buffer (`adoptWithReadBuffer`); else its `data` events. */
  readonly chunks?: SocketChunks;
}

/**
 * Outgoing: connect, send our handshake (as the IA of an MSE handshake when `opts.encrypt` asks
 * for one); once the peer's names our torrent, our bitfield, then resolve. With MSE, the
 * connect timeout applies to the encrypted handshake and then again to the BEP 3 one.
 */
export async function connectWirePeer(
  host: string,
  port: number,
  torrent: WireTorrent,
  opts: WirePeerOptions & ConnectOptions,
): Promise<WirePeerLink> {
  const ours = encodeMessages([ourHandshake(torrent, opts.peerId)]);
  // Before the socket: without RC4 (WIRE_MSE_UNAVAILABLE) nothing is dialled.
  const mse =
    opts.encrypt === undefined || opts.encrypt === 'off'
      ? undefined
      : MseHandshake.initiator({ infoHash: torrent.infoHash, provide: cryptoProvide(opts.encrypt), initialPayload: ours, ...mseSecrets() });
  const { socket, chunks } = dialWithReadBuffer(host, port);
  socket.setNoDelay(true);
  const where = `${host}:${port}`;
  const timeoutMs = opts.connectTimeoutMs ?? WIRE_CONNECT_DEFAULTS.connectTimeoutMs;
  // Blocks are delivered before the next read (see SocketChunks), so straddlers can reuse too.
  const decoder = new WireDecoder({ torrent: torrent.metainfo.geometry, reuseAssemblyBuffers: true, maxRunBytes: MAX_RUN_REQUEST_BYTES });
  let payload: MsePayload | undefined;
  if (mse !== undefined) {
    const run = await mseDial(socket, chunks, mse, { timeoutMs, timeoutCode: 'TRANSPORT_CONNECT_TIMEOUT', where, signal: opts.signal });
    payload = msePayload(socket, chunks, run.session!, run.head);
  } else {
    socket.write(ours);
  }
  return handshake(socket, payload?.read ?? chunks, decoder, timeoutMs, 'TRANSPORT_CONNECT_TIMEOUT', where, opts.signal, payload, (hs) => {
    if (!sameBytes(hs.infoHash, torrent.infoHash)) {
      throw new TransportError('TRANSPORT_INFO_HASH_MISMATCH', { detail: where });
    }
    const fast = supportsFastExtension(hs.reserved);
    const rest = afterHandshake(torrent, supportsExtensionProtocol(hs.reserved) ? opts : undefined, socket.remoteAddress, fast);
    if (rest.length > 0) send(socket, payload, encodeMessages(rest));
    return { torrent, opts: { ...opts, dialled: true }, fast };
  });
}

/** Writes `bytes` as the link's stream carries them: through the cipher thread for RC4, as they are otherwise. */
function send(socket: Socket, payload: MsePayload | undefined, bytes: Uint8Array): void {
  if (payload?.rc4 !== undefined) payload.rc4.write(bytes);
  else socket.write(bytes);
}

/**
 * Incoming: read the handshake, look the torrent up by info-hash (undefined → close), answer,
 * then as above. With `skeyFor`, a stream that does not start as a plain handshake is taken
 * for MSE (mse-stream.ts); its BEP 3 handshake must then name the torrent its SKEY named.
 */
export async function acceptWirePeer(
  socket: Socket,
  lookup: (infoHash: Uint8Array) => { torrent: WireTorrent; opts: WirePeerOptions } | undefined,
  acceptOpts: AcceptOptions = {},
): Promise<WirePeerLink> {
  socket.setNoDelay(true);
  const where = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
  const timeoutMs = acceptOpts.handshakeTimeoutMs ?? WIRE_CONNECT_DEFAULTS.handshakeTimeoutMs;
  let read: SocketChunks = acceptOpts.chunks ?? chunksOf(socket);
  let session: MseSession | undefined;
  let payload: MsePayload | undefined;
  // `require` without `skeyFor` still refuses plain handshakes (an encrypted one then names no torrent we know).
  if (acceptOpts.skeyFor !== undefined || acceptOpts.encryption === 'require') {
    const skeyFor = acceptOpts.skeyFor ?? (() => undefined);
    const run = await mseAccept(socket, read, acceptOpts.encryption ?? 'off', skeyFor, { timeoutMs, timeoutCode: 'TRANSPORT_HANDSHAKE_TIMEOUT', where });
    session = run.session;
    if (session !== undefined) {
      payload = msePayload(socket, read, session, run.head);
      read = payload.read;
    } else if (run.head.length > 0) {
      read = new PrefixedChunks(read, run.head);
    }
  }
  let found: { torrent: WireTorrent; opts: WirePeerOptions } | undefined;
  const decoder = new WireDecoder({
    reuseAssemblyBuffers: true,
    maxRunBytes: MAX_RUN_REQUEST_BYTES,
    // Called as soon as the handshake is decoded, so a bitfield in the same segment is checked
    // against the right torrent's geometry.
    torrentFor: (infoHash) => {
      if (session !== undefined && !sameBytes(infoHash, session.infoHash)) throw new TransportError('TRANSPORT_INFO_HASH_MISMATCH', { detail: `${where}: not the torrent of its encrypted handshake` });
      found = lookup(infoHash);
      return found?.torrent.metainfo.geometry;
    },
  });
  return handshake(socket, read, decoder, timeoutMs, 'TRANSPORT_HANDSHAKE_TIMEOUT', where, undefined, payload, (hs) => {
    if (found === undefined) throw new TransportError('TRANSPORT_UNKNOWN_TORRENT', { detail: where });
    const extended = supportsExtensionProtocol(hs.reserved) ? found.opts : undefined;
    const fast = supportsFastExtension(hs.reserved);
    send(socket, payload, encodeMessages([ourHandshake(found.torrent, found.opts.peerId), ...afterHandshake(found.torrent, extended, socket.remoteAddress, fast)]));
    return { ...found, fast };
  });
}

function ourHandshake(torrent: WireTorrent, peerId: Uint8Array): WireMessage {
  return { type: 'handshake', reserved: reservedBytes({ extensionProtocol: true, fastExtension: true }), infoHash: torrent.infoHash, peerId };
}

/**
 * What follows our handshake once the peer's is in: our bitfield when we have anything (as of
 * now, so pieces verified while we waited are in it), and the extended handshake when
 * `extended` is given (the peer set the BEP 10 bit).
 */
function afterHandshake(torrent: WireTorrent, extended: WirePeerOptions | undefined, remoteAddress: string | undefined, fast: boolean): WireMessage[] {
  const messages: WireMessage[] = [];
  const have = torrent.bitfield;
  // A super-seed (BEP 16) sends no bitfield (have_none under BEP 6): it offers its pieces one `have` at a time.
  const superSeeding = torrent.superSeeding === true;
  // BEP 6: with the fast extension one of have_all, have_none or a bitfield must come first.
  if (fast && (have.empty || superSeeding)) messages.push(encodeFastMessage({ type: 'haveNone' }));
  else if (fast && have.complete) messages.push(encodeFastMessage({ type: 'haveAll' }));
  else if (!have.empty && !superSeeding) messages.push({ type: 'bitfield', bitfield: have.toBytes() });
  if (extended !== undefined) messages.push(extendedHandshake(torrent, extended, remoteAddress));
  return messages;
}

/**
 * BEP 10 handshake: `reqq` is the limit the link enforces, so a peer that honours it never trips
 * it; `metadata_size` and `ut_metadata` let a peer that came from a magnet link fetch the info dict;
 * `torrenttp_max_request` tells another torrenttp link it may ask for runs of blocks.
 */
function extendedHandshake(torrent: WireTorrent, opts: WirePeerOptions, remoteAddress: string | undefined): WireMessage {
  return ourExtendedHandshake({
    reqq: opts.maxPeerRequests ?? WIRE_PEER_DEFAULTS.maxPeerRequests,
    metadataSize: torrent.metainfo.infoBytes.length,
    ...(opts.listenPort === undefined ? {} : { listenPort: opts.listenPort }),
    ...(remoteAddress === undefined ? {} : { remoteAddress }),
    pex: torrent.pex === true,
    maxRequest: MAX_RUN_REQUEST_BYTES,
  });
}

function handshake(
  socket: Socket,
  chunks: SocketChunks,
  decoder: WireDecoder,
  timeoutMs: number,
  timeoutCode: 'TRANSPORT_CONNECT_TIMEOUT' | 'TRANSPORT_HANDSHAKE_TIMEOUT',
  where: string,
  signal: AbortSignal | undefined,
  payload: MsePayload | undefined,
  accept: (hs: Handshake) => { torrent: WireTorrent; opts: WirePeerOptions; fast: boolean },
): Promise<WirePeerLink> {
  return new Promise<WirePeerLink>((resolve, reject) => {
    let settled = false;
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      chunks.setHandler(undefined);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (err: TorrenttpError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onAbort = (): void => fail(new TransportError('TRANSPORT_ABORTED', { detail: where, cause: signal?.reason }));
    const onError = (err: Error): void => fail(new TransportError('TRANSPORT_CONNECT_FAILED', { detail: `${where}: ${err.message}`, cause: err }));
    const onClose = (): void => fail(new TransportError('TRANSPORT_PEER_CLOSED', { detail: `${where} before its handshake` }));
    const onData = (chunk: Uint8Array): void => {
      let messages: WireMessage[];
      let link: { torrent: WireTorrent; opts: WirePeerOptions; fast: boolean };
      try {
        // A copy: what came with the handshake (a bitfield, say) is handled a macrotask later,
        // by then the read buffer (or an RC4 link's ring) may hold other bytes. Once per connection.
        // A plain Uint8Array, as the link feeds the decoder afterwards (`plainBytes`); `Buffer#slice`
        // would be a view, not a copy.
        messages = decoder.push(new Uint8Array(chunk));
        const first = messages[0];
        if (first === undefined) return;
        if (first.type !== 'handshake') throw new TransportError('TRANSPORT_CONNECT_FAILED', { detail: 'no handshake' }); // unreachable: the decoder emits it first
        link = accept(first);
        socket.pause();
        const peer = new WirePeer(socket, chunks, decoder, link.torrent, link.opts, first, link.fast, payload?.method ?? 'none', payload?.rc4);
        settled = true;
        cleanup();
        resolve(peer);
        // A macrotask later, after the caller's `await` has run, so it holds the link before any event.
        setImmediate(() => peer.start(messages.slice(1)));
      } catch (err) {
        fail(toTorrenttpError(err));
      }
    };
    const timer = setTimeout(() => fail(new TransportError(timeoutCode, { detail: `${where} after ${timeoutMs} ms` })), timeoutMs);
    if (signal?.aborted === true) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    chunks.setHandler(onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

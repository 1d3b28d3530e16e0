/**
 * A wire connection that only fetches a torrent's info dict (BEP 9), for a magnet link: we know
 * the info-hash but not the geometry, so a `WirePeer` (which range-checks every message against
 * the torrent) cannot be built yet. Once the engine holds verified metadata it closes these and
 * dials the peers again as ordinary wire links.
 *
 * Rules:
 * - We send our handshake (BEP 10 bit set) and, once the peer's arrives and names our info-hash,
 *   our extended handshake offering ut_metadata. A peer without the BEP 10 bit, or whose handshake
 *   has no `ut_metadata` id or no `metadata_size`, closes with TRANSPORT_NO_METADATA.
 * - `ready` (with the peer's `metadata_size`) is emitted once; the engine then asks for pieces
 *   with `request`. Each piece ends in `piece` or `rejected`, or the link's `closed`.
 * - A `data` message for a piece not asked for is ignored (a late answer after a timeout); one
 *   whose `total_size` differs from the handshake's `metadata_size`, or whose length is not the
 *   piece's, closes with TRANSPORT_METADATA_MISMATCH.
 * - BEP 3 messages (bitfield, have, choke…) are read and ignored; requests from the peer are
 *   ignored too (we have no data). Any codec error closes the link with it.
 * - Events are delivered from socket callbacks or a microtask, never from inside a method call.
 */
import { connect, type Socket } from 'node:net';
import { TorrenttpError, toTorrenttpError } from '../errors/index.js';
import {
  decodeExtendedHandshake,
  decodeMetadataMessage,
  encodeMessages,
  EXTENDED_MESSAGE_ID,
  metadataPieceCount,
  metadataPieceLength,
  reservedBytes,
  supportsExtensionProtocol,
  UT_METADATA,
  WireDecoder,
  type WireMessage,
} from '../wire/index.js';
import { TransportError } from './errors.js';
import { metadataMessage, OUR_UT_METADATA_ID, ourExtendedHandshake } from './extensions.js';
import { hostPort } from './peer-address.js';
import { METADATA_PEER_DEFAULTS } from './wire-lazy.js';

export type MetadataPeerEvent =
  | { readonly type: 'ready'; readonly metadataSize: number; readonly client?: string }
  | { readonly type: 'piece'; readonly piece: number; readonly data: Uint8Array }
  | { readonly type: 'rejected'; readonly piece: number }
  | { readonly type: 'closed'; readonly reason?: TorrenttpError };

export interface MetadataPeerOptions {
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  readonly onEvent: (e: MetadataPeerEvent) => void;
  /** TCP connect, both handshakes and the extended handshake. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Our listen port, for the BEP 10 `p`. */
  readonly listenPort?: number;
}

export interface MetadataPeer {
  /** `host:port`. */
  readonly id: string;
  request(piece: number): void;
  close(reason?: TorrenttpError): void;
}


/** Bytes a metadata-only peer may send us before we stop listening: 1 MiB is a bitfield for 8 M pieces. */
const MAX_MESSAGE_BYTES = 1 << 20;

export function connectMetadataPeer(host: string, port: number, opts: MetadataPeerOptions): MetadataPeer {
  return new MetadataConnection(connect({ host, port }), hostPort(host, port), opts);
}

class MetadataConnection implements MetadataPeer {
  private readonly decoder = new WireDecoder({ maxMessageBytes: MAX_MESSAGE_BYTES });
  private closed = false;
  private peerUtId: number | undefined;
  private metadataSize: number | undefined;
  private readonly asked = new Set<number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly socket: Socket,
    readonly id: string,
    private readonly opts: MetadataPeerOptions,
  ) {
    socket.setNoDelay(true);
    socket.write(encodeMessages([{ type: 'handshake', reserved: reservedBytes({ extensionProtocol: true }), infoHash: opts.infoHash, peerId: opts.peerId }]));
    const ms = opts.handshakeTimeoutMs ?? METADATA_PEER_DEFAULTS.handshakeTimeoutMs;
    this.timer = setTimeout(() => {
      if (this.metadataSize === undefined) this.close(new TransportError('TRANSPORT_CONNECT_TIMEOUT', { detail: `${id}: no metadata offer after ${ms} ms` }));
    }, ms);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.close(new TransportError('TRANSPORT_CONNECT_FAILED', { detail: `${id}: ${err.message}`, cause: err })));
    socket.on('close', () => this.close(new TransportError('TRANSPORT_PEER_CLOSED', { detail: id })));
  }

  request(piece: number): void {
    if (this.closed || this.peerUtId === undefined || this.metadataSize === undefined) return;
    if (piece >= metadataPieceCount(this.metadataSize) || this.asked.has(piece)) return;
    this.asked.add(piece);
    this.socket.write(encodeMessages([metadataMessage(this.peerUtId, { type: 'request', piece })]));
  }

  close(reason?: TorrenttpError): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.socket.destroy();
    queueMicrotask(() => this.opts.onEvent(reason === undefined ? { type: 'closed' } : { type: 'closed', reason }));
  }

  private onData(chunk: Uint8Array): void {
    if (this.closed) return;
    try {
      for (const m of this.decoder.push(chunk)) {
        if (this.closed) return;
        this.onMessage(m);
      }
    } catch (err) {
      this.close(toTorrenttpError(err));
    }
  }

  private onMessage(m: WireMessage): void {
    if (m.type === 'handshake') {
      if (!sameBytes(m.infoHash, this.opts.infoHash)) throw new TransportError('TRANSPORT_INFO_HASH_MISMATCH', { detail: this.id });
      if (!supportsExtensionProtocol(m.reserved)) throw new TransportError('TRANSPORT_NO_METADATA', { detail: `${this.id} does not speak BEP 10` });
      this.socket.write(
        encodeMessages([
          ourExtendedHandshake({
            reqq: 16,
            ...(this.opts.listenPort === undefined ? {} : { listenPort: this.opts.listenPort }),
            ...(this.socket.remoteAddress === undefined ? {} : { remoteAddress: this.socket.remoteAddress }),
          }),
        ]),
      );
      return;
    }
    if (m.type !== 'unknown' || m.id !== EXTENDED_MESSAGE_ID) return;
    const h = decodeExtendedHandshake(m.payload);
    if (h !== undefined) {
      if (this.metadataSize !== undefined) return; // a second handshake (allowed by BEP 10) changes nothing we use
      const ut = h.m.get(UT_METADATA);
      if (ut === undefined || h.metadataSize === undefined) {
        throw new TransportError('TRANSPORT_NO_METADATA', { detail: `${this.id}${h.v === undefined ? '' : ` (${h.v})`} offers ${ut === undefined ? 'no ut_metadata' : 'no metadata_size'}` });
      }
      this.peerUtId = ut;
      this.metadataSize = h.metadataSize;
      clearTimeout(this.timer);
      this.opts.onEvent({ type: 'ready', metadataSize: h.metadataSize, ...(h.v === undefined ? {} : { client: h.v }) });
      return;
    }
    if (m.payload[0] !== OUR_UT_METADATA_ID || this.metadataSize === undefined) return;
    const msg = decodeMetadataMessage(m.payload.subarray(1));
    if (msg.type === 'request') {
      // We have no metadata to give: say so rather than leave the peer waiting.
      if (this.peerUtId !== undefined) this.socket.write(encodeMessages([metadataMessage(this.peerUtId, { type: 'reject', piece: msg.piece })]));
      return;
    }
    if (!this.asked.delete(msg.piece)) return; // not asked, or already answered
    if (msg.type === 'reject') {
      this.opts.onEvent({ type: 'rejected', piece: msg.piece });
      return;
    }
    const expected = metadataPieceLength(this.metadataSize, msg.piece);
    if (msg.totalSize !== this.metadataSize || msg.data.length !== expected) {
      throw new TransportError('TRANSPORT_METADATA_MISMATCH', {
        detail: `${this.id}: piece ${msg.piece} of ${msg.data.length} bytes, total_size ${msg.totalSize}; expected ${expected} bytes of ${this.metadataSize}`,
      });
    }
    // A copy: the chunk is the socket's, and the piece is kept until the dict is complete.
    this.opts.onEvent({ type: 'piece', piece: msg.piece, data: msg.data.slice() });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

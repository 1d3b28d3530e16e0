import { isIPv4, isIPv6 } from 'node:net';
import {
  decodeMetadataMessage,
  encodeExtended,
  encodeExtendedHandshake,
  encodeMetadataMessage,
  METADATA_PIECE_BYTES,
  metadataPieceCount,
  UT_METADATA,
  UT_PEX,
  type ExtendedHandshake,
  type MetadataMessage,
  type WireMessage,
} from '../wire/index.js';

/**
 * The BEP 10 glue both kinds of wire connection share: the ids we give our extensions, our
 * handshake, and the `ut_metadata` server side. Pure apart from reading an address string.
 *
 * Our ids are fixed (BEP 10 lets each side choose): ut_metadata is 1 and ut_pex (BEP 11) 2, as
 * libtorrent and Transmission both keep theirs small and constant. ut_pex is offered only for a
 * torrent that exchanges peers (not private, BEP 27; not turned off): unoffered, id 2 is nobody's
 * and a message on it is ignored.
 */
export const OUR_UT_METADATA_ID = 1;
export const OUR_UT_PEX_ID = 2;
export const OUR_EXTENSION_IDS: ReadonlyMap<string, number> = new Map([[UT_METADATA, OUR_UT_METADATA_ID]]);
const WITH_PEX: ReadonlyMap<string, number> = new Map([...OUR_EXTENSION_IDS, [UT_PEX, OUR_UT_PEX_ID]]);

/** BEP 10 `v`. */
export const CLIENT_VERSION = 'torrenttp 0.1.0';

export interface OurHandshakeFields {
  readonly reqq: number;
  /** Bytes of our info dict, when we have it (BEP 9). */
  readonly metadataSize?: number;
  /** Our listen port, when we listen. */
  readonly listenPort?: number;
  /** The peer's address as we see it (BEP 10 `yourip`), when it is an IP literal. */
  readonly remoteAddress?: string;
  /** Offer `ut_pex` (BEP 11). Default false. */
  readonly pex?: boolean;
  /** `torrenttp_max_request`: the largest run of blocks one request of the peer's may ask for. */
  readonly maxRequest?: number;
}

export function ourExtendedHandshake(f: OurHandshakeFields): WireMessage {
  const h: { -readonly [K in keyof ExtendedHandshake]: ExtendedHandshake[K] } = { m: f.pex === true ? WITH_PEX : OUR_EXTENSION_IDS, reqq: f.reqq, v: CLIENT_VERSION };
  if (f.metadataSize !== undefined && f.metadataSize > 0) h.metadataSize = f.metadataSize;
  if (f.listenPort !== undefined && f.listenPort > 0) h.p = f.listenPort;
  if (f.maxRequest !== undefined) h.maxRequest = f.maxRequest;
  const ip = f.remoteAddress === undefined ? undefined : ipBytes(f.remoteAddress);
  if (ip !== undefined) h.yourip = ip;
  return encodeExtendedHandshake(h);
}

/** A `ut_metadata` message to a peer whose id for it is `peerUtId`. */
export function metadataMessage(peerUtId: number, m: MetadataMessage): WireMessage {
  const { body, tail } = encodeMetadataMessage(m);
  return encodeExtended(peerUtId, body, tail);
}

/**
 * Serving our info dict (BEP 9) to one peer. Each request is answered at once (a piece is at
 * most 16 KiB, already in memory), so the cost to bound is the total: a peer may ask for the
 * whole dict a few times over (`maxRequestsPerPiece` × pieces, plus slack), then gets rejects.
 * A count, not a rate: it needs no clock, and a peer that wants the dict more than four times
 * over one connection is not fetching metadata.
 */
export class MetadataServer {
  private served = 0;
  private readonly budget: number;

  constructor(
    private readonly infoBytes: Uint8Array,
    maxRequestsPerPiece = 4,
  ) {
    this.budget = maxRequestsPerPiece * metadataPieceCount(infoBytes.length) + 4;
  }

  /** The answer to a message the peer sent us on our ut_metadata id; undefined when there is none to send. */
  answer(body: Uint8Array, peerUtId: number | undefined): WireMessage | undefined {
    const m = decodeMetadataMessage(body); // throws WIRE_BAD_EXTENSION: the link closes
    if (m.type !== 'request' || peerUtId === undefined) return undefined; // data/reject we never asked for
    const pieces = metadataPieceCount(this.infoBytes.length);
    if (m.piece >= pieces || this.served >= this.budget) return metadataMessage(peerUtId, { type: 'reject', piece: m.piece });
    this.served++;
    const from = m.piece * METADATA_PIECE_BYTES;
    const data = this.infoBytes.subarray(from, Math.min(this.infoBytes.length, from + METADATA_PIECE_BYTES));
    return metadataMessage(peerUtId, { type: 'data', piece: m.piece, totalSize: this.infoBytes.length, data });
  }
}

function ipBytes(address: string): Uint8Array | undefined {
  const v4 = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (isIPv4(v4)) return Uint8Array.from(v4.split('.').map(Number));
  if (!isIPv6(address)) return undefined;
  // Expand `::` and read eight groups.
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const h = head === '' || head === undefined ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  if (t.some((g) => g.includes('.')) || h.some((g) => g.includes('.'))) return undefined; // embedded IPv4 other than mapped: skip
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, k) => {
    const n = parseInt(g, 16);
    out[2 * k] = n >> 8;
    out[2 * k + 1] = n & 0xff;
  });
  return out;
}

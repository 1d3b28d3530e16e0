/**
 * Incremental, sans-I/O decoder for one peer's byte stream (BEP 3). The transport pushes
 * whatever the socket gave it; `push` returns the messages completed by those bytes.
 *
 * States (h11 style; `failed` is terminal):
 *
 *   handshake ──68 bytes──▶ firstMessage ──bitfield──▶ messages (bitfields still allowed)
 *        │                    │                              │
 *        └────────────────────┴──────── any error ──▶ failed ◀┘
 *
 * - `handshake`: only with `expectHandshake` (the default). Bytes are checked as they arrive,
 *   so a wrong pstrlen or pstr fails at its first wrong byte. The handshake is emitted as the
 *   first message; its fields are copies (see handshake.ts).
 * - `firstMessage`: no bitfield seen yet. BEP 3 says the bitfield "is only ever sent as the
 *   first message", but real clients send more: aria2 1.36 sends its first bitfield after its
 *   first `have`s, and later sends a whole bitfield instead of a burst of 20 or more `have`s
 *   (seen on loopback). libtorrent accepts that, so we do: a bitfield is valid at any point
 *   and the transport merges it with what the peer had. The state only says whether one came.
 *   (BEP 6's have_all/have_none are `unknown` here; the BEP 6 layer decides how they
 *   interact with the bitfield.)
 * - `messages`: everything else.
 * - `failed`: the first error is stored and every later `push` throws that same error.
 *
 * Errors (all `WireError`, with the absolute stream `offset` of the bad field and `messageId`
 * once it is known): a bad handshake; a length prefix above `maxMessageBytes` (thrown before any
 * of the body is buffered); a length that does not fit the id; a request/cancel length or piece
 * block of zero bytes or above `maxRunBytes`; a second bitfield; and,
 * when the torrent's geometry is known, a piece index, block range or bitfield that does not fit
 * it. Each check runs as soon as the bytes it needs are in, in stream order, so the error (code
 * and offset) never depends on how the stream was chunked.
 *
 * Not errors: unknown message ids (returned as `unknown`, payload included, for extension
 * layers) and keep-alives. Whether a `piece` was requested, or a `have` repeats, is the
 * engine's business, not the codec's.
 *
 * Buffers: a message that lies within one pushed chunk is decoded in place, and its byte fields
 * (`bitfield`, `block`, `payload`) are `subarray` views that ALIAS THE CALLER'S CHUNK. If the
 * transport reuses or mutates its read buffers, it must copy what it keeps. Only a message that
 * straddles chunks is copied, once, into a fresh buffer of its declared length (or, with
 * `reuseAssemblyBuffers`, into one of two buffers the decoder reuses). Partial input
 * is tracked with an offset into that buffer (h11's receive buffer habit), so bytes trickled
 * one at a time cost O(n) in total, never a concat per push.
 */
import { TorrenttpError, toTorrenttpError } from '../errors/index.js';
import { WireError } from './errors.js';
import { checkFrame, parseBody, parsePieceHead, readU32, type FrameContext, type PieceGeometry } from './frame.js';
import { checkHandshakePrefix, HANDSHAKE_BYTES, readHandshake } from './handshake.js';
import { BLOCK_BYTES, MESSAGE_ID, type Handshake, type WireMessage } from './messages.js';

export type { PieceGeometry } from './frame.js';

export interface WireDecoderOptions {
  /** The stream starts with the 68-byte handshake. Default true; false when it was read elsewhere. */
  readonly expectHandshake?: boolean;
  /**
   * Largest length prefix (id + payload bytes) accepted. Default 1 MiB. A piece message needs
   * only 16 KiB + 9, but a bitfield needs one bit per piece: 1 MiB covers 8 million pieces, far
   * beyond any real torrent. Precedents: libtorrent caps every message with
   * `max_peer_recv_buffer_size` (default 2 MiB) and disconnects with `packet_too_large`;
   * webtorrent's bittorrent-protocol accepts any 32-bit length, which lets one prefix make a
   * peer buffer 4 GiB.
   */
  readonly maxMessageBytes?: number;
  /**
   * Largest block a peer may request, cancel or send in a `piece`. Default 16 KiB: BEP 3 says
   * all implementations use 2^14 and "close connections which request an amount greater than
   * that"; libtorrent also drops a piece message whose block exceeds its block size.
   */
  readonly maxRequestBytes?: number;
  /**
   * Largest `request`, `cancel` or `piece` block; default (and at least) `maxRequestBytes`. Higher
   * on a link that takes runs of blocks in one message (BEP 10 `torrenttp_max_request`,
   * extension.ts). A `piece` past `maxRequestBytes` comes out as one `piece` message per 16 KiB
   * block of it (the last one shorter), whatever the chunking: views of the chunk, or assembled
   * like any straddling message, never a buffer of the whole run.
   */
  readonly maxRunBytes?: number;
  /** Piece geometry for range checks. Without it those checks are skipped (e.g. a magnet link). */
  readonly torrent?: PieceGeometry;
  /**
   * For listening sockets, where the handshake's info-hash picks the torrent: called once when
   * the handshake is decoded, before the messages that follow it in the same chunk, so even a
   * bitfield in the handshake's TCP segment is checked against the right torrent.
   */
  readonly torrentFor?: (infoHash: Uint8Array) => PieceGeometry | undefined;
  /**
   * Assemble messages that straddle chunks in two buffers of the decoder's, used in turn,
   * instead of a new buffer each. A transport that reads into one reused buffer already treats a
   * message's byte fields as valid only until its next `push`; with this the straddling ones are
   * too. A fast download straddles a 16 KiB block every few reads: a new buffer for each was
   * hundreds of MB of short-lived allocations per GiB. Default false.
   */
  readonly reuseAssemblyBuffers?: boolean;
}

export const WIRE_DECODER_DEFAULTS = {
  expectHandshake: true,
  maxMessageBytes: 1024 * 1024,
  maxRequestBytes: BLOCK_BYTES,
} as const;

export type WireDecoderState = 'handshake' | 'firstMessage' | 'messages' | 'failed';

const HANDSHAKE = 0;
const LENGTH = 1;
const BODY = 2;
/** A run's `piece` message (a block past `maxRequestBytes`): its id, index and begin, then its blocks. */
const PIECE_HEAD = 3;
const PIECE_BLOCKS = 4;
type Phase = typeof HANDSHAKE | typeof LENGTH | typeof BODY | typeof PIECE_HEAD | typeof PIECE_BLOCKS;
const PIECE_HEAD_BYTES = 9;

const LENGTH_PREFIX_BYTES = 4;
/** A piece message's body: id, index, begin, a 16 KiB block. */
const REUSED_BODY_BYTES = 1 + 8 + BLOCK_BYTES;

export class WireDecoder {
  private readonly ctx: FrameContext;
  private readonly torrentFor: ((infoHash: Uint8Array) => PieceGeometry | undefined) | undefined;
  private phase: Phase;
  private error: TorrenttpError | undefined;
  /** Absolute stream offset of the next byte pushed. */
  private streamOffset = 0;
  /** Absolute offset where the unit being assembled (handshake or length prefix) starts. */
  private unitStart = 0;
  private bodyLength = 0;
  /** Assembly buffer for a unit that straddles chunks; `filled` bytes of it are in. */
  private partial: Uint8Array | undefined;
  private filled = 0;
  /** With `reuseAssemblyBuffers`: the two assembly buffers, and which one the next unit takes. */
  private readonly spare: [Uint8Array, Uint8Array] | undefined;
  private spareTurn = 0;
  private readonly lengthScratch = new Uint8Array(LENGTH_PREFIX_BYTES);
  /** A run's `piece` message: its head, then where its blocks are. */
  private readonly pieceHead = new Uint8Array(PIECE_HEAD_BYTES);
  private runIndex = 0;
  private runBegin = 0;
  private runLength = 0;
  private runDone = 0;

  constructor(opts: WireDecoderOptions = {}) {
    const maxMessageBytes = positiveInteger('maxMessageBytes', opts.maxMessageBytes ?? WIRE_DECODER_DEFAULTS.maxMessageBytes);
    const maxRequestBytes = positiveInteger('maxRequestBytes', opts.maxRequestBytes ?? WIRE_DECODER_DEFAULTS.maxRequestBytes);
    const maxRunBytes = Math.max(maxRequestBytes, positiveInteger('maxRunBytes', opts.maxRunBytes ?? maxRequestBytes));
    this.ctx = { maxMessageBytes, maxRequestBytes, maxRunBytes, torrent: opts.torrent, bitfieldSeen: false };
    this.torrentFor = opts.torrentFor;
    this.spare = opts.reuseAssemblyBuffers === true ? [new Uint8Array(0), new Uint8Array(0)] : undefined;
    this.phase = (opts.expectHandshake ?? WIRE_DECODER_DEFAULTS.expectHandshake) ? HANDSHAKE : LENGTH;
  }

  get state(): WireDecoderState {
    if (this.error !== undefined) return 'failed';
    if (this.phase === HANDSHAKE) return 'handshake';
    return this.ctx.bitfieldSeen ? 'messages' : 'firstMessage';
  }

  /** Sets or replaces the geometry for range checks, e.g. once BEP 9 metadata has arrived. */
  setTorrent(torrent: PieceGeometry | undefined): void {
    this.ctx.torrent = torrent;
  }

  /** Decodes `chunk`, returning the 0..n messages it completes. Views alias `chunk` (see top). */
  push(chunk: Uint8Array): WireMessage[] {
    if (this.error !== undefined) throw this.error;
    const out: WireMessage[] = [];
    try {
      this.run(chunk, out);
    } catch (err) {
      this.error = err instanceof TorrenttpError ? err : toTorrenttpError(err);
      throw this.error;
    }
    return out;
  }

  private run(chunk: Uint8Array, out: WireMessage[]): void {
    const base = this.streamOffset;
    const n = chunk.length;
    this.streamOffset = base + n;
    let pos = 0;
    while (pos < n) {
      if (this.phase === HANDSHAKE) {
        if (this.filled === 0 && n - pos >= HANDSHAKE_BYTES) {
          this.unitStart = base + pos;
          this.onHandshake(readHandshake(chunk.subarray(pos, pos + HANDSHAKE_BYTES), this.unitStart), out);
          pos += HANDSHAKE_BYTES;
          continue;
        }
        if (this.filled === 0) {
          this.unitStart = base + pos;
          this.partial = new Uint8Array(HANDSHAKE_BYTES);
        }
        const hs = this.partial!;
        const take = Math.min(HANDSHAKE_BYTES - this.filled, n - pos);
        hs.set(chunk.subarray(pos, pos + take), this.filled);
        checkHandshakePrefix(hs, this.filled, this.filled + take, this.unitStart);
        this.filled += take;
        pos += take;
        if (this.filled < HANDSHAKE_BYTES) return;
        this.partial = undefined;
        this.filled = 0;
        this.onHandshake(readHandshake(hs, this.unitStart), out);
        continue;
      }

      if (this.phase === LENGTH) {
        let length: number;
        if (this.filled === 0 && n - pos >= LENGTH_PREFIX_BYTES) {
          this.unitStart = base + pos;
          length = readU32(chunk, pos);
          pos += LENGTH_PREFIX_BYTES;
        } else {
          if (this.filled === 0) this.unitStart = base + pos;
          const take = Math.min(LENGTH_PREFIX_BYTES - this.filled, n - pos);
          this.lengthScratch.set(chunk.subarray(pos, pos + take), this.filled);
          this.filled += take;
          pos += take;
          if (this.filled < LENGTH_PREFIX_BYTES) return;
          this.filled = 0;
          length = readU32(this.lengthScratch, 0);
        }
        if (length > this.ctx.maxMessageBytes) {
          throw new WireError('WIRE_MESSAGE_TOO_LONG', {
            detail: `${length} > ${this.ctx.maxMessageBytes} bytes`,
            offset: this.unitStart,
          });
        }
        if (length === 0) {
          out.push({ type: 'keepAlive' });
        } else {
          this.phase = BODY;
          this.bodyLength = length;
        }
        continue;
      }

      if (this.phase === PIECE_HEAD) {
        const take = Math.min(PIECE_HEAD_BYTES - this.filled, n - pos);
        this.pieceHead.set(chunk.subarray(pos, pos + take), this.filled);
        this.filled += take;
        pos += take;
        if (this.filled < PIECE_HEAD_BYTES) return;
        this.filled = 0;
        this.runLength = this.bodyLength - PIECE_HEAD_BYTES;
        const { index, begin } = parsePieceHead(this.ctx, this.pieceHead, 0, this.runLength, this.unitStart);
        this.runIndex = index;
        this.runBegin = begin;
        this.runDone = 0;
        this.phase = PIECE_BLOCKS;
        continue;
      }

      if (this.phase === PIECE_BLOCKS) {
        // One `piece` message per block of the run, whatever the chunking: a view of the chunk,
        // or assembled (in the reused buffers) when it straddles chunks.
        const length = Math.min(BLOCK_BYTES, this.runLength - this.runDone);
        let block: Uint8Array;
        if (this.filled === 0 && n - pos >= length) {
          block = chunk.subarray(pos, pos + length);
          pos += length;
        } else {
          if (this.filled === 0) this.partial = this.assemblyBuffer(length);
          const part = this.partial!;
          const take = Math.min(length - this.filled, n - pos);
          part.set(chunk.subarray(pos, pos + take), this.filled);
          this.filled += take;
          pos += take;
          if (this.filled < length) return;
          this.partial = undefined;
          this.filled = 0;
          block = part;
        }
        out.push({ type: 'piece', index: this.runIndex, begin: this.runBegin + this.runDone, block });
        this.runDone += length;
        if (this.runDone === this.runLength) this.phase = LENGTH;
        continue;
      }

      // BODY: `unitStart` is the message's length prefix, `bodyLength` its declared length.
      if (this.filled === 0 && chunk[pos] === MESSAGE_ID.piece && this.bodyLength - PIECE_HEAD_BYTES > this.ctx.maxRequestBytes) {
        checkFrame(this.ctx, MESSAGE_ID.piece, this.bodyLength, this.unitStart); // past `maxRunBytes`: an error
        this.phase = PIECE_HEAD;
        continue;
      }
      if (this.filled === 0 && n - pos >= this.bodyLength) {
        out.push(parseBody(this.ctx, chunk, pos, this.bodyLength, this.unitStart));
        pos += this.bodyLength;
        this.phase = LENGTH;
        continue;
      }
      if (this.filled === 0) {
        // Reject a bad length for its id before buffering a byte of the body.
        checkFrame(this.ctx, chunk[pos]!, this.bodyLength, this.unitStart);
        this.partial = this.assemblyBuffer(this.bodyLength);
      }
      const body = this.partial!;
      const take = Math.min(this.bodyLength - this.filled, n - pos);
      body.set(chunk.subarray(pos, pos + take), this.filled);
      this.filled += take;
      pos += take;
      if (this.filled < this.bodyLength) return;
      this.partial = undefined;
      this.filled = 0;
      this.phase = LENGTH;
      out.push(parseBody(this.ctx, body, 0, this.bodyLength, this.unitStart));
    }
  }

  /**
   * A buffer for a straddling body. Reused ones alternate: a message completed at the start of a
   * push sits in one while the next straddler fills the other, so no view in `out` is overwritten.
   * Only bodies up to a piece message's are reused (a rare big bitfield gets its own), so a
   * connection keeps 2 × 16 KiB at most.
   */
  private assemblyBuffer(length: number): Uint8Array {
    const spare = this.spare;
    if (spare === undefined || length > REUSED_BODY_BYTES) return new Uint8Array(length);
    const turn = this.spareTurn;
    this.spareTurn = 1 - turn;
    if (spare[turn]!.length === 0) spare[turn] = new Uint8Array(REUSED_BODY_BYTES);
    return spare[turn]!.subarray(0, length);
  }

  private onHandshake(hs: Handshake, out: WireMessage[]): void {
    this.phase = LENGTH;
    out.push({ type: 'handshake', reserved: hs.reserved, infoHash: hs.infoHash, peerId: hs.peerId });
    if (this.torrentFor !== undefined) {
      const torrent = this.torrentFor(hs.infoHash);
      if (torrent !== undefined) this.ctx.torrent = torrent;
    }
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > 0xffffffff) {
    throw new TorrenttpError('INVALID_ARGUMENT', { detail: `${name} must be an integer from 1 to 2^32 - 1, got ${value}` });
  }
  return value;
}

import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { Bitfield, type Metainfo, type PieceIndex } from '../metainfo/index.js';
import type { BlockRequest, PeerEvent, PeerLink } from '../transport/index.js';
import { loadUndici } from '../transport/index.js';
import { headerValue } from './proxy-request.js';

/**
 * A cold fetch's first piece, from the origin as soon as the offer is confirmed: one ranged `GET`
 * of exactly the piece under the program's position, sent once the `HEAD` has its answer, while
 * the torrent's storage opens (not after the open and the first commit in a disk thread:
 * together 150 to 300 ms of a fresh proxy's first body byte under load). The proxy checks the
 * piece's SHA-1 itself, on the main thread, and sends it to the program from memory; the engine
 * gets it through `memoryPieceLink` (and checks it again, as any peer's) for the cache.
 *
 * - Only verified bytes leave: `fetchFirstPiece` resolves the piece only when its SHA-1 is the
 *   torrent's, else `undefined` (the program then gets the piece from the swarm, after the
 *   engine's own check).
 * - The answer must be exactly the piece: `206` with `Content-Range: bytes first-last/length`,
 *   or `200` of the whole file when the piece is the whole file; a body of exactly the piece's
 *   length (a longer one is cut off, not buffered).
 * - Bounded in time (`timeoutMs`) and in memory (pieces up to `EARLY_PIECE_MAX_BYTES`).
 */
export const EARLY_PIECE_MAX_BYTES = 16 * 1024 * 1024;

export interface FirstPiece {
  readonly index: PieceIndex;
  /** The piece's bytes, SHA-1 checked against the torrent. */
  readonly data: Buffer;
}

export interface FirstPieceOptions {
  readonly dispatcher: Dispatcher;
  readonly timeoutMs: number;
  /** Why the piece was not used, for the debug log. */
  readonly onMiss?: (why: string) => void;
}

export async function fetchFirstPiece(url: string, metainfo: Metainfo, index: PieceIndex, o: FirstPieceOptions): Promise<FirstPiece | undefined> {
  const g = metainfo.geometry;
  const first = g.pieceOffset(index);
  const length = g.pieceLengthOf(index);
  const last = first + length - 1;
  const whole = first === 0 && length === metainfo.length;
  const miss = (why: string): undefined => {
    o.onMiss?.(why);
    return undefined;
  };
  if (length > EARLY_PIECE_MAX_BYTES || metainfo.multiFile) return miss(`piece of ${length} bytes`);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), o.timeoutMs);
  try {
    const undici = await loadUndici();
    const res = await undici.request(url, { method: 'GET', headers: { range: `bytes=${first}-${last}` }, dispatcher: o.dispatcher, signal: ac.signal });
    const exact =
      res.statusCode === 206
        ? headerValue(res.headers['content-range']) === `bytes ${first}-${last}/${metainfo.length}`
        : res.statusCode === 200 && whole && headerValue(res.headers['content-length']) === String(length);
    if (!exact) {
      res.body.destroy();
      return miss(`status ${res.statusCode}, content-range ${headerValue(res.headers['content-range']) ?? 'none'}`);
    }
    const data = Buffer.allocUnsafe(length);
    let at = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (at + chunk.length > length) {
        res.body.destroy();
        return miss('a longer body than the piece');
      }
      chunk.copy(data, at);
      at += chunk.length;
    }
    if (at !== length) return miss(`${at} of ${length} bytes`);
    const hashes = metainfo.pieceHashes;
    const digest = createHash('sha1').update(data).digest();
    if (!digest.equals(hashes.subarray(index * 20, index * 20 + 20))) return miss('the piece failed its hash check');
    return { index, data };
  } catch (err) {
    return miss(err instanceof Error ? err.message : String(err));
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A peer that has one piece, in memory: how the first piece the proxy fetched (and sent) reaches
 * the engine, so the swarm need not send it again and the cache holds it. The engine treats it
 * as any peer (its blocks are hashed again on commit). It never uploads; its owner closes it
 * once the piece is in.
 */
export function memoryPieceLink(id: string, pieceCount: number, piece: FirstPiece, onEvent: (e: PeerEvent) => void): PeerLink {
  return new MemoryPieceLink(id, pieceCount, piece, onEvent);
}

class MemoryPieceLink implements PeerLink {
  readonly kind = 'webseed' as const;
  readonly canDownload = true;
  readonly canUpload = false;
  readonly prefersRuns = true;
  readonly pollsHaves = false;
  readonly desiredQueueDepth: number;
  readonly bitfield: Bitfield;
  peerChoking = false;
  private closed = false;
  private queue: PeerEvent[] = [];
  private scheduled = false;

  constructor(
    readonly id: string,
    pieceCount: number,
    private readonly piece: FirstPiece,
    private readonly onEvent: (e: PeerEvent) => void,
  ) {
    this.bitfield = new Bitfield(pieceCount);
    this.bitfield.set(piece.index);
    this.desiredQueueDepth = Math.max(16, Math.ceil(piece.data.length / (16 * 1024)));
    this.emit({ type: 'bitfield', bitfield: this.bitfield });
    this.emit({ type: 'unchoke' });
  }

  request(req: BlockRequest): void {
    if (this.closed) return;
    const d = this.piece.data;
    if (req.index !== this.piece.index || req.begin < 0 || req.length <= 0 || req.begin + req.length > d.length) {
      this.emit({ type: 'rejected', req });
      return;
    }
    this.emit({ type: 'block', req, data: d.subarray(req.begin, req.begin + req.length) });
  }

  cancel(): void {}
  setChoking(): void {}
  setInterested(): void {}
  announceHave(): void {}
  sendBlock(_req: BlockRequest, _data: Uint8Array, done?: () => void): void {
    done?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit({ type: 'closed' });
  }

  /** Events in order, from a microtask: never from inside one of the link's methods (the PeerLink rule). */
  private emit(e: PeerEvent): void {
    this.queue.push(e);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const ev of this.queue.splice(0)) this.onEvent(ev);
    });
  }
}

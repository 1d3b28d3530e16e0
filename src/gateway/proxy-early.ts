import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { Bitfield, type Metainfo, type PieceIndex } from '../metainfo/index.js';
import type { BlockRequest, PeerEvent, PeerLink } from '../transport/index.js';
import { loadUndici, readContentRange, type ContentRange } from '../transport/index.js';
import { headerValue } from './proxy-request.js';

/**
 * The piece under a program's position, from the origin: one ranged `GET` of exactly that piece.
 * On a cold fetch it is also how the proxy confirms an offered torrent (proxy-offer.ts): its
 * answer's headers are the origin's facts for the program (the length from `Content-Range`,
 * `Content-Type`, `ETag`, `Last-Modified`), so no `HEAD` is sent, and the piece itself, SHA-1
 * checked against the torrent on the main thread, goes to the program from memory while the
 * torrent's storage opens (not after the open and the first commit in a disk thread: together
 * 150 to 300 ms of a fresh proxy's first body byte under load); the engine gets it through
 * `memoryPieceLink` (and checks it again, as any peer's) for the cache.
 *
 * - The head is the caller's as soon as it is in (`FirstAnswer`), the body later (`body`): the
 *   program's headers need not wait for the piece.
 * - Only verified bytes leave: `piece` is set only when its SHA-1 is the torrent's. A piece that
 *   arrived whole and failed the check is `mismatch`: the origin's bytes at the URL are not the
 *   torrent's (the file changed, or the torrent is of another; docs/proxy.md says what the
 *   program then gets).
 * - The piece is taken only from an exact answer: `206` with `Content-Range: bytes first-last/length`,
 *   or `200` of the whole file when the piece is the whole file; a body of exactly the piece's
 *   length (a longer one is cut off, not buffered). Any other answer still has its status and
 *   headers (a `200` of the whole file to the range: the origin's facts, without a piece).
 * - Bounded in time (`timeoutMs`, headers and body) and in memory (pieces up to
 *   `EARLY_PIECE_MAX_BYTES`; a larger one is not asked: `undefined`, as for no answer at all).
 */
export const EARLY_PIECE_MAX_BYTES = 16 * 1024 * 1024;

export interface FirstPiece {
  readonly index: PieceIndex;
  /** The piece's bytes, SHA-1 checked against the torrent. */
  readonly data: Buffer;
}

/** The origin's answer to the piece's `GET`: its head as soon as it is in, the piece once its body is. */
export interface FirstAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Settles once the body is in (or not taken); never rejects. */
  readonly body: Promise<FirstBody>;
}

export interface FirstBody {
  /** The piece, verified; absent when the answer was not exactly the piece or not whole. */
  readonly piece?: FirstPiece;
  /** The whole piece arrived and its SHA-1 is not the torrent's: the origin's bytes at the URL are not the torrent's. */
  readonly mismatch?: true;
}

export interface FirstPieceOptions {
  readonly dispatcher?: Dispatcher;
  readonly timeoutMs: number;
  /** End-to-end request headers, flat (name, value, …), besides the `Range` (a program's, for a cold fetch). */
  readonly headers?: readonly string[];
  /** Why the piece was not used, for the debug log. */
  readonly onMiss?: (why: string) => void;
}

/**
 * Resolves the answer's head as soon as it is in (the origin's facts), its `body` later;
 * `undefined` when the origin gave no answer (unreachable, timed out) or the piece is not asked
 * (too large, several files).
 */
export async function fetchFirstPiece(url: string, metainfo: Metainfo, index: PieceIndex, o: FirstPieceOptions): Promise<FirstAnswer | undefined> {
  const g = metainfo.geometry;
  const first = g.pieceOffset(index);
  const length = g.pieceLengthOf(index);
  const last = first + length - 1;
  const whole = first === 0 && length === metainfo.length;
  const miss = (why: string, body: FirstBody = {}): FirstBody => {
    o.onMiss?.(why);
    return body;
  };
  if (length > EARLY_PIECE_MAX_BYTES || metainfo.multiFile) {
    miss(`piece of ${length} bytes`);
    return undefined;
  }
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), o.timeoutMs);
  let res;
  try {
    const undici = await loadUndici();
    res = await undici.request(url, {
      method: 'GET',
      headers: [...(o.headers ?? []), 'range', `bytes=${first}-${last}`],
      signal: ac.signal,
      ...(o.dispatcher === undefined ? {} : { dispatcher: o.dispatcher }),
    });
  } catch (err) {
    clearTimeout(timer);
    miss(err instanceof Error ? err.message : String(err));
    return undefined;
  }
  const exact = res.statusCode === 206 ? isRange(readContentRange(headerValue(res.headers['content-range'])), first, last, metainfo.length) : res.statusCode === 200 && whole && headerValue(res.headers['content-length']) === String(length);
  if (!exact) {
    clearTimeout(timer);
    res.body.on('error', () => undefined); // undici's abort error, with no reader to take it, would be uncaught
    res.body.destroy();
    return { status: res.statusCode, headers: res.headers, body: Promise.resolve(miss(`status ${res.statusCode}, content-range ${headerValue(res.headers['content-range']) ?? 'none'}`)) };
  }
  const body = res.body;
  const read = async (): Promise<FirstBody> => {
    const data = Buffer.allocUnsafe(length);
    let at = 0;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (at + chunk.length > length) {
          body.destroy();
          return miss('a longer body than the piece');
        }
        chunk.copy(data, at);
        at += chunk.length;
      }
    } catch (err) {
      return miss(`the body failed after ${at} bytes: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      clearTimeout(timer);
    }
    if (at !== length) return miss(`${at} of ${length} bytes`);
    const digest = createHash('sha1').update(data).digest();
    if (!digest.equals(metainfo.pieceHashes.subarray(index * 20, index * 20 + 20))) return miss('the piece failed its hash check', { mismatch: true });
    return { piece: { index, data } };
  };
  return { status: res.statusCode, headers: res.headers, body: read() };
}

/** A `Content-Range` (parsed by `readContentRange`, RFC 9110 §14.4) of exactly bytes `first..last` of `complete`. */
function isRange(cr: ContentRange | undefined, first: number, last: number, complete: number): boolean {
  return cr !== undefined && !('unsatisfied' in cr) && cr.first === first && cr.last === last && cr.complete === complete;
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
  sendBlock(_req: BlockRequest, _data: Uint8Array, done?: (written: boolean) => void): void {
    done?.(false);
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

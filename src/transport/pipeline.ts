import { BLOCK_LENGTH } from '../metainfo/index.js';
import type { BlockRequest } from './peer-link.js';

/**
 * Our requests to one wire peer: what is outstanding, when each was sent, and how deep the
 * pipeline should be. No sockets, no timers: the link feeds it `now` (ms) and acts on its answers.
 *
 * Queue depth (libtorrent `peer_connection::update_desired_queue_size`): keep
 * `rate × queueTime / blockLength` requests outstanding, at least 2, at most `maxDepth` (or the
 * peer's BEP 10 `reqq`, if lower). A pipe
 * that is full for `queueTime` hides the round trip: over loopback the rate climbs to tens of
 * MB/s and the depth to its cap within a second or two; across an ocean the same rule keeps
 * enough in flight to cover the RTT. Before the first measurement the depth starts at
 * `initialDepth` and grows by one for each block that arrives (TCP's slow start: it doubles every
 * round trip), so a download whose first second is all it has (a small file, a loaded machine
 * where a round trip to the seed and its disk thread takes 100 ms) is not held to
 * `initialDepth` blocks per round trip until the first rate sample.
 * A snubbed peer (a request timed out) gets depth 1 until a block arrives, as in libtorrent.
 *
 * Keys are the block's absolute byte offset in the torrent (`index × pieceLength + begin`), a
 * safe integer for any torrent, so lookups need no string building.
 */
export interface PipelineOptions {
  readonly pieceLength: number;
  readonly initialDepth: number;
  readonly maxDepth: number;
  readonly queueTimeMs: number;
  readonly requestTimeoutMs: number;
}

export interface Outstanding {
  readonly req: BlockRequest;
  readonly sentAt: number;
}

export type BlockVerdict = 'accepted' | 'unrequested' | 'wrongLength';

export class RequestPipeline {
  /** Insertion order is send order, so the oldest request is always first. */
  private readonly outstanding = new Map<number, Outstanding>();
  private depth: number;
  /** `maxDepth`, lowered to the peer's own limit (BEP 10 `reqq`) once it names one. */
  private maxDepth: number;
  /**
   * The smoothed rate, in a box of its own: a field that starts as the integer 0 and later holds a
   * fraction changes the pipeline's hidden class at the first sample, mid-download, and V8 then
   * drops every optimized function that had seen the old one (onBlock, add, key…).
   */
  private readonly rateBox = new Float64Array(1);
  private measured = false;
  private windowBytes = 0;
  private windowStart: number;
  private busy = false;
  snubbed = false;

  constructor(
    private readonly opts: PipelineOptions,
    now: number,
  ) {
    this.maxDepth = opts.maxDepth;
    this.depth = Math.min(opts.initialDepth, this.maxDepth);
    this.windowStart = now;
  }

  /** The peer queues at most `n` of our requests (BEP 10 `reqq`): never ask for more at once. */
  limitDepth(n: number): void {
    this.maxDepth = Math.max(1, Math.min(this.opts.maxDepth, n));
    this.depth = Math.min(this.depth, this.maxDepth);
  }

  get size(): number {
    return this.outstanding.size;
  }

  get desiredDepth(): number {
    return this.snubbed ? 1 : this.depth;
  }

  /** Smoothed download rate of this peer, bytes per second. */
  get rate(): number {
    return this.rateBox[0]!;
  }

  key(index: number, begin: number): number {
    return index * this.opts.pieceLength + begin;
  }

  has(req: BlockRequest): boolean {
    return this.outstanding.has(this.key(req.index, req.begin));
  }

  /** False when the same block is already outstanding. */
  add(req: BlockRequest, now: number): boolean {
    const k = this.key(req.index, req.begin);
    if (this.outstanding.has(k)) return false;
    this.outstanding.set(k, { req, sentAt: now });
    this.busy = true;
    return true;
  }

  /** Removes and returns the request, if outstanding. */
  remove(req: BlockRequest): BlockRequest | undefined {
    const k = this.key(req.index, req.begin);
    const o = this.outstanding.get(k);
    if (o === undefined || o.req.length !== req.length) return undefined;
    this.outstanding.delete(k);
    return o.req;
  }

  /** A `piece` arrived: match it against what we asked for. */
  onBlock(index: number, begin: number, length: number): { verdict: BlockVerdict; req?: BlockRequest } {
    const k = this.key(index, begin);
    const o = this.outstanding.get(k);
    if (o === undefined) return { verdict: 'unrequested' };
    if (o.req.length !== length) return { verdict: 'wrongLength', req: o.req };
    this.outstanding.delete(k);
    this.windowBytes += length;
    this.snubbed = false;
    if (!this.measured && this.depth < this.maxDepth) this.depth++; // slow start
    return { verdict: 'accepted', req: o.req };
  }

  /**
   * Empties the pipeline (choke, close), returning what was outstanding in send order. With
   * `keep`, requests for which it answers true stay outstanding (BEP 6: after a choke, requests
   * in allowed-fast pieces may still be served).
   */
  drain(keep?: (req: BlockRequest) => boolean): BlockRequest[] {
    const out: BlockRequest[] = [];
    for (const [k, o] of this.outstanding) {
      if (keep?.(o.req) === true) continue;
      out.push(o.req);
      this.outstanding.delete(k);
    }
    return out;
  }

  /** Requests older than the timeout, removed; the peer is then snubbed. */
  expire(now: number): BlockRequest[] {
    const out: BlockRequest[] = [];
    for (const [k, o] of this.outstanding) {
      if (now - o.sentAt < this.opts.requestTimeoutMs) break;
      this.outstanding.delete(k);
      out.push(o.req);
    }
    if (out.length > 0) this.snubbed = true;
    return out;
  }

  /**
   * Closes a measurement window. Only windows in which the pipe had work count: an idle peer's
   * rate says nothing about how deep its pipe should be.
   */
  sample(now: number): void {
    const elapsedMs = now - this.windowStart;
    if (elapsedMs <= 0) return;
    if (this.busy || this.windowBytes > 0) {
      const instant = (this.windowBytes * 1000) / elapsedMs;
      const rate = this.measured ? 0.5 * this.rateBox[0]! + 0.5 * instant : instant;
      this.rateBox[0] = rate;
      this.measured = true;
      const wanted = Math.ceil((rate * this.opts.queueTimeMs) / 1000 / BLOCK_LENGTH);
      this.depth = Math.min(this.maxDepth, Math.max(2, wanted));
    }
    this.windowBytes = 0;
    this.windowStart = now;
    this.busy = this.outstanding.size > 0;
  }
}

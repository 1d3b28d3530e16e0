import { read } from 'node:fs';
import type { Writable } from 'node:stream';
import { GatewayError } from './errors.js';
import { giveSpare, takeSpare } from './send-file.js';

/**
 * Sends byte ranges of the proxy cache's data file to a program's connection, for a cache hit
 * (one range) and for a swarm answer (each run of verified pieces as it arrives). As
 * `sendFileRange` (send-file.ts, serve's plain path) and for the same reasons: a few buffers go
 * round instead of a fresh allocation per read (fresh pages for the kernel to fault in, and
 * external memory for the collector: a cold 256 MiB stream allocated 256 of them), a buffer is
 * read into again only once the socket has taken its bytes, and the next read overlaps the
 * socket's send, and the buffers are the ones `serve`'s responses share (`takeSpare`): a response
 * does not allocate its own. Unlike it, the response is not ended here (more ranges may follow):
 * the sender holds its buffers across ranges until `release`.
 *
 * - Positional reads only (the descriptor's offset is never used).
 * - A file shorter than a range is a `GATEWAY_PROXY_CACHE_IO` (the bytes were verified there).
 * - A connection that closes stops the reads: `send` resolves `gone`.
 */
const BUFFERS = 4;

/**
 * `fn` once the program's connection is closed: at once if it already is. A wait set up after an
 * `await` may come after the `close` it waits for (a program that left while the torrent opened).
 */
export function whenClosed(out: Writable, fn: () => void): void {
  if (out.destroyed || out.closed) fn();
  else out.once('close', fn);
}

export class RangeSender {
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private inFlight = 0;
  private closed = false;
  private released = false;
  private failure: Error | undefined;
  /** Bytes handed to the connection so far (a failed read leaves the ones before it on their way). */
  private queuedBytes = 0;
  /** Wakes a `send` waiting for a free buffer or for the connection. */
  private wake: (() => void) | undefined;

  /** `total`: bytes this sender will send in all (a small total takes a buffer of its size). */
  constructor(
    private readonly fd: number,
    private readonly out: Writable,
    private readonly label: string,
    private readonly total: number,
  ) {
    whenClosed(out, () => {
      this.closed = true;
      this.poke();
    });
  }

  /** Sends bytes `start..end` (inclusive); resolves once every read is done and queued on the connection. */
  async send(start: number, end: number): Promise<'sent' | 'gone'> {
    for (let at = start; at <= end; ) {
      const buf = await this.buffer();
      if (buf === undefined) return 'gone';
      const want = Math.min(buf.length, end - at + 1);
      let n: number;
      try {
        n = await new Promise<number>((resolve, reject) => read(this.fd, buf, 0, want, at, (err, bytes) => (err === null ? resolve(bytes) : reject(err))));
      } catch (cause) {
        this.giveBack(buf);
        throw new GatewayError('GATEWAY_PROXY_CACHE_IO', { detail: `${this.label}: read at ${at}`, cause });
      }
      if (n !== want) {
        this.giveBack(buf);
        throw new GatewayError('GATEWAY_PROXY_CACHE_IO', { detail: `${this.label}: ${n} of ${want} bytes at ${at}` });
      }
      if (this.closed || this.out.destroyed) {
        this.giveBack(buf);
        return 'gone';
      }
      at += n;
      this.queuedBytes += n;
      this.inFlight++;
      this.out.write(n === buf.length ? buf : buf.subarray(0, n), (err) => {
        this.inFlight--;
        // A failed write may leave the bytes with the stream: that buffer is not reused.
        if (err !== undefined && err !== null) this.failure ??= err;
        else this.giveBack(buf);
        this.poke();
      });
    }
    return this.closed ? 'gone' : 'sent';
  }

  /** Bytes handed to the connection, in order: after a failed `send`, where another source may go on. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** Resolves once the connection took every byte queued (`gone` if it closed first). */
  async flushed(): Promise<'sent' | 'gone'> {
    while (this.inFlight > 0 && !this.closed && this.failure === undefined) await new Promise<void>((resolve) => (this.wake = resolve));
    return this.closed || this.failure !== undefined ? 'gone' : 'sent';
  }

  /** A free buffer, waiting for the connection to take one when all are in flight; undefined once it closed. */
  private async buffer(): Promise<Buffer | undefined> {
    for (;;) {
      if (this.closed || this.failure !== undefined) return undefined;
      const b = this.free.pop();
      if (b !== undefined) return b;
      if (this.allocated < BUFFERS) {
        this.allocated++;
        return takeSpare(this.total);
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /**
   * The sender is done (its owner sends no more): its free buffers go back to the shared ones
   * now, those still in a write once the socket took them.
   */
  release(): void {
    this.released = true;
    for (const b of this.free.splice(0)) giveSpare(b);
  }

  private giveBack(buf: Buffer): void {
    if (this.released) giveSpare(buf);
    else this.free.push(buf);
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

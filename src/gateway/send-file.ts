import { read } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { GatewayError } from './errors.js';
import type { UploadCap } from './upload-cap.js';

/**
 * Sends bytes `[start, end]` of an open file as the response body, then ends it.
 *
 * Why not `createReadStream(...).pipe(res)`: that allocates a fresh buffer for every read, and
 * a fresh 512 KiB allocation is fresh pages for the kernel to fault in; at a GiB per second that
 * cost is as large as the copying itself. Here a few buffers go round: a buffer is read into
 * again only after the socket has taken its bytes (the write callback), so at most `BUFFERS`
 * chunks are in flight, which is also the backpressure. (nginx uses sendfile(2) and copies
 * nothing; Node has no sendfile.)
 *
 * Rules:
 * - Positional reads (`pread`): the descriptor's offset is never used, so two responses may
 *   share a descriptor.
 * - A file that ends before `end` (truncated while sent) destroys the response with
 *   `GATEWAY_FILE_SHRANK`: ending it would let a keep-alive client read the next response as the
 *   rest of the file.
 * - A response closed by the client stops the reads; `done` is called once, with the error if
 *   the body was not sent whole.
 * - `onWritten(n)` hears each chunk the socket took (the status page's plain-HTTP counter).
 * - The buffers are shared by every response (`spare`, at most `MAX_SPARE` kept): a buffer goes
 *   back once the socket took its bytes (or its read ended after the response stopped), never
 *   while a read or a write may still use it. A web seed asks for one piece at a time, a range
 *   of 16 KiB to a few MiB: a fresh buffer for each was, again, fresh pages for the kernel to
 *   fault in, and their external memory drove V8's garbage collector (`bench:get`, serve's CPU).
 *   A range of at most 64 KiB that finds none free gets one of its own size instead, not kept.
 * - `cap` (`serve --max-upload-rate`): each chunk is admitted by the server's upload cap before
 *   it is read; while the cap is spent the response waits (its timer cancelled if it stops).
 */
export const SEND_CHUNK_BYTES = 1024 * 1024;
const BUFFERS = 3;
/** Free send buffers of SEND_CHUNK_BYTES, shared by all responses; at most this many are kept. */
const MAX_SPARE = 16;
/** A range this small, with no spare buffer free, gets one of its own size (not kept): a crowd of tiny ranges must not allocate a MiB each. */
const OWN_BUFFER_BYTES = 64 * 1024;
const spare: Buffer[] = [];
/** A send buffer for a response of `total` bytes: a shared one, else a new one (of `total` bytes when that is small). Also the proxy's (proxy-send.ts). */
export const takeSpare = (total: number): Buffer => spare.pop() ?? Buffer.allocUnsafeSlow(total <= OWN_BUFFER_BYTES ? total : SEND_CHUNK_BYTES);
/** Gives a buffer back once no read or write may still use it; kept only if it is of the shared size. */
export const giveSpare = (buf: Buffer): void => {
  if (buf.length === SEND_CHUNK_BYTES && spare.length < MAX_SPARE) spare.push(buf);
};

export function sendFileRange(
  fd: number,
  start: number,
  end: number,
  res: ServerResponse,
  label: string,
  done: (err?: Error) => void,
  onWritten?: (bytes: number) => void,
  cap?: UploadCap,
): void {
  const total = end - start + 1;
  /** This response's buffers not in use, and how many more it may take from `spare`. */
  const free: Buffer[] = [];
  let allowance = Math.min(BUFFERS, Math.ceil(total / SEND_CHUNK_BYTES));
  let next = start; // next file offset to read
  let reading = false;
  let inFlight = 0;
  let stopped = false;
  let reported = false;
  let failure: Error | undefined;
  /** Cancels the wait for the cap to refill, while one is pending. */
  let waiting: (() => void) | undefined;

  /** `done` once, and never while a read may still use the descriptor. */
  const report = (): void => {
    if (reported || reading) return;
    reported = true;
    for (const buf of free.splice(0)) giveSpare(buf);
    done(failure);
  };

  const stop = (err?: Error, destroy = true): void => {
    if (stopped) return;
    stopped = true;
    failure = err;
    waiting?.();
    waiting = undefined;
    if (err !== undefined && destroy) res.destroy(err);
    report();
  };

  const pump = (): void => {
    if (stopped || reading || waiting !== undefined) return;
    if (next > end) {
      if (inFlight === 0) {
        stopped = true;
        res.end(report);
      }
      return;
    }
    let buf = free.pop();
    // Another buffer only while the socket keeps up: a client that stops reading holds one, not BUFFERS.
    if (buf === undefined && allowance > 0 && (inFlight === 0 || !res.writableNeedDrain)) {
      allowance--;
      buf = takeSpare(total);
    }
    if (buf === undefined) return;
    const want = Math.min(buf.length, end - next + 1);
    if (cap !== undefined) {
      const a = cap.admit(want, () => {
        waiting = undefined;
        pump();
      });
      if (!a.ok) {
        free.push(buf); // this response's still: given back with the rest when it ends
        waiting = a.cancel;
        return;
      }
    }
    reading = true;
    read(fd, buf, 0, want, next, (err, n) => {
      reading = false;
      if (stopped || err !== null || n === 0) giveSpare(buf);
      if (stopped) return report();
      if (err !== null) return stop(err);
      if (n === 0) return stop(new GatewayError('GATEWAY_FILE_SHRANK', { detail: `${label}: ${next - start} of ${total} bytes` }));
      next += n;
      inFlight++;
      res.write(buf.subarray(0, n), (werr) => {
        inFlight--;
        // A failed write may leave the bytes with the stream: that buffer is not reused.
        if (werr !== undefined && werr !== null) return stop(werr);
        onWritten?.(n);
        if (stopped || reported || next > end) giveSpare(buf);
        else free.push(buf);
        pump();
      });
      pump();
    });
  };

  // The client went away before the end: stop reading, and say so (`ERR_STREAM_PREMATURE_CLOSE`,
  // as when a write fails with ECONNRESET first: which of the two comes first is a race).
  res.once('close', () => (stopped ? report() : stop(Object.assign(new Error('the client closed the connection before the body ended'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }), false)));
  pump();
}

import type { ServerResponse } from 'node:http';
import { finished, type Readable } from 'node:stream';

/**
 * A body streamed from an origin's answer to the program's response: what `pipeline(body, res)`
 * did, with the chunks that arrive within one turn of the event loop written as one (corked: one
 * `writev`), not one write each.
 *
 * Why: node's HTTP client (and undici) hand a body over in chunks of at most one socket read
 * (64 KiB), several of them a turn when the origin is fast, and `res.write` of each went out as
 * its own `write(2)` through its own cork/uncork tick (each read is its own callback, and node
 * uncorks at the end of each), past the socket's 16 KiB high-water mark whenever the kernel did not
 * take it at once: a pause and a `drain` round. A pass-through of
 * 256 MiB cost the proxy 0.55 to 1.2 s of CPU that way (docs/proxy.md, "Session 20: what a
 * pass-through costs").
 *
 * What `pipeline` gave is kept: streamed (no more than a turn's reads held; the body pauses while
 * the response says it is full, until its `drain`), the bytes as they came, `res.end()` after the
 * last of them, and a failure on either side (the body cut or failed; the program left) destroys
 * both and is `done`'s error, so a short body never looks complete.
 */
export function relay(body: Readable, res: ServerResponse, onBytes: (n: number) => void, done: (err: Error | undefined) => void): void {
  const sink = relaySink(
    res,
    onBytes,
    (err) => {
      if (err !== undefined) body.destroy();
      done(err);
    },
    () => {
      body.pause();
      res.once('drain', () => body.resume());
    },
  );
  body.on('data', (chunk: Buffer) => sink.push(chunk));
  finished(body, (err) => (err !== undefined && err !== null ? sink.fail(err) : sink.end()));
}

/** Where a body read by the proxy's own client (pass-client.ts) goes: `relay` for bytes that come as calls, not as a stream. */
export interface RelaySink {
  /** Body bytes, kept until `release` (called once they are written, or never if the response is cut). */
  push(chunk: Uint8Array, release?: () => void): void;
  /** The body is whole: the response ends once the bytes before are written. */
  end(): void;
  /** The body failed: the response is cut (never ended as complete). */
  fail(err: Error): void;
}

/**
 * `relay` for a body that comes as calls (`RelaySink`): the chunks of one turn written as one
 * (corked: one `writev`), `res.end()` after the last, a failure on either side cutting the
 * response and being `done`'s error. No pause here: the chunks are views of the reading
 * connection's own buffers, each let go (`release`) when its write is out, and that connection
 * stops reading while it holds a few of them (transport/http1-reads.ts), so what waits for a slow
 * program is bounded there. The caller stops the body when the response closes unfinished.
 * `full`: called after a turn's write that the response took past its high-water mark (a stream's
 * body pauses until the `drain`: `relay`).
 */
export function relaySink(res: ServerResponse, onBytes: (n: number) => void, done: (err: Error | undefined) => void, full?: () => void): RelaySink {
  let chunks: Uint8Array[] = [];
  let releases: ((() => void) | undefined)[] = [];
  let turn: NodeJS.Immediate | undefined;
  let ended = false;
  let over = false;
  const finish = (err: Error | null | undefined): void => {
    if (over) return;
    over = true;
    if (turn !== undefined) clearImmediate(turn);
    chunks = [];
    releases = [];
    if (err !== undefined && err !== null) res.destroy();
    done(err ?? undefined);
  };
  const flush = (): void => {
    turn = undefined;
    if (over) return;
    let room = true;
    if (chunks.length > 0) {
      res.cork();
      for (let i = 0; i < chunks.length; i++) {
        const release = releases[i];
        room = release === undefined ? res.write(chunks[i]!) : res.write(chunks[i]!, () => release());
      }
      chunks = [];
      releases = [];
      res.uncork();
    }
    if (ended) res.end();
    else if (!room) full?.();
  };
  finished(res, (err) => finish(err));
  return {
    push(chunk, release) {
      if (over || ended) {
        release?.();
        return;
      }
      onBytes(chunk.length);
      chunks.push(chunk);
      releases.push(release);
      turn ??= setImmediate(flush);
    },
    end() {
      if (over) return;
      ended = true;
      turn ??= setImmediate(flush);
    },
    fail(err) {
      finish(err);
    },
  };
}

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
  let queued: Buffer[] = [];
  let turn: NodeJS.Immediate | undefined;
  let ended = false;
  let over = false;
  const finish = (err: Error | null | undefined): void => {
    if (over) return;
    over = true;
    if (turn !== undefined) clearImmediate(turn);
    queued = [];
    if (err !== undefined && err !== null) {
      body.destroy();
      res.destroy();
    }
    done(err ?? undefined);
  };
  const flush = (): void => {
    turn = undefined;
    if (over) return;
    let room = true;
    if (queued.length > 0) {
      res.cork();
      for (const chunk of queued) room = res.write(chunk);
      queued = [];
      res.uncork();
    }
    if (ended) res.end();
    else if (!room) {
      body.pause();
      res.once('drain', () => body.resume());
    }
  };
  body.on('data', (chunk: Buffer) => {
    onBytes(chunk.length);
    queued.push(chunk);
    turn ??= setImmediate(flush);
  });
  finished(body, (err) => {
    if (err !== undefined && err !== null) finish(err);
    else {
      ended = true;
      turn ??= setImmediate(flush);
    }
  });
  finished(res, (err) => finish(err));
}

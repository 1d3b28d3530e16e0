/**
 * The thread of `FileSink` (file-sink.ts): writes a plain download's batches to its file in order
 * and, when asked, feeds the same bytes to a SHA-256 (`Repr-Digest`), so the event loop only
 * receives and copies. Messages in order: `open`, then `batch`es (each answered with `done` once
 * written and hashed, so the batch can be filled again), then `end` (answered with the digest).
 * The first failure is answered with `error` and every later message is ignored.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { SinkReply, SinkRequest } from './file-sink.js';

let fd: number | undefined;
let hash: Hash | undefined;
let position = 0;
let failed = false;

function writeAll(data: Uint8Array): void {
  for (let done = 0; done < data.length; ) done += writeSync(fd!, data, done, data.length - done, position + done);
  position += data.length;
}

/** The first `length` bytes of the file, into the hash (a resumed download's prefix). */
function hashPrefix(length: number): void {
  const buf = new Uint8Array(Math.min(length, 4 * 1024 * 1024));
  for (let at = 0; at < length; ) {
    const got = readSync(fd!, buf, 0, Math.min(buf.length, length - at), at);
    if (got === 0) throw Object.assign(new Error(`the file is shorter than the ${length} bytes to continue from`), { code: 'EIO' });
    hash!.update(buf.subarray(0, got));
    at += got;
  }
}

function run(m: SinkRequest): SinkReply | undefined {
  switch (m.type) {
    case 'open':
      // Not 'a': writes go at explicit positions. 'r+' keeps a resumed file's first bytes.
      fd = openSync(m.path, m.offset > 0 ? 'r+' : 'w');
      position = m.offset;
      if (m.sha256) {
        hash = createHash('sha256');
        if (m.offset > 0) hashPrefix(m.offset);
      }
      return undefined;
    case 'batch': {
      const data = new Uint8Array(m.buffer, 0, m.length);
      hash?.update(data);
      writeAll(data);
      return { type: 'done', batch: m.batch };
    }
    case 'end': {
      const f = fd;
      fd = undefined;
      if (f !== undefined) closeSync(f);
      return { type: 'ended', sha256: hash === undefined ? undefined : new Uint8Array(hash.digest()) };
    }
  }
}

parentPort!.on('message', (m: SinkRequest) => {
  if (failed) return;
  try {
    const reply = run(m);
    if (reply !== undefined) parentPort!.postMessage(reply);
  } catch (err) {
    failed = true;
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // the error that matters is the first one
      }
      fd = undefined;
    }
    const e = err as { code?: unknown; message?: unknown };
    parentPort!.postMessage({ type: 'error', message: String(e.message ?? err), ...(typeof e.code === 'string' ? { code: e.code } : {}) } satisfies SinkReply);
  }
});

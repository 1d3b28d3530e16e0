/**
 * Worker thread of `HashPool`: SHA-1 off the event loop. Jobs come as messages; a `pieces` job
 * reads a run of whole pieces straight from the files (positional reads into one reusable
 * buffer, so memory stays flat whatever the file size) and hashes each piece; a `buffer` job
 * hashes bytes handed over; a `list` job walks a folder (`listSourceSync`). Each result is transferred back, not copied.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { HashRequest, HashResponse } from './hash-protocol.js';
import { listSourceSync } from './walk.js';

let scratch = new Uint8Array(0);

function hashPieces(req: Extract<HashRequest, { type: 'pieces' }>): Uint8Array {
  const { files, pieceLength, totalLength, first, end } = req;
  const startOffset = first * pieceLength;
  const endOffset = Math.min(end * pieceLength, totalLength);
  const need = endOffset - startOffset;
  if (scratch.length < need) scratch = new Uint8Array(need);
  const fds = new Map<number, number>();
  try {
    // Fill the scratch buffer from every file that overlaps [startOffset, endOffset).
    let f = 0;
    while (f < files.length && files[f]!.offset + files[f]!.length <= startOffset) f++;
    let pos = startOffset;
    for (; pos < endOffset && f < files.length; f++) {
      const file = files[f]!;
      if (file.length === 0) continue;
      const from = pos - file.offset;
      const n = Math.min(endOffset, file.offset + file.length) - pos;
      let fd = fds.get(f);
      if (fd === undefined) {
        fd = openSync(file.path, 'r');
        fds.set(f, fd);
      }
      let done = 0;
      while (done < n) {
        const got = readSync(fd, scratch, pos - startOffset + done, n - done, from + done);
        if (got === 0) throw Object.assign(new Error(`${file.path} is shorter than expected`), { code: 'CREATE_CHANGED', detail: `${file.path} got shorter` });
        done += got;
      }
      if (file.mtimeMs !== undefined) {
        const st = fstatSync(fd);
        if (st.size !== file.length || st.mtimeMs !== file.mtimeMs) {
          throw Object.assign(new Error(`${file.path} changed while it was being hashed`), { code: 'CREATE_CHANGED', detail: file.path });
        }
      }
      pos += n;
    }
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
  const out = new Uint8Array((end - first) * 20);
  for (let i = first; i < end; i++) {
    const a = (i - first) * pieceLength;
    const b = Math.min(a + pieceLength, need);
    out.set(createHash('sha1').update(scratch.subarray(a, b)).digest(), (i - first) * 20);
  }
  return out;
}

parentPort!.on('message', (req: HashRequest) => {
  try {
    if (req.type === 'list') {
      parentPort!.postMessage({ id: req.id, source: listSourceSync(req.path) } satisfies HashResponse);
      return;
    }
    const hashes = req.type === 'pieces' ? hashPieces(req) : new Uint8Array(createHash('sha1').update(req.data).digest());
    parentPort!.postMessage({ id: req.id, hashes } satisfies HashResponse, [hashes.buffer as ArrayBuffer]);
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown; detail?: unknown };
    const code = typeof e.code === 'string' ? e.code : 'EIO';
    const message = String(e.message ?? err);
    const res: HashResponse = { id: req.id, error: typeof e.detail === 'string' ? { code, message, detail: e.detail } : { code, message } };
    parentPort!.postMessage(res);
  }
});

/**
 * Worker thread of `HashPool`: SHA-1 off the event loop. Jobs come as messages; a `pieces` job
 * reads a run of whole pieces straight from the files and hashes each (`hashPiecesSync`); a
 * `buffer` job hashes bytes handed over; a `list` job walks a folder (`listSourceSync`). Each
 * result is transferred back, not copied.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { hashPiecesSync, openForHashing } from './hash-pieces.js';
import type { HashRequest, HashResponse } from './hash-protocol.js';
import { listSourceSync } from './walk.js';

let chunk = new Uint8Array(0);

/** SHA-256 of a file in 4 MiB reads; `CREATE_CHANGED` when it is not `length` bytes at `mtimeNs` throughout; `exact`: see `openForHashing`. */
function sha256FileSync(path: string, length: number, mtimeNs: string, exact: boolean | undefined): Uint8Array {
  if (chunk.length === 0) chunk = new Uint8Array(4 * 1024 * 1024);
  const hash = createHash('sha256');
  const fd = openForHashing(path, exact);
  try {
    let pos = 0;
    while (pos < length) {
      const got = readSync(fd, chunk, 0, Math.min(chunk.length, length - pos), pos);
      if (got === 0) break;
      hash.update(chunk.subarray(0, got));
      pos += got;
    }
    const st = fstatSync(fd, { bigint: true });
    if (pos !== length || st.size !== BigInt(length) || st.mtimeNs.toString() !== mtimeNs) {
      throw Object.assign(new Error(`${path} changed while it was being hashed`), { code: 'CREATE_CHANGED', detail: path });
    }
  } finally {
    closeSync(fd);
  }
  return new Uint8Array(hash.digest());
}

parentPort!.on('message', (req: HashRequest) => {
  try {
    if (req.type === 'list') {
      parentPort!.postMessage({ id: req.id, source: listSourceSync(req.path) } satisfies HashResponse);
      return;
    }
    const hashes =
      req.type === 'pieces' ? hashPiecesSync(req) : req.type === 'sha256-file' ? sha256FileSync(req.path, req.length, req.mtimeNs, req.exact) : new Uint8Array(createHash('sha1').update(req.data).digest());
    parentPort!.postMessage({ id: req.id, hashes } satisfies HashResponse, [hashes.buffer as ArrayBuffer]);
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown; detail?: unknown; cause?: { code?: unknown } };
    const code = typeof e.code === 'string' ? e.code : 'EIO';
    const message = String(e.message ?? err);
    const causeCode = e.cause?.code;
    const res: HashResponse = {
      id: req.id,
      error: { code, message, ...(typeof e.detail === 'string' ? { detail: e.detail } : {}), ...(typeof causeCode === 'string' ? { causeCode } : {}) },
    };
    parentPort!.postMessage(res);
  }
});

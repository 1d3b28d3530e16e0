/**
 * Worker thread of `HashPool`: SHA-1 off the event loop. Jobs come as messages; a `pieces` job
 * reads a run of whole pieces straight from the files and hashes each (`hashPiecesSync`); a
 * `buffer` job hashes bytes handed over; a `list` job walks a folder (`listSourceSync`). Each
 * result is transferred back, not copied.
 */
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { hashPiecesSync } from './hash-pieces.js';
import type { HashRequest, HashResponse } from './hash-protocol.js';
import { listSourceSync } from './walk.js';

parentPort!.on('message', (req: HashRequest) => {
  try {
    if (req.type === 'list') {
      parentPort!.postMessage({ id: req.id, source: listSourceSync(req.path) } satisfies HashResponse);
      return;
    }
    const hashes = req.type === 'pieces' ? hashPiecesSync(req) : new Uint8Array(createHash('sha1').update(req.data).digest());
    parentPort!.postMessage({ id: req.id, hashes } satisfies HashResponse, [hashes.buffer as ArrayBuffer]);
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown; detail?: unknown };
    const code = typeof e.code === 'string' ? e.code : 'EIO';
    const message = String(e.message ?? err);
    const res: HashResponse = { id: req.id, error: typeof e.detail === 'string' ? { code, message, detail: e.detail } : { code, message } };
    parentPort!.postMessage(res);
  }
});

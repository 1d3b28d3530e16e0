/**
 * Thread of the cipher pool (cipher-pool.ts): the RC4 sessions of MSE links, each two ciphers
 * started from the keys where the handshake left them (1024 bytes discarded, then what the
 * handshake used). Jobs of a session come in order and are done in order, in place: the bytes of
 * a region of the session's ring are replaced by their encryption or decryption. (`update`
 * returns new memory, copied back: the garbage stays on this thread, not the main one.)
 */
import type { Cipher } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { rc4 } from '../wire/index.js';
import { copyBytes, type CipherRequest, type CipherResponse } from './cipher-protocol.js';

interface Session {
  readonly encrypt: Cipher;
  readonly decrypt: Cipher;
  readonly readRing: Uint8Array;
  readonly writeRing: Uint8Array;
}

const sessions = new Map<number, Session>();
const UPDATE_BYTES = 64 * 1024;

function reply(res: CipherResponse): void {
  parentPort!.postMessage(res);
}

parentPort!.on('message', (req: CipherRequest) => {
  try {
    switch (req.type) {
      case 'open':
        sessions.set(req.session, {
          encrypt: rc4(req.encrypt.key, req.encrypt.offset),
          decrypt: rc4(req.decrypt.key, req.decrypt.offset),
          readRing: new Uint8Array(req.readRing),
          writeRing: new Uint8Array(req.writeRing),
        });
        reply({ id: req.id, type: 'done' });
        return;
      case 'encrypt':
      case 'decrypt': {
        const s = sessions.get(req.session);
        if (s === undefined) {
          reply({ id: req.id, type: 'error', message: `no cipher session ${req.session} on this thread` });
          return;
        }
        const cipher = req.type === 'encrypt' ? s.encrypt : s.decrypt;
        const ring = req.type === 'encrypt' ? s.writeRing : s.readRing;
        for (let i = 0; i < req.at.length; i++) {
          const spill = req.spill?.[i];
          const end = req.at[i]! + req.length[i]!;
          const where = spill === undefined ? ring : new Uint8Array(spill);
          // Updates of at most 64 KiB: their outputs come from the heap, warm, not as fresh pages.
          for (let at = req.at[i]!; at < end; at += UPDATE_BYTES) {
            const bytes = where.subarray(at, Math.min(end, at + UPDATE_BYTES));
            copyBytes(bytes, cipher.update(bytes));
          }
        }
        reply({ id: req.id, type: 'done' });
        return;
      }
      case 'close':
        sessions.delete(req.session);
        reply({ id: req.id, type: 'done' });
        return;
    }
  } catch (err) {
    reply({ id: req.id, type: 'error', message: (err as Error).message });
  }
});

/**
 * Thread of the cipher pool (cipher-pool.ts): the RC4 sessions of MSE links, each two ciphers
 * started from the keys where the handshake left them (1024 bytes discarded, then what the
 * handshake used). Jobs of a session come in order and are answered in order; each output is
 * new memory, transferred back.
 */
import type { Cipher } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { rc4 } from '../wire/index.js';
import type { CipherRequest, CipherResponse } from './cipher-protocol.js';

const sessions = new Map<number, { readonly encrypt: Cipher; readonly decrypt: Cipher }>();

function reply(res: CipherResponse, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(res, transfer);
}

parentPort!.on('message', (req: CipherRequest) => {
  try {
    switch (req.type) {
      case 'open':
        sessions.set(req.session, { encrypt: rc4(req.encrypt.key, req.encrypt.offset), decrypt: rc4(req.decrypt.key, req.decrypt.offset) });
        reply({ id: req.id, type: 'done' });
        return;
      case 'encrypt':
      case 'decrypt': {
        const s = sessions.get(req.session);
        if (s === undefined) {
          reply({ id: req.id, type: 'error', message: `no cipher session ${req.session} on this thread` });
          return;
        }
        const out = (req.type === 'encrypt' ? s.encrypt : s.decrypt).update(req.data);
        // Cipher.update returns a Buffer over an ArrayBuffer of its own: moved, not copied.
        const own = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength;
        const data = own ? out : out.slice();
        reply({ id: req.id, type: 'data', data }, [data.buffer as ArrayBuffer]);
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

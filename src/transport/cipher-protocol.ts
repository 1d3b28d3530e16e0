/** Messages between the cipher pool (cipher-pool.ts) and its threads (cipher-worker.ts). */
import type { Rc4Position } from '../wire/index.js';

export type CipherRequest =
  | { readonly id: number; readonly type: 'open'; readonly session: number; readonly encrypt: Rc4Position; readonly decrypt: Rc4Position }
  | { readonly id: number; readonly type: 'encrypt' | 'decrypt'; readonly session: number; readonly data: Uint8Array }
  | { readonly id: number; readonly type: 'close'; readonly session: number };

export type CipherResponse =
  | { readonly id: number; readonly type: 'done' }
  | { readonly id: number; readonly type: 'data'; readonly data: Uint8Array }
  | { readonly id: number; readonly type: 'error'; readonly message: string };

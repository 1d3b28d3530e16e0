/**
 * Message Stream Encryption over a socket: running the handshake codec (wire/mse.ts) against
 * the peer's bytes, telling an encrypted incoming connection from a plain one, and the payload
 * stream after it (`CipherChunks`: the peer's chunks decrypted, one RC4 `update` per slice of up
 * to 64 KiB into one new buffer, which the wire decoder then reads in place; `SealBatch`: what a
 * flush writes, gathered and encrypted the same way).
 *
 * Policies (`EncryptionPolicy`), as aria2, Transmission and libtorrent users know them:
 * - `prefer` (the default): dial with an encrypted handshake offering RC4 and plaintext; when
 *   the connection was made but the encrypted handshake failed (the peer closed, answered
 *   garbage, or said nothing in time), dial again plain and remember that address as plain.
 *   Answer both kinds of incoming handshake. The spec's mode 2; Transmission's "prefer
 *   encryption", libtorrent's `pe_enabled`.
 * - `require`: dial encrypted offering RC4 only, never fall back; refuse incoming plain
 *   handshakes (TRANSPORT_ENCRYPTION_REQUIRED). The spec's mode 3; aria2's
 *   `--bt-require-crypto --bt-min-crypto-level=arc4`, Transmission's "encryption": 2.
 * - `off`: dial plain only, but still answer an incoming encrypted handshake (choosing RC4 if
 *   offered). The spec's mode 1; Transmission's "allow encryption" (`"encryption": 0` still
 *   accepts encrypted peers), aria2's default for incoming. Refusing them would only lose peers.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import { TorrenttpError, toTorrenttpError } from '../errors/index.js';
import { MseHandshake, MSE_LIMITS, MSE_PLAINTEXT, MSE_PRIVATE_KEY_BYTES, MSE_RC4, PROTOCOL_NAME, type MseSession } from '../wire/index.js';
import { TransportError } from './errors.js';
import type { SocketChunks } from './socket-chunks.js';

export type EncryptionPolicy = 'prefer' | 'require' | 'off';
export const ENCRYPTION_POLICIES: readonly EncryptionPolicy[] = ['prefer', 'require', 'off'];

/** What a link's bytes are: a plain BEP 3 stream, or MSE with RC4 or with plaintext after its handshake. */
export type LinkEncryption = 'none' | 'rc4' | 'plaintext';

/** crypto_provide for an outgoing encrypted handshake under `policy`. */
export function cryptoProvide(policy: EncryptionPolicy): number {
  return policy === 'require' ? MSE_RC4 : MSE_RC4 | MSE_PLAINTEXT;
}

/**
 * crypto_select for an incoming one. `prefer` and `require`: RC4 whenever offered (`prefer`
 * plaintext otherwise). `off`: plaintext whenever offered, RC4 only for a peer that offers
 * nothing else, as Transmission's "allow encryption" (its `getCryptoSelect` for
 * TR_CLEAR_PREFERRED) and libtorrent's default (`prefer_rc4` false): a peer that does not want
 * encryption answers an encrypted handshake, and then pays no RC4 on the stream.
 */
export function cryptoSelect(policy: EncryptionPolicy): (provide: number) => number | undefined {
  const first = policy === 'off' ? MSE_PLAINTEXT : MSE_RC4;
  const second = policy === 'off' ? MSE_RC4 : policy === 'prefer' ? MSE_PLAINTEXT : 0;
  return (provide) => ((provide & first) !== 0 ? first : (provide & second) !== 0 ? second : undefined);
}

/** A fresh private key and a random pad of 0..512 bytes: the only randomness of a handshake. */
export function mseSecrets(): { privateKey: Uint8Array; pad: Uint8Array } {
  return { privateKey: randomBytes(MSE_PRIVATE_KEY_BYTES), pad: randomBytes(randomInt(MSE_LIMITS.maxPadBytes + 1)) };
}

/**
 * The most bytes one RC4 `update` takes: reads are cut into slices of it, writes gathered into
 * batches of it (`SealBatch`). node allocates each `update`'s output (`length + 1` bytes, then a
 * copy into `length`); under glibc's mmap threshold (128 KiB) that memory comes from the heap,
 * warm, where a 256 KiB read's came as fresh pages from the kernel at every call (page faults,
 * zeroing: some 5% of a leech's main thread).
 */
export const RC4_UPDATE_BYTES = 64 * 1024;

/**
 * The peer's chunks, as the wire decoder must see them: `head` first (bytes that came with the
 * handshake, already decrypted), then every chunk of `inner` through `decrypt`, in slices of
 * `RC4_UPDATE_BYTES`. A decrypted slice is new memory, so SocketChunks' "valid only during the
 * call" holds a fortiori. Each byte is decrypted exactly once, in order: when the handler removes
 * or replaces itself midway through a chunk, the rest of it goes to the new one, or waits as
 * `head` for the next.
 */
export class CipherChunks implements SocketChunks {
  private handler: ((chunk: Uint8Array) => void) | undefined;
  private head: Uint8Array | undefined;

  constructor(
    private readonly inner: SocketChunks,
    head: Uint8Array,
    private readonly session: MseSession | undefined,
  ) {
    this.head = head.length > 0 ? head : undefined;
  }

  setHandler(handler: ((chunk: Uint8Array) => void) | undefined): void {
    this.handler = handler;
    if (handler === undefined) {
      this.inner.setHandler(undefined);
      return;
    }
    if (this.head !== undefined) {
      const head = this.head;
      this.head = undefined;
      handler(head);
      if (this.handler !== handler) return; // the handler removed or replaced itself
    }
    const session = this.session;
    // `inner` holds the raw chunks while no handler is set.
    this.inner.setHandler(session === undefined ? handler : (chunk) => this.decryptTo(handler, session, chunk));
  }

  private decryptTo(handler: (chunk: Uint8Array) => void, session: MseSession, chunk: Uint8Array): void {
    for (let at = 0; at < chunk.length; at += RC4_UPDATE_BYTES) {
      if (this.handler !== handler) {
        const rest = session.decrypt(chunk.subarray(at));
        if (this.handler !== undefined) this.handler(rest);
        else this.head = this.head === undefined ? rest : joined(this.head, rest);
        return;
      }
      handler(session.decrypt(chunk.subarray(at, at + RC4_UPDATE_BYTES)));
    }
  }
}

/** The one gathering buffer of the process: a batch is begun and ended within one synchronous flush. */
let gather: Uint8Array | undefined;
let gatherInUse = false;

/**
 * What one flush of an encrypted link writes, gathered and encrypted with one RC4 `update` per
 * `RC4_UPDATE_BYTES` (every batch full but the last): one new buffer and one socket write for a
 * run of messages and blocks,
 * where an `update` per part (a 13-byte piece header, then its 16 KiB block) made two buffers and
 * two writes per block. `Cipher.update` always returns new memory, so the gathering buffer is
 * free again at once and reused. The copy into it costs about what the updates it saves did
 * (measured: the seed's CPU about even); what it saves is buffers, write requests and writev
 * entries, 8 per 512 KiB sent instead of 64. `end()` before the flush returns: it writes what
 * is left and frees the buffer.
 */
export class SealBatch {
  private buf: Uint8Array;
  private length = 0;
  private readonly shared: boolean;

  constructor(
    private readonly session: MseSession,
    private readonly write: (bytes: Uint8Array) => void,
  ) {
    // A second batch while one is open (never, as flushes do not nest) gets memory of its own.
    this.shared = !gatherInUse;
    if (this.shared) {
      gather ??= new Uint8Array(RC4_UPDATE_BYTES);
      gatherInUse = true;
      this.buf = gather;
    } else {
      this.buf = new Uint8Array(RC4_UPDATE_BYTES);
    }
  }

  /** Bytes added and not yet written. */
  get pending(): number {
    return this.length;
  }

  /** `bytes` is copied before this returns (the caller may reuse or release it); a part that fills the batch is split across two. */
  add(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length; ) {
      const n = Math.min(bytes.length - at, this.buf.length - this.length);
      this.buf.set(bytes.subarray(at, at + n), this.length);
      this.length += n;
      at += n;
      if (this.length === this.buf.length) this.seal();
    }
  }

  end(): void {
    this.seal();
    if (this.shared) gatherInUse = false;
  }

  private seal(): void {
    if (this.length === 0) return;
    const out = this.session.encrypt(this.buf.subarray(0, this.length));
    this.length = 0;
    // A plaintext session gives the batch's own memory back, which the next add overwrites while
    // the corked socket still holds it: write a copy (the wire link seals only RC4 links anyway).
    this.write(out.buffer === this.buf.buffer ? out.slice() : out);
  }
}

function joined(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** "\x13BitTorrent protocol": an incoming stream that starts so is plain; anything else is taken for MSE (libtorrent does the same). */
const PLAIN_PREFIX = Uint8Array.from([PROTOCOL_NAME.length, ...new TextEncoder().encode(PROTOCOL_NAME)]);

export interface MseRun {
  /** Undefined: the peer spoke plain BitTorrent (incoming only). */
  readonly session: MseSession | undefined;
  /** Decrypted bytes that came with the handshake (incoming plain: the bytes read so far). */
  readonly head: Uint8Array;
}

export interface MseRunOptions {
  readonly timeoutMs: number;
  readonly timeoutCode: 'TRANSPORT_CONNECT_TIMEOUT' | 'TRANSPORT_HANDSHAKE_TIMEOUT';
  readonly where: string;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Outgoing: our step 1 goes out now, then the codec runs until done. Any failure once the TCP
 * connection is up (the peer closed, a codec error, the timeout) is TRANSPORT_ENCRYPTION_FAILED
 * with the cause, which the dialer takes as "try plain" under `prefer`; failures to connect
 * stay what they are.
 */
export function mseDial(socket: Socket, chunks: SocketChunks, mse: MseHandshake, o: MseRunOptions): Promise<MseRun> {
  let connected = false;
  socket.once('connect', () => (connected = true));
  socket.write(mse.start());
  return runMse(socket, chunks, o, (chunk) => mse.push(chunk), (err) => {
    if (!connected || err.code === 'TRANSPORT_ABORTED') return err;
    return new TransportError('TRANSPORT_ENCRYPTION_FAILED', { detail: `${o.where}: ${err.message}${err.detail === undefined ? '' : ` (${err.detail})`}`, cause: err });
  });
}

/**
 * Incoming: the first bytes decide. "\x13BitTorrent protocol" is plain (refused under
 * `require`); anything else starts an MSE handshake as B, whose SKEY `skeyFor` resolves.
 */
export function mseAccept(
  socket: Socket,
  chunks: SocketChunks,
  policy: EncryptionPolicy,
  skeyFor: (req2: Uint8Array) => Uint8Array | undefined,
  o: MseRunOptions,
): Promise<MseRun> {
  let sniffed = new Uint8Array(0);
  let mse: MseHandshake | undefined;
  return runMse(
    socket,
    chunks,
    o,
    (chunk) => {
      if (mse === undefined) {
        const next = new Uint8Array(sniffed.length + chunk.length);
        next.set(sniffed);
        next.set(chunk, sniffed.length);
        sniffed = next;
        const n = Math.min(sniffed.length, PLAIN_PREFIX.length);
        let plain = true;
        for (let i = 0; i < n; i++) if (sniffed[i] !== PLAIN_PREFIX[i]) plain = false;
        if (plain && n < PLAIN_PREFIX.length) return { send: [] };
        if (plain) {
          if (policy === 'require') throw new TransportError('TRANSPORT_ENCRYPTION_REQUIRED', { detail: o.where });
          return { send: [], plain: sniffed };
        }
        mse = MseHandshake.receiver({ skeyFor, select: cryptoSelect(policy), ...mseSecrets() });
        return mse.push(sniffed);
      }
      return mse.push(chunk);
    },
    (err) => err,
  );
}

type Step = { send: Uint8Array[]; done?: { session: MseSession; payload: Uint8Array }; plain?: Uint8Array };

function runMse(socket: Socket, chunks: SocketChunks, o: MseRunOptions, step: (chunk: Uint8Array) => Step, wrap: (err: TorrenttpError) => TorrenttpError): Promise<MseRun> {
  return new Promise<MseRun>((resolve, reject) => {
    let settled = false;
    const cleanup = (): void => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      chunks.setHandler(undefined);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (err: TorrenttpError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      reject(wrap(err));
    };
    const onAbort = (): void => fail(new TransportError('TRANSPORT_ABORTED', { detail: o.where, cause: o.signal?.reason }));
    const onError = (err: Error): void => fail(new TransportError('TRANSPORT_CONNECT_FAILED', { detail: `${o.where}: ${err.message}`, cause: err }));
    const onClose = (): void => fail(new TransportError('TRANSPORT_PEER_CLOSED', { detail: `${o.where} during the encrypted handshake` }));
    const onData = (chunk: Uint8Array): void => {
      if (settled) return;
      try {
        const out = step(chunk);
        for (const bytes of out.send) if (bytes.length > 0) socket.write(bytes);
        const done = out.done;
        if (done === undefined && out.plain === undefined) return;
        settled = true;
        cleanup();
        resolve(done === undefined ? { session: undefined, head: out.plain! } : { session: done.session, head: done.payload });
      } catch (err) {
        fail(toTorrenttpError(err));
      }
    };
    const timer = setTimeout(() => fail(new TransportError(o.timeoutCode, { detail: `${o.where}: encrypted handshake after ${o.timeoutMs} ms` })), o.timeoutMs);
    if (o.signal?.aborted === true) {
      onAbort();
      return;
    }
    o.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', onError);
    socket.on('close', onClose);
    chunks.setHandler(onData);
  });
}

/**
 * Message Stream Encryption over a socket: running the handshake codec (wire/mse.ts) against
 * the peer's bytes, telling an encrypted incoming connection from a plain one, and the payload
 * stream after it: RC4 on a thread of the cipher pool (`Rc4Link`: the peer's reads decrypted
 * there, in order, then read in place by the wire decoder; `SealBatch`: what a flush writes,
 * gathered into 64 KiB batches encrypted there), or plaintext as it is (`PrefixedChunks`).
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
import { cipherPool, type CipherSession, type Region } from './cipher-pool.js';
import { copyBytes } from './cipher-protocol.js';
import { READ_BUFFER_BYTES, type SocketChunks } from './socket-chunks.js';

import type { EncryptionPolicy } from './encryption-policy.js';
export { ENCRYPTION_POLICIES, type EncryptionPolicy, type LinkEncryption } from './encryption-policy.js';

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
 * The most bytes of a flush's batch: a flush's writes are gathered into batches of it
 * (`SealBatch`), each one region for the cipher thread (which runs RC4 over it in 64 KiB
 * updates) and one socket write.
 */
export const RC4_UPDATE_BYTES = 256 * 1024;

/**
 * Reads given to the cipher thread or decrypted and not yet taken by the handler, past which
 * the socket is paused (and resumed below half of it): a peer that sends faster than its bytes
 * are decrypted, or a link whose handler is away, holds at most this plus one read.
 */
export const MAX_DECRYPTING_BYTES = 512 * 1024;

/** A link's read ring: what `MAX_DECRYPTING_BYTES` lets in, a read past it, and the end a read could not use before wrapping. */
const READ_RING_BYTES = MAX_DECRYPTING_BYTES + 2 * READ_BUFFER_BYTES;
/** A link's write ring: a wire link's send buffer (512 KiB, `sendBufferBytes`) of batches, sealed or on the socket, the batch being filled, and the end a batch could not use before wrapping. */
const WRITE_RING_BYTES = 512 * 1024 + 3 * RC4_UPDATE_BYTES;

/**
 * The peer's chunks after an MSE handshake that chose plaintext, or a plain incoming one: `head`
 * first (bytes that came with the handshake), then `inner`'s as they are. No cipher here.
 */
export class PrefixedChunks implements SocketChunks {
  private head: Uint8Array | undefined;

  constructor(
    private readonly inner: SocketChunks,
    head: Uint8Array,
  ) {
    this.head = head.length > 0 ? head : undefined;
  }

  private handler: ((chunk: Uint8Array) => void) | undefined;

  setHandler(handler: ((chunk: Uint8Array) => void) | undefined): void {
    this.handler = handler;
    if (handler !== undefined && this.head !== undefined) {
      const head = this.head;
      this.head = undefined;
      handler(head);
      if (this.handler !== handler) return; // it removed or replaced itself: that call set inner's
    }
    this.inner.setHandler(handler);
  }
}

/** Where `SealBatch` gathers: a batch's memory, then the batch handed over (`length` bytes of it). */
export interface BatchSink {
  openBatch(): Region;
  sealBatch(batch: Region, length: number): void;
}

interface Job {
  readonly region: Region;
  done: boolean;
}

/**
 * One direction of an RC4 session: regions in stream order, posted to the cipher thread in
 * groups, at most `MAX_GROUPS_IN_FLIGHT` at once (so the thread has the next group while the
 * main thread takes the last), and taken back in order. A region that comes while two groups
 * are out waits and goes with the others that came, in one message: under load fewer, larger
 * jobs; idle, no wait.
 */
class Lane {
  private jobs: Job[] = [];
  /** The last `unposted` of `jobs` are not yet posted. */
  private unposted = 0;
  private inFlight = 0;

  constructor(
    private readonly run: (rs: readonly Region[]) => Promise<void>,
    private readonly onDone: () => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  push(region: Region): void {
    this.jobs.push({ region, done: false });
    this.unposted++;
    // At the end of this turn: a flush's batches go as one message.
    if (this.unposted === 1 && this.inFlight < MAX_GROUPS_IN_FLIGHT) queueMicrotask(() => this.post());
  }

  /** The oldest region once it is done, taken off; else undefined. */
  next(): Region | undefined {
    return this.jobs[0]?.done === true ? this.jobs.shift()!.region : undefined;
  }

  clear(): void {
    this.jobs = [];
    this.unposted = 0;
  }

  private post(): void {
    if (this.unposted === 0 || this.inFlight >= MAX_GROUPS_IN_FLIGHT) return;
    const group = this.jobs.slice(this.jobs.length - this.unposted);
    this.unposted = 0;
    this.inFlight++;
    this.run(group.map((j) => j.region)).then(
      () => {
        for (const j of group) j.done = true;
        this.inFlight--;
        if (this.unposted > 0) this.post();
        this.onDone();
      },
      (err: unknown) => this.onError(err),
    );
  }
}

const MAX_GROUPS_IN_FLIGHT = 1;

/**
 * An RC4 link's payload stream, both ways, on a thread of the cipher pool (cipher-pool.ts). The
 * main thread copies each read out of the socket's buffer into the session's read ring and
 * gathers each flush into its write ring; the thread decrypts and encrypts there in place.
 * As chunks (`SocketChunks`): `head` first (decrypted with the handshake), then every read,
 * decrypted, in the order read, each a view of the ring valid during the handler's call (as a
 * dialled socket's reads always were); chunks that come with no handler are copied and kept.
 * As a `BatchSink` (and `write`): encrypted, then written to the socket in the order sealed.
 * One thread does a session's jobs in the order posted; results are taken in that order all the
 * same (a job's result waits for those before it).
 *
 * Flow control: reads in the thread or kept (no handler) past `MAX_DECRYPTING_BYTES` pause the
 * socket; `sealing` counts bytes sealed and not yet on the socket, for the link's send-buffer
 * limit, and `onSealed` runs after each run of them is written. The session is freed when the
 * socket closes, or at `close()`; a failure of the thread destroys the socket with it.
 */
export class Rc4Link implements SocketChunks, BatchSink {
  private handler: ((chunk: Uint8Array) => void) | undefined;
  private held: Uint8Array[] = [];
  private readonly reads: Lane;
  private readonly writes: Lane;
  private decrypting = 0;
  private sealingBytes = 0;
  private pausedHere = false;
  private delivering = false;
  private closed = false;
  /** Runs after encrypted bytes went to the socket (the link then writes what waited for room). */
  onSealed: (() => void) | undefined;

  constructor(
    private readonly socket: Socket,
    inner: SocketChunks,
    head: Uint8Array,
    private readonly cipher: CipherSession,
  ) {
    if (head.length > 0) {
      this.held.push(head);
      this.decrypting += head.length;
    }
    const fail = (err: unknown): void => this.fail(err);
    this.reads = new Lane((rs) => cipher.decrypt(rs), () => this.deliverReads(), fail);
    this.writes = new Lane((rs) => cipher.encrypt(rs), () => this.writeSealed(), fail);
    socket.once('close', () => this.close());
    inner.setHandler((chunk) => this.onRead(chunk));
  }

  /** Bytes sealed and not yet written to the socket. */
  get sealing(): number {
    return this.sealingBytes;
  }

  setHandler(handler: ((chunk: Uint8Array) => void) | undefined): void {
    this.handler = handler;
    while (handler !== undefined && this.handler === handler && this.held.length > 0) {
      const chunk = this.held.shift()!;
      this.decrypting -= chunk.length;
      handler(chunk);
    }
    this.deliverReads();
  }

  /** Encrypts and writes `bytes` (copied first) after everything sealed before. */
  write(bytes: Uint8Array): void {
    const batch = new SealBatch(this);
    batch.add(bytes);
    batch.end();
  }

  openBatch(): Region {
    return this.cipher.writeRing.take(RC4_UPDATE_BYTES);
  }

  sealBatch(batch: Region, length: number): void {
    const region = this.cipher.writeRing.trim(batch, length);
    if (this.closed) return;
    this.sealingBytes += length;
    this.writes.push(region);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cipher.close();
    this.held = [];
    this.reads.clear();
    this.writes.clear();
    this.onSealed = undefined;
  }

  private onRead(chunk: Uint8Array): void {
    if (this.closed) return;
    // Into the ring: the chunk may be the socket's reused read buffer.
    const region = this.cipher.readRing.take(chunk.length);
    copyBytes(region.bytes, chunk);
    this.decrypting += chunk.length;
    this.reads.push(region);
    if (this.decrypting > MAX_DECRYPTING_BYTES && !this.pausedHere) {
      this.pausedHere = true;
      this.socket.pause();
    }
  }

  private deliverReads(): void {
    // Not again from inside a handler (one that replaces itself calls setHandler): the loop below goes on with the new one.
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let region = this.reads.next(); region !== undefined && !this.closed; region = this.reads.next()) {
        // Freed first: nothing takes from the ring during the synchronous call below (reads come
        // in later events), and a handler that lets go mid-way must not see regions freed out of order.
        this.cipher.readRing.free(region);
        const handler = this.handler;
        if (handler === undefined || this.held.length > 0) {
          this.held.push(region.bytes.slice()); // kept past this call: out of the ring
        } else {
          this.decrypting -= region.bytes.length;
          handler(region.bytes);
        }
      }
    } finally {
      this.delivering = false;
    }
    if (this.pausedHere && !this.closed && this.decrypting <= MAX_DECRYPTING_BYTES / 2) {
      this.pausedHere = false;
      this.socket.resume();
    }
  }

  private writeSealed(): void {
    if (this.closed) return;
    let region = this.writes.next();
    if (region === undefined) return;
    const s = this.socket;
    const ring = this.cipher.writeRing;
    s.cork();
    for (; region !== undefined; region = this.writes.next()) {
      const r = region;
      this.sealingBytes -= region.bytes.length;
      // The socket holds the view until it is in the kernel; then the region is free.
      s.write(r.bytes, (err) => {
        if (err == null && !this.closed) ring.free(r); // failed: the socket is being destroyed, the ring with it
      });
    }
    s.uncork();
    this.onSealed?.();
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    const e = toTorrenttpError(err);
    this.close();
    this.socket.destroy(e);
  }
}

/**
 * What one flush of an RC4 link writes, gathered into batches of `RC4_UPDATE_BYTES` (every batch
 * full but the last), each sealed whole (one job for the cipher thread, one socket write) for a
 * run of messages and blocks, where a job per part (a 13-byte piece header, then its 16 KiB
 * block) would make two of each per block. `end()` before the flush returns: it seals what is left.
 */
export class SealBatch {
  private batch: Region | undefined;
  private length = 0;

  constructor(private readonly sink: BatchSink) {}

  /** Bytes added and not yet sealed. */
  get pending(): number {
    return this.length;
  }

  /** `bytes` is copied before this returns (the caller may reuse or release it); a part that fills the batch is split across two. */
  add(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length; ) {
      this.batch ??= this.sink.openBatch();
      const buf = this.batch.bytes;
      const n = Math.min(bytes.length - at, buf.length - this.length);
      copyBytes(buf, bytes.subarray(at, at + n), this.length);
      this.length += n;
      at += n;
      if (this.length === buf.length) this.seal();
    }
  }

  end(): void {
    this.seal();
  }

  private seal(): void {
    const batch = this.batch;
    if (batch === undefined) return;
    this.batch = undefined;
    const n = this.length;
    this.length = 0;
    this.sink.sealBatch(batch, n);
  }
}

/** "\x13BitTorrent protocol": an incoming stream that starts so is plain; anything else is taken for MSE (libtorrent does the same). */
const PLAIN_PREFIX = Uint8Array.from([PROTOCOL_NAME.length, ...new TextEncoder().encode(PROTOCOL_NAME)]);

export interface MseRun {
  /** Undefined: the peer spoke plain BitTorrent (incoming only). */
  readonly session: MseSession | undefined;
  /** Decrypted bytes that came with the handshake (incoming plain: the bytes read so far). */
  readonly head: Uint8Array;
}

/** An MSE link's payload stream: what the decoder reads, and for RC4 the cipher thread's side of it (writes go through `rc4.write`). */
export interface MsePayload {
  readonly method: 'rc4' | 'plaintext';
  readonly read: SocketChunks;
  readonly rc4: Rc4Link | undefined;
}

/** After a handshake that ended in `session`: RC4 goes to the cipher pool from where the handshake left it; plaintext never does. */
export function msePayload(socket: Socket, chunks: SocketChunks, session: MseSession, head: Uint8Array): MsePayload {
  const positions = session.handOff();
  if (positions === undefined) return { method: 'plaintext', read: new PrefixedChunks(chunks, head), rc4: undefined };
  const rc4 = new Rc4Link(socket, chunks, head, cipherPool().open(positions, READ_RING_BYTES, WRITE_RING_BYTES));
  return { method: 'rc4', read: rc4, rc4 };
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

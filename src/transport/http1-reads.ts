import { sharedReadBuffer } from './accepted-reads.js';

/**
 * Read buffers an HTTP/1.1 connection owns (http1-pool.ts, `ownReads`), for a caller that keeps
 * body bytes past the read: the proxy writes them to its program's socket, and a write holds its
 * bytes until the kernel took them. With the shared read buffer (accepted-reads.ts) every one of
 * them would be copied first; here the read goes into a buffer that stays the caller's until it
 * lets go (`keep`), so a body passes from the origin's socket to the program's with no copy in
 * JavaScript and no allocation a read (node's client: a new 64 KiB buffer a read, and its parser
 * copying each body chunk: docs/proxy.md, "Session 20: what a pass-through costs").
 *
 * Rules:
 * - A read of an answer in flight goes into one of the connection's buffers (`BUFFER_BYTES`): the
 *   rest of the last one while `MIN_READ_BYTES` of it are left, else one no view is kept of, else
 *   a new one (from the process's few spares, else allocated).
 * - Bounded: a buffer with a view kept is busy; once `maxBusy` are, the connection stops reading
 *   (`full`: the socket paused) until one is let go (`onRoom`). So a connection holds at most
 *   `maxBusy + 1` buffers, however slow the caller's writes: back-pressure without a queue.
 * - A connection with no answer in flight reads into the shared buffer (an idle keep-alive
 *   connection holds no buffer of its own; the few bytes it may get are an error or the start of
 *   the next answer), and a view of it that is kept is a copy. Its free buffers go back to the
 *   spares and its busy ones leave it: the next answer on it does not wait for the last one's
 *   program, and a buffer let go after that is a spare. The same when the next request goes out
 *   within the read that ended the last answer (`renew`).
 */

/** A buffer's size: a read takes up to this (node's own reads: 64 KiB), as the wire sockets' (accepted-reads.ts). */
export const BUFFER_BYTES = 256 * 1024;
/** Below this much room left in a buffer, the next read takes another. */
export const MIN_READ_BYTES = 32 * 1024;
/** Free buffers the process keeps for the next answers (of any connection); more are left to the collector. */
export const SPARE_BUFFERS = 8;

const spares: Uint8Array[] = [];

interface Slot {
  readonly buf: Uint8Array;
  /** Views of it kept and not yet let go. */
  refs: number;
  /** Left its connection (idle or closed): a spare once free. */
  detached: boolean;
}

export interface Kept {
  /** The bytes, valid until `release`. */
  readonly data: Uint8Array;
  /** Lets go of them; idempotent. */
  readonly release: () => void;
}

export class ReadArena {
  private readonly slots = new Map<ArrayBufferLike, Slot>();
  /** The buffer the next read goes into, and where in it. */
  private reading: Slot | undefined;
  private at = 0;
  private busy = 0;
  /** A new answer is due on the connection: its buffers leave at the next read's `next`. */
  private renewing = false;

  constructor(
    /** Busy buffers at which the connection stops reading. */
    readonly maxBusy: number,
    /** A busy buffer was let go while `full`. */
    private readonly onRoom: () => void,
  ) {}

  /** Whether the connection should stop reading until `onRoom`. */
  get full(): boolean {
    return !this.renewing && this.busy >= this.maxBusy;
  }

  /**
   * Another answer is due (a request written on the connection after the first): the last one's
   * buffers leave at the next read's `next` (not now: the socket may be reading into one), so the
   * new answer does not wait for the last one's program.
   */
  renew(): void {
    this.renewing = true;
  }

  /** The buffer for the next read (the socket's `onread.buffer`); `idle`: no answer in flight. */
  next(idle: boolean): Uint8Array {
    if (idle) {
      this.detach();
      return sharedReadBuffer();
    }
    // Safe here, not in `renew`: the socket is done with the buffer it read into.
    if (this.renewing) this.detach();
    const r = this.reading;
    if (r !== undefined && r.buf.length - this.at >= MIN_READ_BYTES) return r.buf.subarray(this.at);
    let free: Slot | undefined;
    for (const s of this.slots.values()) {
      if (s.refs === 0) {
        free = s;
        break;
      }
    }
    if (free === undefined) {
      free = { buf: spares.pop() ?? Buffer.allocUnsafeSlow(BUFFER_BYTES), refs: 0, detached: false };
      this.slots.set(free.buf.buffer, free);
    }
    this.reading = free;
    this.at = 0;
    return free.buf;
  }

  /** A read of `n` bytes went into `buf` (what `next` gave). */
  read(buf: Uint8Array, n: number): void {
    const r = this.reading;
    if (r !== undefined && buf.buffer === r.buf.buffer) this.at = buf.byteOffset - r.buf.byteOffset + n;
  }

  /** Keeps `view` (of a read) until `release`: a view of a buffer of this arena pins it; any other is copied. */
  keep(view: Uint8Array): Kept {
    const s = this.slots.get(view.buffer);
    if (s === undefined) return { data: Uint8Array.prototype.slice.call(view), release: () => undefined };
    if (s.refs++ === 0) this.busy++;
    let kept = true;
    return {
      data: view,
      release: () => {
        if (!kept) return;
        kept = false;
        this.letGo(s);
      },
    };
  }

  /** The connection closed: free buffers are spares, busy ones become spares once let go. */
  close(): void {
    this.detach();
  }

  private letGo(s: Slot): void {
    if (--s.refs > 0) return;
    if (s.detached) {
      spare(s.buf);
      return;
    }
    const wasFull = this.full;
    this.busy--;
    if (wasFull && !this.full) this.onRoom();
  }

  private detach(): void {
    for (const s of this.slots.values()) {
      if (s.refs === 0) spare(s.buf);
      else s.detached = true;
    }
    this.slots.clear();
    this.reading = undefined;
    this.at = 0;
    this.busy = 0;
    this.renewing = false;
  }
}

function spare(buf: Uint8Array): void {
  if (spares.length < SPARE_BUFFERS) spares.push(buf);
}

/** Spare buffers held now (tests). */
export function spareReadBuffers(): number {
  return spares.length;
}

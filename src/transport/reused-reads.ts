/**
 * The clients of a `reusedReads` pool (http-fetch.ts's `acquireOrigin`, the HTTP peer's): undici
 * clients whose socket reads into one reused buffer (two at most) instead of a new 64 KiB
 * `ArrayBuffer` per read. On a 1 GiB download those were 1 GiB of short-lived external memory,
 * which drove ~25 full GCs and ~40 MiB of RSS that the wire link (one reused buffer,
 * socket-chunks.ts) does not have.
 *
 * Each read is pushed into the socket's stream as a view of its buffer, and parsed by undici
 * (client-h1.js) at once, within node's read callback: the socket's `'readable'`, on which undici
 * reads the stream, is emitted there (node emits it a tick later, and again then, finding
 * nothing). So a read is consumed before node asks for the next read's buffer, which can then be
 * the same one, and the socket goes on reading without a stop and restart per read. What undici
 * keeps of a read after it parsed it:
 * - header names and values, as views of the read, from where they start until the head ends
 *   (`onHeaders`); a name or value split over two reads is joined into a copy. The status text is
 *   a string at once; an interim (1xx) head ends with its own `onHeaders`, the final one's goes on;
 * - the rest of a read after undici pauses (its handler's `onData` returned false), put back into
 *   the socket's stream (`unshift`) until it resumes;
 * - body chunks, as views, only for the handler's `onData` call: its caller copies each within it;
 * - trailers (a chunked body's) as views until the message ends.
 *
 * Rules:
 * - A connection's first buffer is small (`FIRST_READ_BYTES`) until a read fills it; it is then
 *   replaced, when it could be read into again, by a full-size one (`REUSED_READ_BYTES`).
 * - A buffer is read into again only when undici can hold no view of it: the stream is empty (or
 *   holds nothing but the last read, and the buffer is not the last read's: undici had no turn
 *   yet, or is paused on it), and no head that was open when it was read into is open still.
 *   When a head or a paused parser holds the first buffer, a second is made (at most two).
 * - Otherwise (undici is paused on older bytes, which may be views of either buffer) the read
 *   goes into a spare buffer and is pushed as a copy of its length: what node does for every
 *   read of a plain socket. A head that comes a byte at a time costs that; an ordinary one (the
 *   head and the start of the body in one read) costs nothing.
 * - A head is open from its request's dispatch to the client until `onHeaders` with a final
 *   status, or the request's end (`onComplete`, `onError`); a chunked response's (it may end
 *   with trailers) until the request's end, so its body's reads are copies once both buffers
 *   have been read into (TorrentTTP answers carry `Content-Length`). The pool hands a client one request
 *   at a time (undici's default pipelining of 1), so bodies are read with no head open.
 * - A read that undici leaves in the stream (paused) stops the socket's reading until undici
 *   reads again, as node's own flow control does.
 */
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import type { buildConnector, Client, Dispatcher } from 'undici';
import { filterInterim, loadUndiciModule } from '../tracker/undici.js';

/**
 * Read buffer of a `reusedReads` socket (as the wire link's, socket-chunks.ts). Not smaller: two
 * of 128 KiB a connection left ~1.1 MiB less resident but cost the leech 5–10 % more CPU per GiB
 * (twice the reads, and the engine's work per read: docs/torrenttp.md §18).
 */
export const REUSED_READ_BYTES = 256 * 1024;
/**
 * A connection's first read buffer: it grows to `REUSED_READ_BYTES` once a read fills it. A
 * connection that carries only small answers (an HTTP peer's have-set long-poll) keeps this one;
 * one that carries pieces pays one short read, once.
 */
export const FIRST_READ_BYTES = 16 * 1024;
/** The spare buffer's, for reads pushed as copies: node's own read size. */
export const SPARE_READ_BYTES = 64 * 1024;
/** Read buffers a connection may have: the second is made only when a head or a paused parser holds the first. */
const RING_SLOTS = 2;

let clientClass: Promise<typeof Client> | undefined;
/** undici's `Client`, from the module its `Pool` uses (http-fetch.ts's `loadUndiciPool`), else the package's. */
const loadUndiciClient = (): Promise<typeof Client> =>
  (clientClass ??= loadUndiciModule('undici/lib/dispatcher/client.js', () => import('undici').then((u) => u.Client)));

let liftoffOnly = false;
/**
 * undici parses HTTP/1.1 with llhttp compiled to WebAssembly, compiled once a process at the first
 * connection. V8 compiles it with its baseline compiler (Liftoff), then, once the parser is hot
 * (a few hundred responses), again with its optimising one (TurboFan) in the background. That
 * second compile of llhttp's one huge state-machine function takes ~35 MiB of compiler memory for
 * a moment (`v8.getHeapStatistics().peak_malloced_memory` 38 MiB instead of 3; the process's
 * peak RSS 100 MiB instead of 66 fetching 900 MiB of bodies), and buys nothing here: the parser
 * reads heads of a few hundred bytes and skips over bodies. So the HTTP peer's pools ask V8 for
 * Liftoff only, for every WebAssembly module compiled from then on (undici's parser is the only
 * one torrenttp compiles; node's own fetch, if used, has its own copy). Too late if undici's
 * parser was compiled earlier in the process (an HTTP tracker's announce came first): it tiers
 * up as before.
 */
export function parseWithLiftoffOnly(): void {
  if (liftoffOnly) return;
  liftoffOnly = true;
  setFlagsFromString('--liftoff-only');
}

/** A `Pool` `factory`: clients whose sockets read into reused buffers (see the module's rules). */
export async function reusedReadsClients(connectTimeoutMs: number): Promise<(origin: URL, opts: object) => Dispatcher> {
  const ClientClass = await loadUndiciClient();
  parseWithLiftoffOnly();
  return (origin, opts) => {
    const heads = new OpenHeads();
    const client = new ClientClass(origin, { ...(opts as Client.Options), connect: readIntoReusedBuffers(connectTimeoutMs, heads) });
    // Every request the pool gives this client, watched for the end of its head.
    const dispatch = client.dispatch.bind(client);
    client.dispatch = (o, handler) => dispatch(o, heads.watch(handler));
    return client;
  };
}

/** What undici's `Request` calls on a handler (lib/core/request.js): forwarded as they are. */
const HANDLER_METHODS = ['onConnect', 'onError', 'onHeaders', 'onData', 'onComplete', 'onUpgrade', 'onBodySent', 'onRequestSent', 'onResponseStarted'] as const;

/** The response heads a client may be in the middle of: each request's, numbered from 1 in dispatch order. */
class OpenHeads {
  private last = 0;
  private readonly open = new Set<number>();

  /** The newest head still open; 0 when none is. */
  get newest(): number {
    let n = 0;
    for (const h of this.open) if (h > n) n = h;
    return n;
  }

  /** Whether head `n` or an older one is still open (never for 0). */
  holds(n: number): boolean {
    if (n === 0) return false;
    for (const h of this.open) if (h <= n) return true;
    return false;
  }

  /** `handler` as it is, telling this when its head ends. */
  watch(handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler {
    const n = ++this.last;
    this.open.add(n);
    const h = handler as Record<string, unknown>;
    // The pool hands its clients undici's unwrapped handlers (onHeaders, not onResponseStart).
    // Any other: a head whose end is not seen stays open, and this client's reads are copies.
    if (typeof h['onHeaders'] !== 'function' || typeof h['onComplete'] !== 'function' || typeof h['onError'] !== 'function') return handler;
    const end = (): void => void this.open.delete(n);
    const w: Record<string, unknown> = {};
    for (const k of HANDLER_METHODS) {
      const f = h[k];
      if (typeof f !== 'function') continue;
      // Forwarded as bound functions (no arguments array per call: onData runs once a read).
      const call = (f as (...a: unknown[]) => unknown).bind(handler);
      w[k] =
        k === 'onHeaders'
          ? (status: number, raw: unknown, resume: unknown, text: unknown) => {
              // A chunked body may end with trailers, kept as views until the message ends: its head stays open until then.
              const final = status >= 200 && !isChunked(raw);
              try {
                return call(status, raw, resume, text);
              } finally {
                if (final) end(); // undici has dropped the head's views; an interim head's are dropped too, but the next head may have begun
              }
            }
          : k === 'onComplete' || k === 'onError'
            ? (arg: unknown) => {
                end();
                return call(arg);
              }
            : call;
    }
    return w as Dispatcher.DispatchHandler;
  }
}

/** Whether undici's raw head (`[name, value, …]` as Buffers) says `Transfer-Encoding: chunked` (read within `onHeaders`). */
function isChunked(raw: unknown): boolean {
  if (!Array.isArray(raw)) return true; // unknown: as if it were
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i] as Uint8Array;
    if (n.length === 17 && Buffer.from(n.buffer, n.byteOffset, n.length).toString('latin1').toLowerCase() === 'transfer-encoding') {
      const v = raw[i + 1] as Uint8Array;
      if (Buffer.from(v.buffer, v.byteOffset, v.length).toString('latin1').toLowerCase().includes('chunked')) return true;
    }
  }
  return false;
}

/** A read buffer of the ring, the newest head open when it was last read into (0: none), and whether that read filled it. */
interface Slot {
  bytes: Uint8Array;
  head: number;
  filled: boolean;
}

/** An undici connector (plain TCP) whose socket reads into reused buffers (see the module's rules). */
function readIntoReusedBuffers(timeoutMs: number, heads: OpenHeads): buildConnector.connector {
  return (o, callback) => {
    // Made when first needed: the second only when the first is held when the next read comes.
    const ring: Slot[] = [];
    let spare: Uint8Array | undefined;
    // The slot the next read goes into (undefined: the spare); the slot of the last read, if pushed as a view.
    let into: Slot | undefined;
    let latest: Slot | undefined;
    let lastRead = 0;
    // Node asks for the first buffer while the socket is being made: `held` is the socket once made.
    let held: Socket | undefined;
    /**
     * A slot free for the next read: not `busy`, and no head open when it was read into is open
     * still; else a new one while there are fewer than two. A free slot that its last read filled
     * gets a full-size buffer instead of a small one (nothing can hold a view of the old one).
     */
    const freeSlot = (busy: Slot | undefined): Slot | undefined => {
      for (const s of ring) {
        if (s === busy || heads.holds(s.head)) continue;
        if (s.filled && s.bytes.length < REUSED_READ_BYTES) s.bytes = new Uint8Array(REUSED_READ_BYTES);
        return s;
      }
      if (ring.length >= RING_SLOTS) return undefined;
      const s: Slot = { bytes: new Uint8Array(ring.length === 0 ? FIRST_READ_BYTES : REUSED_READ_BYTES), head: 0, filled: false };
      ring.push(s);
      return s;
    };
    // Node asks for the next read's buffer right after each read's callback, which has had undici parse that read.
    const nextBuffer = (): Uint8Array => {
      if (held === undefined) into = freeSlot(undefined);
      else if (held.readableLength === 0) into = freeSlot(undefined); // undici took all: the last read's slot too, unless a head holds it
      else if (held.readableLength <= lastRead) into = freeSlot(latest); // the last read waits in the stream (no parser yet, or paused on it)
      else into = undefined; // undici is paused on older bytes, which may be views of either slot
      return into?.bytes ?? (spare ??= new Uint8Array(SPARE_READ_BYTES));
    };
    let answered = false;
    const answer = (err: Error | null): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (err === null) callback(null, socket);
      else {
        socket.destroy();
        callback(err, null);
      }
    };
    const timer = setTimeout(() => answer(Object.assign(new Error(`connect timeout (${timeoutMs} ms)`), { code: 'UND_ERR_CONNECT_TIMEOUT' })), timeoutMs);
    const socket: Socket = connect({
      host: o.hostname,
      port: Number(o.port === '' ? 80 : o.port),
      ...(o.localAddress == null ? {} : { localAddress: o.localAddress }),
      onread: {
        buffer: nextBuffer,
        callback: (n: number, buf: Uint8Array) => {
          lastRead = n;
          latest = into;
          if (into !== undefined) {
            into.head = heads.newest;
            into.filled = n === into.bytes.length;
          }
          const s = held!;
          s.push(into === undefined ? buf.slice(0, n) : buf.subarray(0, n));
          // undici parses on the stream's 'readable', which node emits a tick later: now instead,
          // so that the read is consumed before node asks for the next read's buffer (one buffer
          // a connection), and the socket keeps reading. Emitted again later, it finds nothing.
          s.emit('readable');
          // false (undici left bytes in the stream: paused): stop reading; undici's read resumes it.
          return s.readableLength === 0;
        },
      },
    });
    held = socket;
    // Interim (1xx) answers skipped before undici's parser, as on our other connections (tracker/undici.ts): the
    // filter passes reads on as they are (views of the ring) and copies only a head it must hold back.
    filterInterim(socket);
    socket.setNoDelay(true);
    socket.once('connect', () => answer(null));
    socket.once('error', (err) => answer(err));
  };
}

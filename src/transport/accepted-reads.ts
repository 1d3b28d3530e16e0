import { Socket, type SocketConstructorOpts } from 'node:net';

/*
 * What a wire socket's reads are, the read buffer they share, and an accepted socket's reads. Apart from
 * socket-chunks.ts (the dial, loaded with the wire code: wire-lazy.ts) because the peer listener
 * takes each accepted socket over as it arrives, before the wire code is loaded.
 */

/**
 * Where a wire socket's bytes arrive, chunk by chunk. A chunk is valid only during the handler's
 * call: it may be a view of the shared read buffer (`sharedReadBuffer`), which the next read of
 * any wire socket overwrites, so whatever outlives the call must be copied (the wire decoder
 * copies a message that straddles chunks; the engine copies each block into its piece buffer
 * while the block event is delivered), even while this socket is paused or quiet.
 */
export interface SocketChunks {
  /** Sets (or, with undefined, removes) the one handler. Chunks that came with none are kept and given to the next. */
  setHandler(handler: ((chunk: Uint8Array) => void) | undefined): void;
}

/**
 * The read buffer of every wire socket, dialled or accepted (`adoptWithReadBuffer`): one
 * buffer of this size, shared by all of them (`sharedReadBuffer`). A read takes up to 256 KiB,
 * so a fast link needs a quarter of the reads of Node's 64 KiB, and none allocates (Node's `data`
 * events give every read a new `ArrayBuffer`: 16,000 on a 1 GiB download for the collector).
 */
export const READ_BUFFER_BYTES = 256 * 1024;

let shared: Uint8Array | undefined;

/**
 * The one read buffer of the process's wire sockets. Shared, not one per connection: a socket
 * hands Node its next read's buffer after each read (`onread`), so a buffer of its own is held
 * between reads, idle or not, and one grown to 256 KiB stayed so (1,000 connections after a
 * 64 KiB burst each held 252.6 MiB; any peer could pin 256 KiB with one large message). Sharing
 * is safe because a read and its callback run together, one socket at a time, on the main thread
 * (libuv reads synchronously when a socket is readable: alloc, read(2), callback), and a chunk is
 * valid only during its handler's call (`SocketChunks`): whatever outlives it is copied, so no
 * view of this buffer is alive when the next read, of whichever socket, overwrites it.
 */
export function sharedReadBuffer(): Uint8Array {
  return (shared ??= new Uint8Array(READ_BUFFER_BYTES));
}

export class Chunks implements SocketChunks {
  private handler: ((chunk: Uint8Array) => void) | undefined;
  private held: Uint8Array[] = [];

  setHandler(handler: ((chunk: Uint8Array) => void) | undefined): void {
    this.handler = handler;
    while (this.handler !== undefined && this.held.length > 0) this.handler(this.held.shift()!);
  }

  /** `reused`: the chunk's memory is read into again after this call. */
  deliver(chunk: Uint8Array, reused: boolean): void {
    if (this.handler !== undefined) this.handler(chunk);
    else this.held.push(reused ? chunk.slice() : chunk);
  }
}

/**
 * An accepted socket, taken over by one that reads into the shared buffer as
 * `dialWithReadBuffer`'s does. `paused` must come from a `net.Server` with `pauseOnConnect`
 * (nothing read yet). Node gives accepted sockets no `onread`, so the new socket wraps the
 * accepted one's handle (the constructor's `handle` option, as `net.Server` itself makes them);
 * the old object is detached and the server's connection count moves to the new one
 * (`server.close` still waits for it). Before, Node gave every read of an accepted socket a new
 * 64 KiB `ArrayBuffer`: ~3,000 a get of 256 MiB in a swarm of 20, external memory for the
 * collector and a `data` event each. Where the handle is not there (another runtime), the
 * socket's `data` events, as before.
 */
export function adoptWithReadBuffer(paused: Socket): { socket: Socket; chunks: SocketChunks } {
  const old = paused as unknown as { _handle: object | null; _server: object | null; server: unknown };
  if (old._handle === null || old._handle === undefined || paused.destroyed) {
    paused.resume();
    return { socket: paused, chunks: chunksOf(paused) };
  }
  const chunks = new Chunks();
  const opts = {
    handle: old._handle,
    readable: true,
    writable: true,
    onread: { buffer: sharedReadBuffer(), callback: readInto(chunks) },
  };
  const socket = new Socket(opts as SocketConstructorOpts);
  const adopted = socket as unknown as { _server: object | null; server: unknown };
  adopted._server = old._server;
  adopted.server = old.server;
  old._server = null;
  old._handle = null;
  return { socket, chunks };
}

/** An `onread` callback of the shared buffer: each read to `chunks`, a view valid during the call. */
export function readInto(chunks: Chunks): (n: number, buf: Uint8Array) => boolean {
  return (n, buf) => {
    chunks.deliver(buf.subarray(0, n), true);
    return true;
  };
}

/** The `data` events of a socket (one we accepted), as chunks. */
export function chunksOf(socket: Socket): SocketChunks {
  const chunks = new Chunks();
  socket.on('data', (chunk: Buffer) => chunks.deliver(chunk, false));
  return chunks;
}

import { Socket, type SocketConstructorOpts } from 'node:net';

/*
 * What a wire socket's reads are, and the reused read buffer of an accepted one. Apart from
 * socket-chunks.ts (the dial, loaded with the wire code: wire-lazy.ts) because the peer listener
 * takes each accepted socket over as it arrives, before the wire code is loaded.
 */

/**
 * Where a wire socket's bytes arrive, chunk by chunk. A chunk is valid only during the handler's
 * call: it may be a view of a read buffer that the next read overwrites, so whatever outlives the
 * call must be copied (the wire decoder copies a message that straddles chunks; the engine copies
 * each block into its piece buffer while the block event is delivered).
 */
export interface SocketChunks {
  /** Sets (or, with undefined, removes) the one handler. Chunks that came with none are kept and given to the next. */
  setHandler(handler: ((chunk: Uint8Array) => void) | undefined): void;
}

/**
 * Read buffer of a wire socket, dialled or accepted (`adoptWithReadBuffer`). One reused buffer
 * per connection instead of a new 64 KiB `ArrayBuffer` per read, which on a 1 GiB download was
 * 16,000 allocations for the garbage collector to chase; and a read takes up to 256 KiB, so a
 * fast link needs a quarter of the reads.
 */
export const READ_BUFFER_BYTES = 256 * 1024;

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

/** A first read buffer of an accepted socket: an idle connection holds no more (a server may hold thousands). */
export const FIRST_READ_BYTES = 16 * 1024;

/**
 * An accepted socket, taken over by one that reads into a reused buffer as `dialWithReadBuffer`'s
 * does. `paused` must come from a `net.Server` with `pauseOnConnect` (nothing read yet). Node
 * gives accepted sockets no `onread`, so the new socket wraps the accepted one's handle (the
 * constructor's `handle` option, as `net.Server` itself makes them); the old object is detached
 * and the server's connection count moves to the new one (`server.close` still waits for it).
 * The buffer is 16 KiB until a read fills it, then 256 KiB: a swarm peer's link reads as a dialled
 * one does (before, Node gave every read of an accepted socket a new 64 KiB `ArrayBuffer`: ~3,000
 * a get of 256 MiB in a swarm of 20, external memory for the collector and a `data` event each).
 * Where the handle is not there (another runtime), the socket's `data` events, as before.
 */
export function adoptWithReadBuffer(paused: Socket): { socket: Socket; chunks: SocketChunks } {
  const old = paused as unknown as { _handle: object | null; _server: object | null; server: unknown };
  if (old._handle === null || old._handle === undefined || paused.destroyed) {
    paused.resume();
    return { socket: paused, chunks: chunksOf(paused) };
  }
  const chunks = new Chunks();
  let buffer = new Uint8Array(FIRST_READ_BYTES);
  const opts = {
    handle: old._handle,
    readable: true,
    writable: true,
    onread: {
      buffer: () => buffer,
      callback: (n: number, buf: Uint8Array) => {
        chunks.deliver(buf.subarray(0, n), true);
        // Node asks for the next read's buffer after this call: a bigger one only once this was filled.
        if (n === buffer.length && buffer.length < READ_BUFFER_BYTES) buffer = new Uint8Array(READ_BUFFER_BYTES);
        return true;
      },
    },
  };
  const socket = new Socket(opts as SocketConstructorOpts);
  const adopted = socket as unknown as { _server: object | null; server: unknown };
  adopted._server = old._server;
  adopted.server = old.server;
  old._server = null;
  old._handle = null;
  return { socket, chunks };
}

/** The `data` events of a socket (one we accepted), as chunks. */
export function chunksOf(socket: Socket): SocketChunks {
  const chunks = new Chunks();
  socket.on('data', (chunk: Buffer) => chunks.deliver(chunk, false));
  return chunks;
}

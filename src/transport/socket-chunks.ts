import { connect, type Socket } from 'node:net';

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
 * Read buffer of a socket we dial. One reused buffer per connection instead of a new 64 KiB
 * `ArrayBuffer` per read, which on a 1 GiB download was 16,000 allocations for the garbage
 * collector to chase; and a read takes up to 256 KiB, so a fast link needs a quarter of the
 * reads. (Sockets a `net.Server` accepts cannot be given one: they use `data` events.)
 */
export const READ_BUFFER_BYTES = 256 * 1024;

class Chunks implements SocketChunks {
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

/** Dials `host:port`; every read lands in one buffer of `READ_BUFFER_BYTES`. */
export function dialWithReadBuffer(host: string, port: number): { socket: Socket; chunks: SocketChunks } {
  const chunks = new Chunks();
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  const socket = connect({
    host,
    port,
    onread: {
      buffer,
      callback: (n: number, buf: Uint8Array) => {
        chunks.deliver(buf.subarray(0, n), true);
        return true;
      },
    },
  });
  return { socket, chunks };
}

/** The `data` events of a socket (one we accepted), as chunks. */
export function chunksOf(socket: Socket): SocketChunks {
  const chunks = new Chunks();
  socket.on('data', (chunk: Buffer) => chunks.deliver(chunk, false));
  return chunks;
}

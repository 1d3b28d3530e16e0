import { connect, type Socket } from 'node:net';
import { Chunks, READ_BUFFER_BYTES, type SocketChunks } from './accepted-reads.js';

export { chunksOf, READ_BUFFER_BYTES, type SocketChunks } from './accepted-reads.js';

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


import { connect, type Socket } from 'node:net';
import { Chunks, readInto, sharedReadBuffer, type SocketChunks } from './accepted-reads.js';

export { chunksOf, READ_BUFFER_BYTES, type SocketChunks } from './accepted-reads.js';

/** Dials `host:port`; every read lands in the wire sockets' shared buffer (`sharedReadBuffer`). */
export function dialWithReadBuffer(host: string, port: number): { socket: Socket; chunks: SocketChunks } {
  const chunks = new Chunks();
  const socket = connect({ host, port, onread: { buffer: sharedReadBuffer(), callback: readInto(chunks) } });
  return { socket, chunks };
}

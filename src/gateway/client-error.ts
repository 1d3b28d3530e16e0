import type { Socket } from 'node:net';

/**
 * The answer to a request Node's HTTP parser refused (the server's `clientError`), one for
 * `serve`, its TorrentTTP peer server and the proxy: a status line and close, or, for a reset
 * connection or one that sent nothing before its head timed out, a close without a word (as
 * nginx does).
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const status = clientErrorStatus(err.code, socket.bytesRead);
  if (status !== undefined && socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  else socket.destroy();
}

function clientErrorStatus(code: string | undefined, bytesRead: number): string | undefined {
  if (code === 'ECONNRESET') return undefined;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_HEADERS_TIMEOUT') return bytesRead > 0 ? '408 Request Timeout' : undefined;
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (code === 'HPE_URI_TOO_LONG') return '414 URI Too Long';
  return '400 Bad Request';
}

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

/** The interim answers an origin may send before its real one (RFC 9110 §15.2), as the bytes node writes: 100, 103 with a Link, 102. */
export function sendInterim(res: ServerResponse): void {
  res.writeContinue(); // `HTTP/1.1 100 Continue\r\n\r\n`, unasked: no request sends `Expect`
  res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }); // `HTTP/1.1 103 Early Hints\r\nLink: …\r\n\r\n`
  res.writeProcessing(); // `HTTP/1.1 102 Processing\r\n\r\n`
}

/** An HTTP origin (keep-alive) that answers every request with `sendInterim` first, then `handler`. */
export async function interimOrigin(t: TestContext | undefined, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ base: string; server: Server; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    sendInterim(res);
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  t?.after(close);
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, close };
}

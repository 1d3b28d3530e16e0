import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TorrenttpError } from '../errors/index.js';
import { encodeProblem, PROBLEM_CONTENT_TYPE, trackerHttpOptions } from '../tracker/index.js';
import { GatewayError } from './errors.js';
import { refuseUnknownHost, type HostCheck } from './host-check.js';

/**
 * The embedded tracker on a port of its own (`serve --tracker-port`): plain HTTP `/announce` and
 * `/scrape` (BEP 3, BEP 48) there, and BEP 15 UDP on the same number, as opentracker and
 * `torrenttp tracker` pair them. Plain HTTP even when the web server speaks HTTPS: a tracker's
 * answers are public and clients take `http://` trackers everywhere; the port is usually given so
 * that the tracker sits where a firewall or a CDN in front of the web server lets it be (UDP 443
 * may belong to QUIC). Only the two tracker paths are answered (the standalone tracker's `/stats`
 * and TorrentTTP JSON announce stay off it: the web server has the latter at `/ttp/v1/announce`),
 * with the same `Host` check as the web server (DNS rebinding, host-check.ts).
 */
export function trackerFront(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  hostCheck: HostCheck | undefined,
  headersTimeoutMs: number,
): Server {
  return createServer(trackerHttpOptions(headersTimeoutMs), (req, res) => {
    if (refuseUnknownHost(hostCheck, req, res)) return;
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    if (path === '/announce' || path === '/scrape') {
      handle(req, res);
      return;
    }
    const body = encodeProblem(new TorrenttpError('TRACKER_NOT_FOUND', { detail: 'this port serves /announce and /scrape' }));
    res.writeHead(404, { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
}

/**
 * Binds `server` (TCP) on `wanted` and then the tracker's UDP on the number it got: one number
 * for both, so `http://host:N/announce` and `udp://host:N` name one tracker. With 0 a UDP port
 * that turns out taken is retried with a new pick (`attempts`); with a given number it fails.
 * `label` goes before `tcp …`/`udp …` in GATEWAY_BIND_FAILED's detail: it names which of the
 * server's ports it was (the CLI's port-in-use hint reads it to name the flag).
 */
export async function listenTcpAndUdp(
  server: Server,
  host: string,
  wanted: number,
  listenUdp: (host: string, port: number) => Promise<unknown>,
  attempts: number,
  label = '',
): Promise<number> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < (wanted === 0 ? attempts : 1); attempt++) {
    try {
      server.listen(wanted, host);
      await once(server, 'listening');
    } catch (cause) {
      throw new GatewayError('GATEWAY_BIND_FAILED', { detail: `${label}tcp ${host}:${wanted}`, cause });
    }
    const port = (server.address() as AddressInfo).port;
    try {
      await listenUdp(host, port);
      return port;
    } catch (err) {
      lastErr = err;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
  throw new GatewayError('GATEWAY_BIND_FAILED', { detail: `${label}udp ${host}:${wanted}`, cause: lastErr });
}

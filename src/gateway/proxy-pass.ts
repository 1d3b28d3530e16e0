import { request as httpRequest, type Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { pipeline } from 'node:stream';
import type { TorrenttpError } from '../errors/index.js';
import { encodeProblem, PROBLEM_CONTENT_TYPE } from '../tracker/index.js';
import { GatewayError } from './errors.js';
import type { OpenResponse } from './negotiate-client.js';
import { endToEnd, endToEndRecord } from './proxy-request.js';
import { relay } from './relay.js';

/**
 * Pass-through: what the proxy does for everything the swarm does not answer. The program's
 * request goes to the origin as it came (method, body, end-to-end headers; `Host` from the URL,
 * RFC 9112 §3.2.2), and the answer comes back as it went, streamed: status, reason, headers,
 * body. Redirects and error statuses are the program's to see. `CONNECT` is a byte-for-byte
 * tunnel. Whatever fails before the answer's head is a `502` problem; after it, the program's
 * connection is cut, so a short body never looks complete.
 */

export const VIA = '1.1 torrenttp';

/** Bytes sent to the program, for the request log. */
export interface Sent {
  status: number;
  bytes: number;
}

/** Forwards the program's request to `url` and streams the answer back. */
export function passThrough(req: IncomingMessage, res: ServerResponse, url: URL, agent: Agent): Promise<Sent> {
  return new Promise((resolve) => {
    const headers = endToEnd(req.rawHeaders, new Set(['host', 'via']));
    headers.push('Host', url.host, 'Via', VIA);
    const upstream = httpRequest({
      agent,
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? 80 : Number(url.port),
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers,
      setHost: false,
    });
    const sent: Sent = { status: 0, bytes: 0 };
    let answered: IncomingMessage | undefined;
    upstream.on('response', (answer: IncomingMessage) => {
      answered = answer;
      sent.status = answer.statusCode ?? 502;
      res.writeHead(sent.status, answer.statusMessage, [...endToEnd(answer.rawHeaders, new Set(['via'])), 'Via', VIA]);
      res.flushHeaders();
      // Cut short: relay destroys the response, never a complete-looking body.
      relay(answer, res, (n) => (sent.bytes += n), () => resolve(sent));
    });
    upstream.on('error', (err) => {
      // Bytes past the promised length (a lying Content-Length) fail the origin's connection once
      // the body is whole: that body still goes out whole (the relay ends it), not cut.
      if (res.headersSent && answered?.complete === true) return;
      if (!res.headersSent) {
        sent.status = 502;
        sendProblem(res, new GatewayError('GATEWAY_PROXY_UPSTREAM', { detail: `${url.host}: ${err.message}`, cause: err }));
      } else res.destroy();
      resolve(sent);
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    pipeline(req, upstream, () => undefined);
  });
}

/**
 * The body of a swarm answer whose status line and headers are already out, from the origin
 * instead (the torrent could not be opened): a plain GET of bytes `start..end` (a `Range` unless
 * it is the whole file), taken only if the origin answers with exactly those bytes of the same
 * file (`206` with that `Content-Range`, or `200` of `size` bytes for the whole, and the offer's
 * `ETag` if the answer has one). Anything else, or a failure midway, cuts the response short.
 */
export function passBody(res: ServerResponse, url: URL, start: number, end: number, size: number, etag: string | undefined, agent: Agent): Promise<Sent> {
  return new Promise((resolve) => {
    const whole = start === 0 && end === size - 1;
    const sent: Sent = { status: res.statusCode, bytes: 0 };
    const upstream = httpRequest({
      agent,
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? 80 : Number(url.port),
      method: 'GET',
      path: `${url.pathname}${url.search}`,
      headers: { host: url.host, via: VIA, ...(whole ? {} : { range: `bytes=${start}-${end}` }) },
      setHost: false,
    });
    upstream.on('response', (answer: IncomingMessage) => {
      const same = etag === undefined || answer.headers.etag === undefined || answer.headers.etag === etag;
      const exact = whole ? answer.statusCode === 200 && answer.headers['content-length'] === String(size) : answer.statusCode === 206 && answer.headers['content-range'] === `bytes ${start}-${end}/${size}`;
      if (!same || !exact) {
        answer.destroy();
        res.destroy();
        resolve(sent);
        return;
      }
      relay(answer, res, (n) => (sent.bytes += n), () => resolve(sent));
    });
    upstream.on('error', () => {
      res.destroy();
      resolve(sent);
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end();
  });
}

/** Sends an answer the negotiation already opened (the origin's answer to the program's own GET). */
export function sendOpen(res: ServerResponse, open: OpenResponse): Promise<Sent> {
  return new Promise((resolve) => {
    const sent: Sent = { status: open.status, bytes: 0 };
    res.writeHead(open.status, [...endToEndRecord(open.headers, new Set(['via'])), 'Via', VIA]);
    relay(open.body, res, (n) => (sent.bytes += n), () => resolve(sent));
  });
}

/** A byte-for-byte tunnel for `CONNECT` (RFC 9110 §9.3.6): `200` once the origin accepted, then both ways until either end closes. */
export function tunnel(client: Socket, head: Buffer, host: string, port: number): Promise<Sent> {
  return new Promise((resolve) => {
    const sent: Sent = { status: 0, bytes: 0 };
    const origin = connect({ host, port });
    let open = false;
    origin.once('connect', () => {
      open = true;
      sent.status = 200;
      client.write('HTTP/1.1 200 Connection Established\r\nVia: 1.1 torrenttp\r\n\r\n');
      if (head.length > 0) origin.write(head);
      origin.on('data', (chunk: Buffer) => (sent.bytes += chunk.length));
      origin.pipe(client);
      client.pipe(origin);
    });
    const done = (): void => {
      origin.destroy();
      client.destroy();
      resolve(sent);
    };
    origin.once('error', (err) => {
      if (!open) {
        sent.status = 502;
        const e = new GatewayError('GATEWAY_PROXY_UPSTREAM', { detail: `${host}:${port}: ${err.message}`, cause: err });
        client.end(rawProblem(e, '502 Bad Gateway'));
        resolve(sent);
        return;
      }
      done();
    });
    origin.once('close', done);
    client.once('error', done);
    client.once('close', done);
  });
}

/** A problem document (the gateway's error form) as the answer, closing the connection when the request body was not read. */
export function sendProblem(res: ServerResponse, e: TorrenttpError, extra: Record<string, string> = {}): void {
  const body = encodeProblem(e);
  res.writeHead(e.status, { ...extra, 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', via: VIA });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** A whole problem answer as raw HTTP/1.1, for sockets outside node's response objects (CONNECT, upgrades). */
export function rawProblem(e: TorrenttpError, statusLine: string): string {
  const body = encodeProblem(e);
  return `HTTP/1.1 ${statusLine}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nVia: ${VIA}\r\nConnection: close\r\n\r\n${body}`;
}

import { request as httpRequest, type Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { pipeline } from 'node:stream';
import type { TorrenttpError } from '../errors/index.js';
import { encodeProblem, PROBLEM_CONTENT_TYPE } from '../tracker/index.js';
import { GatewayError } from './errors.js';
import type { OpenResponse } from './negotiate-client.js';
import type { PassClient } from './pass-client.js';
import { endToEnd, endToEndRecord, swarmEligible } from './proxy-request.js';
import { relay, relaySink, type RelaySink } from './relay.js';

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

/**
 * Forwards the program's request to `url` and streams the answer back: a GET or HEAD without a
 * body through the proxy's own client (`passPlain`), anything else through node's.
 */
export function passThrough(req: IncomingMessage, res: ServerResponse, url: URL, agent: Agent, client?: PassClient): Promise<Sent> {
  if (client !== undefined && (req.method === 'GET' || req.method === 'HEAD') && swarmEligible('GET', req.headers)) return passPlain(req, res, url, req.method, client);
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
 * `passThrough` of a GET or HEAD with no body on the proxy's own client (pass-client.ts): the
 * same request (end-to-end headers, `Host` from the URL, `Via`), the same answer (status, reason,
 * end-to-end headers with their names' case, interim answers skipped); the body's bytes written
 * to the program as they were read, with no copy (node's server frames them as it framed node's
 * client's: `Content-Length` as the origin said it, else chunked anew, or to the close for an
 * HTTP/1.0 program). A failure before the head is a `502`; after it, the response is cut, so a
 * short body never looks complete; bytes past the promised length are dropped (the connection
 * to the origin closed), the promised body ending whole. A program that leaves closes the
 * origin's connection. The client's connection stops reading while the program's socket holds
 * its buffers (transport/http1-reads.ts): a slow program costs at most those.
 */
function passPlain(req: IncomingMessage, res: ServerResponse, url: URL, method: 'GET' | 'HEAD', client: PassClient): Promise<Sent> {
  return new Promise((resolve) => {
    const headers = endToEnd(req.rawHeaders, new Set(['host', 'via']));
    headers.push('Via', VIA);
    const sent: Sent = { status: 0, bytes: 0 };
    let body: RelaySink | undefined;
    const abort = client.request(url, { method, headers }, {
      onHead: (head) => {
        const bodied = method !== 'HEAD' && head.status !== 204 && head.status !== 304;
        const length = head.all('content-length');
        // Both framings: "ought to be handled as an error" (RFC 9112 §6.3 item 3), and node's
        // client (before) failed it: a 502. Thrown here, it fails the request and closes the connection.
        if (bodied && length !== undefined && head.get('transfer-encoding') !== undefined) {
          throw new GatewayError('GATEWAY_PROXY_UPSTREAM', { detail: 'both Content-Length and Transfer-Encoding' });
        }
        sent.status = head.status;
        res.writeHead(head.status, head.reason, [...oneLength(endToEnd(head.raw(), new Set(['via']))), 'Via', VIA]);
        res.flushHeaders();
        body = relaySink(res, (n) => (sent.bytes += n), () => resolve(sent));
      },
      onData: (data, release) => body!.push(data, release),
      onEnd: () => body!.end(),
      onError: (err) => {
        if (body !== undefined) body.fail(err);
        else if (res.headersSent) {
          // writeHead failed midway: the head is out, and not whole.
          res.destroy();
          resolve(sent);
        } else {
          sent.status = 502;
          sendProblem(res, new GatewayError('GATEWAY_PROXY_UPSTREAM', { detail: `${url.host}: ${err.message}`, cause: err }));
          resolve(sent);
        }
      },
    });
    res.on('close', () => {
      if (res.writableFinished) return;
      abort();
      // Gone before the head: nothing more comes (with a body, the relay's end resolves).
      if (body === undefined) resolve(sent);
    });
  });
}

/**
 * `fields` with one Content-Length, where the first was, however the origin listed its values
 * (equal: the decoder checked; RFC 9110 §8.6 lets a recipient send one). Node's parser (before)
 * refused a repeated field.
 */
function oneLength(fields: string[]): string[] {
  let seen = false;
  const out: string[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    let value = fields[i + 1]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      if (seen) continue;
      seen = true;
      value = value.split(',')[0]!.trim();
    }
    out.push(name, value);
  }
  return out;
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

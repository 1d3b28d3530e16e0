/**
 * The pass-through of GETs and HEADs on the proxy's own client (`passThrough` with a
 * `PassClient`): status, reason and headers (names' case kept, hop-by-hop ones dropped) as the
 * origin sent them; bodies byte-identical, chunked, close-delimited or none (HEAD, 204, 304);
 * a short body cuts the program's response, bytes past the length are dropped; an unasked 101 is
 * a 502; a program that stops reading holds back the origin (bounded); one that leaves closes the
 * origin's connection; connections to the origin are kept alive between requests.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { PassClient } from '../../src/gateway/pass-client.js';
import { passThrough, type Sent } from '../../src/gateway/proxy-pass.js';
import { bytes } from '../helpers/torrents.js';
import { until } from '../helpers/processes.js';

const MIB = 1024 * 1024;

async function listen(t: TestContext, server: ReturnType<typeof createServer>): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

/** A proxy of one function: every request passed through on `client`. */
async function startPass(t: TestContext): Promise<{ port: number; client: PassClient; sent: Sent[] }> {
  const client = new PassClient();
  const agent = new Agent({ keepAlive: true });
  const sent: Sent[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void passThrough(req, res, new URL(req.url!), agent, client).then((s) => sent.push(s));
  });
  const port = await listen(t, server);
  t.after(() => {
    client.destroy();
    agent.destroy();
  });
  return { port, client, sent };
}

/** An origin that answers each request (by path) with raw bytes, and counts its connections. */
async function rawOrigin(t: TestContext, answers: Record<string, string>, close = true): Promise<{ base: string; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((c) => {
    connections++;
    sockets.add(c);
    c.once('close', () => sockets.delete(c));
    c.on('error', () => undefined);
    let buf = '';
    c.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const path = buf.split(' ')[1]!;
        buf = buf.slice(end + 4);
        const answer = answers[path] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
        if (close) c.end(answer, 'latin1');
        else c.write(answer, 'latin1');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  t.after(() => {
    // Before the server's close, which waits for them: the proxy keeps its connections alive.
    for (const c of sockets) c.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { base: `http://127.0.0.1:${port}`, connections: () => connections };
}

interface Raw {
  head: string;
  status: number;
  body: Buffer;
  /** The response ended as framed (a chunked end, or Content-Length bytes), not cut. */
  whole: boolean;
}

/** One request through the proxy on a fresh connection, read raw to its close. */
async function through(port: number, target: string, method = 'GET'): Promise<Raw> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  s.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return parse(Buffer.concat(chunks), method === 'HEAD');
}

function parse(all: Buffer, head: boolean): Raw {
  const split = all.indexOf('\r\n\r\n');
  const text = all.subarray(0, split).toString('latin1');
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
  const rest = all.subarray(split + 4);
  const length = /\r\ncontent-length: (\d+)/i.exec(text)?.[1];
  if (head || status === 204 || status === 304) return { head: text, status, body: rest, whole: rest.length === 0 };
  if (/\r\ntransfer-encoding: chunked/i.test(text)) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lf = rest.indexOf('\r\n', at);
      if (lf < 0) return { head: text, status, body: Buffer.concat(parts), whole: false };
      const size = parseInt(rest.subarray(at, lf).toString('latin1'), 16);
      if (size === 0) return { head: text, status, body: Buffer.concat(parts), whole: rest.subarray(lf, lf + 4).toString() === '\r\n\r\n' };
      if (lf + 2 + size > rest.length) return { head: text, status, body: Buffer.concat([...parts, rest.subarray(lf + 2)]), whole: false };
      parts.push(rest.subarray(lf + 2, lf + 2 + size));
      at = lf + 2 + size + 2;
    }
  }
  return { head: text, status, body: rest, whole: length !== undefined && rest.length === Number(length) };
}

test('pass client: status, reason and headers as sent (case kept, hop-by-hop dropped); chunked and close-delimited bodies byte-identical', { timeout: 30_000 }, async (t) => {
  const data = bytes(3 * MIB + 11, 41);
  const latin = Buffer.from(data).toString('latin1');
  // Odd chunk sizes, an extension and a trailer: the program gets the bytes, chunked anew.
  const chunked = ['1\r\nx\r\n', `${(MIB + 3).toString(16)};ext=1\r\n${latin.slice(1, MIB + 4)}\r\n`, `${(data.length - MIB - 4).toString(16)}\r\n${latin.slice(MIB + 4)}\r\n`, '0\r\nX-Trailer: t\r\n\r\n'].join('');
  const origin = await rawOrigin(t, {
    '/chunked': `HTTP/1.1 207 Odd Reason\r\nX-Mixed-Case: Kept\r\nTransfer-Encoding: chunked\r\nConnection: close, X-Hop\r\nX-Hop: gone\r\nKeep-Alive: timeout=5\r\n\r\n${chunked}`,
    '/close': `HTTP/1.1 200 OK\r\nContent-Type: application/x-thing\r\n\r\n${latin}`,
  });
  const { port } = await startPass(t);
  const c = await through(port, `${origin.base}/chunked`);
  assert.equal(c.status, 207);
  assert.match(c.head, /^HTTP\/1\.1 207 Odd Reason\r\n/);
  assert.match(c.head, /\r\nX-Mixed-Case: Kept\r\n/, 'the name as the origin spelt it');
  assert.doesNotMatch(c.head, /x-hop|keep-alive: timeout/i, 'hop-by-hop fields and the ones Connection names are dropped');
  assert.match(c.head, /\r\nVia: 1\.1 torrenttp/);
  assert.ok(c.whole, 'the chunked body ended as framed');
  assert.equal(c.body.toString('latin1'), `x${latin.slice(1)}`, 'byte-identical');
  const d = await through(port, `${origin.base}/close`);
  assert.equal(d.status, 200);
  assert.match(d.head, /transfer-encoding: chunked/i, 'chunked anew for the program');
  assert.ok(d.whole, 'ended as framed: the origin closing was its end');
  assert.ok(d.body.equals(Buffer.from(data)), 'a close-delimited body whole');
});

test('pass client: a short body cuts the program\'s response; bytes past the length are dropped; unframable heads and an unasked 101 are 502', { timeout: 30_000 }, async (t) => {
  const origin = await rawOrigin(t, {
    '/short': `HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(10)}`,
    '/short-chunked': `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\naaaaa\r\n10\r\nbb`,
    '/long': `HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n${'b'.repeat(1000)}`,
    '/listed': 'HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nX-A: 1\r\ncontent-length: 3\r\n\r\nabc',
    '/dup': `HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 10\r\n\r\n${'d'.repeat(10)}`,
    '/both': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nggggg\r\n0\r\n\r\n',
    '/switch': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw',
    '/status': 'HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok',
  });
  const { port, sent } = await startPass(t);
  const short = await through(port, `${origin.base}/short`);
  assert.equal(short.status, 200);
  assert.match(short.head, /content-length: 100000/i, 'the promised length, so the program sees the cut');
  assert.equal(short.body.toString(), 'aaaaaaaaaa');
  assert.equal(short.whole, false, 'closed short, never ended as whole');
  const shortChunked = await through(port, `${origin.base}/short-chunked`);
  assert.equal(shortChunked.whole, false, 'a chunked body cut midway is cut for the program too (no last chunk)');
  const long = await through(port, `${origin.base}/long`);
  assert.equal(long.body.toString(), 'bbbbb', 'cut at the promised length');
  assert.ok(long.whole, 'and ended whole');
  const listed = await through(port, `${origin.base}/listed`);
  assert.equal(listed.body.toString(), 'abc');
  assert.match(listed.head, /\r\nContent-Length: 3\r\nX-A: 1\r\n/, 'one Content-Length, where the first was, for equal values listed or repeated');
  assert.equal(listed.head.match(/content-length/gi)?.length, 1);
  for (const path of ['/dup', '/both', '/switch', '/status']) {
    const r = await through(port, `${origin.base}${path}`);
    assert.equal(r.status, 502, path);
    assert.match(r.body.toString(), /GATEWAY_PROXY_UPSTREAM/, path);
  }
  assert.deepEqual(
    sent.slice(0, 3).map((s) => s.status),
    [200, 200, 200],
  );
});

test('pass client: HEAD, 204 and 304 end at their heads whatever their framing says, and the connection to the origin is kept alive between requests', { timeout: 30_000 }, async (t) => {
  const origin = await rawOrigin(
    t,
    {
      '/head': 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n',
      '/none': 'HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n',
      '/same': 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nTransfer-Encoding: chunked\r\n\r\n',
      '/ok': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    },
    false,
  );
  const { port } = await startPass(t);
  const h = await through(port, `${origin.base}/head`, 'HEAD');
  assert.equal(h.status, 200);
  assert.match(h.head, /content-length: 1000/i, "the GET's length");
  assert.equal(h.body.length, 0);
  const n = await through(port, `${origin.base}/none`);
  assert.equal(n.status, 204);
  assert.equal(n.body.length, 0);
  const s = await through(port, `${origin.base}/same`);
  assert.equal(s.status, 304);
  assert.equal(s.body.length, 0);
  const ok = await through(port, `${origin.base}/ok`);
  assert.equal(ok.body.toString(), 'ok');
  assert.equal(origin.connections(), 1, 'one connection to the origin for the four requests');
});

test('pass client: a program that stops reading holds the origin back (the proxy reads a bounded amount); reading again gets the body whole', { timeout: 60_000 }, async (t) => {
  const TOTAL = 96 * MIB;
  const block = Buffer.from(bytes(MIB, 43));
  let written = 0;
  let blocked = false;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': TOTAL });
    const more = (): void => {
      while (written < TOTAL) {
        written += block.length;
        if (!res.write(block)) {
          blocked = true;
          res.once('drain', () => {
            blocked = false;
            more();
          });
          return;
        }
      }
      res.end();
    };
    more();
  });
  const originPort = await listen(t, server);
  const { port } = await startPass(t);
  const s = connect(port, '127.0.0.1');
  t.after(() => s.destroy());
  s.write(`GET http://127.0.0.1:${originPort}/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  const first = await new Promise<Buffer>((resolve) =>
    s.once('data', (c: Buffer) => {
      s.pause();
      resolve(c);
    }),
  );
  // The origin blocked (its socket full) with no progress between two looks: the proxy stopped reading.
  let last = -1;
  await until('the origin to be held back', () => {
    const still = blocked && written === last;
    last = written;
    return still;
  }, 30_000);
  // Loopback's socket buffers (four of them between origin and program, a few MiB each) and the
  // proxy's own (5 × 256 KiB): far below the body. Unbounded, the proxy would have read it all.
  assert.ok(written < TOTAL / 2, `the origin sent ${written / MIB} MiB of ${TOTAL / MIB} to a program that reads nothing`);
  const body = bodyChecker(block);
  body.update(first);
  s.on('data', (c: Buffer) => body.update(c));
  s.resume();
  await new Promise<void>((r) => s.once('end', () => r()));
  assert.equal(body.length(), TOTAL, 'the body whole once the program reads');
  assert.ok(body.good(), 'byte-identical: no buffer was read into while its bytes were still being written');
});

/** A raw response's body checked to be `block` repeated as the bytes come (96 MiB are not kept). */
function bodyChecker(block: Buffer): { update(c: Buffer): void; length(): number; good(): boolean } {
  let head: Buffer | undefined = Buffer.alloc(0);
  let length = 0;
  let good = true;
  const check = (c: Buffer): void => {
    for (let i = 0; i < c.length; ) {
      const at = length % block.length;
      const n = Math.min(c.length - i, block.length - at);
      if (!c.subarray(i, i + n).equals(block.subarray(at, at + n))) good = false;
      i += n;
      length += n;
    }
  };
  return {
    update(c) {
      if (head === undefined) return check(c);
      head = Buffer.concat([head, c]);
      const split = head.indexOf('\r\n\r\n');
      if (split < 0) return;
      const rest = head.subarray(split + 4);
      head = undefined;
      check(rest);
    },
    length: () => length,
    good: () => good,
  };
}

test('pass client: a program that leaves mid-body closes the origin\'s connection', { timeout: 30_000 }, async (t) => {
  let closed = false;
  let originSocket: Socket | undefined;
  const server = createServer((_req, res) => {
    originSocket = res.socket ?? undefined;
    res.socket?.once('close', () => (closed = true));
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    // Endless, paced by its socket.
    const more = (): void => {
      while (res.write(Buffer.alloc(64 * 1024))) if (res.destroyed) return;
      res.once('drain', more);
    };
    more();
  });
  const originPort = await listen(t, server);
  const { port, sent } = await startPass(t);
  const s = connect(port, '127.0.0.1');
  s.write(`GET http://127.0.0.1:${originPort}/endless HTTP/1.1\r\nHost: x\r\n\r\n`);
  let got = 0;
  await new Promise<void>((resolve) =>
    s.on('data', (c: Buffer) => {
      got += c.length;
      if (got > MIB) resolve();
    }),
  );
  s.destroy();
  await until('the origin connection to close', () => closed, 10_000);
  await until('the pass-through to end', () => sent.length === 1, 10_000);
  assert.ok(originSocket !== undefined);
  assert.equal(sent[0]!.status, 200);
});

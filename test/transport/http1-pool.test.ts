/**
 * The transport's own HTTP/1.1 pool (src/transport/http1-pool.ts: HTTP peers, web seeds) against raw loopback servers:
 * keep-alive reuse, a stale kept-alive connection, each timeout, a hostile head, bytes that answer
 * nothing, TLS with `--cacert` / `-k` as the rest of the process has them (setClientTls).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { TorrenttpError } from '../../src/errors/index.js';
import { sharedReadBuffer } from '../../src/transport/accepted-reads.js';
import { setClientTls } from '../../src/transport/http-fetch.js';
import { acquireHttp1, Http1Pool, HTTP1_POOL_DEFAULTS, openHttp1Origins, type Http1Request } from '../../src/transport/http1-pool.js';
import { until } from '../helpers/processes.js';
import { selfSignedHttps } from '../helpers/tls.js';
import { withTempDir } from '../helpers/torrents.js';

interface Got {
  status?: number;
  body: Buffer;
  error?: TorrenttpError;
}

function get(pool: Http1Pool, req: Partial<Http1Request> = {}): Promise<Got> {
  return new Promise((resolve) => {
    const got: Got = { body: Buffer.alloc(0) };
    const parts: Buffer[] = [];
    pool.request(
      { path: '/x', headers: [], headersTimeoutMs: 5000, bodyTimeoutMs: 5000, ...req },
      {
        onHead: (h) => void (got.status = h.status),
        onData: (d) => void parts.push(Buffer.from(d)),
        onEnd: () => resolve({ ...got, body: Buffer.concat(parts) }),
        onError: (error) => resolve({ ...got, body: Buffer.concat(parts), error }),
      },
    );
  });
}

/** A raw server: `onRequest(socket, n, conn, head)` for each request head read on a connection (n from 1 a connection). */
async function rawServer(onRequest: (s: Socket, n: number, conn: number, head: string) => void): Promise<{ server: Server; url: URL; connections: () => number; open: () => number; close: () => Promise<void> }> {
  let conns = 0;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    const conn = ++conns;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = '';
    let n = 0;
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let i: number;
      while ((i = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, i);
        buf = buf.slice(i + 4);
        onRequest(s, ++n, conn, head);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return {
    server,
    url,
    connections: () => conns,
    /** Server sockets not yet closed. */
    open: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const ok = (body: string): string => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

test('keep-alive: answers in turn on one connection; at most `connections` sockets; a request waits for a free one', async () => {
  const srv = await rawServer((s, n) => s.write(ok(`answer ${n}`)));
  const pool = new Http1Pool(srv.url, { ...HTTP1_POOL_DEFAULTS, connections: 2 });
  try {
    assert.deepEqual((await get(pool)).body.toString(), 'answer 1');
    assert.deepEqual((await get(pool)).body.toString(), 'answer 2');
    assert.equal(srv.connections(), 1, 'the connection was reused');
    const all = await Promise.all([get(pool), get(pool), get(pool), get(pool)]);
    assert.ok(all.every((g) => g.status === 200 && g.error === undefined));
    assert.equal(srv.connections(), 2, 'never more than `connections`');
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test('held requests (long-polls) take at most `maxHeld` connections: the requests behind them go past on the others; holdFree says when one more would wait', async () => {
  // `/held` is answered only when the test says; anything else at once.
  const parked: Socket[] = [];
  let heldSeen = 0;
  const srv = await rawServer((s, _n, _conn, head) => {
    if (head.startsWith('GET /held ')) {
      heldSeen++;
      parked.push(s);
    } else s.write(ok('now'));
  });
  const pool = new Http1Pool(srv.url); // 4 connections, maxHeld 1
  try {
    assert.equal(pool.holdFree(), true);
    const held = [get(pool, { path: '/held', held: true })];
    assert.equal(pool.holdFree(), false, 'the one held request is waiting for its connection: a second would wait');
    // A second held request anyway, then a dozen answered at once: they go past it.
    held.push(get(pool, { path: '/held', held: true }));
    const quick = await Promise.all(Array.from({ length: 12 }, () => get(pool)));
    assert.ok(quick.every((g) => g.status === 200 && g.body.toString() === 'now'), 'every quick request answered while the held ones wait');
    assert.equal(heldSeen, 1, 'one held request written; the second waits for it');
    assert.ok(srv.connections() <= 4, `${srv.connections()} connections`);
    // The first answered: the second goes on a connection.
    parked.shift()!.write(ok('changed'));
    assert.equal((await held[0]!).body.toString(), 'changed');
    await until('the second held request, once the first was answered', () => heldSeen === 2, 5000);
    parked.shift()!.write(ok('changed again'));
    assert.equal((await held[1]!).body.toString(), 'changed again');
    assert.equal(pool.holdFree(), true);
  } finally {
    pool.destroy();
    await srv.close();
  }
  // Never every connection: a pool of one holds nothing.
  const one = new Http1Pool(srv.url, { ...HTTP1_POOL_DEFAULTS, connections: 1 });
  assert.equal(one.holdFree(), false, 'with one connection, none is for a held request');
  one.destroy();
});

test('a kept-alive connection the server closed as we wrote to it: the GET goes again on a new connection, once', async () => {
  const srv = await rawServer((s, n, conn) => {
    if (conn === 1 && n === 2) s.destroy(); // the server's idle timeout, as our second request came
    else s.write(ok(`c${conn}`));
  });
  const pool = new Http1Pool(srv.url);
  try {
    assert.equal((await get(pool)).body.toString(), 'c1');
    const again = await get(pool);
    assert.equal(again.error, undefined);
    assert.equal(again.body.toString(), 'c2');
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test('slow loris: a head a byte at a time fails at the head timeout; a body that stalls at the body timeout; the connection is closed', async () => {
  const srv = await rawServer((s, _n, conn) => {
    if (conn === 1) {
      const head = 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n';
      let i = 0;
      const t = setInterval(() => (i < head.length && !s.destroyed ? s.write(head[i++]!) : clearInterval(t)), 20);
      s.on('close', () => clearInterval(t));
    } else s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'); // then nothing
  });
  const pool = new Http1Pool(srv.url);
  try {
    const loris = await get(pool, { headersTimeoutMs: 200 });
    assert.equal(loris.error?.code, 'TRANSPORT_HTTP_TIMEOUT');
    assert.match(loris.error?.message ?? '', /headers timeout/);
    const stall = await get(pool, { bodyTimeoutMs: 200 });
    assert.equal(stall.error?.code, 'TRANSPORT_HTTP_TIMEOUT');
    assert.match(stall.error?.message ?? '', /body timeout/);
    assert.equal(stall.body.toString(), 'abc', 'what came was given as it came');
    assert.equal(pool.size, 0);
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test('hostile answers: endless headers, a wrong status line, a body longer than its Content-Length (in one read), an unknown coding: typed errors, the connection dropped', async () => {
  const answers = [
    `HTTP/1.1 200 OK\r\n${'X-Junk: aaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(2000)}`,
    'SSH-2.0-OpenSSH\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabcdef',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
  ];
  const srv = await rawServer((s, _n, conn) => s.write(answers[conn - 1]!));
  const pool = new Http1Pool(srv.url, { ...HTTP1_POOL_DEFAULTS, connections: 1 });
  try {
    assert.equal((await get(pool)).error?.code, 'TRANSPORT_HTTP1_HEAD_TOO_LARGE');
    assert.equal((await get(pool)).error?.code, 'TRANSPORT_HTTP1_BAD_STATUS_LINE');
    const long = await get(pool);
    assert.equal(long.error?.code, 'TRANSPORT_HTTP1_UNEXPECTED_BYTES', 'bytes past its Content-Length in the read that ended it: its length lied');
    assert.equal(long.body.toString(), 'ab', 'no byte past the Content-Length given');
    assert.equal((await get(pool)).error?.code, 'TRANSPORT_HTTP1_BAD_TRANSFER_ENCODING', 'the bytes after it answered nothing: that connection was dropped');
    assert.equal(srv.connections(), 4);
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test('a body longer than its Content-Length with a whole answer after it in the same read: the first request fails, the waiting one never gets the smuggled answer', async () => {
  const srv = await rawServer((s, _n, conn) => {
    if (conn === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil');
    else s.write(ok('real'));
  });
  const pool = new Http1Pool(srv.url, { ...HTTP1_POOL_DEFAULTS, connections: 1 });
  try {
    const [first, second] = await Promise.all([get(pool), get(pool)]);
    assert.equal(first.error?.code, 'TRANSPORT_HTTP1_UNEXPECTED_BYTES');
    assert.equal(first.body.toString(), 'ab');
    assert.equal(second.error, undefined);
    assert.equal(second.body.toString(), 'real');
    assert.equal(srv.connections(), 2);
    await until('the first connection closed at both ends', () => srv.open() === 1 && pool.size === 1, 5000);
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test('an unsolicited answer on an idle kept-alive connection closes it (both ends); the next request goes on a new connection and never gets it', async () => {
  const sockets: Socket[] = [];
  const srv = await rawServer((s, _n, conn) => {
    sockets[conn - 1] = s;
    s.write(ok(`c${conn}`));
  });
  const pool = new Http1Pool(srv.url);
  try {
    assert.equal((await get(pool)).body.toString(), 'c1');
    assert.equal(pool.size, 1, 'kept alive');
    sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil');
    await until('the idle connection closed at both ends', () => pool.size === 0 && srv.open() === 0, 5000);
    const next = await get(pool);
    assert.equal(next.error, undefined);
    assert.equal(next.body.toString(), 'c2');
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test('the server closes within the body (a FIN within a Content-Length body on a reused connection, within a chunk, between chunks): TRUNCATED, never retried nor ended as whole; every socket closed', async () => {
  const srv = await rawServer((s, n, conn) => {
    if (conn === 1 && n === 1) s.write(ok('x'));
    else if (conn === 1) s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    else if (conn === 2) s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab');
    else s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n');
  });
  const pool = new Http1Pool(srv.url, { ...HTTP1_POOL_DEFAULTS, connections: 1 });
  try {
    assert.equal((await get(pool)).body.toString(), 'x');
    for (const [i, body] of ['abc', 'ab', 'ab'].entries()) {
      const got = await get(pool);
      assert.equal(got.error?.code, 'TRANSPORT_HTTP1_TRUNCATED', `answer ${i + 2}`);
      assert.equal(got.body.toString(), body, 'what came was given, once, no more');
    }
    assert.equal(srv.connections(), 3, 'the cut answer on the reused connection was not written again');
    await until('every connection closed at both ends', () => pool.size === 0 && srv.open() === 0, 5000);
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test('a server that answers before reading the whole request (part of it still unsent): the request fails (TRANSPORT_HTTP1_UNEXPECTED_BYTES), that connection is closed, never reused', async () => {
  let conns = 0;
  const held: Socket[] = [];
  const server = createServer((s) => {
    s.on('error', () => {});
    if (++conns === 1) {
      // Reads nothing: the 24 MiB request fills the socket buffers and waits in the client's.
      s.pause();
      held.push(s);
      s.write(ok('early'));
    } else {
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n\r\n')) s.write(ok('late'));
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const pool = new Http1Pool(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), { ...HTTP1_POOL_DEFAULTS, connections: 1 });
  try {
    const early = await get(pool, { headers: ['x-big', 'a'.repeat(24 << 20)] });
    assert.equal(early.error?.code, 'TRANSPORT_HTTP1_UNEXPECTED_BYTES');
    assert.match(early.error?.message ?? '', /before the request was written whole/);
    assert.equal(early.status, undefined, 'its head was not given');
    held[0]!.resume(); // drains, then sees the client's close
    await until('the early connection closed at both ends', () => pool.size === 0 && held[0]!.destroyed, 10_000);
    const next = await get(pool);
    assert.equal(next.body.toString(), 'late');
    assert.equal(conns, 2);
  } finally {
    pool.destroy();
    for (const s of held) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('a header name or value with a CR or LF (even as a CRLF pair) is refused before anything is written: no header injected', async () => {
  const heard: string[] = [];
  const srv = await rawServer((s) => s.write(ok('x')));
  srv.server.on('connection', (s: Socket) => s.on('data', (d: Buffer) => heard.push(d.toString('latin1'))));
  const pool = new Http1Pool(srv.url);
  try {
    for (const headers of [['if-none-match', '"a"\r\nx-injected: 1'], ['x-a\r\nx-injected', '1'], ['x-a', 'b\nc'], ['x-a', 'b\rc']]) {
      const r = await get(pool, { headers });
      assert.equal(r.error?.code, 'TRANSPORT_HTTP_FAILED', JSON.stringify(headers));
    }
    assert.equal((await get(pool, { headers: ['x-a', 'fine'] })).status, 200);
    assert.doesNotMatch(heard.join(''), /x-injected/i);
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test('an error thrown by the caller within onData fails the request with it; the connection is not reused', async () => {
  const srv = await rawServer((s) => s.write(ok('0123456789')));
  const pool = new Http1Pool(srv.url);
  try {
    const err = await new Promise<TorrenttpError>((resolve) => {
      pool.request({ path: '/', headers: [], headersTimeoutMs: 5000, bodyTimeoutMs: 5000 }, {
        onHead: () => {},
        onData: () => {
          throw Object.assign(new (class extends Error {})('stop'), { code: 'X' });
        },
        onEnd: () => assert.fail('no end'),
        onError: resolve,
      });
    });
    assert.equal(err.code, 'TRANSPORT_HTTP_FAILED');
    assert.equal((await get(pool)).status, 200);
    assert.equal(srv.connections(), 2);
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test('40 kept-alive connections, after a 300 KiB answer each, at once: every read lands in the one shared read buffer (none a connection), every body byte-identical', async () => {
  const CONNS = 40;
  const bodies = Array.from({ length: CONNS }, () => randomBytes(300 * 1024 + 11));
  // Each connection answers with its own body, written in pieces so that reads of all connections interleave.
  const srv = await rawServer((s, _n, conn) => {
    const body = bodies[conn - 1]!;
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    let at = 0;
    const next = (): void => {
      if (s.destroyed || at >= body.length) return;
      s.write(body.subarray(at, (at += 64 * 1024)));
      setImmediate(next);
    };
    next();
  });
  const pools = Array.from({ length: CONNS }, () => new Http1Pool(srv.url, { ...HTTP1_POOL_DEFAULTS, connections: 1 }));
  // Every ArrayBuffer a body chunk was a view of, each counted once: what the connections read into.
  const buffers = new Set<ArrayBufferLike>();
  try {
    const got = await Promise.all(
      pools.map(
        (pool) =>
          new Promise<Buffer>((resolve, reject) => {
            const parts: Buffer[] = [];
            pool.request({ path: '/', headers: [], headersTimeoutMs: 30_000, bodyTimeoutMs: 30_000 }, {
              onHead: () => {},
              onData: (d) => {
                buffers.add(d.buffer);
                parts.push(Buffer.from(d)); // valid only during the call: copied
              },
              onEnd: () => resolve(Buffer.concat(parts)),
              onError: reject,
            });
          }),
      ),
    );
    assert.equal(srv.connections(), CONNS);
    // Connection n's body is bodies[n - 1]; the pools connected in some order: match by content.
    const want = new Set(bodies.map((b) => b.toString('base64')));
    for (const g of got) assert.ok(want.delete(g.toString('base64')), 'a body byte-identical to one sent');
    assert.deepEqual([...buffers], [sharedReadBuffer().buffer], 'one read buffer for all connections, the wire sockets\' one (a buffer a connection: 40 x 256 KiB held)');
  } finally {
    for (const pool of pools) pool.destroy();
    await srv.close();
  }
});

test('https: the CAs given (--cacert) are trusted, node\'s default refuses a self-signed peer, -k skips the check', async (t) => {
  await withTempDir(t, async (dir) => {
    const { origin, cert } = await selfSignedHttps(t, dir, (_req, res) => res.end('secret'));
    const url = new URL(origin);
    try {
      for (const [tls, want] of [[{}, 'TRANSPORT_HTTP_FAILED'], [{ ca: readFileSync(cert) }, 'secret'], [{ rejectUnauthorized: false }, 'secret']] as const) {
        setClientTls(tls);
        const pool = new Http1Pool(url);
        const got = await get(pool);
        pool.destroy();
        assert.equal(got.error?.code ?? got.body.toString(), want, JSON.stringify(Object.keys(tls)));
      }
    } finally {
      setClientTls({});
    }
  });
});

test('acquireHttp1: one pool per origin and group (web seeds apart from HTTP peers), released at the last holder; a URL that is not http(s) is TRANSPORT_HTTP_FAILED', () => {
  const a = acquireHttp1('http://127.0.0.1:9/a/b');
  const b = acquireHttp1('http://127.0.0.1:9/c?d');
  const w = acquireHttp1('http://127.0.0.1:9/e', { group: 'webseed', connections: 2 });
  const w2 = acquireHttp1('http://127.0.0.1:9/f', { group: 'webseed' });
  try {
    assert.equal(a.pool, b.pool, 'one origin, one pool');
    assert.notEqual(a.pool, w.pool, 'a web seed does not wait for an HTTP peer\'s connections');
    assert.equal(w.pool, w2.pool);
    assert.equal(w.pool.opts.connections, 2, 'the first holder\'s count');
    assert.deepEqual(openHttp1Origins().sort(), ['http://127.0.0.1:9', 'http://127.0.0.1:9']);
  } finally {
    for (const l of [a, b, w, w2]) l.release();
    a.release(); // idempotent
  }
  assert.deepEqual(openHttp1Origins(), []);
  for (const bad of ['ftp://127.0.0.1/x', 'not a url']) assert.throws(() => acquireHttp1(bad), (e: TorrenttpError) => e.code === 'TRANSPORT_HTTP_FAILED', bad);
});

/**
 * http-fetch.ts's `reusedReads` pools (the HTTP peer's): sockets read into one reused buffer
 * (a second when undici holds views of the first).
 * A buffer must never be read into again while undici still holds a view of it:
 * - the head of a response: undici keeps header names and values as views of the read they came
 *   in until the head ends. A raw server here writes heads in many small writes (a header per
 *   write, or a byte per write), each after the client had a turn to read the last;
 * - the socket's stream: undici paused by its handler puts the rest of a read back into the
 *   socket (`unshift`) while more reads come in. A chunked body, several chunks per write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { getHeapStatistics } from 'node:v8';
import type { Dispatcher } from 'undici';
import { acquireOrigin, type OriginLease } from '../../src/transport/index.js';
import { FIRST_READ_BYTES, REUSED_READ_BYTES } from '../../src/transport/reused-reads.js';

type Segments = readonly (string | Uint8Array)[];

/** A turn of the event loop and a little more: the client reads what was written before it. */
const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 2));

/**
 * A raw HTTP/1.1 server on loopback: the n-th request (from 0, over all connections) is answered
 * with `reply(n)`, one write per segment, a turn apart. `written` counts writes so far.
 */
async function rawServer(reply: (n: number) => Segments): Promise<{ url: string; connections: () => number; written: () => number; close: () => Promise<void> }> {
  let requests = 0;
  let connections = 0;
  let written = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    let answering = Promise.resolve();
    socket.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        pending = pending.slice(end + 4);
        const segments = reply(requests++);
        answering = answering.then(async () => {
          for (const s of segments) {
            if (socket.destroyed) return;
            socket.write(s);
            written++;
            await turn();
          }
        });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    connections: () => connections,
    written: () => written,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

interface Got {
  status: number;
  headers: [string, string][];
  body: Buffer;
}

/**
 * One GET on the lease's dispatcher; heads and body copied as they come (the contract of a
 * `reusedReads` pool). `onChunk` may pause undici: it gets the resume function.
 */
function get(lease: OriginLease, url: string, path: string, onChunk?: (resume: () => void, chunk: Uint8Array) => boolean): Promise<Got> {
  return new Promise<Got>((resolve, reject) => {
    const got: Got = { status: 0, headers: [], body: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    let resume: () => void = () => {};
    const handler: Dispatcher.DispatchHandler = {
      onConnect: () => {},
      onHeaders: (status, raw, r) => {
        if (status < 200) return true; // an interim head (103): not the answer
        got.status = status;
        const h = raw as Buffer[];
        for (let i = 0; i + 1 < h.length; i += 2) got.headers.push([h[i]!.toString('latin1'), h[i + 1]!.toString('latin1')]);
        resume = r;
        return true;
      },
      onData: (chunk) => {
        chunks.push(Buffer.from(chunk)); // a copy, within the call
        return onChunk === undefined ? true : onChunk(resume, chunk);
      },
      onComplete: () => resolve({ ...got, body: Buffer.concat(chunks) }),
      onError: reject,
    };
    lease.dispatcher.dispatch({ origin: new URL(url).origin, path, method: 'GET' }, handler);
  });
}

/** `len` bytes of a pattern of its own for response `n`. */
function bodyOf(n: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + n * 7 + (i >>> 8)) & 0xff;
  return b;
}

/** One segment per header line (the status line first, the blank line last). */
const perHeader = (status: string, headers: readonly (readonly [string, string])[]): string[] => [
  `HTTP/1.1 ${status}\r\n`,
  ...headers.map(([n, v]) => `${n}: ${v}\r\n`),
  '\r\n',
];
/** One segment per byte. */
const perByte = (s: string): string[] => [...s];
/** `body` in `parts` segments. */
const split = (body: Buffer, parts: number): Buffer[] => Array.from({ length: parts }, (_, i) => body.subarray(Math.floor((i * body.length) / parts), Math.floor(((i + 1) * body.length) / parts)));


/** A loopback HTTP server answering every request with `body` and `headers`; `close` ends its connections. */
async function bodyServer(body: Uint8Array, headers: Record<string, string> = {}): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(body.length), ...headers });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test('reusedReads: heads that come in many reads (a header or a byte per read, an interim 103, a 12 KiB head) keep every header, over one keep-alive connection', async () => {
  const pads = Array.from({ length: 24 }, (_, i) => [`X-Pad-${i}`, String.fromCharCode(97 + i).repeat(480)] as const);
  const replies: { status: string; code: number; headers: (readonly [string, string])[]; body: Buffer; segments: (head: string[], body: Buffer) => Segments }[] = [
    {
      status: '206 Partial Content',
      code: 206,
      headers: [
        ['ETag', '"v1-0123456789abcdef"'],
        ['Retry-After', '120'],
        ['Content-Range', 'bytes 100-299/1000'],
        ['X-Filler', 'q'.repeat(60)],
        ['Content-Length', '200'],
      ],
      body: bodyOf(0, 200),
      segments: (head, body) => [...head, ...split(body, 3)],
    },
    {
      status: '200 OK',
      code: 200,
      headers: [
        ['X', '7'], // one byte each: the views undici keeps when a head comes a byte per read
        ['ETag', '"b"'],
        ['Y', 'z'],
        ['Content-Length', '50'],
      ],
      body: bodyOf(1, 50),
      segments: (head, body) => [...perByte(head.join('')), body],
    },
    {
      status: '206 Partial Content',
      code: 206,
      headers: [
        ['Content-Range', 'bytes 0-99/1000'],
        ['ETag', '"after-103"'],
        ['Content-Length', '100'],
      ],
      body: bodyOf(2, 100),
      segments: (head, body) => ['HTTP/1.1 103 Early Hints\r\nLink: </p>; rel=preload\r\n\r\n', ...head, body],
    },
    {
      status: '503 Service Unavailable',
      code: 503,
      headers: [
        ['Retry-After', '30'],
        ['Content-Type', 'application/problem+json'],
        ['Content-Length', '20'],
      ],
      body: Buffer.from('{"code":"X","n":123}'),
      segments: (head, body) => [...head, body],
    },
    {
      status: '200 OK',
      code: 200,
      headers: [...pads, ['Content-Length', '4000']],
      body: bodyOf(4, 4000),
      // 12 KiB of head in 1 KiB writes: views of one read wait for many more
      segments: (head, body) => {
        const h = head.join('');
        return [...Array.from({ length: Math.ceil(h.length / 1024) }, (_, i) => h.slice(i * 1024, (i + 1) * 1024)), ...split(body, 4)];
      },
    },
  ];
  const server = await rawServer((n) => {
    const r = replies[n % replies.length]!;
    return r.segments(perHeader(r.status, r.headers), r.body);
  });
  const lease = await acquireOrigin(server.url, { connections: 1, reusedReads: true });
  try {
    for (let round = 0; round < 2; round++) {
      for (const [i, r] of replies.entries()) {
        const got = await get(lease, server.url, `/${round}/${i}`);
        assert.equal(got.status, r.code, `response ${i}: status`);
        assert.deepEqual(got.headers, r.headers.map(([n, v]) => [n, v]), `response ${i}: headers as sent`);
        assert.ok(got.body.equals(r.body), `response ${i}: body as sent`);
      }
    }
    assert.equal(server.connections(), 1, 'all over one keep-alive connection');
  } finally {
    lease.release();
    await server.close();
  }
});

test('reusedReads: a chunked body read while undici is paused, more reads coming in meanwhile, arrives byte-identical', async () => {
  // Each write holds several chunks: undici, paused after the first, puts the rest of the read
  // back into the socket, which goes on reading the next writes (each small: under the stream's
  // high-water mark) behind it.
  const writes = 12;
  const perWrite = 6;
  const chunkBytes = 100;
  const body = bodyOf(9, writes * perWrite * chunkBytes);
  const segments: (string | Buffer)[] = ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: "c"\r\n\r\n'];
  for (let w = 0; w < writes; w++) {
    const parts: Buffer[] = [];
    for (let c = 0; c < perWrite; c++) {
      const at = (w * perWrite + c) * chunkBytes;
      parts.push(Buffer.from(`${chunkBytes.toString(16)}\r\n`), body.subarray(at, at + chunkBytes), Buffer.from('\r\n'));
    }
    segments.push(Buffer.concat(parts));
  }
  segments.push('0\r\n\r\n');
  const server = await rawServer(() => segments);
  const lease = await acquireOrigin(server.url, { connections: 1, reusedReads: true });
  try {
    for (let round = 0; round < 2; round++) {
      const got = await get(lease, server.url, `/${round}`, (resume) => {
        // Paused until the server has written two more times (and the client had a turn to read them).
        const until = server.written() + 2;
        const wait = (): void => {
          if (server.written() >= until || server.written() >= segments.length * (round + 1)) void turn().then(resume);
          else setTimeout(wait, 1);
        };
        wait();
        return false;
      });
      assert.equal(got.status, 200);
      assert.deepEqual(got.headers, [['Transfer-Encoding', 'chunked'], ['ETag', '"c"']]);
      assert.equal(got.body.length, body.length);
      assert.ok(got.body.equals(body), 'every byte as sent');
    }
  } finally {
    lease.release();
    await server.close();
  }
});

test('reusedReads: a 6 MiB body read while undici pauses after every chunk arrives byte-identical', async () => {
  const body = new Uint8Array(6 * 1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >>> 13)) & 0xff;
  const server = await bodyServer(body);
  const url = server.url;
  const lease = await acquireOrigin(url, { reusedReads: true });
  try {
    const got = await get(lease, url, '/', (resume) => {
      setImmediate(resume);
      return false;
    });
    assert.equal(got.body.length, body.length);
    assert.ok(got.body.equals(Buffer.from(body)), 'every byte as sent');
  } finally {
    lease.release();
    await server.close();
  }
});

/**
 * `count` GETs of `body` (with `headers`) over one reusedReads connection, each checked whole and by
 * `check`: the sizes of the buffers their body chunks were views of, in order of first use.
 */
async function bufferSizes(body: Buffer, count: number, headers: Record<string, string> = {}, check: (got: Got) => void = () => {}): Promise<number[]> {
  const server = await bodyServer(body, headers);
  const url = server.url;
  const lease = await acquireOrigin(url, { connections: 1, reusedReads: true });
  try {
    const buffers = new Set<ArrayBufferLike>();
    for (let i = 0; i < count; i++) {
      const got = await get(lease, url, `/${i}`, (_resume, chunk) => {
        buffers.add(chunk.buffer);
        return true;
      });
      check(got);
      assert.ok(got.body.equals(body), 'every byte as sent');
    }
    return [...buffers].map((b) => b.byteLength);
  } finally {
    lease.release();
    await server.close();
  }
}

test('reusedReads: ordinary responses over one connection are read into one reused buffer, none copied (undici parses each read before the next)', async () => {
  const sizes = await bufferSizes(bodyOf(5, 3 * 1024 * 1024), 4, { etag: '"o"' }, (got) => assert.deepEqual(got.headers.find(([n]) => n.toLowerCase() === 'etag'), ['etag', '"o"']));
  // The connection's small first buffer until a read filled it, then the one full-size buffer.
  assert.deepEqual(sizes, [FIRST_READ_BYTES, REUSED_READ_BYTES], 'every chunk a view of the one reused buffer');
});

test('reusedReads: a connection that carries only small answers (a have-set long-poll) keeps its small first buffer; one whose read fills it gets the full-size one', async () => {
  assert.deepEqual(await bufferSizes(bodyOf(6, 600), 5), [FIRST_READ_BYTES], 'small answers: the small buffer alone');
});

test('reusedReads: undici’s parser stays on V8’s baseline compiler: hundreds of responses, and V8’s compiler memory never peaks the ~35 MiB an optimising compile of llhttp takes', async () => {
  const server = await bodyServer(Buffer.alloc(1024));
  const url = server.url;
  const lease = await acquireOrigin(url, { connections: 1, reusedReads: true });
  try {
    // ~500 responses make the parser hot enough for V8 to optimise it (peak_malloced_memory 38 MiB).
    for (let i = 0; i < 800; i++) assert.equal((await get(lease, url, `/${i}`)).body.length, 1024);
    await new Promise((r) => setTimeout(r, 200)); // a background compile would have begun by now
    const peak = getHeapStatistics().peak_malloced_memory;
    assert.ok(peak < 16 * 1024 * 1024, `V8 peaked at ${(peak / 1048576).toFixed(1)} MiB of compiler memory`);
  } finally {
    lease.release();
    await server.close();
  }
});

test('reusedReads: trailers of a chunked body that come a line per read are whole when the message ends (undici keeps them as views until then)', async () => {
  const trailers = Array.from({ length: 6 }, (_, i) => [`x-t${i}`, `${String(i).repeat(40)}`] as const);
  const server = await rawServer(() => [
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-t0\r\n\r\n',
    '5\r\nhello\r\n',
    '0\r\n',
    ...trailers.map(([n, v]) => `${n}: ${v}\r\n`),
    '\r\n',
  ]);
  const lease = await acquireOrigin(server.url, { connections: 1, reusedReads: true });
  try {
    for (let round = 0; round < 2; round++) {
      const got = await new Promise<{ body: string; trailers: string[] }>((resolve, reject) => {
        let body = '';
        lease.dispatcher.dispatch({ origin: new URL(server.url).origin, path: '/', method: 'GET' }, {
          onConnect: () => {},
          onHeaders: () => true,
          onData: (chunk) => {
            body += Buffer.from(chunk).toString('latin1');
            return true;
          },
          onComplete: (raw) => resolve({ body, trailers: ((raw ?? []) as unknown as Buffer[]).map((b) => Buffer.from(b).toString('latin1')) }),
          onError: reject,
        });
      });
      assert.equal(got.body, 'hello');
      assert.deepEqual(got.trailers, trailers.flat(), 'every trailer as sent');
    }
  } finally {
    lease.release();
    await server.close();
  }
});

test('reusedReads: a handler of undici’s newer kind (onResponseStart, onResponseData) is watched too: its bodies are read into the one buffer', async () => {
  const body = bodyOf(9, 2 * 1024 * 1024);
  const server = await bodyServer(body);
  const url = server.url;
  const lease = await acquireOrigin(url, { connections: 1, reusedReads: true });
  try {
    const buffers = new Set<ArrayBufferLike>();
    for (let i = 0; i < 3; i++) {
      const chunks: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        lease.dispatcher.dispatch({ origin: new URL(url).origin, path: `/${i}`, method: 'GET' }, {
          onRequestStart: () => {},
          onResponseStart: () => {},
          onResponseData: (_c, chunk) => {
            buffers.add(chunk.buffer);
            chunks.push(Buffer.from(chunk));
          },
          onResponseEnd: () => resolve(),
          onResponseError: (_c, err) => reject(err),
        });
      });
      assert.ok(Buffer.concat(chunks).equals(body));
    }
    assert.deepEqual([...buffers].map((b) => b.byteLength), [FIRST_READ_BYTES, REUSED_READ_BYTES], 'views of the one reused buffer, none copied');
  } finally {
    lease.release();
    await server.close();
  }
});

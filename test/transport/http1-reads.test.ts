/**
 * The pool's own read buffers (`ownReads`, src/transport/http1-reads.ts), what the proxy's
 * pass-through reads with: body bytes stay valid until the caller lets go of them, a connection
 * stops reading while it holds `maxBusyBuffers` of them and reads again when one is let go; and
 * the pool's other pass-through options: HEAD, `extraBytes: 'drop'`, no timeout (`Infinity`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { TorrenttpError } from '../../src/errors/index.js';
import { Http1Pool, HTTP1_POOL_DEFAULTS, type Http1Request } from '../../src/transport/http1-pool.js';
import { BUFFER_BYTES, SPARE_BUFFERS, spareReadBuffers } from '../../src/transport/http1-reads.js';
import { bytes } from '../helpers/torrents.js';
import { until } from '../helpers/processes.js';

const MIB = 1024 * 1024;

/** A raw server answering each request head with `answer(head, socket)`; counts connections and open sockets. */
async function rawServer(answer: (head: string, s: Socket) => void): Promise<{ url: URL; heads: string[]; connections: () => number; open: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let i: number;
      while ((i = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, i);
        buf = buf.slice(i + 4);
        heads.push(head);
        answer(head, s);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    heads,
    connections: () => connections,
    open: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const OWN = { ...HTTP1_POOL_DEFAULTS, ownReads: { maxBusyBuffers: 2 } };

interface Held {
  status?: number;
  /** From now on each view is counted (`at`), given to `seen` and let go at once, as a fast program's writes would. */
  letGo?: (v: Uint8Array) => void;
  views: Uint8Array[];
  releases: (() => void)[];
  ended: boolean;
  error?: TorrenttpError;
}

/** A request whose body views are kept (not copied) and not let go until the test says. */
function hold(pool: Http1Pool, req: Partial<Http1Request> = {}): { held: Held; done: Promise<void> } {
  const held: Held = { views: [], releases: [], ended: false };
  const done = new Promise<void>((resolve) =>
    pool.request(
      { path: '/x', headers: [], headersTimeoutMs: Infinity, bodyTimeoutMs: Infinity, ...req },
      {
        onHead: (h) => void (held.status = h.status),
        onData: (d, release) => {
          assert.ok(release !== undefined, 'ownReads: a release for every view');
          if (held.letGo !== undefined) {
            held.letGo(d);
            release();
            return;
          }
          held.views.push(d);
          held.releases.push(release);
        },
        onEnd: () => {
          held.ended = true;
          resolve();
        },
        onError: (error) => {
          held.error = error;
          resolve();
        },
      },
    ),
  );
  return { held, done };
}

const delivered = (h: Held): number => h.views.reduce((n, v) => n + v.length, 0);

test('ownReads: a connection whose caller holds maxBusyBuffers of its buffers stops reading; letting go reads on; every view kept stays intact', { timeout: 60_000 }, async () => {
  const TOTAL = 64 * MIB;
  const data = Buffer.from(bytes(TOTAL, 51));
  let written = 0;
  let blocked = false;
  const srv = await rawServer((_head, s) => {
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${TOTAL}\r\n\r\n`);
    const more = (): void => {
      while (written < TOTAL) {
        const n = Math.min(MIB, TOTAL - written);
        const room = s.write(data.subarray(written, written + n));
        written += n;
        if (!room) {
          blocked = true;
          s.once('drain', () => {
            blocked = false;
            more();
          });
          return;
        }
      }
    };
    more();
  });
  const pool = new Http1Pool(srv.url, OWN);
  try {
    const { held, done } = hold(pool);
    let last = -1;
    await until('the server held back', () => {
      const still = blocked && delivered(held) === last && delivered(held) > 0;
      last = delivered(held);
      return still;
    }, 30_000);
    assert.ok(delivered(held) <= OWN.ownReads.maxBusyBuffers * BUFFER_BYTES, `${delivered(held)} bytes read while ${OWN.ownReads.maxBusyBuffers} buffers are held`);
    assert.equal(held.ended, false);
    // Let go of everything read so far, checking it first: nothing was read into a held buffer.
    const check = (): void => {
      let at = 0;
      for (const v of held.views) {
        assert.ok(Buffer.from(v.buffer, v.byteOffset, v.length).equals(data.subarray(at, at + v.length)), `bytes ${at}.. intact while held`);
        at += v.length;
      }
    };
    check();
    let at = delivered(held);
    held.letGo = (v) => {
      assert.ok(Buffer.from(v.buffer, v.byteOffset, v.length).equals(data.subarray(at, at + v.length)), `bytes ${at}..`);
      at += v.length;
    };
    for (const r of held.releases.splice(0)) r();
    await done;
    assert.equal(held.error, undefined);
    assert.equal(at, TOTAL, 'the body whole once let go');
    assert.ok(spareReadBuffers() <= SPARE_BUFFERS);
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test('ownReads: the first read of an answer on a kept-alive connection (into the shared buffer) is a copy, valid after other reads', { timeout: 10_000 }, async () => {
  const srv = await rawServer((head, s) => {
    const body = head.includes('/a') ? 'a'.repeat(1000) : 'b'.repeat(1000);
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
  const pool = new Http1Pool(srv.url, OWN);
  try {
    const one = hold(pool, { path: '/a' });
    await one.done;
    const two = hold(pool, { path: '/b' });
    await two.done;
    const three = hold(pool, { path: '/a' });
    await three.done;
    assert.equal(srv.connections(), 1, 'kept alive');
    const text = (h: Held): string => Buffer.concat(h.views).toString();
    assert.equal(text(one.held), 'a'.repeat(1000));
    assert.equal(text(two.held), 'b'.repeat(1000), 'not overwritten by the third answer');
    assert.equal(text(three.held), 'a'.repeat(1000));
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test('ownReads: an answer that waits for a connection whose last answer\'s buffers are all held is not held back by them', { timeout: 10_000 }, async () => {
  const srv = await rawServer((head, s) => {
    const body = head.includes('/a') ? 'a'.repeat(1000) : 'b'.repeat(1000);
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
  // One connection, one busy buffer at most: the first answer's, held to the end, fills it.
  const pool = new Http1Pool(srv.url, { ...OWN, connections: 1, ownReads: { maxBusyBuffers: 1 } });
  try {
    const one = hold(pool, { path: '/a' });
    const two = hold(pool, { path: '/b' });
    await one.done;
    await until('the second answer, on the same connection, while the first is held', () => two.held.ended, 5000);
    assert.equal(Buffer.concat(one.held.views).toString(), 'a'.repeat(1000));
    assert.equal(Buffer.concat(two.held.views).toString(), 'b'.repeat(1000));
    assert.equal(srv.connections(), 1);
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test('HEAD: the request line says so and the answer ends at its head (its Content-Length is the GET\'s); the connection is reused', { timeout: 10_000 }, async () => {
  const srv = await rawServer((head, s) => {
    if (head.startsWith('HEAD ')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n');
    else s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const pool = new Http1Pool(srv.url, OWN);
  try {
    const h = hold(pool, { method: 'HEAD' });
    await h.done;
    assert.equal(h.held.error, undefined);
    assert.equal(delivered(h.held), 0);
    const g = hold(pool);
    await g.done;
    assert.equal(Buffer.concat(g.held.views).toString(), 'ok');
    assert.match(srv.heads[0]!, /^HEAD \/x HTTP\/1\.1\r\n/);
    assert.equal(srv.connections(), 1);
  } finally {
    pool.destroy();
    await srv.close();
  }
});

test("extraBytes 'drop': bytes past the Content-Length in the read that ended it end the answer as framed, and close the connection", { timeout: 10_000 }, async () => {
  const srv = await rawServer((_head, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabcdef'));
  const pool = new Http1Pool(srv.url, OWN);
  try {
    const r = hold(pool, { extraBytes: 'drop' });
    await r.done;
    assert.equal(r.held.error, undefined);
    assert.equal(r.held.ended, true);
    assert.equal(Buffer.concat(r.held.views).toString(), 'ab');
    await until('the connection closed at both ends', () => pool.size === 0 && srv.open() === 0, 5000);
    const f = hold(pool);
    await f.done;
    assert.equal(f.held.error?.code, 'TRANSPORT_HTTP1_UNEXPECTED_BYTES', "the default still fails it");
  } finally {
    pool.destroy();
    await srv.close();
  }
});

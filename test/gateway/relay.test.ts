/**
 * `relay` (the proxy's pass-through bodies): the chunks of one event-loop turn go out as one
 * socket write, the bytes whole and in order; a body that fails cuts the response, and a program
 * that leaves stops the body.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { relay, relaySink, type RelaySink } from '../../src/gateway/relay.js';
import { bytes } from '../helpers/torrents.js';

const CHUNK = 64 * 1024;
const CHUNKS = 8;

interface Served {
  url: string;
  /** Writes of the response's socket after its head. */
  writes: () => number;
  /** `done`'s error, once relay ended. */
  ended: Promise<Error | undefined>;
}

/** A server whose one response's body `start` sends; counts its socket's writes after the head. */
async function serveWith(t: TestContext, length: number | undefined, start: (res: ServerResponse, settle: (err: Error | undefined) => void) => void): Promise<Served> {
  let writes = 0;
  let settle: (err: Error | undefined) => void = () => undefined;
  const ended = new Promise<Error | undefined>((r) => (settle = r));
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, length === undefined ? {} : { 'content-length': length });
    res.flushHeaders();
    const socket = res.socket as Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    const write = socket._write.bind(socket);
    const writev = socket._writev.bind(socket);
    socket._write = (...a: unknown[]) => (writes++, write(...a));
    socket._writev = (...a: unknown[]) => (writes++, writev(...a));
    start(res, settle);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, writes: () => writes, ended };
}

function serve(t: TestContext, body: Readable, length: number | undefined): Promise<Served> {
  return serveWith(t, length, (res, settle) => relay(body, res, () => undefined, settle));
}

/**
 * A body whose chunks come from separate callbacks of one turn, as a fast origin's reads do:
 * immediates queued together, which run in one check phase (timers of the same time did not
 * always: under load the loop that set them could cross a millisecond, and they then ran in two
 * turns, a CI failure with 3 writes).
 */
function turnBody(data: Uint8Array, fail = false): Readable {
  let started = false;
  // From the first read on (the relay's), not before: else they would wait in the stream's buffer.
  const body = new Readable({
    read() {
      if (started) return;
      started = true;
      for (let i = 0; i < CHUNKS; i++) setImmediate(() => this.push(data.subarray(i * CHUNK, (i + 1) * CHUNK)));
      setImmediate(() => (fail ? this.destroy(new Error('origin reset')) : this.push(null)));
    },
  });
  return body;
}

function fetchAll(url: string): Promise<{ res: IncomingMessage; body: Buffer; error: Error | undefined }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ res, body: Buffer.concat(chunks), error: undefined }));
      res.once('error', (error) => resolve({ res, body: Buffer.concat(chunks), error }));
    }).once('error', reject);
  });
}

test('relay: the chunks of one turn go out as one write, whole and in order, Content-Length or chunked', { timeout: 30_000 }, async (t) => {
  const data = bytes(CHUNKS * CHUNK, 31);
  for (const length of [data.length, undefined]) {
    const s = await serve(t, turnBody(data), length);
    const r = await fetchAll(s.url);
    assert.equal(r.error, undefined);
    assert.ok(r.body.equals(Buffer.from(data)), 'byte-identical');
    assert.equal(r.res.headers['transfer-encoding'], length === undefined ? 'chunked' : undefined);
    assert.equal(await s.ended, undefined);
    // One write for the turn's 8 chunks (and one for the chunked end); one each was 8.
    assert.ok(s.writes() <= 2, `${s.writes()} socket writes for ${CHUNKS} chunks of one turn`);
  }
});

test('relay: a body that fails midway cuts the response (never a complete-looking body)', { timeout: 30_000 }, async (t) => {
  const data = bytes(CHUNKS * CHUNK, 32);
  const s = await serve(t, turnBody(data, true), data.length + 1);
  const r = await fetchAll(s.url);
  assert.ok(r.error !== undefined || r.body.length < data.length + 1, 'cut short');
  assert.equal((await s.ended)?.message, 'origin reset');
});

test('relay: a program that leaves stops the body', { timeout: 30_000 }, async (t) => {
  let reads = 0;
  // An endless body, as a stream the origin never ends.
  const body = new Readable({
    read() {
      reads++;
      setImmediate(() => this.push(Buffer.alloc(CHUNK)));
    },
  });
  const s = await serve(t, body, undefined);
  const req = get(s.url, (res) => res.once('data', () => req.destroy()));
  req.once('error', () => undefined);
  const err = await s.ended;
  assert.ok(err !== undefined, 'ended with an error');
  assert.ok(body.destroyed, 'the body is destroyed');
  const after = reads;
  await new Promise<void>((r) => setImmediate(r));
  assert.equal(reads, after, 'nothing read after');
});

test('relay: a program that does not read pauses the body, so what waits for it is bounded; the bytes whole once it reads', { timeout: 30_000 }, async (t) => {
  const total = 64 * 1024 * 1024;
  let produced = 0;
  const body = new Readable({
    read() {
      if (produced >= total) {
        this.push(null);
        return;
      }
      const chunk = Buffer.alloc(CHUNK, (produced / CHUNK) & 255);
      produced += CHUNK;
      setImmediate(() => this.push(chunk));
    },
  });
  const s = await serve(t, body, total);
  let res: IncomingMessage | undefined;
  const req = get(s.url, (r) => {
    r.pause();
    res = r;
  });
  req.once('error', () => undefined);
  // The program reads nothing: the relay pauses the body once the response is full, not after
  // all 64 MiB went into the response's buffer.
  for (let i = 0; !body.isPaused() && i < 10_000; i++) await new Promise<void>((r) => setTimeout(r, 1));
  assert.ok(body.isPaused(), `the body paused (${produced} bytes read)`);
  assert.ok(produced < total / 2, `${produced} of ${total} bytes read while the program read none`);
  let got = 0;
  let whole = true;
  res!.on('data', (c: Buffer) => {
    for (let i = 0; i < c.length; i += 4096) if (c[i] !== ((((got + i) / CHUNK) | 0) & 255)) whole = false;
    got += c.length;
  });
  res!.resume();
  await new Promise<void>((r) => res!.once('end', () => r()));
  assert.equal(got, total);
  assert.ok(whole, 'the bytes in order');
  assert.equal(await s.ended, undefined);
});

/** A server whose response gets `feed`'s calls on a `relaySink`; counts its socket's writes after the head. */
function serveSink(t: TestContext, length: number | undefined, feed: (sink: RelaySink) => void): Promise<Served> {
  return serveWith(t, length, (res, settle) => feed(relaySink(res, () => undefined, settle)));
}

test('relaySink: the chunks of one turn go out as one write, each let go once written; the end after the last', { timeout: 30_000 }, async (t) => {
  const data = bytes(CHUNKS * CHUNK, 33);
  for (const length of [data.length, undefined]) {
    let released = 0;
    const s = await serveSink(t, length, (sink) => {
      for (let i = 0; i < CHUNKS; i++) sink.push(data.subarray(i * CHUNK, (i + 1) * CHUNK), () => released++);
      sink.end();
    });
    const r = await fetchAll(s.url);
    assert.equal(r.error, undefined);
    assert.ok(r.body.equals(Buffer.from(data)), 'byte-identical');
    assert.equal(await s.ended, undefined);
    assert.equal(released, CHUNKS, 'every chunk let go once written');
    assert.ok(s.writes() <= 2, `${s.writes()} socket writes for ${CHUNKS} chunks of one turn`);
  }
});

test('relaySink: a body that fails cuts the response, never ended as complete', { timeout: 30_000 }, async (t) => {
  const data = bytes(CHUNK, 34);
  const s = await serveSink(t, undefined, (sink) => {
    sink.push(data);
    setImmediate(() => setImmediate(() => sink.fail(new Error('origin reset'))));
  });
  const r = await fetchAll(s.url);
  assert.ok(r.error !== undefined, 'the chunked body has no end: cut');
  assert.equal((await s.ended)?.message, 'origin reset');
});

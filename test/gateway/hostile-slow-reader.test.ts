/**
 * Clients that ask for a big file and then never read it (a slow-read attack): the server must not
 * hold their send buffers and descriptors for ever, and must keep serving others meanwhile.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { giveSpare, sendFileRange, SEND_CHUNK_BYTES, takeSpare } from '../../src/gateway/send-file.js';
import { canListFds, openFds } from '../helpers/fds.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { rawRequest, startGateway } from './helpers.js';

const MIB = 1024 * 1024;
const BIG = 48 * MIB;

/** A connection that sends `GET target` and stops reading at the first chunk of the answer. */
function stalledReader(port: number, target: string): { socket: Socket; started: Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  const started = new Promise<void>((resolve) =>
    socket.once('data', (c: Buffer) => {
      socket.pause();
      socket.unshift(c);
      resolve();
    }),
  );
  return { socket, started };
}

/** Everything the socket still delivers, until it ends or is reset. */
async function drain(socket: Socket): Promise<number> {
  let n = 0;
  socket.on('data', (c: Buffer) => (n += c.length));
  socket.resume();
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.once('end', () => resolve());
  });
  return n;
}

/** Polls `cond`; gives up when the test is cancelled (its timeout), so a failing run ends. */
const until = async (cond: () => boolean, signal: AbortSignal): Promise<void> => {
  while (!cond()) {
    signal.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

test('clients that stop reading a body are cut after the send timeout, their files closed, and others are served meanwhile', { timeout: 60_000, skip: !canListFds && 'needs /proc' }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    // Larger than loopback's socket buffers take, so the server is left holding unsent bytes.
    writeFileSync(join(root, 'big.bin'), bytes(BIG, 7));
    const small = bytes(100, 8);
    writeFileSync(join(root, 's.bin'), small);
    const g = await startGateway(t, { root, sendTimeoutMs: 1000 });
    const readers = Array.from({ length: 4 }, () => stalledReader(g.address.port, '/big.bin'));
    t.after(() => readers.forEach((r) => r.socket.destroy()));
    await Promise.all(readers.map((r) => r.started));
    const r = await rawRequest(g.address.port, '/s.bin');
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(small));
    // The responses hold the file open while they last: without a send timeout, for ever.
    const bigFds = (): number => openFds((p) => p.endsWith('/www/big.bin')).length;
    await until(() => bigFds() === 0, t.signal);
    for (const x of readers) assert.ok((await drain(x.socket)) < BIG, 'the body was cut short');
  }));

test('a response whose socket takes nothing holds one shared send buffer, not one per chunk in flight', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const path = join(dir, 'f.bin');
    writeFileSync(path, bytes(8 * SEND_CHUNK_BYTES, 9));
    const fd = openSync(path, 'r');
    t.after(() => closeSync(fd));
    const ours: Buffer[] = Array.from({ length: 8 }, () => Buffer.allocUnsafeSlow(SEND_CHUNK_BYTES));
    for (const b of ours) giveSpare(b);
    // A response over a socket that never takes a byte: writes are kept, their callbacks never run.
    const writes: Buffer[] = [];
    const res = Object.assign(new EventEmitter(), {
      writableNeedDrain: false,
      write(chunk: Buffer): boolean {
        writes.push(chunk);
        this.writableNeedDrain = true;
        return false;
      },
      end(): void {},
      destroy(): void {},
    });
    let done = false;
    sendFileRange(fd, 0, 8 * SEND_CHUNK_BYTES - 1, res as unknown as ServerResponse, path, () => (done = true));
    await until(() => writes.length >= 1, t.signal);
    // Taking a buffer for the next read is synchronous with the write: by now it would be gone.
    await new Promise((resolve) => setImmediate(resolve));
    const left: Buffer[] = [];
    for (let b = takeSpare(SEND_CHUNK_BYTES); ours.includes(b); b = takeSpare(SEND_CHUNK_BYTES)) left.push(b);
    assert.equal(left.length, ours.length - 1, 'only the buffer stuck in the socket is taken');
    for (const b of left) giveSpare(b);
    res.emit('close');
    await until(() => done, t.signal);
  }));

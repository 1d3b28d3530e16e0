/**
 * MSE at the socket: the listener against hostile or silent encrypted handshakes (a typed error
 * to its owner, nothing else), the dialer's `require` against a peer that answers garbage, and
 * an encrypted link carrying a whole torrent (blocks both ways through RC4 on both ends), the
 * batches a flush gathers (SealBatch), and RC4 on the cipher thread (Rc4Link, ByteRing, the pool).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { TorrenttpError } from '../../src/errors/index.js';
import { PeerListener, WireDialer, type IncomingPeerHandler, type WirePeerLink } from '../../src/transport/index.js';
import { EventEmitter } from 'node:events';
import type { WorkerPool } from '../../src/metainfo/index.js';
import { ByteRing, cipherPool, CipherSession } from '../../src/transport/cipher-pool.js';
import { copyBytes, type CipherResponse } from '../../src/transport/cipher-protocol.js';
import { cryptoSelect, MAX_DECRYPTING_BYTES, msePayload, PrefixedChunks, RC4_UPDATE_BYTES, Rc4Link, SealBatch, type BatchSink } from '../../src/transport/mse-stream.js';
import { dialWithReadBuffer, READ_BUFFER_BYTES, type SocketChunks } from '../../src/transport/socket-chunks.js';
import { MSE_PLAINTEXT, MSE_RC4, type MseSession } from '../../src/wire/index.js';
import { leech, listen, makeTorrent, peerId, Recorder, serve, wireTorrent } from './helpers.js';

function owner(full: boolean) {
  const { metainfo, data } = makeTorrent(256 * 1024 + 100, 16 * 1024);
  const rec = new Recorder();
  const links: WirePeerLink[] = [];
  const errors: TorrenttpError[] = [];
  const handler: IncomingPeerHandler = {
    admit: () => true,
    lookup: () => ({ torrent: wireTorrent(metainfo, full), opts: { peerId: peerId('listener'), onEvent: rec.handler }, attach: (l) => links.push(l), abandon: () => {} }),
    onError: (_remote, err) => errors.push(err),
    infoHashes: () => [wireTorrent(metainfo, full).infoHash],
  };
  return { metainfo, data, rec, links, errors, handler };
}

async function waitFor(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('listener: garbage that never syncs is WIRE_MSE_NO_SYNC; a silent half-handshake is TRANSPORT_HANDSHAKE_TIMEOUT', async () => {
  const o = owner(true);
  const listener = new PeerListener(o.handler, { host: '127.0.0.1', handshakeTimeoutMs: 400, encryption: 'prefer' });
  const port = await listener.listen();
  try {
    const garbage = connect(port, '127.0.0.1', () => garbage.write(randomBytes(700)));
    garbage.on('error', () => {});
    await waitFor('NO_SYNC', () => o.errors.some((e) => e.code === 'WIRE_MSE_NO_SYNC'));
    const silent = connect(port, '127.0.0.1', () => silent.write(randomBytes(96 + 100)));
    silent.on('error', () => {});
    await waitFor('the timeout', () => o.errors.some((e) => e.code === 'TRANSPORT_HANDSHAKE_TIMEOUT'));
    garbage.destroy();
    silent.destroy();
    assert.equal(o.links.length, 0);
  } finally {
    await listener.close();
  }
});

test('dialer, require: a peer that answers garbage fails with TRANSPORT_ENCRYPTION_FAILED (cause WIRE_MSE_NO_SYNC), and no plain retry', async () => {
  const { metainfo } = makeTorrent(64 * 1024, 16 * 1024);
  let connections = 0;
  const srv = await listen((s) => {
    connections++;
    s.on('error', () => {});
    s.once('data', () => s.write(randomBytes(1200)));
  });
  try {
    const dialer = new WireDialer({ peerId: peerId('d'), connectTimeoutMs: 5000, encryption: 'require' });
    const err = await dialer.dial(`127.0.0.1:${srv.port}`, wireTorrent(metainfo, false), new Recorder().handler).then(
      () => assert.fail('connected'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TorrenttpError);
    assert.equal(err.code, 'TRANSPORT_ENCRYPTION_FAILED');
    assert.equal((err.cause as TorrenttpError).code, 'WIRE_MSE_NO_SYNC');
    assert.equal(connections, 1);
  } finally {
    await srv.close();
  }
});

/** A whole torrent over one link, `listening` and `dialling` the two ends' policies: byte-identical, each end reporting `method`. */
async function wholeTorrent(listening: 'require' | 'off', dialling: 'require' | 'prefer', method: 'rc4' | 'plaintext'): Promise<WirePeerLink> {
  const o = owner(true);
  const listener = new PeerListener(o.handler, { host: '127.0.0.1', encryption: listening });
  const port = await listener.listen();
  const rec = new Recorder();
  const dialer = new WireDialer({ peerId: peerId('dialer'), connectTimeoutMs: 5000, encryption: dialling });
  const link = await dialer.dial({ ip: '127.0.0.1', port }, wireTorrent(o.metainfo, false), rec.handler);
  try {
    await waitFor('the listener side', () => o.links.length === 1);
    serve(o.links[0]!, o.rec, o.metainfo, o.data);
    const got = await leech(link, rec, o.metainfo);
    assert.deepEqual(Buffer.from(got), Buffer.from(o.data));
    assert.equal(link.encryption, method);
    assert.equal(o.links[0]!.encryption, method);
    return link;
  } finally {
    link.close();
    o.links.forEach((l) => l.close());
    await listener.close();
  }
}

test('an encrypted link (require on both ends) carries a whole torrent byte-identical, and says rc4', async () => {
  const link = await wholeTorrent('require', 'require', 'rc4');
  assert.equal(link.encrypted, true, 'BEP 11 added.f 0x01 for peers we pass on');
});

test('crypto_select: prefer and require take RC4 whenever offered; off takes plaintext whenever offered, RC4 only from a peer that offers nothing else', () => {
  const both = MSE_RC4 | MSE_PLAINTEXT;
  const table: [string, number, number | undefined][] = [];
  for (const policy of ['prefer', 'require', 'off'] as const) {
    for (const provide of [both, MSE_RC4, MSE_PLAINTEXT, 0]) table.push([policy, provide, cryptoSelect(policy)(provide)]);
  }
  assert.deepEqual(table, [
    ['prefer', both, MSE_RC4],
    ['prefer', MSE_RC4, MSE_RC4],
    ['prefer', MSE_PLAINTEXT, MSE_PLAINTEXT],
    ['prefer', 0, undefined],
    ['require', both, MSE_RC4],
    ['require', MSE_RC4, MSE_RC4],
    ['require', MSE_PLAINTEXT, undefined],
    ['require', 0, undefined],
    ['off', both, MSE_PLAINTEXT],
    ['off', MSE_RC4, MSE_RC4],
    ['off', MSE_PLAINTEXT, MSE_PLAINTEXT],
    ['off', 0, undefined],
  ]);
});

test('a prefer dialer at an off listener: an MSE handshake, then plaintext (no RC4 on the stream), a whole torrent byte-identical', async () => {
  await wholeTorrent('off', 'prefer', 'plaintext');
});

// ── RC4 on the cipher thread ─────────────────────────────────────────────────────────────

/** A reference RC4 keystream at `offset` past the 1024 discarded bytes (the spec's ENCRYPT). */
function reference(key: Uint8Array, offset: number): (b: Uint8Array) => Buffer {
  const c = createCipheriv('rc4', key, null);
  c.update(new Uint8Array(1024 + offset));
  return (b) => c.update(b);
}

/** An RC4 session whose keystreams stand at these offsets (as a handshake leaves them). */
function rc4Session(out: Uint8Array, outOffset: number, in_: Uint8Array, inOffset: number): MseSession {
  return {
    method: 'rc4',
    infoHash: new Uint8Array(20),
    encrypt: () => assert.fail('encrypt on the main thread'),
    decrypt: () => assert.fail('decrypt on the main thread'),
    handOff: () => ({ encrypt: { key: out, offset: outOffset }, decrypt: { key: in_, offset: inOffset } }),
  };
}

/** A connected pair over loopback: `near` as a dialled link reads it (one reused read buffer), `far` the raw other end. */
async function socketPair(): Promise<{ near: Socket; chunks: SocketChunks; far: Socket; close: () => Promise<void> }> {
  let far: Socket | undefined;
  const srv = await listen((s) => (far = s));
  const { socket: near, chunks } = dialWithReadBuffer('127.0.0.1', srv.port);
  await new Promise<void>((r) => near.once('connect', () => r()));
  await waitFor('the accept', () => far !== undefined);
  return {
    near,
    chunks,
    far: far!,
    close: async () => {
      near.destroy();
      far!.destroy();
      await srv.close();
    },
  };
}

test('SealBatch: the parts in the order added, in full batches (parts split across them), each part copied before add returns', () => {
  const sealed: Buffer[] = [];
  const sink: BatchSink = {
    openBatch: () => ({ bytes: new Uint8Array(RC4_UPDATE_BYTES), at: 0 }),
    sealBatch: (b, n) => sealed.push(Buffer.from(b.bytes.subarray(0, n))),
  };
  const seal = new SealBatch(sink);
  const parts: Buffer[] = [];
  const add = (n: number): void => {
    const part = randomBytes(n);
    parts.push(Buffer.from(part));
    seal.add(part);
    part.fill(0); // the caller may reuse or release it at once
  };
  for (let i = 0; i < 40; i++) {
    add(13);
    add(16 * 1024);
  }
  add(RC4_UPDATE_BYTES + 5000);
  add(17);
  seal.end();
  assert.equal(seal.pending, 0);
  const total = parts.reduce((n, p) => n + p.length, 0);
  assert.ok(Buffer.concat(sealed).equals(Buffer.concat(parts)), 'the batches are the parts, in order');
  assert.equal(sealed.length, Math.ceil(total / RC4_UPDATE_BYTES));
  assert.ok(sealed.slice(0, -1).every((w) => w.length === RC4_UPDATE_BYTES));
});

test('copyBytes: into and out of shared memory at an offset, as TypedArray.set would; an empty source copies nothing', () => {
  const shared = new Uint8Array(new SharedArrayBuffer(64));
  const plain = randomBytes(20);
  copyBytes(shared, plain, 7);
  assert.deepEqual(shared.subarray(7, 27), new Uint8Array(plain));
  assert.ok(shared.subarray(0, 7).every((b) => b === 0) && shared.subarray(27).every((b) => b === 0));
  const out = new Uint8Array(30);
  copyBytes(out, shared.subarray(7, 27), 5);
  assert.deepEqual(out.subarray(5, 25), new Uint8Array(plain));
  assert.ok(out.subarray(0, 5).every((b) => b === 0) && out.subarray(25).every((b) => b === 0));
  copyBytes(out, new Uint8Array(0), 30);
  assert.throws(() => copyBytes(out, plain, 20)); // past the end: an error, never a short copy
});

test('ByteRing: regions first in first out, wrapping to the start, a trimmed last region, a spill when full, and a region freed out of order is a bug', () => {
  const ring = new ByteRing(100);
  const a = ring.take(40);
  const b = ring.take(40);
  assert.deepEqual([a.at, b.at], [0, 40]);
  const c = ring.take(30); // no room at the end (20 left), none at the start (a holds it): a spill
  assert.ok(c.spill !== undefined && c.bytes.length === 30);
  ring.free(c); // spills free themselves
  assert.throws(() => ring.free(b), /out of order/);
  ring.free(a);
  const d = ring.take(30); // the end has 20: wraps to 0, before b at 40
  assert.equal(d.at, 0);
  const d2 = ring.trim(d, 10);
  assert.equal(d2.bytes.length, 10);
  const e = ring.take(30); // after the trimmed d: [10, 40)
  assert.equal(e.at, 10);
  assert.ok(ring.take(1).spill !== undefined, 'full: b, d, e hold [40, 80), [0, 10), [10, 40) and [80, 100) is behind them');
  ring.free(b);
  ring.free(d2);
  ring.free(e);
  assert.equal(ring.regions, 0);
  assert.equal(ring.take(100).at, 0);
});

test('Rc4Link: writes leave as one RC4 stream from the handshake\'s offset, in the order sealed; reads arrive decrypted, each byte once and in order, across a handler that lets go', async () => {
  const pair = await socketPair();
  const pool = cipherPool();
  const before = pool.sessions;
  try {
    const outKey = randomBytes(20);
    const inKey = randomBytes(20);
    // What a handshake used of each keystream: the link's thread must go on from there.
    const payload = msePayload(pair.near, pair.chunks, rc4Session(outKey, 37, inKey, 522), Uint8Array.of(7, 7));
    assert.equal(payload.method, 'rc4');
    const link = payload.rc4!;
    assert.equal(pool.sessions, before + 1);
    // Writes: many batches and parts, as flushes make them.
    const parts: Buffer[] = [];
    let raw: Buffer[] = [];
    pair.far.on('data', (d: Buffer) => raw.push(d));
    for (let flush = 0; flush < 12; flush++) {
      const batch = new SealBatch(link);
      for (let i = 0; i < 20; i++) {
        const part = randomBytes(i % 2 === 0 ? 13 : 16 * 1024);
        parts.push(Buffer.from(part));
        batch.add(part);
      }
      batch.end();
    }
    link.write(Uint8Array.of(1, 2, 3));
    parts.push(Buffer.from([1, 2, 3]));
    const total = parts.reduce((n, p) => n + p.length, 0);
    await waitFor('the writes', () => raw.reduce((n, d) => n + d.length, 0) >= total);
    assert.equal(link.sealing, 0);
    const sent = reference(outKey, 37)(Buffer.concat(raw));
    assert.ok(sent.equals(Buffer.concat(parts)), 'the peer decrypts our writes, in order, from offset 37');
    raw = [];

    // Reads: the head first, then the peer's stream, a handler that lets go after its second chunk.
    const plain = randomBytes(3 * 1024 * 1024 + 1000);
    const encrypt = reference(inKey, 522);
    const got: Buffer[] = [];
    const first = (chunk: Uint8Array): void => {
      got.push(Buffer.from(chunk));
      if (got.length === 2) link.setHandler(undefined);
    };
    link.setHandler(first);
    for (let at = 0; at < plain.length; at += 50_000) pair.far.write(encrypt(plain.subarray(at, at + 50_000)));
    await waitFor('the first reader to let go', () => got.length === 2);
    link.setHandler((chunk) => got.push(Buffer.from(chunk)));
    await waitFor('every byte', () => got.reduce((n, c) => n + c.length, 0) >= plain.length + 2);
    assert.ok(Buffer.concat(got).equals(Buffer.concat([Buffer.from([7, 7]), plain])), 'the head, then the stream decrypted from offset 522, in order');
  } finally {
    await pair.close();
  }
  await waitFor('the session freed when the socket closed', () => pool.sessions === before);
});

test('Rc4Link: with no handler the socket is paused once MAX_DECRYPTING_BYTES wait, and resumed when a handler takes them', async () => {
  const pair = await socketPair();
  try {
    const key = randomBytes(20);
    const link = msePayload(pair.near, pair.chunks, rc4Session(randomBytes(20), 0, key, 0), new Uint8Array(0)).rc4!;
    const plain = randomBytes(8 * 1024 * 1024);
    pair.far.write(reference(key, 0)(plain));
    await waitFor('the pause', () => pair.near.isPaused());
    const readWhenPaused = pair.near.bytesRead;
    assert.ok(readWhenPaused <= MAX_DECRYPTING_BYTES + READ_BUFFER_BYTES, `read ${readWhenPaused} bytes with no handler`);
    await new Promise((r) => setTimeout(r, 50)); // a read in flight may land; nothing more
    assert.ok(pair.near.bytesRead <= MAX_DECRYPTING_BYTES + 2 * READ_BUFFER_BYTES, `read ${pair.near.bytesRead} bytes while paused`);
    const got: Buffer[] = [];
    link.setHandler((chunk) => got.push(Buffer.from(chunk)));
    await waitFor('every byte', () => got.reduce((n, c) => n + c.length, 0) >= plain.length);
    assert.ok(Buffer.concat(got).equals(plain));
  } finally {
    await pair.close();
  }
});

test('a plaintext MSE session opens no cipher session: its bytes never go to the cipher thread', async () => {
  const pair = await socketPair();
  const pool = cipherPool();
  const before = pool.sessions;
  try {
    const session: MseSession = { method: 'plaintext', infoHash: new Uint8Array(20), encrypt: (b) => b, decrypt: (b) => b, handOff: () => undefined };
    const payload = msePayload(pair.near, pair.chunks, session, Uint8Array.of(9));
    assert.equal(payload.method, 'plaintext');
    assert.equal(payload.rc4, undefined);
    assert.equal(pool.sessions, before);
    const got: Buffer[] = [];
    payload.read.setHandler((chunk) => got.push(Buffer.from(chunk)));
    pair.far.write(Uint8Array.of(1, 2, 3));
    await waitFor('the bytes', () => Buffer.concat(got).length === 4);
    assert.deepEqual([...Buffer.concat(got)], [9, 1, 2, 3]);
  } finally {
    await pair.close();
  }
});

test('the cipher pool is one for the process, small, and a link that closes mid-stream frees its session without disturbing another', async () => {
  const pool = cipherPool();
  assert.equal(cipherPool(), pool);
  assert.ok(pool.threads >= 1 && pool.threads <= 2);
  const before = pool.sessions;
  const a = await socketPair();
  const b = await socketPair();
  try {
    const keyA = randomBytes(20);
    const keyB = randomBytes(20);
    const linkA = msePayload(a.near, a.chunks, rc4Session(randomBytes(20), 0, keyA, 5), new Uint8Array(0)).rc4!;
    const linkB = msePayload(b.near, b.chunks, rc4Session(randomBytes(20), 0, keyB, 9), new Uint8Array(0)).rc4!;
    assert.equal(pool.sessions, before + 2);
    linkA.setHandler(() => {});
    const got: Buffer[] = [];
    linkB.setHandler((chunk) => got.push(Buffer.from(chunk)));
    const plain = randomBytes(2 * 1024 * 1024);
    a.far.write(reference(keyA, 5)(randomBytes(1024 * 1024)));
    b.far.write(reference(keyB, 9)(plain));
    await waitFor('some of A', () => a.near.bytesRead > 0);
    a.near.destroy(); // jobs of A may be in the thread still
    await waitFor('A freed', () => pool.sessions === before + 1);
    await waitFor('all of B', () => got.reduce((n, c) => n + c.length, 0) >= plain.length);
    assert.ok(Buffer.concat(got).equals(plain));
  } finally {
    await a.close();
    await b.close();
  }
  await waitFor('both freed', () => pool.sessions === before);
});

test('Rc4Link: one group of reads on the thread at a time (reads meanwhile go as the next group), taken in order; a handler that lets go while the next read is ready leaves it for the next handler', async () => {
  // A cipher thread that does nothing to the bytes and answers when the test says.
  const answers: (() => void)[] = [];
  const groups: number[][] = [];
  const pool = {
    submitTo: (_thread: number, job: { at?: number[] }) => {
      groups.push(job.at ?? []);
      return new Promise<CipherResponse>((resolve) => answers.push(() => resolve({ id: 0, type: 'done' })));
    },
  };
  const cipher = new CipherSession(pool as unknown as WorkerPool<CipherResponse>, 0, 1, new ByteRing(1024), new ByteRing(1024), () => {});
  let raw: ((chunk: Uint8Array) => void) | undefined;
  const socket = Object.assign(new EventEmitter(), { pause() {}, resume() {}, cork() {}, uncork() {}, write: () => true, destroy() {} });
  const link = new Rc4Link(socket as unknown as Socket, { setHandler: (h) => (raw = h) }, new Uint8Array(0), cipher);
  const got: number[][] = [];
  const first = (chunk: Uint8Array): void => {
    got.push([...chunk]);
    link.setHandler(undefined); // as the handshake reader does once it has the handshake
  };
  link.setHandler(first);
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  raw!(Uint8Array.of(1, 1));
  raw!(Uint8Array.of(2, 2)); // the same turn: one group with the first
  await turn();
  raw!(Uint8Array.of(3, 3));
  raw!(Uint8Array.of(4, 4)); // a group is out: these wait, then go together
  await turn();
  assert.deepEqual(groups, [[0, 2]], 'one group on the thread');
  answers[0]!(); // reads 1 and 2 are ready at once: the handler lets go after the first
  await turn();
  assert.deepEqual(got, [[1, 1]]);
  assert.deepEqual(groups, [[0, 2], [4, 6]], 'the reads that waited went as one group');
  answers[1]!();
  await turn();
  link.setHandler((chunk) => got.push([...chunk]));
  assert.deepEqual(got, [[1, 1], [2, 2], [3, 3], [4, 4]]);
  assert.equal(cipher.readRing.regions, 0, 'every region freed');
});

test('PrefixedChunks: the head first; a handler that lets go while taking it leaves the next chunks to the next handler', () => {
  let raw: ((chunk: Uint8Array) => void) | undefined;
  const inner: SocketChunks = { setHandler: (h) => (raw = h) };
  const chunks = new PrefixedChunks(inner, Uint8Array.of(7, 7));
  const got: string[] = [];
  chunks.setHandler((chunk) => {
    got.push(`first ${[...chunk]}`);
    chunks.setHandler(undefined); // as the handshake reader does once it has the handshake
  });
  assert.equal(raw, undefined, 'nothing reads inner while no one listens');
  chunks.setHandler((chunk) => got.push(`second ${[...chunk]}`));
  raw!(Uint8Array.of(1));
  assert.deepEqual(got, ['first 7,7', 'second 1']);
});

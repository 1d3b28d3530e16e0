/**
 * MSE at the socket: the listener against hostile or silent encrypted handshakes (a typed error
 * to its owner, nothing else), the dialer's `require` against a peer that answers garbage, and
 * an encrypted link carrying a whole torrent (blocks both ways through RC4 on both ends), and
 * the batches a flush encrypts with one RC4 update each (SealBatch).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createCipheriv } from 'node:crypto';
import { connect } from 'node:net';
import { TorrenttpError } from '../../src/errors/index.js';
import { PeerListener, WireDialer, type IncomingPeerHandler, type WirePeerLink } from '../../src/transport/index.js';
import { CipherChunks, cryptoSelect, RC4_UPDATE_BYTES, SealBatch } from '../../src/transport/mse-stream.js';
import type { SocketChunks } from '../../src/transport/socket-chunks.js';
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

test('an encrypted link (require on both ends) carries a whole torrent byte-identical, and says rc4', async () => {
  const o = owner(true);
  const listener = new PeerListener(o.handler, { host: '127.0.0.1', encryption: 'require' });
  const port = await listener.listen();
  const rec = new Recorder();
  const dialer = new WireDialer({ peerId: peerId('dialer'), connectTimeoutMs: 5000, encryption: 'require' });
  const link = await dialer.dial({ ip: '127.0.0.1', port }, wireTorrent(o.metainfo, false), rec.handler);
  try {
    await waitFor('the listener side', () => o.links.length === 1);
    serve(o.links[0]!, o.rec, o.metainfo, o.data);
    const got = await leech(link, rec, o.metainfo);
    assert.deepEqual(Buffer.from(got), Buffer.from(o.data));
    assert.equal(link.encryption, 'rc4');
    assert.equal(o.links[0]!.encryption, 'rc4');
    assert.equal(link.encrypted, true, 'BEP 11 added.f 0x01 for peers we pass on');
  } finally {
    link.close();
    o.links.forEach((l) => l.close());
    await listener.close();
  }
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
  const o = owner(true);
  const listener = new PeerListener(o.handler, { host: '127.0.0.1', encryption: 'off' });
  const port = await listener.listen();
  const rec = new Recorder();
  const dialer = new WireDialer({ peerId: peerId('dialer'), connectTimeoutMs: 5000, encryption: 'prefer' });
  const link = await dialer.dial({ ip: '127.0.0.1', port }, wireTorrent(o.metainfo, false), rec.handler);
  try {
    await waitFor('the listener side', () => o.links.length === 1);
    serve(o.links[0]!, o.rec, o.metainfo, o.data);
    const got = await leech(link, rec, o.metainfo);
    assert.deepEqual(Buffer.from(got), Buffer.from(o.data));
    assert.equal(link.encryption, 'plaintext');
    assert.equal(o.links[0]!.encryption, 'plaintext');
  } finally {
    link.close();
    o.links.forEach((l) => l.close());
    await listener.close();
  }
});

test('SealBatch: one RC4 stream in the order added, one write per full batch (parts split across batches), each part copied before add returns', () => {
  const key = randomBytes(20);
  const out = createCipheriv('rc4', key, null);
  const session: MseSession = { method: 'rc4', infoHash: new Uint8Array(20), encrypt: (b) => out.update(b), decrypt: (b) => b };
  const writes: Uint8Array[] = [];
  const parts: Uint8Array[] = [];
  const seal = new SealBatch(session, (b) => writes.push(b));
  const add = (n: number): void => {
    const part = randomBytes(n);
    parts.push(Buffer.from(part));
    seal.add(part);
    part.fill(0); // the caller may reuse or release it at once
  };
  // Piece headers and blocks across several batches, then a part larger than a batch with bytes pending.
  for (let i = 0; i < 40; i++) {
    add(13);
    add(16 * 1024);
  }
  assert.ok(seal.pending < RC4_UPDATE_BYTES);
  add(100);
  add(RC4_UPDATE_BYTES + 5000);
  add(17);
  // A second batch while this one is open (flushes do not nest, but it must not share memory).
  const other: Uint8Array[] = [];
  const nested = new SealBatch({ ...session, encrypt: (b) => Buffer.from(b) }, (b) => other.push(b));
  nested.add(Uint8Array.of(1, 2, 3));
  nested.end();
  assert.deepEqual(Buffer.concat(other), Buffer.from([1, 2, 3]));
  add(16 * 1024);
  seal.end();
  assert.equal(seal.pending, 0);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const plain = createCipheriv('rc4', key, null).update(Buffer.concat(writes));
  assert.equal(plain.length, total);
  assert.ok(plain.equals(Buffer.concat(parts)), 'the writes decrypt to the parts, in order');
  assert.equal(writes.length, Math.ceil(total / RC4_UPDATE_BYTES), 'full batches, parts split across them');
  assert.ok(writes.slice(0, -1).every((w) => w.length === RC4_UPDATE_BYTES));
});

test('SealBatch over a plaintext session: each write keeps its bytes after later adds reuse the batch', () => {
  const session: MseSession = { method: 'plaintext', infoHash: new Uint8Array(20), encrypt: (b) => b, decrypt: (b) => b };
  const writes: Uint8Array[] = [];
  const parts: Buffer[] = [];
  const seal = new SealBatch(session, (b) => writes.push(b)); // held, as a corked socket holds them
  for (let i = 0; i < 10; i++) {
    const part = randomBytes(16 * 1024 + 13);
    parts.push(Buffer.from(part));
    seal.add(part);
  }
  seal.end();
  assert.ok(Buffer.concat(writes).equals(Buffer.concat(parts)), 'the bytes written are the parts, in order');
});

test('CipherChunks: a read is decrypted in slices of RC4_UPDATE_BYTES, each byte once and in order, across a handler that removes itself midway', () => {
  const key = randomBytes(20);
  const theirs = createCipheriv('rc4', key, null);
  const ours = createCipheriv('rc4', key, null);
  const session: MseSession = { method: 'rc4', infoHash: new Uint8Array(20), encrypt: (b) => b, decrypt: (b) => ours.update(b) };
  let raw: ((chunk: Uint8Array) => void) | undefined;
  const inner: SocketChunks = { setHandler: (h) => (raw = h) };
  const cc = new CipherChunks(inner, Uint8Array.of(7, 7), session);
  const plain = randomBytes(3 * RC4_UPDATE_BYTES + 1000);
  const wire = theirs.update(plain);
  const got: Uint8Array[] = [];
  const sizes: number[] = [];
  // The handshake reader: takes the first slice, then lets go (as wire-connect's handshake does).
  const first = (chunk: Uint8Array): void => {
    got.push(Buffer.from(chunk));
    sizes.push(chunk.length);
    if (got.length === 2) cc.setHandler(undefined);
  };
  cc.setHandler(first);
  const readBuffer = Buffer.from(wire.subarray(0, 2 * RC4_UPDATE_BYTES + 500));
  raw!(readBuffer);
  readBuffer.fill(0); // the read buffer is reused after the call
  assert.deepEqual(sizes, [2, RC4_UPDATE_BYTES], 'the head, then one slice, then the reader let go');
  const second = (chunk: Uint8Array): void => {
    got.push(Buffer.from(chunk));
    sizes.push(chunk.length);
  };
  cc.setHandler(second);
  raw!(wire.subarray(2 * RC4_UPDATE_BYTES + 500));
  assert.deepEqual(Buffer.concat(got), Buffer.concat([Buffer.from([7, 7]), plain]));
  assert.ok(sizes.every((n) => n <= RC4_UPDATE_BYTES + 500), `slices ${sizes.join(',')}`);
});

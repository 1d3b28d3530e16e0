/**
 * MSE at the socket: the listener against hostile or silent encrypted handshakes (a typed error
 * to its owner, nothing else), the dialer's `require` against a peer that answers garbage, and
 * an encrypted link carrying a whole torrent (blocks both ways through RC4 on both ends), and
 * the batches a flush encrypts with one RC4 update each (SealBatch).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { TorrenttpError } from '../../src/errors/index.js';
import { PeerListener, WireDialer, type IncomingPeerHandler, type WirePeerLink } from '../../src/transport/index.js';
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


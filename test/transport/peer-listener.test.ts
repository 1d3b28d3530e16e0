/**
 * The transport's listener and wire dialer, the two ends the engine's Client used to hold: a
 * dialled peer becomes a link on both sides, the owner's `admit` and `lookup` decide, failures
 * to listen and bad handshakes arrive as typed errors, and `host:port` is one format everywhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import type { TorrenttpError } from '../../src/errors/index.js';
import { hostPort, parseHostPort, PeerListener, WireDialer, type IncomingPeerHandler, type WirePeerLink } from '../../src/transport/index.js';
import { makeTorrent, peerId, Recorder, wireTorrent } from './helpers.js';

test('host:port: brackets around an IPv6 host, parsed back to the same host and port', () => {
  assert.equal(hostPort('127.0.0.1', 6881), '127.0.0.1:6881');
  assert.equal(hostPort('::1', 6881), '[::1]:6881');
  assert.deepEqual(parseHostPort('[::1]:6881'), { host: '::1', port: 6881 });
  assert.deepEqual(parseHostPort('example.org:80'), { host: 'example.org', port: 80 });
  assert.deepEqual(parseHostPort(hostPort('fe80::1', 0)), { host: 'fe80::1', port: 0 });
  for (const bad of ['', '::1:6881', 'host', 'host:', ':80', 'host:65536', 'host:-1', '[::1]6881', 'a]:1']) {
    assert.equal(parseHostPort(bad), undefined, bad);
  }
});

/** A listener whose owner holds `torrent` (full) and records what it is told. */
function owner(full = true, admit = true) {
  const { metainfo } = makeTorrent(64 * 1024, 16 * 1024);
  const rec = new Recorder();
  const links: WirePeerLink[] = [];
  const errors: { remote: string; err: TorrenttpError }[] = [];
  const abandoned: string[] = [];
  const seen: string[] = [];
  const handler: IncomingPeerHandler = {
    admit: (remote) => {
      seen.push(remote);
      return admit;
    },
    lookup: (infoHash, remote) =>
      Buffer.from(infoHash).equals(Buffer.from(wireTorrent(metainfo, full).infoHash))
        ? { torrent: wireTorrent(metainfo, full), opts: { peerId: peerId('listener'), onEvent: rec.handler }, attach: (l) => links.push(l), abandon: () => abandoned.push(remote) }
        : undefined,
    onError: (remote, err) => errors.push({ remote, err }),
  };
  return { metainfo, rec, links, errors, abandoned, seen, handler };
}

test('a dialled peer becomes a link at both ends; the listener names it host:port', async () => {
  const o = owner();
  const listener = new PeerListener(o.handler, { host: '127.0.0.1' });
  const port = await listener.listen();
  assert.equal(listener.port, port);
  assert.notEqual(port, 0);
  const rec = new Recorder();
  const dialer = new WireDialer({ peerId: peerId('dialer'), connectTimeoutMs: 5000 });
  const link = await dialer.dial({ ip: '127.0.0.1', port }, wireTorrent(o.metainfo, false), rec.handler);
  try {
    await rec.wait('bitfield'); // the listener's side answered with its full bitfield
    assert.equal(link.id, `127.0.0.1:${port}`);
    for (let i = 0; i < 50 && o.links.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(o.links.length, 1);
    assert.equal(o.seen.length, 1);
    assert.equal(o.links[0]!.id, o.seen[0]); // the link's id is the remote the owner admitted
    assert.match(o.links[0]!.id, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(o.errors, []);
  } finally {
    link.close();
    o.links.forEach((l) => l.close());
    await listener.close();
  }
});

test('the dialer takes host:port text too, and refuses text that is no address', async () => {
  const o = owner();
  const listener = new PeerListener(o.handler, { host: '127.0.0.1' });
  const port = await listener.listen();
  const dialer = new WireDialer({ peerId: peerId('dialer') });
  const link = await dialer.dial(`127.0.0.1:${port}`, wireTorrent(o.metainfo, false), () => {});
  link.close();
  await assert.rejects(dialer.dial('nowhere', wireTorrent(o.metainfo, false), () => {}), { code: 'TRANSPORT_BAD_PEER_ADDRESS' });
  o.links.forEach((l) => l.close());
  await listener.close();
});

test('admit false closes the connection before the handshake; no lookup, no link', async () => {
  const o = owner(true, false);
  const listener = new PeerListener(o.handler, { host: '127.0.0.1' });
  const port = await listener.listen();
  const dialer = new WireDialer({ peerId: peerId('dialer'), connectTimeoutMs: 5000 });
  await assert.rejects(dialer.dial({ ip: '127.0.0.1', port }, wireTorrent(o.metainfo, false), () => {}), { code: 'TRANSPORT_PEER_CLOSED' });
  assert.equal(o.seen.length, 1);
  assert.equal(o.links.length, 0);
  await listener.close();
});

test('a handshake for a torrent the owner does not hold: closed, and onError says why', async () => {
  const o = owner();
  const other = makeTorrent(64 * 1024, 16 * 1024, 2, 'other.bin').metainfo;
  const listener = new PeerListener(o.handler, { host: '127.0.0.1' });
  const port = await listener.listen();
  const dialer = new WireDialer({ peerId: peerId('dialer'), connectTimeoutMs: 5000 });
  await assert.rejects(dialer.dial({ ip: '127.0.0.1', port }, wireTorrent(other, false), () => {}));
  for (let i = 0; i < 50 && o.errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(o.errors.length, 1);
  assert.equal(o.errors[0]!.err.code, 'TRANSPORT_UNKNOWN_TORRENT');
  assert.deepEqual(o.abandoned, []); // lookup chose nothing, so nothing to abandon
  assert.equal(o.links.length, 0);
  await listener.close();
});

test('a port in use and an address not on this host are typed errors naming host:port', async () => {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const port = (taken.address() as AddressInfo).port;
  try {
    const o = owner();
    const busy = new PeerListener(o.handler, { host: '127.0.0.1', port });
    await assert.rejects(busy.listen(), (err: TorrenttpError) => err.code === 'TRANSPORT_PORT_IN_USE' && err.detail === `127.0.0.1:${port}`);
    await busy.close();
    const away = new PeerListener(o.handler, { host: '192.0.2.1' }); // TEST-NET-1: on no host
    await assert.rejects(away.listen(), (err: TorrenttpError) => err.code === 'TRANSPORT_LISTEN_FAILED' && err.detail!.startsWith('192.0.2.1:0: '));
    await away.close();
  } finally {
    taken.close();
  }
});

/**
 * The transport's listener and wire dialer, the two ends the engine's Client used to hold: a
 * dialled peer becomes a link on both sides, the owner's `admit` and `lookup` decide, failures
 * to listen and bad handshakes arrive as typed errors, and `host:port` is one format everywhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import type { TorrenttpError } from '../../src/errors/index.js';
import { hostPort, HttpDialer, parseHostPort, PeerListener, WireDialer, type IncomingPeerHandler, type WirePeerLink } from '../../src/transport/index.js';
import { startTtpPeerServer } from '../helpers/ttp-peer-server.js';
import { leech, makeTorrent, peerId, RawPeer, Recorder, wireTorrent } from './helpers.js';

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

/** A raw socket from `from` (any 127/8 address is this host) that sends a handshake for `infoHash`. */
async function rawHandshake(port: number, from: string, infoHash: Uint8Array, tag: string): Promise<RawPeer> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: from });
  await once(socket, 'connect');
  const peer = new RawPeer(socket);
  peer.send({ type: 'handshake', reserved: new Uint8Array(8), infoHash, peerId: peerId(tag) });
  return peer;
}

async function answered(peer: RawPeer): Promise<boolean> {
  try {
    await peer.until((m) => m.some((x) => x.type === 'handshake'), 3000);
    return true;
  } catch {
    return false;
  }
}

test('one IP address holds at most maxPerAddressPerTorrent connections in a torrent and maxPerAddress in all; others still get in', async () => {
  const o = owner();
  const infoHash = wireTorrent(o.metainfo, true).infoHash;
  const other = makeTorrent(64 * 1024, 16 * 1024, 2, 'other.bin').metainfo;
  const otherHash = wireTorrent(other, true).infoHash;
  const lookups: string[] = [];
  const lookup = o.handler.lookup;
  const handler: IncomingPeerHandler = {
    ...o.handler,
    // the second torrent is held too (its answers go nowhere)
    lookup: (h, remote) => {
      lookups.push(remote);
      return Buffer.from(h).equals(Buffer.from(otherHash)) ? { torrent: wireTorrent(other, true), opts: { peerId: peerId('listener'), onEvent: () => {} }, attach: (l) => o.links.push(l), abandon: () => {} } : lookup(h, remote);
    },
  };
  const listener = new PeerListener(handler, { host: '127.0.0.1', maxPerAddress: 3, maxPerAddressPerTorrent: 2, limitLoopback: true });
  const port = await listener.listen();
  const peers: RawPeer[] = [];
  try {
    // Two from 127.0.0.2 into the torrent: answered. The third is refused before lookup.
    for (let i = 0; i < 2; i++) peers.push(await rawHandshake(port, '127.0.0.2', infoHash, `a${i}`));
    for (const p of peers) assert.equal(await answered(p), true);
    const third = await rawHandshake(port, '127.0.0.2', infoHash, 'a2');
    assert.equal(await third.closedWithin(3000), true);
    assert.equal(lookups.length, 2);
    assert.ok(o.errors.some((e) => e.err.code === 'TRANSPORT_ADDRESS_LIMIT' && e.err.detail!.endsWith('one torrent')), JSON.stringify(o.errors.map((e) => e.err.code)));
    // Another torrent from the same address: its own count (the third connection of the address in all).
    const inOther = await rawHandshake(port, '127.0.0.2', otherHash, 'b0');
    peers.push(inOther);
    assert.equal(await answered(inOther), true);
    // A fourth connection of the address in all: closed as it arrives, before admit and the handshake.
    const seenBefore = o.seen.length;
    const fourth = await rawHandshake(port, '127.0.0.2', otherHash, 'b1');
    assert.equal(await fourth.closedWithin(3000), true);
    assert.equal(o.seen.length, seenBefore);
    assert.ok(o.errors.some((e) => e.err.code === 'TRANSPORT_ADDRESS_LIMIT' && e.err.detail!.endsWith('all torrents')));
    // Another address is not affected.
    const elsewhere = await rawHandshake(port, '127.0.0.3', infoHash, 'c0');
    peers.push(elsewhere);
    assert.equal(await answered(elsewhere), true);
    // A connection that closes gives its place back.
    peers[0]!.socket.destroy();
    await peers[0]!.closedWithin(3000);
    await new Promise((r) => setTimeout(r, 50));
    const again = await rawHandshake(port, '127.0.0.2', infoHash, 'a3');
    peers.push(again);
    assert.equal(await answered(again), true);
  } finally {
    peers.forEach((p) => p.socket.destroy());
    o.links.forEach((l) => l.close());
    await listener.close();
  }
});

test('loopback addresses are exempt from the per-address limits by default (local swarms, tests)', async () => {
  const o = owner();
  const infoHash = wireTorrent(o.metainfo, true).infoHash;
  const listener = new PeerListener(o.handler, { host: '127.0.0.1', maxPerAddress: 2, maxPerAddressPerTorrent: 1 });
  const port = await listener.listen();
  const peers: RawPeer[] = [];
  try {
    for (let i = 0; i < 5; i++) peers.push(await rawHandshake(port, '127.0.0.1', infoHash, `l${i}`));
    for (const p of peers) assert.equal(await answered(p), true);
    assert.deepEqual(o.errors, []);
  } finally {
    peers.forEach((p) => p.socket.destroy());
    o.links.forEach((l) => l.close());
    await listener.close();
  }
});

test('HttpDialer: a {url} peer is an HTTP link at once, with our peer id on its requests; a URL that is no torrent URL closes it (TTP_BAD_URL)', async () => {
  const { metainfo, data } = makeTorrent(3 * 64 * 1024 + 1000, 64 * 1024, 5);
  const server = await startTtpPeerServer({ metainfo, data });
  const dialer = new HttpDialer({ peerId: peerId('httpdialer') });
  const rec = new Recorder();
  const link = dialer.dial({ url: server.url }, metainfo, rec.handler);
  try {
    assert.equal(link.id, server.url);
    assert.equal(link.kind, 'http');
    const got = await leech(link, rec, metainfo, 20_000);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)));
    const hex = Buffer.from(peerId('httpdialer')).toString('hex');
    assert.ok(server.requests.length > 0 && server.requests.every((r) => r.headers['torrenttp-peer-id'] === hex));
  } finally {
    link.close();
    await server.close();
  }
  const bad = new Recorder();
  dialer.dial('ftp://127.0.0.1/ttp/v1/torrents/x', metainfo, bad.handler);
  const closed = await bad.wait('closed');
  assert.equal(closed.reason?.code, 'TTP_BAD_URL');
});

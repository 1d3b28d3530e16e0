import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { DhtNode, decodeKrpc, encodeQuery, type DhtNodeOptions, type PeerAddr } from '../../src/dht/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { join } from 'node:path';

/** A private IPv6 DHT (BEP 32) of `n` nodes on ::1, each bootstrapped from the first. */
async function privateDht6(n: number, opts: DhtNodeOptions = {}): Promise<DhtNode[]> {
  const first = new DhtNode({ host: '::1', timeoutMs: 500, ...opts });
  await first.start();
  const rest = Array.from({ length: n - 1 }, () => new DhtNode({ host: '::1', timeoutMs: 500, bootstrap: [`[::1]:${first.port}`], ...opts }));
  for (const node of rest) {
    await node.start();
    await node.whenReady();
  }
  await first.findNode(first.id);
  return [first, ...rest];
}

const infoHash = Uint8Array.from({ length: 20 }, (_, i) => 3 * i + 1);

test('BEP 32: a private IPv6 DHT of 8 nodes on ::1: nodes learn each other through nodes6, and a get_peers lookup finds an IPv6 peer', async (t) => {
  const nodes = await privateDht6(8);
  t.after(() => Promise.all(nodes.map((n) => n.close())));
  for (const n of nodes) {
    assert.equal(n.family, 6);
    assert.ok(n.stats().nodes >= 3, `every node knows several others (${n.stats().nodes})`);
    assert.ok(n.nodes().every((x) => x.ip === '::1'), 'an IPv6 table holds IPv6 nodes only');
  }
  // The last node learned most of its table from nodes6 in replies, not only from the bootstrap node.
  assert.ok(nodes[7]!.stats().nodes >= 5, `${nodes[7]!.stats().nodes}`);
  const accepted = await nodes[2]!.announce(infoHash, 51413);
  assert.ok(accepted >= 3, `announce accepted by ${accepted} nodes`);
  const seen: PeerAddr[] = [];
  const found = await nodes[6]!.getPeers(infoHash, (p) => seen.push(...p));
  assert.deepEqual(found.peers, [{ ip: '::1', port: 51413 }]);
  assert.deepEqual(seen, found.peers);
});

test('BEP 32: the tracked info-hash of a magnet (lookup only) gets the IPv6 peer a seed announces', async (t) => {
  const nodes = await privateDht6(5);
  t.after(() => Promise.all(nodes.map((n) => n.close())));
  nodes[1]!.track(infoHash, { port: 6001 });
  let peers: readonly PeerAddr[] = [];
  for (let i = 0; i < 30 && peers.length === 0; i++) {
    peers = (await nodes[4]!.getPeers(infoHash)).peers;
    if (peers.length === 0) await new Promise((res) => setTimeout(res, 100));
  }
  assert.deepEqual(peers, [{ ip: '::1', port: 6001 }]);
});

/** Sends one query from a raw socket of `type` and returns the decoded reply. */
async function askRaw(type: 'udp4' | 'udp6', host: string, port: number, packet: Uint8Array) {
  const s = createSocket(type);
  try {
    await new Promise<void>((resolve) => s.bind(0, host, () => resolve()));
    const reply = new Promise<Uint8Array>((resolve) => s.once('message', (m) => resolve(new Uint8Array(m))));
    s.send(packet, port, host);
    return decodeKrpc(await reply);
  } finally {
    s.close();
  }
}

test('BEP 32: want n4/n6 — an IPv6 node answers nodes6 by default, and nodes too when paired with an IPv4 node (dual stack)', async (t) => {
  const v6 = await privateDht6(4);
  const v4a = new DhtNode({ host: '127.0.0.1', timeoutMs: 500 });
  await v4a.start();
  const v4b = new DhtNode({ host: '127.0.0.1', timeoutMs: 500, bootstrap: [`127.0.0.1:${v4a.port}`] });
  await v4b.start();
  await v4b.whenReady();
  t.after(() => Promise.all([...v6, v4a, v4b].map((n) => n.close())));
  const me = new Uint8Array(20).fill(0xee);
  const target = new Uint8Array(20).fill(0x11);
  const tid = Uint8Array.of(0, 0, 0, 1);
  const plain = await askRaw('udp6', '::1', v6[0]!.port, encodeQuery(tid, { method: 'find_node', id: me, target }));
  assert.ok(plain.y === 'r');
  assert.equal(plain.response.nodes.length, 0, 'no want: the family of the socket only');
  assert.ok((plain.response.nodes6 ?? []).length >= 3);
  assert.ok(plain.response.nodes6!.every((n) => n.ip === '::1'));
  // Unpaired, a want for IPv4 gets no IPv4 nodes (this node has no IPv4 table).
  const unpaired = await askRaw('udp6', '::1', v6[0]!.port, encodeQuery(tid, { method: 'get_peers', id: me, infoHash: target, want: [4, 6] }));
  assert.ok(unpaired.y === 'r' && unpaired.response.nodes.length === 0 && (unpaired.response.nodes6 ?? []).length >= 3);
  assert.throws(() => v6[0]!.pair(v6[1]!), /other address family/);
  v6[0]!.pair(v4b);
  const both = await askRaw('udp6', '::1', v6[0]!.port, encodeQuery(tid, { method: 'get_peers', id: me, infoHash: target, want: [4, 6] }));
  assert.ok(both.y === 'r');
  assert.deepEqual(both.response.nodes.map((n) => `${n.ip}:${n.port}`), [`127.0.0.1:${v4a.port}`]);
  assert.ok((both.response.nodes6 ?? []).length >= 3);
  assert.ok(both.response.token !== undefined);
  // And the IPv4 node answers an IPv4 asker's want n6 from its IPv6 sibling.
  const from4 = await askRaw('udp4', '127.0.0.1', v4b.port, encodeQuery(tid, { method: 'find_node', id: me, target, want: [6] }));
  assert.ok(from4.y === 'r' && from4.response.nodes.length === 0 && (from4.response.nodes6 ?? []).length >= 3);
});

test('BEP 32: an IPv6 node saves its table (nodes6) and bootstraps from it after a restart', async (t) => {
  await withTempDir(t, async (dir) => {
    const nodes = await privateDht6(4);
    t.after(() => Promise.all(nodes.map((n) => n.close())));
    const stateFile = join(dir, 'dht6.dat');
    const a = new DhtNode({ host: '::1', timeoutMs: 500, stateFile, bootstrap: [`[::1]:${nodes[0]!.port}`] });
    t.after(() => a.close());
    await a.start();
    await a.whenReady();
    const known = a.stats().nodes;
    assert.ok(known >= 3);
    await a.close();
    const b = new DhtNode({ host: '::1', timeoutMs: 500, stateFile });
    t.after(() => b.close());
    await b.start();
    await b.whenReady();
    assert.deepEqual(b.id, a.id);
    assert.ok(b.stats().nodes >= 3, `rejoined from the saved nodes6 (${b.stats().nodes})`);
  });
});

test('dual stack: an IPv4 node paired with an IPv6 node finds (getPeers, track) a peer announced only in the IPv6 DHT, and announces to both', async (t) => {
  const v6 = await privateDht6(4);
  const v4a = new DhtNode({ host: '127.0.0.1', timeoutMs: 500 });
  await v4a.start();
  const v4 = new DhtNode({ host: '127.0.0.1', timeoutMs: 500, bootstrap: [`127.0.0.1:${v4a.port}`] });
  const six = new DhtNode({ host: '::1', timeoutMs: 500, bootstrap: [`[::1]:${v6[0]!.port}`] });
  t.after(() => Promise.all([...v6, v4a, v4, six].map((n) => n.close())));
  v4.pair(six);
  assert.equal(v4.paired, six);
  await Promise.all([v4.whenReady(), six.whenReady()]);
  const h = Uint8Array.from({ length: 20 }, (_, i) => 200 - i);
  await v6[2]!.announce(h, 7070);
  const found = await v4.getPeers(h);
  assert.deepEqual(found.peers, [{ ip: '::1', port: 7070 }]);
  const tracked = await new Promise<readonly PeerAddr[]>((resolve) => {
    const stop = v4.track(h, {}, (p) => {
      stop();
      resolve(p);
    });
  });
  assert.deepEqual(tracked, [{ ip: '::1', port: 7070 }]);
  // announce through the IPv4 node reaches both DHTs.
  const accepted = await v4.announce(h, 8080);
  assert.ok(accepted >= 4, `${accepted}`);
  // v4a (IPv4 only) holds the IPv4 announce: the paired lookup sees both DHTs' peers.
  const both = (await v4.getPeers(h)).peers.map((p) => `${p.ip}:${p.port}`).sort();
  assert.deepEqual(both, ['127.0.0.1:8080', '::1:7070', '::1:8080']);
  const in6 = (await v6[3]!.getPeers(h)).peers.map((p) => `${p.ip}:${p.port}`).sort();
  assert.deepEqual(in6, ['::1:7070', '::1:8080']);
});

test('BEP 32 want, sent: an IPv6 node with no bootstrap of its own learns IPv6 nodes through its IPv4 pair\'s want n6, shares its id, and finds a peer announced only on the IPv6 DHT', async (t) => {
  // Four dual-stack nodes (each IPv4 node paired with one of the IPv6 DHT, so n6 is answered) and one IPv6-only node.
  const v6 = await privateDht6(5);
  const v4: DhtNode[] = [];
  for (let i = 0; i < 4; i++) {
    const n = new DhtNode({ host: '127.0.0.1', timeoutMs: 500, ...(i === 0 ? {} : { bootstrap: [`127.0.0.1:${v4[0]!.port}`] }) });
    n.pair(v6[i]!);
    await n.start();
    await n.whenReady();
    v4.push(n);
  }
  const a4 = new DhtNode({ host: '127.0.0.1', timeoutMs: 500, bootstrap: [`127.0.0.1:${v4[0]!.port}`] });
  const a6 = new DhtNode({ host: '::1', timeoutMs: 500 }); // no bootstrap: only want can feed its table
  t.after(() => Promise.all([...v6, ...v4, a4, a6].map((n) => n.close())));
  a4.pair(a6);
  await a4.start();
  await a6.start();
  assert.deepEqual(a6.id, a4.id, 'BEP 32: one node id on both DHTs');
  await Promise.all([a4.whenReady(), a6.whenReady()]);
  for (let i = 0; a6.stats().nodes < 3; i++) {
    assert.ok(i < 100, `the IPv6 node learned ${a6.stats().nodes} nodes through want`);
    await a4.findNode(Uint8Array.from({ length: 20 }, () => Math.floor(Math.random() * 256)));
  }
  assert.ok(a6.nodes().every((n) => n.ip === '::1'));
  const h = Uint8Array.from({ length: 20 }, (_, i) => 90 + i);
  assert.ok((await v6[4]!.announce(h, 9191)) >= 1); // unpaired: the IPv6 DHT only
  assert.deepEqual((await a4.getPeers(h)).peers, [{ ip: '::1', port: 9191 }]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '../../src/bencode/index.js';
import { DhtNode, decodeKrpc, encodeQuery, type DhtNodeOptions, type PeerAddr } from '../../src/dht/index.js';

/** A private DHT of `n` nodes on loopback, each bootstrapped from the first. */
async function privateDht(n: number, opts: DhtNodeOptions = {}): Promise<DhtNode[]> {
  const first = new DhtNode({ host: '127.0.0.1', timeoutMs: 500, ...opts });
  await first.start();
  const rest = Array.from({ length: n - 1 }, () => new DhtNode({ host: '127.0.0.1', timeoutMs: 500, bootstrap: [`127.0.0.1:${first.port}`], ...opts }));
  for (const node of rest) {
    await node.start();
    await node.whenReady();
  }
  // The first node learns the others as they query it; a second round lets everyone see everyone.
  await first.findNode(first.id);
  return [first, ...rest];
}

const infoHash = Uint8Array.from({ length: 20 }, (_, i) => i * 7);

test('a private DHT of 10 nodes: an announce made at one node is found from another', async (t) => {
  const nodes = await privateDht(10);
  t.after(() => Promise.all(nodes.map((n) => n.close())));
  for (const n of nodes) assert.ok(n.stats().nodes >= 3, `every node knows several others (${n.stats().nodes})`);
  const accepted = await nodes[3]!.announce(infoHash, 51413);
  assert.ok(accepted >= 3, `announce accepted by ${accepted} nodes`);
  const seen: PeerAddr[] = [];
  const found = await nodes[8]!.getPeers(infoHash, (p) => seen.push(...p));
  assert.deepEqual(found.peers, [{ ip: '127.0.0.1', port: 51413 }]);
  assert.deepEqual(seen, found.peers);
  assert.ok(found.queried <= 100);
});

test('track: peers come as events, and tracking with a port announces us', async (t) => {
  const nodes = await privateDht(6);
  t.after(() => Promise.all(nodes.map((n) => n.close())));
  const got = new Promise<readonly PeerAddr[]>((resolve) => nodes[5]!.track(infoHash, {}, resolve));
  nodes[1]!.track(infoHash, { port: 6000 });
  // The tracker of the lookup-only node may run before the announce: it finds it on a later round at most.
  const peers = await Promise.race([got, (async () => {
    for (let i = 0; i < 20; i++) {
      const r = await nodes[5]!.getPeers(infoHash);
      if (r.peers.length > 0) return r.peers;
      await new Promise((res) => setTimeout(res, 100));
    }
    return [];
  })()]);
  assert.deepEqual(peers, [{ ip: '127.0.0.1', port: 6000 }]);
});

test('track by two callers (a magnet fetch, then its download): the first letting go leaves the second tracking, and its port is announced', async (t) => {
  const nodes = await privateDht(6);
  t.after(() => Promise.all(nodes.map((n) => n.close())));
  const h = Uint8Array.from({ length: 20 }, (_, i) => 255 - i);
  const stopFetch = nodes[1]!.track(h, {});
  const stopDownload = nodes[1]!.track(h, { port: 6100 });
  stopFetch();
  stopFetch(); // twice is once
  let peers: readonly PeerAddr[] = [];
  for (let i = 0; i < 30 && peers.length === 0; i++) {
    peers = (await nodes[4]!.getPeers(h)).peers;
    if (peers.length === 0) await new Promise((res) => setTimeout(res, 100));
  }
  assert.deepEqual(peers, [{ ip: '127.0.0.1', port: 6100 }], 'the download, tracking with a port, was announced');
  stopDownload();
});

test('read-only nodes (BEP 43) ask but never answer, and stay out of tables', async (t) => {
  const nodes = await privateDht(4);
  const ro = new DhtNode({ host: '127.0.0.1', readOnly: true, timeoutMs: 300, bootstrap: [`127.0.0.1:${nodes[0]!.port}`] });
  t.after(() => Promise.all([...nodes, ro].map((n) => n.close())));
  await ro.start();
  await ro.whenReady();
  assert.ok(ro.stats().nodes >= 3, 'it learns the network');
  await nodes[2]!.announce(infoHash, 7000);
  assert.deepEqual((await ro.getPeers(infoHash)).peers, [{ ip: '127.0.0.1', port: 7000 }]);
  for (const n of nodes) assert.ok(!n.nodes().some((x) => x.port === ro.port), 'no table holds the read-only node');
  await assert.rejects(nodes[0]!.ping('127.0.0.1', ro.port), /did not answer/);
});

/** A raw UDP socket on loopback that sends packets to a node and collects what comes back. */
async function rawSocket() {
  const s = createSocket('udp4');
  const replies: Uint8Array[] = [];
  s.on('message', (m) => replies.push(new Uint8Array(m)));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { s, replies, send: (b: Uint8Array, port: number) => new Promise<void>((r) => s.send(b, port, '127.0.0.1', () => r())), close: () => new Promise<void>((r) => s.close(() => r())) };
}

const settle = () => new Promise((r) => setTimeout(r, 200));

test('a flood from one address is cut at the per-IP burst; malformed and hostile packets cost only their sender', async (t) => {
  const node = new DhtNode({ host: '127.0.0.1', rateLimit: { burst: 20, ratePerSec: 1 } });
  await node.start();
  const raw = await rawSocket();
  t.after(async () => {
    await raw.close();
    await node.close();
  });
  const id = new Uint8Array(20).fill(3);
  for (let i = 0; i < 200; i++) await raw.send(encodeQuery(Uint8Array.of(0, i), { method: 'ping', id }), node.port);
  await settle();
  assert.equal(raw.replies.length, 20);
  assert.equal(node.stats().rateLimited, 180);

  const drops: string[] = [];
  const node2 = new DhtNode({ host: '127.0.0.1' });
  await node2.start();
  t.after(() => node2.close());
  node2.on('drop', (_a, err) => drops.push(err.code));
  const raw2 = await rawSocket();
  t.after(() => raw2.close());
  await raw2.send(new TextEncoder().encode('d1:ad2:id'), node2.port); // truncated bencode
  await raw2.send(new Uint8Array(5000), node2.port); // oversized
  await raw2.send(encode({ a: { id: new Uint8Array(19) }, q: 'ping', t: 'aa', y: 'q' }), node2.port); // short id
  await raw2.send(encodeQuery(Uint8Array.of(1), { method: 'ping', id: node2.id }), node2.port); // forged: our own id
  await raw2.send(encodeQuery(Uint8Array.of(2), { method: 'announce_peer', id, infoHash, port: 80, token: Uint8Array.of(1, 2, 3, 4), impliedPort: false }), node2.port);
  await raw2.send(encode({ a: { id }, q: 'vote', t: 'ab', y: 'q' }), node2.port);
  await settle();
  assert.deepEqual(drops.sort(), ['DHT_BAD_NODE_ID', 'DHT_BAD_NODE_ID', 'DHT_BAD_PACKET', 'DHT_BAD_TOKEN', 'DHT_PACKET_TOO_LARGE']);
  const answers = raw2.replies.map((b) => decodeKrpc(b));
  assert.deepEqual(answers.map((a) => (a.y === 'e' ? a.code : a.y)).sort(), [203, 204]);
  // The forged announce stored nothing.
  const asker = new DhtNode({ host: '127.0.0.1', bootstrap: [`127.0.0.1:${node2.port}`] });
  t.after(() => asker.close());
  await asker.start();
  await asker.whenReady();
  assert.deepEqual((await asker.getPeers(infoHash)).peers, []);
  // The node still works for honest peers.
  assert.ok((await asker.ping('127.0.0.1', node2.port)).id.length === 20);
});

test('the node table and id persist across restarts; a damaged file is a warning, not a failure', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dht-state-'));
  const nodes = await privateDht(5);
  t.after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await rm(dir, { recursive: true, force: true });
  });
  const stateFile = join(dir, '.torrenttp', 'dht.dat');
  const a = new DhtNode({ host: '127.0.0.1', stateFile, bootstrap: [`127.0.0.1:${nodes[0]!.port}`] });
  await a.start();
  await a.whenReady();
  const id = a.id;
  const known = a.stats().nodes;
  assert.ok(known >= 4);
  await a.close();
  assert.ok((await readFile(stateFile)).length > 26 * 4);

  // Restarted with no bootstrap: the saved table is enough.
  const b = new DhtNode({ host: '127.0.0.1', stateFile });
  await b.start();
  await b.whenReady();
  assert.deepEqual(b.id, id);
  assert.ok(b.stats().nodes >= 4, `table restored (${b.stats().nodes})`);
  await nodes[1]!.announce(infoHash, 4242);
  assert.deepEqual((await b.getPeers(infoHash)).peers, [{ ip: '127.0.0.1', port: 4242 }]);
  await b.close();

  await writeFile(stateFile, 'garbage');
  const warnings: string[] = [];
  const c = new DhtNode({ host: '127.0.0.1', stateFile });
  c.on('warning', (m) => warnings.push(m));
  await c.start();
  await c.whenReady();
  await c.close();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /damaged/);
});

test('close is immediate even while bootstrap waits on unreachable hosts', async () => {
  const node = new DhtNode({ host: '127.0.0.1', bootstrap: ['127.0.0.1:9', 'unreachable.invalid:6881'], timeoutMs: 5000, resolve: () => new Promise(() => undefined) });
  const t0 = performance.now();
  await node.start();
  await node.close();
  assert.ok(performance.now() - t0 < 500);
});

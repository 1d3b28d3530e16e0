import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCompactPeers, MemorySwarmStore, parseIp, type AnnounceRequest, type EmbeddedPeer, type ReplyShape } from '../../../src/tracker/index.js';
import { TrackerCore } from '../../../src/tracker/server/core.js';
import { infoHash, peerId } from './helpers.js';

const SEED_PORT = 51413;
const ih = infoHash(1);
const seedId = peerId(99);

function setup(): { core: TrackerCore; heard: string[] } {
  const heard: string[] = [];
  const peer: EmbeddedPeer = {
    peerId: seedId,
    portFor: (h) => (h[0] === ih[0] && h[19] === ih[19] ? SEED_PORT : undefined),
    announced: (_h, p) => void heard.push(`${p.ip}:${p.port} left=${p.left}`),
  };
  return { core: new TrackerCore({ embeddedPeer: peer }, new MemorySwarmStore(), () => 0), heard };
}

function req(n: number, over: Partial<AnnounceRequest> = {}): AnnounceRequest {
  return { infoHash: ih, peerId: n === 99 ? seedId : peerId(n), port: n === 99 ? SEED_PORT : 6880 + n, uploaded: 0, downloaded: 0, left: 100, ...over };
}

const ip = (s: string) => parseIp(s)!;

async function announce(core: TrackerCore, r: AnnounceRequest, source: string, local: string | undefined, reply: ReplyShape = 'compact') {
  const res = await core.announce(r, ip(source), 'http', reply, undefined, local === undefined ? undefined : ip(local));
  return { v4: decodeCompactPeers(res.peers4, 6).map((p) => `${p.ip}:${p.port}`), v6: decodeCompactPeers(res.peers6, 18).map((p) => `[${p.ip}]:${p.port}`), list: res.peers.map((p) => `${p.ip}:${p.port}`), res };
}

test('embedded peer: listed once, at the address the announcer reached us on, never at loopback to a remote client', async () => {
  const { core, heard } = setup();
  // The seed announces over loopback (as the gateway's engine does): the store holds 127.0.0.1.
  const own = await announce(core, req(99, { left: 0 }), '127.0.0.1', '127.0.0.1');
  assert.deepEqual([own.v4, own.v6], [[], []], 'the seed is not told about itself');
  await announce(core, req(1), '127.0.0.1', '127.0.0.1');

  // A remote IPv4 client that reached us on 192.0.2.10.
  const remote = await announce(core, req(2), '198.51.100.7', '192.0.2.10');
  assert.deepEqual(remote.v4.filter((p) => p.endsWith(`:${SEED_PORT}`)), [`192.0.2.10:${SEED_PORT}`]);
  assert.equal(remote.v4[0], `192.0.2.10:${SEED_PORT}`, 'first');
  assert.ok(remote.v4.includes('127.0.0.1:6881'), 'other peers are left as the store gave them');
  assert.deepEqual(remote.v6, []);

  // An IPv6 client that reached us on 2001:db8::1: the seed in peers6 only, no duplicate in peers.
  const six = await announce(core, req(3), '2001:db8::7', '2001:db8::1');
  assert.deepEqual(six.v6.filter((p) => p.endsWith(`:${SEED_PORT}`)), [`[2001:db8::1]:${SEED_PORT}`]);
  assert.deepEqual(six.v4.filter((p) => p.endsWith(`:${SEED_PORT}`)), []);

  // A dictionary reply: once, with its peer id.
  const list = await announce(core, req(4), '198.51.100.8', '192.0.2.10', 'list');
  assert.deepEqual(list.list.filter((p) => p.endsWith(`:${SEED_PORT}`)), [`192.0.2.10:${SEED_PORT}`]);
  assert.deepEqual(list.res.peers[0]!.peerId, seedId);

  // A loopback client sees it at loopback, once.
  const local = await announce(core, req(5), '127.0.0.1', '127.0.0.1');
  assert.deepEqual(local.v4.filter((p) => p.endsWith(`:${SEED_PORT}`)), [`127.0.0.1:${SEED_PORT}`]);

  // No peers asked for, or leaving: not added.
  assert.deepEqual((await announce(core, req(6, { numwant: 0 }), '198.51.100.9', '192.0.2.10')).v4, []);
  assert.deepEqual((await announce(core, req(2, { event: 'stopped' }), '198.51.100.7', '192.0.2.10')).v4, []);

  // Every other announcer is reported to the seed (so it can dial it); its own announce is not.
  assert.deepEqual(heard.slice(0, 4), ['127.0.0.1:6881 left=100', '198.51.100.7:6882 left=100', '2001:db8::7:6883 left=100', '198.51.100.8:6884 left=100']);
  assert.ok(!heard.some((h) => h.endsWith(`:${SEED_PORT} left=0`)));
});

test('embedded peer: torrents it does not have are answered as the store answers', async () => {
  const { core, heard } = setup();
  const other = infoHash(2);
  await announce(core, req(99, { infoHash: other, left: 0 }), '127.0.0.1', '127.0.0.1');
  const r = await announce(core, req(1, { infoHash: other }), '198.51.100.7', '192.0.2.10');
  assert.deepEqual(r.v4, [`127.0.0.1:${SEED_PORT}`]);
  assert.deepEqual(heard, []);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeCompactPeers,
  MemorySwarmStore,
  parseIp,
  TrackerError,
  type SwarmAnnounce,
} from '../../../src/tracker/index.js';
import { infoHash, peerId, seeded } from './helpers.js';

const ih = infoHash(1);
function ann(n: number, over: Partial<SwarmAnnounce> = {}): SwarmAnnounce {
  return { infoHash: ih, peerId: peerId(n), ip: parseIp('10.0.0.1')!, port: 1000 + n, left: 5, numwant: 50, reply: 'compact4', nowMs: 0, ...over };
}

test('memory store: counts seeders and leechers, never returns the announcer', async () => {
  const s = new MemorySwarmStore({ random: seeded(1) });
  await s.announce(ann(1, { left: 0 }));
  await s.announce(ann(2));
  const r = await s.announce(ann(3));
  assert.equal(r.complete, 1);
  assert.equal(r.incomplete, 2);
  const ports = decodeCompactPeers(r.peers4, 6).map((p) => p.port).sort();
  assert.deepEqual(ports, [1001, 1002]);
  // the leecher finishes: counted once, even if it says so twice
  await s.announce(ann(2, { left: 0, event: 'completed' }));
  const again = await s.announce(ann(2, { left: 0, event: 'completed' }));
  assert.deepEqual([again.complete, again.incomplete], [2, 1]);
  assert.deepEqual(await s.scrape([ih, infoHash(9)]), [
    { infoHash: ih, complete: 2, downloaded: 1, incomplete: 1 },
    { infoHash: infoHash(9), complete: 0, downloaded: 0, incomplete: 0 },
  ]);
  const stopped = await s.announce(ann(1, { left: 0, event: 'stopped' }));
  assert.deepEqual([stopped.complete, stopped.incomplete, stopped.peers4.length], [1, 1, 0]);
  assert.deepEqual(await s.stats(), { torrents: 1, peers: 2, seeders: 1, leechers: 1, completed: 1 });
});

test('memory store: version() moves when a count does, not on a re-announce that changes none', async () => {
  const s = new MemorySwarmStore({ random: seeded(2) });
  const v0 = s.version();
  await s.announce(ann(1));
  const v1 = s.version();
  assert.notEqual(v1, v0, 'a new leecher');
  await s.announce(ann(1));
  await s.announce(ann(1, { event: 'started' }));
  await s.announce(ann(9, { event: 'stopped' })); // not there
  assert.equal(s.version(), v1, 're-announces and a stop of no one change no count');
  await s.announce(ann(1, { left: 0 }));
  const v2 = s.version();
  assert.notEqual(v2, v1, 'the leecher turned seeder');
  await s.announce(ann(1, { left: 0, event: 'completed' }));
  const v3 = s.version();
  assert.notEqual(v3, v2, '`completed` counted');
  await s.announce(ann(1, { left: 0, event: 'completed' }));
  assert.equal(s.version(), v3, 'counted once');
  await s.announce(ann(1, { left: 0, event: 'stopped' }));
  const v4 = s.version();
  assert.notEqual(v4, v3, 'stopped');
  assert.deepEqual((await s.scrape([ih]))[0], { infoHash: ih, complete: 0, downloaded: 1, incomplete: 0 });
  assert.equal(await s.expire(1), 0);
  assert.deepEqual((await s.scrape([ih]))[0], { infoHash: ih, complete: 0, downloaded: 0, incomplete: 0 }, 'the empty torrent went, with its count');
  assert.notEqual(s.version(), v4, 'expiry dropped a count');
});

test('memory store: numwant caps the sample, and samples cover the whole swarm', async () => {
  const s = new MemorySwarmStore({ random: seeded(7) });
  for (let i = 0; i < 100; i++) await s.announce(ann(i));
  const seen = new Set<number>();
  for (let k = 0; k < 200; k++) {
    const r = await s.announce(ann(0, { numwant: 10 }));
    const ports = decodeCompactPeers(r.peers4, 6).map((p) => p.port);
    assert.equal(ports.length, 10);
    assert.equal(new Set(ports).size, 10, 'no duplicates in one reply');
    assert.ok(!ports.includes(1000), 'never the announcer');
    ports.forEach((p) => seen.add(p));
  }
  assert.equal(seen.size, 99);
});

test('memory store: IPv4 and IPv6 peers go to their own compact lists; list replies carry ids and URLs', async () => {
  const s = new MemorySwarmStore({ random: seeded(3) });
  await s.announce(ann(1));
  await s.announce(ann(2, { ip: parseIp('2001:db8::2')! }));
  await s.announce(ann(3, { port: 0, url: 'https://peer.example/' }));
  const both = await s.announce(ann(4, { reply: 'compact' }));
  assert.deepEqual(decodeCompactPeers(both.peers4, 6), [{ ip: '10.0.0.1', port: 1001 }]);
  assert.deepEqual(decodeCompactPeers(both.peers6, 18), [{ ip: '2001:db8::2', port: 1002 }]);
  const v6 = await s.announce(ann(5, { reply: 'compact6', ip: parseIp('::1')! }));
  assert.equal(v6.peers6.length, 18);
  assert.equal(v6.peers4.length, 0);
  const list = await s.announce(ann(6, { reply: 'list' }));
  const byPort = new Map(list.peers.map((p) => [p.port, p]));
  assert.equal(list.peers.length, 5);
  assert.deepEqual(byPort.get(0), { peerId: peerId(3), ip: '10.0.0.1', port: 0, url: 'https://peer.example/' });
  assert.deepEqual(byPort.get(1002), { peerId: peerId(2), ip: '2001:db8::2', port: 1002 });
});

test('memory store: peers expire after the timeout, then their torrent', async () => {
  const s = new MemorySwarmStore({ peerTimeoutMs: 1000 });
  await s.announce(ann(1, { nowMs: 0 }));
  await s.announce(ann(2, { nowMs: 600 }));
  assert.equal(await s.expire(1000), 0);
  assert.equal(await s.expire(1001), 1);
  assert.equal((await s.stats()).peers, 1);
  await s.announce(ann(2, { nowMs: 1500 })); // a re-announce keeps it alive
  assert.equal(await s.expire(2000), 0);
  assert.equal(await s.expire(2501), 1);
  assert.deepEqual(await s.stats(), { torrents: 0, peers: 0, seeders: 0, leechers: 0, completed: 0 });
});

test('memory store: expiry stays exact when last-seen times are rebased (a tracker up for weeks)', async () => {
  const s = new MemorySwarmStore({ peerTimeoutMs: 1000 });
  const t0 = Date.now() + 2 ** 31; // weeks after the store started: past the rebase point
  await s.announce(ann(1, { nowMs: t0 }));
  await s.announce(ann(2, { nowMs: t0 + 600 }));
  assert.equal(await s.expire(t0 + 1000), 0); // rebases
  assert.equal(await s.expire(t0 + 1001), 1);
  await s.announce(ann(2, { nowMs: t0 + 1500 }));
  assert.equal(await s.expire(t0 + 2000), 0);
  assert.equal(await s.expire(t0 + 2501), 1);
  assert.equal((await s.stats()).peers, 0);
});

test('memory store: bounded torrents and peers; a full swarm still answers newcomers, without storing them', async () => {
  const s = new MemorySwarmStore({ maxTorrents: 1, maxPeersPerTorrent: 2, maxPeers: 3, random: seeded(3) });
  await s.announce(ann(1));
  await s.announce(ann(2, { left: 0 }));
  const full = (e: unknown): boolean => e instanceof TrackerError && e.code === 'TRACKER_FULL';
  const r = await s.announce(ann(3, { event: 'completed' }));
  assert.deepEqual([r.complete, r.incomplete], [1, 1]);
  assert.deepEqual(decodeCompactPeers(r.peers4, 6).map((p) => p.port).sort(), [1001, 1002]);
  assert.deepEqual(await s.stats(), { torrents: 1, peers: 2, seeders: 1, leechers: 1, completed: 0 }, 'the newcomer is not stored');
  await assert.rejects(s.announce(ann(1, { infoHash: infoHash(2) })), full);
  await s.announce(ann(1)); // known peers still re-announce
  await s.announce(ann(1, { event: 'stopped' }));
  const now = await s.announce(ann(3));
  assert.deepEqual(decodeCompactPeers(now.peers4, 6).map((p) => p.port), [1002]);
  assert.deepEqual((await s.stats()).peers, 2, 'room again: the newcomer is stored');
});

test('memory store: a torrent holding 100,000 peers answers the next newcomers with peers, never TRACKER_FULL (issue 18)', () => {
  const s = new MemorySwarmStore({ random: seeded(5) });
  const at = (n: number): SwarmAnnounce =>
    ann(n, { peerId: peerId(n), ip: parseIp(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`)!, port: 6881 });
  for (let n = 0; n < 100_000; n++) s.announceNow(at(n));
  for (let n = 100_000; n < 100_100; n++) {
    const r = s.announceNow(at(n));
    assert.equal(r.peers4.length, 50 * 6);
    assert.equal(r.incomplete, 100_000);
    const out = new Uint8Array(50 * 6);
    assert.equal(s.announceInto(at(n), out, 0).peerBytes, 50 * 6);
  }
});

test('memory store: announceInto writes the same sample as announceNow, after the caller\'s bytes, for any swarm and numwant', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 70 }),
      fc.integer({ min: 0, max: 80 }),
      fc.integer({ min: 0, max: 75 }),
      fc.boolean(),
      fc.integer(),
      (swarm, numwant, who, v6, seed) => {
        const reply = v6 ? 'compact6' : 'compact4';
        const ip = parseIp(v6 ? '2001:db8::1' : '10.0.0.1')!;
        const a = new MemorySwarmStore({ random: seeded(seed) });
        const b = new MemorySwarmStore({ random: seeded(seed) });
        for (let i = 0; i < swarm; i++) {
          a.announceNow(ann(i, { ip, reply }));
          b.announceNow(ann(i, { ip, reply }));
        }
        const req = ann(who, { ip, reply, numwant });
        const want = a.announceNow(req);
        const entry = v6 ? 18 : 6;
        const out = new Uint8Array(3 + numwant * entry).fill(0xee);
        const got = b.announceInto(req, out, 3);
        assert.deepEqual([got.complete, got.incomplete], [want.complete, want.incomplete]);
        assert.deepEqual(out.subarray(3, 3 + got.peerBytes), v6 ? want.peers6 : want.peers4);
        assert.deepEqual([...out.subarray(0, 3)], [0xee, 0xee, 0xee]);
        const others = who < swarm ? swarm - 1 : swarm;
        assert.equal(got.peerBytes, Math.min(numwant, others) * entry);
        const ports = decodeCompactPeers(out.subarray(3, 3 + got.peerBytes), entry).map((p) => p.port);
        assert.equal(new Set(ports).size, ports.length, 'no duplicates');
        assert.ok(!ports.includes(1000 + who), 'never the announcer');
      },
    ),
    { numRuns: 300 },
  );
});

test('memory store: any sequence of announces, stops and expiry agrees with a plain model of the swarms; a count that changed changed version()', async () => {
  const addresses = ['10.0.0.1', '10.0.0.2', '2001:db8::1', '2001:db8::2'];
  const op = fc.record({
    torrent: fc.integer({ min: 0, max: 2 }),
    peer: fc.integer({ min: 0, max: 5 }),
    ip: fc.integer({ min: 0, max: 3 }),
    port: fc.constantFrom(0, 6881, 6882, 65535),
    left: fc.constantFrom(0, 7),
    event: fc.constantFrom(undefined, 'started', 'completed', 'stopped', 'stopped'),
    url: fc.constantFrom(undefined, 'http://peer.example/'),
    reply: fc.constantFrom('compact4', 'compact6', 'compact', 'list'),
    numwant: fc.integer({ min: 0, max: 40 }),
    advance: fc.integer({ min: 0, max: 400 }),
    expire: fc.boolean(),
  });
  interface ModelPeer { readonly ip: string; readonly port: number; readonly seeder: boolean; readonly seen: number; readonly peer: number; readonly url: string | undefined; completed: boolean }
  interface ModelTorrent { readonly peers: Map<string, ModelPeer>; downloaded: number }
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 300 }), fc.integer(), async (ops, seed) => {
      const s = new MemorySwarmStore({ peerTimeoutMs: 1000, random: seeded(seed) });
      const model = new Map<number, ModelTorrent>();
      // status.json keeps a scrape while version() is the same: every change of a count must move it.
      const hashes = [0, 1, 2].map(infoHash);
      let counts = JSON.stringify(await s.scrape(hashes));
      let version = s.version();
      const followed = async (what: string): Promise<void> => {
        const after = JSON.stringify(await s.scrape(hashes));
        if (after !== counts) assert.notEqual(s.version(), version, `${what} changed the counts but not version()`);
        counts = after;
        version = s.version();
      };
      let now = 5_000;
      for (const o of ops) {
        now += o.advance;
        if (o.expire) {
          let dropped = 0;
          for (const [k, t] of model) {
            for (const [pk, p] of t.peers) {
              if (p.seen < now - 1000) {
                t.peers.delete(pk);
                dropped++;
              }
            }
            if (t.peers.size === 0) model.delete(k);
          }
          assert.equal(await s.expire(now), dropped);
          await followed('expire');
        }
        const address = addresses[o.ip]!;
        const key = `${o.peer}|${address}|${o.port}`;
        const r = s.announceNow({
          infoHash: infoHash(o.torrent), peerId: peerId(o.peer), ip: parseIp(address)!, port: o.port, left: o.left,
          numwant: o.numwant, reply: o.reply, nowMs: now,
          ...(o.event === undefined ? {} : { event: o.event }), ...(o.url === undefined ? {} : { url: o.url }),
        });
        await followed('an announce');
        let t = model.get(o.torrent);
        if (o.event === 'stopped') {
          t?.peers.delete(key);
        } else {
          if (t === undefined) {
            t = { peers: new Map(), downloaded: 0 };
            model.set(o.torrent, t);
          }
          const completed = t.peers.get(key)?.completed ?? false;
          const p: ModelPeer = { ip: address, port: o.port, seeder: o.left === 0, seen: now, peer: o.peer, url: o.url, completed };
          t.peers.set(key, p);
          if (o.event === 'completed' && !completed) {
            p.completed = true;
            t.downloaded++;
          }
        }
        const all = [...(t?.peers.values() ?? [])];
        const seeders = all.filter((p) => p.seeder).length;
        assert.deepEqual([r.complete, r.incomplete], [seeders, all.length - seeders]);
        if (o.event === 'stopped' || t === undefined) continue;
        const others = [...t.peers.entries()].filter(([k]) => k !== key).map(([, p]) => p);
        const wire = (v6: boolean): ModelPeer[] => others.filter((p) => p.port !== 0 && p.ip.includes(':') === v6);
        if (o.reply === 'list') {
          assert.equal(r.peers.length, Math.min(o.numwant, others.length));
          for (const p of r.peers) {
            assert.ok(others.some((q) => q.ip === p.ip && q.port === p.port && q.url === p.url && Buffer.from(peerId(q.peer)).equals(Buffer.from(p.peerId))));
          }
          assert.equal(new Set(r.peers.map((p) => `${p.ip}|${p.port}|${Buffer.from(p.peerId).toString('hex')}`)).size, r.peers.length);
        } else {
          for (const [bytes, entry, v6, asked] of [[r.peers4, 6, false, o.reply !== 'compact6'], [r.peers6, 18, true, o.reply === 'compact6' || o.reply === 'compact']] as const) {
            const got = decodeCompactPeers(bytes, entry);
            const candidates = wire(v6);
            assert.equal(got.length, asked ? Math.min(o.numwant, candidates.length) : 0);
            for (const p of got) assert.ok(candidates.some((q) => q.ip === p.ip && q.port === p.port));
          }
        }
      }
      const all = [...model.values()].flatMap((t) => [...t.peers.values()]);
      const seeders = all.filter((p) => p.seeder).length;
      const completed = [...model.values()].reduce((n, t) => n + t.downloaded, 0);
      assert.deepEqual(await s.stats(), { torrents: model.size, peers: all.length, seeders, leechers: all.length - seeders, completed });
    }),
    { numRuns: 300 },
  );
});

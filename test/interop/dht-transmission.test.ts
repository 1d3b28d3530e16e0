/**
 * Transmission's DHT and a torrenttp seed on a private loopback DHT: why Transmission cannot find
 * it, shown rather than said. Transmission 3.00's DHT is jch's dht.c, whose `dht_periodic` drops
 * every packet from a "martian" address before reading it: `is_martian()` is true for 0/8, 127/8
 * and 224/3, and for IPv6 ::, ::1, fe80::/10, ff00::/8 and v4-mapped addresses, with no setting.
 * So on loopback (the only network these tests may use) Transmission's DHT can send queries but
 * never take an answer or a query: its table stays empty and no lookup of the magnet reaches a
 * node, so it never hears of the seed. The test shows each step: Transmission, given our node
 * in `dht.bootstrap`, pings it and we answer; its log still says "DHT not ready (broken,
 * 0 nodes)" after the answer; it does not answer our ping from 127.0.0.1 to the port its ping came
 * from; and the seed, announced on our DHT, never sees it. (aria2's DHT finds the same seed over
 * IPv4 and IPv6: dht-aria2.test.ts.) Only a test on a non-loopback network could show more.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DhtNode } from '../../src/dht/index.js';
import { Client } from '../../src/engine/index.js';
import { TorrenttpError } from '../../src/errors/index.js';
import { createTorrent, infoHashFromHex, infoHashToBytes } from '../../src/metainfo/index.js';
import { loopbackDhtNode } from '../helpers/dht.js';
import { requireTool, until } from '../helpers/processes.js';
import { startTransmission, stop } from '../helpers/transmission.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const NOT_READY = /IPv4 DHT not ready \(broken, 0 nodes\)/g;

test('Transmission 3.00 cannot find a torrenttp seed through a loopback DHT: its DHT pings our node but drops every answer from 127/8 (dht.c is_martian)', { timeout: 90_000 }, async (t) => {
  requireTool('transmission-daemon', ['--version']);
  requireTool('transmission-remote', ['--version']);
  // Removed after every hook the body registers (a client or aria2 stopped there may still write its state).
  return withTempDir(t, async (root) => {
    const entry = new DhtNode({ host: '127.0.0.1', timeoutMs: 1000 });
    await entry.start();
    const seedDht = await loopbackDhtNode(entry.port);
    t.after(() => Promise.all([entry.close(), seedDht.close()]));

    // A trackerless torrenttp seed, announced on our DHT.
    mkdirSync(join(root, 'seed'));
    writeFileSync(join(root, 'seed', 'x.bin'), bytes(512 * 1024 + 3, 21));
    const { torrent, metainfo } = await createTorrent(join(root, 'seed', 'x.bin'), { pieceLength: 64 * 1024, creationDate: null });
    const seeder = new Client({ host: '127.0.0.1', dht: seedDht });
    t.after(() => seeder.close());
    const seeding = await seeder.add(torrent, { path: join(root, 'seed') });
    const infoHash = infoHashToBytes(infoHashFromHex(metainfo.infoHash));
    const probe = await loopbackDhtNode(entry.port);
    t.after(() => probe.close());
    await until('the seed to announce on the DHT', async () => (await probe.getPeers(infoHash)).peers.some((p) => p.port === seeder.port), 30_000);

    const tr = await startTransmission(t, root, { 'dht-enabled': true }, { 'dht.bootstrap': `127.0.0.1 ${entry.port}\n` });
    try {
      await tr.remote('-a', `magnet:?xt=urn:btih:${metainfo.infoHash}`);
      // 1. Transmission's DHT pings our node (its bootstrap) from its peer port, and we answer.
      const trNode = `127.0.0.1:${tr.peerPort}`;
      await until("Transmission's DHT to query our node", () => entry.nodes().some((n) => `${n.ip}:${n.port}` === trNode) && entry.stats().answered > 0, 30_000, tr.proc);
      // 2. After our answer, Transmission still has no node: it threw the answer away.
      const before = tr.log().match(NOT_READY)?.length ?? 0;
      await until('Transmission to report its DHT again', () => (tr.log().match(NOT_READY)?.length ?? 0) > before, 30_000, tr.proc);
      // 3. It does not answer a ping from 127.0.0.1 to the very port its own ping came from.
      await assert.rejects(entry.ping('127.0.0.1', tr.peerPort), (e: unknown) => e instanceof TorrenttpError && e.code === 'DHT_TIMEOUT');
      // 4. So it never heard of the seed (had it, libtransmission would still drop a 127/8 peer it did not accept, as it does a tracker's).
      assert.equal(seeding.stats().peers, 0, 'Transmission never connected to the seed');
    } finally {
      await stop(tr.proc);
    }
  });
});

/**
 * MSE/PE between two torrenttp clients, byte-identical files, through a loopback TCP relay
 * (test/helpers/mse-relay.ts) that records how each connection starts: "\x13BitTorrent protocol" is plain, anything else is an
 * encrypted handshake (Ya). The relay can also play a plain-only peer (it drops a connection
 * that does not start plain), which is what `prefer` must fall back from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TorrenttpError } from '../../src/errors/index.js';
import { Client } from '../../src/engine/index.js';
import { until } from '../helpers/processes.js';
import { relay, seedAndTorrent } from '../helpers/mse-relay.js';
import { withTempDir } from '../helpers/torrents.js';

const TIMEOUT = { timeout: 120_000 };

test('require on both sides: every connection starts encrypted, the file arrives byte-identical', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, payload } = await seedAndTorrent(dir, 8 * 1024 * 1024 + 4321);
    const seed = new Client({ encryption: 'require', host: '127.0.0.1' });
    t.after(() => seed.close());
    await seed.add(torrent, { path: join(dir, 'seed'), trackers: false, dht: false });
    const r = await relay(t, seed.port);
    const leech = new Client({ encryption: 'require', listen: false });
    t.after(() => leech.close());
    const tor = await leech.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${r.port}`], trackers: false, dht: false });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
    assert.ok(r.starts.length > 0);
    assert.deepEqual([...new Set(r.starts)], ['encrypted']);
  }));

test('off on both sides: plain BitTorrent, byte-identical', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, payload } = await seedAndTorrent(dir, 2 * 1024 * 1024);
    const seed = new Client({ encryption: 'off', host: '127.0.0.1' });
    t.after(() => seed.close());
    await seed.add(torrent, { path: join(dir, 'seed'), trackers: false, dht: false });
    const r = await relay(t, seed.port);
    const leech = new Client({ encryption: 'off', listen: false });
    t.after(() => leech.close());
    const tor = await leech.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${r.port}`], trackers: false, dht: false });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
    assert.deepEqual([...new Set(r.starts)], ['plain']);
  }));

test('prefer against a plain-only peer: the encrypted try is dropped, plain follows and completes', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, payload } = await seedAndTorrent(dir, 2 * 1024 * 1024);
    const seed = new Client({ encryption: 'off', host: '127.0.0.1' });
    t.after(() => seed.close());
    await seed.add(torrent, { path: join(dir, 'seed'), trackers: false, dht: false });
    const r = await relay(t, seed.port, true);
    const leech = new Client({ listen: false }); // the default: prefer
    t.after(() => leech.close());
    const tor = await leech.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${r.port}`], trackers: false, dht: false });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
    assert.deepEqual(r.starts.slice(0, 2), ['encrypted', 'plain']);
    assert.equal(r.starts.filter((s) => s === 'encrypted').length, 1, 'the address is remembered as plain');
  }));

test('prefer with plainPeers: that peer is dialled plain from the first connection (require still encrypts)', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, payload } = await seedAndTorrent(dir, 2 * 1024 * 1024);
    const seed = new Client({ host: '127.0.0.1' }); // prefer: answers both
    t.after(() => seed.close());
    await seed.add(torrent, { path: join(dir, 'seed'), trackers: false, dht: false });
    for (const [encryption, want] of [['prefer', 'plain'], ['require', 'encrypted']] as const) {
      const r = await relay(t, seed.port);
      const peer = `127.0.0.1:${r.port}`;
      const leech = new Client({ encryption, listen: false });
      t.after(() => leech.close());
      const tor = await leech.add(torrent, { path: join(dir, `dl-${encryption}`), peers: [peer], plainPeers: [peer], trackers: false, dht: false });
      await tor.done;
      assert.deepEqual(readFileSync(join(dir, `dl-${encryption}`, 'payload.bin')), Buffer.from(payload));
      assert.deepEqual([...new Set(r.starts)], [want], encryption);
    }
  }));

test('require seed, off leech: the plain handshake is refused with TRANSPORT_ENCRYPTION_REQUIRED; a require leech against an off seed works (off still answers)', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, payload } = await seedAndTorrent(dir, 1024 * 1024);
    const seed = new Client({ encryption: 'require', host: '127.0.0.1' });
    t.after(() => seed.close());
    const refused: TorrenttpError[] = [];
    seed.on('peerError', (_peer, err) => refused.push(err));
    await seed.add(torrent, { path: join(dir, 'seed'), trackers: false, dht: false });
    const plainLeech = new Client({ encryption: 'off', listen: false });
    t.after(() => plainLeech.close());
    const failures: string[] = [];
    plainLeech.on('source', (s) => {
      if (!s.ok) failures.push(s.error!.code);
    });
    await plainLeech.add(torrent, { path: join(dir, 'dl-plain'), peers: [`127.0.0.1:${seed.port}`], trackers: false, dht: false });
    await until('the seed to refuse the plain handshake', () => refused.some((e) => e.code === 'TRANSPORT_ENCRYPTION_REQUIRED'), 20_000);
    await until('the leech to report the peer failed', () => failures.length > 0, 20_000);

    const offSeed = new Client({ encryption: 'off', host: '127.0.0.1' });
    t.after(() => offSeed.close());
    await offSeed.add(torrent, { path: join(dir, 'seed'), trackers: false, dht: false });
    const r = await relay(t, offSeed.port);
    const leech = new Client({ encryption: 'require', listen: false });
    t.after(() => leech.close());
    const tor = await leech.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${r.port}`], trackers: false, dht: false });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
    assert.deepEqual([...new Set(r.starts)], ['encrypted']);
  }));

/**
 * `TorrentTTP-Seed` (docs/serve.md): serve's torrent and metainfo answers name its seed, at the
 * address the client reached the server on, and `torrenttp get` dials it at once. The second
 * test puts a front server between get and serve that passes the torrent on with a tracker that
 * never answers and no web seed: only the header leads get to the seed. Fault checked once:
 * `swarmGet` not passing the offer's peers to the engine makes that get stall and fail. The
 * third has a relay in front of the seed that sees how each connection starts: plain under the
 * default policy of an http: get (fault checked: `plainPeers` not passed to `client.add`).
 * The proxy's case is test/gateway/proxy-plain-seed.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { randomBytes } from 'node:crypto';
import { getUrl, seedPeers } from '../../src/gateway/index.js';
import { LONE_RESERVE_MS } from '../../src/gateway/gateway.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { encodeAnnounceQuery } from '../../src/tracker/index.js';
import { plainSeeds } from '../../src/gateway/negotiate-client.js';
import { relay, type Relay } from '../helpers/mse-relay.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';
import { seedOnlyByHeader } from './seed-front.js';

const MIB = 1024 * 1024;

test('seedPeers: host:port and [v6]:port entries, normalized, bounded; junk skipped', () => {
  assert.deepEqual(seedPeers('127.0.0.1:6881'), ['127.0.0.1:6881']);
  assert.deepEqual(seedPeers(' [::1]:7000 , seed.example:80,127.0.0.1:6881, 127.0.0.1:6881'), ['[::1]:7000', 'seed.example:80', '127.0.0.1:6881']);
  assert.deepEqual(seedPeers(['1.2.3.4:1', 'nonsense, 1.2.3.4:0, 1.2.3.4:70000, ::1:80, :80']), ['1.2.3.4:1']);
  assert.deepEqual(seedPeers(Array.from({ length: 10 }, (_, i) => `10.0.0.${i}:1`).join(',')).length, 4, 'at most 4');
  assert.deepEqual(seedPeers(`${'x'.repeat(2000)}:1,10.0.0.1:1`), [], 'a header is read to 1 KiB only');
  assert.deepEqual(seedPeers(undefined), []);
});

test('serve names its seed in the torrent and metainfo answers (TorrentTTP-Seed), not on the bytes', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(2 * MIB, 3));
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    const url = `${g.url}/big.bin`;
    await torrentOf(url);
    const want = `127.0.0.1:${g.peerPort}`;
    for (let i = 0; i < 100; i++) {
      // The seed joins the engine just after the torrent is made.
      const r = await request(`${url}?torrent`);
      await r.body.dump();
      if (r.headers['torrenttp-seed'] !== undefined) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    for (const [target, accept] of [[url, 'application/x-bittorrent'], [`${url}?metainfo`, '*/*']] as const) {
      const r = await request(target, { headers: { accept } });
      await r.body.dump();
      assert.equal(r.headers['torrenttp-seed'], want, target);
    }
    const plain = await request(url, { headers: { range: 'bytes=0-0' } });
    await plain.body.dump();
    assert.equal(plain.headers['torrenttp-seed'], undefined, 'bytes carry no seed header');
  }),
);

test('serve answers a joining client (TorrentTTP-Join) with the peers besides its seed (TorrentTTP-Swarm-Peers); a 0 counts as a peer for LONE_RESERVE_MS', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(2 * MIB, 4));
    let now = 1_000_000;
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache'), now: () => now });
    const url = `${g.url}/big.bin`;
    await torrentOf(url);
    const peersHeard = async (headers: Record<string, string>, method = 'GET'): Promise<string | undefined> => {
      const r = await request(url, { method, headers: { accept: 'application/x-bittorrent', ...headers } });
      await r.body.dump();
      assert.equal(r.statusCode, 200);
      const v = r.headers['torrenttp-swarm-peers'];
      return typeof v === 'string' ? v : undefined;
    };
    for (let i = 0; i < 100 && (await request(`${url}?torrent`).then(async (r) => (await r.body.dump(), r.headers['torrenttp-seed']))) === undefined; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(await peersHeard({}), undefined, 'only a joining client hears it');
    assert.equal(await peersHeard({ 'torrenttp-join': '1' }, 'HEAD'), '0', 'a HEAD hears it and reserves nothing');
    assert.equal(await peersHeard({ 'torrenttp-join': '1' }), '0', 'alone');
    assert.equal(await peersHeard({ 'torrenttp-join': '1' }), '1', 'the one answered alone a moment ago counts');
    now += LONE_RESERVE_MS;
    assert.equal(await peersHeard({ 'torrenttp-join': '1' }), '0', 'it never announced: alone again');
    assert.equal(await peersHeard({ 'torrenttp-join': '1' }), '1', 'reserved again');
    // The reserved one announces: the tracker counts it, and once it stopped, nobody does.
    const torrent = parseTorrent(await torrentOf(url));
    const peerId = randomBytes(20);
    const announce = async (event?: 'stopped'): Promise<void> => {
      const q = encodeAnnounceQuery({ infoHash: Uint8Array.from(Buffer.from(torrent.infoHash, 'hex')), peerId, port: 9, uploaded: 0, downloaded: 0, left: 100, compact: true, ...(event === undefined ? {} : { event }) });
      const a = await request(`${g.url}/announce?${q}`);
      await a.body.dump();
      assert.equal(a.statusCode, 200);
    };
    await announce();
    assert.equal(await peersHeard({ 'torrenttp-join': '1' }), '1', 'one leecher');
    await announce('stopped');
    assert.equal(await peersHeard({ 'torrenttp-join': '1' }), '0', 'its announce ended the reservation: the next get after a lone one streams too');
  }),
);

test('get reaches the seed named by TorrentTTP-Seed when the tracker never answers and there is no web seed', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { frontUrl, payload } = await seedOnlyByHeader(t, dir, (port) => `127.0.0.1:${port}`);
    const out = join(dir, 'out.bin');
    const result = await getUrl({ url: frontUrl, output: { kind: 'file', path: out }, stallMs: 15_000 });
    assert.equal(result.mode, 'swarm');
    assert.ok(readFileSync(out).equals(Buffer.from(payload)), 'byte-identical');
    assert.equal(result.sources.wire, payload.length, 'every byte from the seed, over the wire');
  }),
);

test('get of an http: URL dials the named seed plain (no MSE); an encryption policy given holds for it', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    let r: Relay | undefined;
    const { frontUrl, payload } = await seedOnlyByHeader(t, dir, async (port) => {
      r = await relay(t, port);
      return `127.0.0.1:${r.port}`;
    });
    for (const [encryption, want] of [[undefined, 'plain'], ['prefer', 'encrypted']] as const) {
      r!.starts.length = 0;
      const out = join(dir, `out-${encryption ?? 'default'}.bin`);
      const result = await getUrl({ url: frontUrl, output: { kind: 'file', path: out }, stallMs: 15_000, ...(encryption === undefined ? {} : { encryption }) });
      assert.ok(readFileSync(out).equals(Buffer.from(payload)), 'byte-identical');
      assert.equal(result.sources.wire, payload.length);
      assert.deepEqual([...new Set(r!.starts)], [want], `encryption ${encryption ?? 'default'}`);
    }
  }),
);

test('plainSeeds: the named seeds of an http: answer only', () => {
  const peers = ['127.0.0.1:6881'];
  assert.deepEqual(plainSeeds({ from: 'http://a.example/f', peers }), peers);
  assert.deepEqual(plainSeeds({ from: 'HTTP://a.example/f', peers }), peers);
  assert.deepEqual(plainSeeds({ from: 'https://a.example/f', peers }), [], 'https: the wire link would be the readable one');
});

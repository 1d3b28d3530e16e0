/**
 * The server's seed in its own swarm: every announce to the embedded tracker (HTTP or UDP) lists
 * the seed once, at the address the client reached the server on (so a client on another machine
 * reaches it, not at the loopback address the seed announced from), and the seed dials every
 * announcing leecher. The address rule is shown with the two loopback families of one dual-stack
 * server: a client that came in on ::1 gets the seed at ::1 and not again at 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { createTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { decodeAnnounceResponse, encodeAnnounceQuery, UdpTrackerClient, type AnnounceRequest, type PeerAddress } from '../../src/tracker/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { recordingLogger, startGateway } from './helpers.js';

const MIB = 1024 * 1024;

function leech(infoHash: Uint8Array, port: number): AnnounceRequest {
  return { infoHash, peerId: randomBytes(20), port, uploaded: 0, downloaded: 0, left: 100, compact: true };
}

async function httpPeers(base: string, a: AnnounceRequest): Promise<PeerAddress[]> {
  const r = decodeAnnounceResponse(new Uint8Array(await (await request(`${base}/announce?${encodeAnnounceQuery(a)}`)).body.arrayBuffer()));
  assert.equal(r.type, 'ok');
  return r.type === 'ok' ? r.peers : [];
}

const show = (peers: readonly PeerAddress[]): string[] => peers.map((p) => (p.ip.includes(':') ? `[${p.ip}]:${p.port}` : `${p.ip}:${p.port}`));

test('the seed is listed at the address each client reached the server on, once, over HTTP and UDP', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'a.bin'), bytes(2 * MIB, 7));
    const g = await startGateway(t, { root, host: '::' });
    const v4 = `http://127.0.0.1:${g.address.port}`;
    const v6 = `http://[::1]:${g.address.port}`;
    let torrent = await request(`${v4}/a.bin?torrent`);
    await torrent.body.dump();
    await g.swarm.settled();
    torrent = await request(`${v4}/a.bin?torrent`);
    const infoHash = Uint8Array.from(Buffer.from(parseTorrent(new Uint8Array(await torrent.body.arrayBuffer())).infoHash, 'hex'));
    const seed = g.peerPort;
    const seedEntries = (peers: readonly PeerAddress[]): string[] => show(peers.filter((p) => p.port === seed));

    // Wait until the seed's own announce (over loopback UDP) is in the store.
    for (let i = 0; i < 100 && (await g.swarm.settled(), (await httpPeers(v4, leech(infoHash, 6881))).length) < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seedEntries(await httpPeers(v4, leech(infoHash, 6882))), [`127.0.0.1:${seed}`]);
    assert.deepEqual(seedEntries(await httpPeers(v6, leech(infoHash, 6883))), [`[::1]:${seed}`]);

    const udp4 = await new UdpTrackerClient(`udp://127.0.0.1:${g.address.port}`, { baseTimeoutMs: 1000 }).announce(leech(infoHash, 6884));
    assert.deepEqual(seedEntries(udp4.peers), [`127.0.0.1:${seed}`]);
    const udp6 = await new UdpTrackerClient(`udp://[::1]:${g.address.port}`, { baseTimeoutMs: 1000 }).announce(leech(infoHash, 6885));
    assert.deepEqual(seedEntries(udp6.peers), [`[::1]:${seed}`]);
  }));

/** A plain BitTorrent handshake's first 20 bytes. */
const PLAIN_PREFIX = Buffer.from('\x13BitTorrent protocol', 'latin1');

test('the seed dials a leecher that announces to the embedded tracker', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'a.bin'), bytes(2 * MIB, 8));
    const g = await startGateway(t, { root });
    await (await request(`${g.url}/a.bin?torrent`)).body.dump();
    await g.swarm.settled();
    const m = parseTorrent(new Uint8Array(await (await request(`${g.url}/a.bin?torrent`)).body.arrayBuffer()));
    const infoHash = Uint8Array.from(Buffer.from(m.infoHash, 'hex'));

    // A "leecher" that only listens: the seed must come to it. It speaks plain BitTorrent only
    // and drops an encrypted handshake (MSE), so the seed's `prefer` dials again, plain.
    const handshake = new Promise<Buffer>((resolve) => {
      const server = createServer((s: Socket) => {
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => {
          chunks.push(c);
          const all = Buffer.concat(chunks);
          // Not a plain handshake (one in 256 encrypted ones also starts with 19): dropped.
          const n = Math.min(all.length, PLAIN_PREFIX.length);
          if (!all.subarray(0, n).equals(PLAIN_PREFIX.subarray(0, n))) return void s.destroy();
          if (all.length >= 68) {
            resolve(all.subarray(0, 68));
            s.destroy();
          }
        });
        s.on('error', () => {});
      });
      t.after(() => server.close());
      server.listen(0, '127.0.0.1', () => {
        const port = (server.address() as { port: number }).port;
        void httpPeers(g.url, leech(infoHash, port));
      });
    });
    const h = await handshake;
    assert.equal(h.subarray(1, 20).toString('latin1'), 'BitTorrent protocol');
    assert.deepEqual(new Uint8Array(h.subarray(28, 48)), infoHash);
  }));

test('content, not URL: query strings, symlinks and hard links share the file\'s swarm; a hard link is not hashed again', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(join(root, 'mirror'), { recursive: true });
    writeFileSync(join(root, 'a.bin'), bytes(2 * MIB + 3, 9));
    symlinkSync(join(root, 'a.bin'), join(root, 'link.bin'));
    linkSync(join(root, 'a.bin'), join(root, 'mirror', 'a.bin')); // same name
    linkSync(join(root, 'a.bin'), join(root, 'other.bin')); // another name
    const log = recordingLogger();
    const g = await startGateway(t, { root, logger: log });
    const torrentOf = async (path: string, headers: Record<string, string> = { accept: 'application/x-bittorrent' }): Promise<ReturnType<typeof parseTorrent>> => {
      for (;;) {
        const r = await request(`${g.url}${path}`, { headers });
        if (r.statusCode === 200) return parseTorrent(new Uint8Array(await r.body.arrayBuffer()));
        assert.equal(r.statusCode, 503);
        await r.body.dump();
        await g.swarm.settled();
      }
    };
    const a = await torrentOf('/a.bin');
    assert.equal(a.infoHash, (await createTorrent(join(root, 'a.bin'), { creationDate: null })).metainfo.infoHash);
    for (const path of ['/a.bin?x=1', '/a.bin?torrent=0&utm_source=mail', '/link.bin', '/link.bin?y']) {
      const m = await torrentOf(path);
      assert.equal(m.infoHash, a.infoHash, path);
    }
    assert.equal((await torrentOf('/a.bin?torrent', {})).infoHash, a.infoHash);
    const mirror = await torrentOf('/mirror/a.bin');
    assert.equal(mirror.infoHash, a.infoHash, 'same bytes, same name: one swarm');
    const other = await torrentOf('/other.bin');
    assert.equal(other.infoHash, (await createTorrent(join(root, 'other.bin'), { creationDate: null })).metainfo.infoHash, 'another name: its own info-hash, as torrenttp create makes it');
    assert.notEqual(other.infoHash, a.infoHash);
    const ready = log.entries.filter((e) => e.msg === 'torrent ready').map((e) => e.obj as { path: string; hardLink: boolean; cached: boolean });
    assert.equal(ready.length, 3, 'one torrent per real path: the symlink and the query strings made none');
    assert.deepEqual(ready.map((r) => r.hardLink), [false, true, true], 'the hard links were not hashed');
    assert.deepEqual(g.swarm.infoHashes().sort(), [a.infoHash, other.infoHash].sort(), 'one seed per info-hash');
  }));

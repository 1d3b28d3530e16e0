/**
 * Idle connections cannot lock a real downloader out (issue 18, finding 5): 60 connections that
 * send a valid handshake and then only keep-alives fill our seed (50 peers per torrent) and
 * stay; aria2c, finding the seed through opentracker, then connects, takes the place of a silent
 * one (eviction, src/engine/peer-set.ts) and completes byte-identical within 20 s. Without
 * eviction aria2c got 0 peers for the whole minute. aria2c and opentracker are required (.ci/run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent, infoHashToBytes, infoHashFromHex } from '../../src/metainfo/index.js';
import { encodeHandshake } from '../../src/wire/index.js';
import { until } from '../helpers/processes.js';
import { ariaLeech, startOpentracker } from '../helpers/swarm.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const IDLE = 60;

test('60 idle handshaking connections to our seed: aria2c still downloads, within 20 s', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const seedDir = join(dir, 'seed');
    mkdirSync(seedDir);
    const payload = bytes(8 * 1024 * 1024, 60);
    writeFileSync(join(seedDir, 'payload.bin'), payload);
    const probe = await createTorrent(join(seedDir, 'payload.bin'), { pieceLength: 256 * 1024, creationDate: null });
    const otPort = await startOpentracker(t, dir, [probe.metainfo.infoHash]);
    const { torrent, metainfo } = await createTorrent(join(seedDir, 'payload.bin'), {
      pieceLength: 256 * 1024,
      creationDate: null,
      announceList: [[`http://127.0.0.1:${otPort}/announce`]],
    });
    writeFileSync(join(dir, 'x.torrent'), torrent);
    const seed = new Client({ host: '127.0.0.1' });
    t.after(() => seed.close());
    const seeding = await seed.add(torrent, { path: seedDir });
    assert.ok(seeding.complete);

    const sockets: Socket[] = [];
    let closedByUs = 0;
    const timer = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write(new Uint8Array(4)); // keep-alive
    }, 2000);
    t.after(() => {
      clearInterval(timer);
      for (const s of sockets) s.destroy();
    });
    for (let i = 0; i < IDLE; i++) {
      // Each its own peer id: links from one address with one id are closed as duplicates at once.
      const peerId = new TextEncoder().encode(`-XX0001-idle${String(i).padStart(8, '0')}`);
      const s = connect(seed.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => closedByUs++);
      s.on('data', () => undefined);
      s.write(encodeHandshake({ infoHash: infoHashToBytes(infoHashFromHex(metainfo.infoHash)), peerId }));
      sockets.push(s);
    }
    await until('the seed to hold 50 idle peers', () => seeding.peerCount === 50, 10_000);
    // The idle peers have been connected past the 10 s a silent peer is given.
    await new Promise((r) => setTimeout(r, 10_500));
    assert.equal(seeding.peerCount, 50, 'the idle peers are still held (refused ones left)');
    const closedBefore = closedByUs;
    assert.equal(closedBefore, IDLE - 50, 'the ten beyond maxPeers were refused');

    const t0 = Date.now();
    await ariaLeech(t, join(dir, 'x.torrent'), join(dir, 'aria'), 20_000, ['--bt-tracker-interval=1']);
    const s = ((Date.now() - t0) / 1000).toFixed(1);
    assert.deepEqual(readFileSync(join(dir, 'aria', 'payload.bin')), Buffer.from(payload));
    assert.ok(closedByUs > closedBefore, `idle peers were evicted for aria2c (${closedByUs - closedBefore}); done in ${s} s`);
    t.diagnostic(`aria2c completed in ${s} s; idle peers evicted: ${closedByUs - closedBefore}`);
  }));

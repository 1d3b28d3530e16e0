/**
 * Magnet links with Transmission 3.00, both ways (BEP 9/10). Transmission drops loopback peers
 * from trackers and cannot be given a peer by RPC, so our side dials its peer port in both
 * directions (/work/shared/PEERS.md): as a leech through the magnet's `x.pe`, as a seed through
 * `peers`. Transmission fetches the metadata from us over the connection we opened.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent, encodeMagnet, parseTorrent } from '../../src/metainfo/index.js';
import { requireTool, until } from '../helpers/processes.js';
import { percentDone, startTransmission, stop } from '../helpers/transmission.js';
import { bytes, sha1Hex } from '../helpers/torrents.js';

const PAYLOAD_BYTES = 6 * 1024 * 1024 + 777;

async function setUp(name: string) {
  requireTool('transmission-daemon', ['--version']);
  requireTool('transmission-remote', ['--version']);
  const root = mkdtempSync(join(tmpdir(), `torrenttp-magnet-tr-${name}-`));
  const src = join(root, 'src');
  mkdirSync(src);
  const payload = bytes(PAYLOAD_BYTES, 11);
  writeFileSync(join(src, 'payload.bin'), payload);
  const { torrent } = await createTorrent(join(src, 'payload.bin'), { pieceLength: 256 * 1024, creationDate: null });
  const torrentPath = join(root, 'payload.torrent');
  writeFileSync(torrentPath, torrent);
  return { root, src, payload, torrent, torrentPath, metainfo: parseTorrent(torrent) };
}

test('Transmission seeds; torrenttp downloads from a magnet link whose x.pe is Transmission', { timeout: 90_000 }, async (t) => {
  const { root, payload, torrentPath, metainfo } = await setUp('seed');
  const tr = await startTransmission(t, root);
  const client = new Client({ host: '127.0.0.1', allowLoopbackPeers: true });
  try {
    writeFileSync(join(tr.downloadDir, 'payload.bin'), payload);
    await tr.remote('-a', torrentPath, '-w', tr.downloadDir);
    await until('Transmission to verify its data', async () => (await percentDone(tr)) === '100%', 20_000, tr.proc);
    const dl = join(root, 'dl');
    const tor = await client.add(encodeMagnet({ infoHash: metainfo.infoHash, peers: [`127.0.0.1:${tr.peerPort}`] }), { path: dl });
    assert.deepEqual(tor.metainfo.infoBytes, metainfo.infoBytes);
    await Promise.race([tor.done, new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(tor.stats())}\n${tr.log()}`)), 60_000).unref())]);
    await client.close();
    assert.equal(sha1Hex(readFileSync(join(dl, 'payload.bin'))), sha1Hex(payload));
  } finally {
    await client.close();
    await stop(tr.proc);
    rmSync(root, { recursive: true, force: true });
  }
});

test('torrenttp seeds; Transmission, given only the magnet link, gets the metadata from us and completes', { timeout: 90_000 }, async (t) => {
  const { root, src, payload, torrent, metainfo } = await setUp('leech');
  const tr = await startTransmission(t, root);
  const client = new Client({ host: '127.0.0.1', allowLoopbackPeers: true });
  try {
    await tr.remote('-a', encodeMagnet({ infoHash: metainfo.infoHash, name: metainfo.name }), '-w', tr.downloadDir);
    const seed = await client.add(torrent, { path: src, peers: [`127.0.0.1:${tr.peerPort}`], trackers: false });
    await until('Transmission to reach 100%', async () => (await percentDone(tr)) === '100%', 60_000, tr.proc).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await tr.remote('-t', 'all', '-i').catch(() => '')}\nour stats ${JSON.stringify(seed.stats())}\n${tr.log()}`);
    });
    assert.equal(sha1Hex(readFileSync(join(tr.downloadDir, 'payload.bin'))), sha1Hex(payload));
    assert.ok(seed.stats().uploaded >= payload.length, 'the bytes came from us');
  } finally {
    await client.close();
    await stop(tr.proc);
    rmSync(root, { recursive: true, force: true });
  }
});

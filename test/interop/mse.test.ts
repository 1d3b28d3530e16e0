/**
 * MSE/PE with aria2c (Debian's aria2 1.36) and Transmission 3.00, encrypted only on both sides,
 * byte-identical files, loopback only: aria2 `--bt-require-crypto=true
 * --bt-min-crypto-level=arc4` seeds and we download with `encryption: 'require'`; we seed with
 * `require` and such an aria2 downloads (it finds us through opentracker over HTTP); Transmission
 * with `"encryption": 2` (required) seeds, and leeches from us (we dial it both times). Each link
 * we hold is checked to be RC4.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type Torrent } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { requireTool, until } from '../helpers/processes.js';
import { ariaLeech, ariaSeed, startOpentracker } from '../helpers/swarm.js';
import { bytes, sha1Hex, withTempDir } from '../helpers/torrents.js';
import { percentDone, startTransmission, stop } from '../helpers/transmission.js';

const TIMEOUT = { timeout: 120_000 };
const ARIA_CRYPTO = ['--bt-require-crypto=true', '--bt-min-crypto-level=arc4'];

/** How each of the torrent's wire links is encrypted ('rc4', 'plaintext' or 'none'), as they connect. */
function linkEncryption(torrent: Torrent): string[] {
  const seen: string[] = [];
  torrent.on('peer', (l) => seen.push('encryption' in l ? String(l.encryption) : 'not wire'));
  return seen;
}

function singleFile(dir: string, size: number, seed: number): { data: string; file: string; payload: Uint8Array } {
  const data = join(dir, 'seed');
  mkdirSync(data, { recursive: true });
  const payload = bytes(size, seed);
  writeFileSync(join(data, 'payload.bin'), payload);
  return { data, file: join(data, 'payload.bin'), payload };
}

test('aria2 seeds encrypted-only (arc4), torrenttp downloads with encryption require', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { data, file, payload } = singleFile(dir, 16 * 1024 * 1024 + 777, 11);
    const { torrent } = await createTorrent(file, { pieceLength: 256 * 1024, creationDate: null });
    writeFileSync(join(dir, 'x.torrent'), torrent);
    const seed = await ariaSeed(t, join(dir, 'x.torrent'), data, ARIA_CRYPTO);
    const client = new Client({ encryption: 'require', listen: false });
    t.after(() => client.close());
    const tor = await client.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${seed.port}`], trackers: false, dht: false });
    const links = linkEncryption(tor);
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
    assert.ok(links.length > 0);
    assert.deepEqual([...new Set(links)], ['rc4']);
  }));

test('torrenttp seeds with encryption require, aria2 encrypted-only (arc4) downloads via opentracker', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { file, payload } = singleFile(dir, 16 * 1024 * 1024 + 555, 12);
    const probe = await createTorrent(file, { pieceLength: 256 * 1024, creationDate: null });
    const otPort = await startOpentracker(t, dir, [probe.metainfo.infoHash]);
    const { torrent } = await createTorrent(file, { pieceLength: 256 * 1024, creationDate: null, announceList: [[`http://127.0.0.1:${otPort}/announce`]] });
    writeFileSync(join(dir, 'x.torrent'), torrent);
    const client = new Client({ encryption: 'require', host: '127.0.0.1' });
    t.after(() => client.close());
    const seeding = await client.add(torrent, { path: join(dir, 'seed'), dht: false });
    const links = linkEncryption(seeding);
    assert.ok(seeding.complete);
    await new Promise((r) => setTimeout(r, 300)); // let the seed's `started` announce land first
    await ariaLeech(t, join(dir, 'x.torrent'), join(dir, 'aria'), 60_000, ARIA_CRYPTO);
    assert.deepEqual(readFileSync(join(dir, 'aria', 'payload.bin')), Buffer.from(payload));
    assert.ok(seeding.stats().uploaded >= payload.length, 'the bytes came from us');
    assert.ok(links.length > 0);
    assert.deepEqual([...new Set(links)], ['rc4']);
  }));

test('Transmission seeds with encryption required ("encryption": 2), torrenttp downloads with require (we dial it)', { timeout: 120_000 }, async (t) => {
  requireTool('transmission-daemon', ['--version']);
  requireTool('transmission-remote', ['--version']);
  const root = mkdtempSync(join(tmpdir(), 'torrenttp-mse-transmission-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const src = join(root, 'src');
  mkdirSync(src);
  const payload = bytes(8 * 1024 * 1024 + 99, 13);
  writeFileSync(join(src, 'payload.bin'), payload);
  const { torrent } = await createTorrent(join(src, 'payload.bin'), { pieceLength: 256 * 1024, creationDate: null });
  writeFileSync(join(root, 'payload.torrent'), torrent);
  const tr = await startTransmission(t, root, { encryption: 2 });
  const client = new Client({ encryption: 'require', host: '127.0.0.1', allowLoopbackPeers: true });
  try {
    writeFileSync(join(tr.downloadDir, 'payload.bin'), payload);
    await tr.remote('-a', join(root, 'payload.torrent'), '-w', tr.downloadDir);
    await until('Transmission to verify its data', async () => (await percentDone(tr)) === '100%', 20_000, tr.proc);
    const leech = await client.add(torrent, { path: join(root, 'dl'), peers: [`127.0.0.1:${tr.peerPort}`], trackers: false, webSeeds: false, dht: false });
    const links = linkEncryption(leech);
    const closes: string[] = [];
    leech.on('peerClosed', (_l, r) => closes.push(`${r?.code ?? ''} ${r?.message ?? ''}`));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out leeching from Transmission; links ${links.join(',')}; closes ${closes.join(' | ')}\nlog:\n${tr.log().slice(-3000)}`)), 90_000);
    });
    try {
      await Promise.race([leech.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
    await client.close();
    assert.equal(sha1Hex(readFileSync(join(root, 'dl', 'payload.bin'))), sha1Hex(payload), 'byte-identical');
    assert.deepEqual([...new Set(links)], ['rc4']);
  } finally {
    await client.close();
    await stop(tr.proc);
  }
});

test('torrenttp seeds with encryption require, Transmission with encryption required ("encryption": 2) downloads (we dial it)', { timeout: 120_000 }, async (t) => {
  requireTool('transmission-daemon', ['--version']);
  requireTool('transmission-remote', ['--version']);
  const root = mkdtempSync(join(tmpdir(), 'torrenttp-mse-transmission-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const seedDir = join(root, 'seed');
  mkdirSync(seedDir);
  const payload = bytes(8 * 1024 * 1024 + 101, 14);
  writeFileSync(join(seedDir, 'payload.bin'), payload);
  const { torrent } = await createTorrent(join(seedDir, 'payload.bin'), { pieceLength: 256 * 1024, creationDate: null });
  writeFileSync(join(root, 'payload.torrent'), torrent);
  const tr = await startTransmission(t, root, { encryption: 2 });
  const client = new Client({ encryption: 'require', host: '127.0.0.1', allowLoopbackPeers: true });
  try {
    await tr.remote('-a', join(root, 'payload.torrent'), '-w', tr.downloadDir);
    const seed = await client.add(torrent, { path: seedDir, peers: [`127.0.0.1:${tr.peerPort}`], trackers: false, webSeeds: false, dht: false });
    const links = linkEncryption(seed);
    await until('Transmission to reach 100%', async () => (await percentDone(tr)) === '100%', 90_000, tr.proc).catch((err: unknown) => {
      throw new Error(`${String(err)}; links ${links.join(',')}\nlog:\n${tr.log().slice(-3000)}`);
    });
    assert.equal(sha1Hex(readFileSync(join(tr.downloadDir, 'payload.bin'))), sha1Hex(payload), 'byte-identical');
    assert.ok(seed.stats().uploaded >= payload.length, 'the bytes came from us');
    assert.deepEqual([...new Set(links)], ['rc4']);
  } finally {
    await client.close();
    await stop(tr.proc);
  }
});

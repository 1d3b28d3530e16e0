/**
 * Magnet links between torrenttp clients (BEP 9/10): the metadata comes in 16 KiB pieces from
 * two seeds at once, is verified against the info-hash, and the download completes
 * byte-identical. Peers that lie about the dict (wrong bytes, a huge metadata_size) cost only
 * themselves: the fetch goes on with the honest seed, or fails with the code that says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { TorrenttpError } from '../../src/errors/index.js';
import { encodeMagnet, parseTorrent, type Metainfo } from '../../src/metainfo/index.js';
import {
  decodeExtendedHandshake,
  decodeMetadataMessage,
  encodeExtended,
  encodeExtendedHandshake,
  encodeMessages,
  encodeMetadataMessage,
  reservedBytes,
  WireDecoder,
} from '../../src/wire/index.js';
import { cli } from '../helpers/cli.js';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';

const PIECE = 16 * 1024;

/** A torrent whose info dict is about 40 KB (3 metadata pieces) thanks to an unknown key. */
function setUp(dir: string): { metainfo: Metainfo; seedDir: string; payload: Uint8Array } {
  const payload = bytes(10 * PIECE + 123, 7);
  const seedDir = join(dir, 'seed');
  mkdirSync(seedDir);
  writeFileSync(join(seedDir, 'payload.bin'), payload);
  const metainfo = parseTorrent(
    torrentBytes({ length: payload.length, name: 'payload.bin', 'piece length': PIECE, pieces: piecesOf(payload, PIECE), 'x-pad': 'p'.repeat(40_000) }),
  );
  assert.ok(metainfo.infoBytes.length > 2 * 16384);
  return { metainfo, seedDir, payload };
}

async function seed(t: { after: (fn: () => Promise<void>) => void }, metainfo: Metainfo, seedDir: string): Promise<number> {
  const c = new Client({ host: '127.0.0.1' });
  t.after(() => c.close());
  await c.add(metainfo, { path: seedDir, trackers: false });
  return c.listen();
}

/**
 * A peer that offers the metadata and answers requests with `answer(piece)`; `size` is the
 * metadata_size it claims. Speaks just enough BEP 3/10/9.
 */
async function fakeMetadataPeer(t: { after: (fn: () => Promise<void>) => void }, infoHash: Uint8Array, size: number, answer: (piece: number) => Uint8Array): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const decoder = new WireDecoder();
    let theirUt = 0;
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      for (const m of decoder.push(chunk)) {
        if (m.type === 'handshake') {
          socket.write(
            encodeMessages([
              { type: 'handshake', reserved: reservedBytes({ extensionProtocol: true }), infoHash, peerId: new Uint8Array(20).fill(9) },
              encodeExtendedHandshake({ m: new Map([['ut_metadata', 3]]), metadataSize: size }),
            ]),
          );
        } else if (m.type === 'unknown' && m.id === 20) {
          const h = decodeExtendedHandshake(m.payload);
          if (h !== undefined) theirUt = h.m.get('ut_metadata') ?? 0;
          else if (m.payload[0] === 3) {
            const req = decodeMetadataMessage(m.payload.subarray(1));
            const { body, tail } = encodeMetadataMessage({ type: 'data', piece: req.piece, totalSize: size, data: answer(req.piece) });
            socket.write(encodeMessages([encodeExtended(theirUt, body, tail)]));
          }
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as { port: number }).port;
}

test('a magnet link with two x.pe seeds: metadata from both, verified, then a byte-identical download', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { metainfo, seedDir, payload } = setUp(dir);
    const [p1, p2] = [await seed(t, metainfo, seedDir), await seed(t, metainfo, seedDir)];
    const leech = new Client({ host: '127.0.0.1' });
    t.after(() => leech.close());
    const got: Metainfo[] = [];
    leech.on('metadata', (m) => got.push(m));
    const fromPeers = new Set<string>();
    const progress: number[] = [];
    const magnet = encodeMagnet({ infoHash: metainfo.infoHash, peers: [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`] });
    const tor = await leech.add(magnet, {
      path: join(dir, 'leech'),
      onMetadataProgress: (p) => {
        progress.push(p.receivedBytes);
        if (p.offering > 0) fromPeers.add(String(p.offering));
      },
    });
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]!.infoBytes, metainfo.infoBytes);
    assert.equal(tor.infoHash, metainfo.infoHash);
    assert.ok(fromPeers.has('2'), `both seeds offered the dict: ${[...fromPeers]}`);
    assert.equal(progress.at(-1), 2 * 16384, 'progress counted the first two pieces; the third completes the dict');
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'leech', 'payload.bin')), Buffer.from(payload));
  }));

test('a peer whose pieces do not hash to the info-hash is dropped; the honest seed completes the dict', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { metainfo, seedDir } = setUp(dir);
    const good = await seed(t, metainfo, seedDir);
    const infoHash = Buffer.from(metainfo.infoHash, 'hex');
    const size = metainfo.infoBytes.length;
    const liar = await fakeMetadataPeer(t, infoHash, size, (piece) => new Uint8Array(Math.min(16384, size - piece * 16384)).fill(0x41));
    const leech = new Client({ host: '127.0.0.1' });
    t.after(() => leech.close());
    const errors: [string, TorrenttpError][] = [];
    leech.on('peerError', (a, e) => errors.push([a, e]));
    // The liar first, alone for a moment, so it sends every piece and the dict fails its hash.
    const fetched = await leech.fetchMetadata(encodeMagnet({ infoHash: metainfo.infoHash, peers: [`127.0.0.1:${liar}`] }), {
      peers: [`127.0.0.1:${good}`],
      onPeerError: (a, e) => errors.push([a, e]),
      maxConnections: 1,
    });
    assert.deepEqual(fetched.metainfo.infoBytes, metainfo.infoBytes);
    assert.ok(
      errors.some(([a, e]) => a === `127.0.0.1:${liar}` && e.code === 'ENGINE_METADATA_HASH_MISMATCH'),
      errors.map(([a, e]) => `${a} ${e.code}`).join('; '),
    );
  }));

test('metadata_size over the limit costs the peer; with no other peer the fetch fails with ENGINE_METADATA_TOO_LARGE', { timeout: 30_000 }, (t) =>
  withTempDir(t, async () => {
    const infoHash = new Uint8Array(20).fill(1);
    const huge = await fakeMetadataPeer(t, infoHash, 100 * 1024 * 1024, () => new Uint8Array(16384));
    const leech = new Client({ host: '127.0.0.1' });
    t.after(() => leech.close());
    await assert.rejects(
      leech.fetchMetadata(encodeMagnet({ infoHash: Buffer.from(infoHash).toString('hex') as never, peers: [`127.0.0.1:${huge}`] }), { timeoutMs: 1000 }),
      (e: unknown) => e instanceof TorrenttpError && e.code === 'ENGINE_METADATA_TOO_LARGE' && /1 peer heard of/.test(e.message),
    );
  }));

test('no peer at all: ENGINE_METADATA_TIMEOUT naming what was tried', { timeout: 30_000 }, (t) =>
  withTempDir(t, async () => {
    const leech = new Client({ host: '127.0.0.1' });
    t.after(() => leech.close());
    await assert.rejects(
      leech.fetchMetadata(`magnet:?xt=urn:btih:${'ab'.repeat(20)}&x.pe=127.0.0.1:1`, { timeoutMs: 800 }),
      (e: unknown) => e instanceof TorrenttpError && e.code === 'ENGINE_METADATA_TIMEOUT' && /TRANSPORT_CONNECT_FAILED/.test(e.message),
    );
  }));

test('CLI: info magnet: --fetch shows the file list; download magnet: says "fetching metadata from 1 peer" and completes', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { metainfo, seedDir, payload } = setUp(dir);
    const port = await seed(t, metainfo, seedDir);
    const magnet = encodeMagnet({ infoHash: metainfo.infoHash, peers: [`127.0.0.1:${port}`] });
    const info = await cli(dir, ['info', magnet, '--fetch']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /name +payload\.bin/);
    assert.match(info.stdout, /pieces +11 × 16\.0 KiB/);
    assert.match(info.stderr, /fetching metadata from 1 peer/);
    const dl = await cli(dir, ['download', magnet, '-o', 'out', '--no-trackers']);
    assert.equal(dl.code, 0, dl.stderr);
    assert.match(dl.stdout, /^fetching metadata from 1 peer$/m);
    assert.match(dl.stderr, /\[NOTICE\] metadata: payload\.bin, 1 file, \d+ bytes of info dict verified/);
    assert.deepEqual(readFileSync(join(dir, 'out', 'payload.bin')), Buffer.from(payload));
  }));

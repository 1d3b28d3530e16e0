/**
 * Origin offload, the point of `serve`: four `get`s of one 32 MiB file at once cost the origin
 * (its seed's wire uploads plus every plain-HTTP byte, web-seed ranges included) well under one
 * upload per downloader. The seed super-seeds (BEP 16: each downloader is offered pieces nobody
 * else has), and each get holds its web seed back until the swarm stalls, so the downloaders
 * trade among themselves. Measured on loopback: 1.15× to 1.2× the file with super-seeding, 2.4×
 * without; the bound is 1.5×.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getUrl } from '../../src/gateway/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';

const MIB = 1024 * 1024;
const CLIENTS = 4;
const MAX_ORIGIN_RATIO = 1.5;

test(`${CLIENTS} concurrent gets of a 32 MiB file cost the origin at most ${MAX_ORIGIN_RATIO}× the file (super-seed, web seed as fallback)`, { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(32 * MIB, 7);
    writeFileSync(join(root, 'big.bin'), payload);
    // 64 KiB pieces: 512 of them, enough for four downloaders to trade.
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache'), pieceLength: 64 * 1024 });
    const url = `${g.url}/big.bin`;
    await torrentOf(url); // hashed before the clock starts: no get falls back to plain HTTP
    const before = await g.statusDocument();

    const results = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => getUrl({ url, output: { kind: 'file', path: join(dir, `out-${i}.bin`) } })),
    );
    for (let i = 0; i < CLIENTS; i++) {
      assert.equal(results[i]!.mode, 'swarm');
      assert.ok(readFileSync(join(dir, `out-${i}.bin`)).equals(Buffer.from(payload)), `get ${i}: byte-identical`);
    }
    const after = await g.statusDocument();
    const http = after.totals.plainBytes - before.totals.plainBytes + (after.totals.webSeedBytes - before.totals.webSeedBytes); // plain and web seed ranges
    const origin = after.totals.peerBytes - before.totals.peerBytes + http;
    const ratio = origin / payload.length;
    const fromPeers = results.reduce((n, r) => n + r.sources.wire, 0);
    t.diagnostic(`origin uploaded ${(origin / MIB).toFixed(1)} MiB = ${ratio.toFixed(2)}× the file (wire ${((after.totals.peerBytes - before.totals.peerBytes) / MIB).toFixed(1)} MiB, HTTP ${(http / MIB).toFixed(1)} MiB); the gets received ${(fromPeers / MIB).toFixed(1)} MiB over the wire`);
    assert.ok(ratio <= MAX_ORIGIN_RATIO, `origin uploaded ${ratio.toFixed(2)}× the file (at most ${MAX_ORIGIN_RATIO}×)`);
    // The downloaders traded: more came over the wire than the origin sent over it.
    assert.ok(fromPeers > after.totals.peerBytes - before.totals.peerBytes, 'pieces went from get to get');
  }),
);

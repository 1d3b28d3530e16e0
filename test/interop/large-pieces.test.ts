/**
 * Large but sane piece lengths (32–128 MiB are in real use): a 64 MiB-piece torrent made by
 * mktorrent (`-l 26`) and seeded by aria2c is downloaded byte-identical, a whole piece being held,
 * hashed and written at once; piece lengths up to 1 GiB parse, past it they are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { MAX_PIECE_LENGTH, parseTorrent } from '../../src/metainfo/index.js';
import { requireTool } from '../helpers/processes.js';
import { ariaSeed } from '../helpers/swarm.js';
import { withTempDir } from '../helpers/torrents.js';
import { errorCode } from '../helpers/errors.js';
import { torrentBytes } from '../helpers/torrents.js';

test('a 64 MiB-piece torrent from mktorrent -l 26, seeded by aria2c, downloads byte-identical', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('mktorrent', ['-v']);
    const seedDir = join(dir, 'seed');
    mkdirSync(seedDir);
    const payload = randomBytes(64 * 1024 * 1024 + 1024 * 1024 + 3); // one whole piece and a short one
    writeFileSync(join(seedDir, 'big.bin'), payload);
    const torrent = join(dir, 'big.torrent');
    const mk = spawnSync('mktorrent', ['-l', '26', '-d', '-n', 'big.bin', '-o', torrent, join(seedDir, 'big.bin')], { encoding: 'utf8' });
    assert.equal(mk.status, 0, mk.stderr);
    const m = parseTorrent(readFileSync(torrent));
    assert.equal(m.pieceLength, 64 * 1024 * 1024);
    assert.equal(m.pieceCount, 2);
    const seed = await ariaSeed(t, torrent, seedDir);
    const client = new Client({ listen: false });
    t.after(() => client.close());
    const tor = await client.add(readFileSync(torrent), { path: join(dir, 'dl'), peers: [`127.0.0.1:${seed.port}`] });
    await tor.done;
    assert.ok(readFileSync(join(dir, 'dl', 'big.bin')).equals(payload));
  }));

test('piece lengths up to 1 GiB parse (32, 64, 128 MiB are in use); larger ones are refused', () => {
  for (const pieceLength of [32, 64, 128, 1024].map((n) => n * 1024 * 1024)) {
    const m = parseTorrent(torrentBytes({ name: 'x', 'piece length': pieceLength, length: 5, pieces: new Uint8Array(20) }));
    assert.equal(m.pieceLength, pieceLength);
  }
  assert.equal(MAX_PIECE_LENGTH, 1024 * 1024 * 1024);
  assert.equal(errorCode(() => parseTorrent(torrentBytes({ name: 'x', 'piece length': 2 * 1024 ** 3, length: 5, pieces: new Uint8Array(20) }))), 'METAINFO_BAD_PIECE_LENGTH');
});

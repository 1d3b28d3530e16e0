import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Torrent } from '../../src/engine/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { openStorage } from '../../src/storage/index.js';
import { FakeLink } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';

test('engine + real storage: a multi-file torrent lands on disk byte-identical, and a restart resumes', () =>
  withTempDir(async (dir) => {
    const PIECE = 32 * 1024;
    const a = bytes(10, 1);
    const b = bytes(0, 2);
    const c = bytes(5 * PIECE + 777, 3);
    const all = Buffer.concat([a, b, c]);
    const metainfo = parseTorrent(
      torrentBytes({
        name: 'set',
        'piece length': PIECE,
        files: [
          { length: a.length, path: ['a.txt'] },
          { length: 0, path: ['empty'] },
          { length: c.length, path: ['sub', 'c.bin'] },
        ],
        pieces: piecesOf(all, PIECE),
      }),
    );
    const store = await openStorage(metainfo, dir);
    const t = new Torrent(metainfo, store);
    t.addPeer((onEvent) => new FakeLink(all, metainfo, onEvent, { kind: 'webseed', queueDepth: 64 }));
    t.addPeer((onEvent) => new FakeLink(all, metainfo, onEvent));
    await t.done;
    await t.close();
    assert.deepEqual(readFileSync(join(dir, 'set', 'a.txt')), Buffer.from(a));
    assert.deepEqual(readFileSync(join(dir, 'set', 'empty')), Buffer.alloc(0));
    assert.deepEqual(readFileSync(join(dir, 'set', 'sub', 'c.bin')), Buffer.from(c));

    const again = await openStorage(metainfo, dir);
    assert.equal(again.bitfield.complete, true, 'resume trusted after a clean close');
    const seeding = new Torrent(metainfo, again);
    await seeding.done;
    await seeding.close();
  }));

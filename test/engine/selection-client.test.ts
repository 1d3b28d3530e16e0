/**
 * A Client downloading a file selection tells its tracker `left` = the selected files' missing
 * bytes (not the whole torrent's), and `completed` with left 0 once they are verified.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { A, B, C, threeFilesTorrent } from '../helpers/three-files.js';
import { withTempDir } from '../helpers/torrents.js';

test('tracker left counts only the selected files; completed is sent with left 0', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const announces: URLSearchParams[] = [];
    const tracker = createServer((req, res) => {
      announces.push(new URL(req.url ?? '/', 'http://x').searchParams);
      res.end('d8:intervali60e5:peers0:e');
    });
    await new Promise<void>((r) => tracker.listen(0, '127.0.0.1', () => r()));
    t.after(() => new Promise<void>((r) => tracker.close(() => r())));
    const url = `http://127.0.0.1:${(tracker.address() as { port: number }).port}/announce`;
    const torrent = threeFilesTorrent({ announce: url });
    const src = join(dir, 'seed', 'set');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'a.bin'), A);
    writeFileSync(join(src, 'b.bin'), B);
    writeFileSync(join(src, 'sub', 'c.bin'), C);
    writeFileSync(join(src, 'empty'), '');
    const seeder = new Client({ host: '127.0.0.1' });
    t.after(() => seeder.close());
    await seeder.add(torrent, { path: join(dir, 'seed'), trackers: false });

    const leecher = new Client({ host: '127.0.0.1' });
    t.after(() => leecher.close());
    const tor = await leecher.add(torrent, { path: join(dir, 'dl'), selectedFiles: [0, 2], peers: [`127.0.0.1:${await seeder.listen()}`] });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'set', 'sub', 'c.bin')), Buffer.from(C));
    const until = Date.now() + 5000;
    while (!announces.some((a) => a.get('event') === 'completed') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(announces[0]?.get('event'), 'started');
    assert.equal(announces[0]?.get('left'), String(A.length + C.length), 'left: files 0 and 2 only');
    const completed = announces.find((a) => a.get('event') === 'completed');
    assert.equal(completed?.get('left'), '0');
  }));

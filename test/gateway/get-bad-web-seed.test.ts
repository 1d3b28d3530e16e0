/**
 * `torrenttp get` of a torrent with a web seed that serves wrong bytes (issue 19's bad input): the
 * engine bans it as it bans a lying wire peer (two pieces that fail their hash), the get completes
 * from the good web seed, and the ban is a `warning` naming the web seed's URL, not silent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getUrl } from '../../src/gateway/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { TEST_STALL_MS } from './helpers.js';

test('get: a web seed that serves wrong bytes is dropped with a warning naming it; the file comes whole from the good one', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(2 * 1024 * 1024, 61);
    const wrong = Uint8Array.from(payload, (b) => b ^ 0x5a);
    writeFileSync(join(dir, 'f.bin'), payload);
    let badGets = 0;
    let torrent: Uint8Array | undefined;
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/f.bin' && req.headers.range === undefined) {
        res.writeHead(200, { 'content-type': 'application/x-bittorrent' });
        return void res.end(torrent);
      }
      const body = path === '/bad/f.bin' ? wrong : path === '/good/f.bin' ? payload : undefined;
      if (body === undefined) return void res.writeHead(404).end();
      if (body === wrong) badGets++;
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      const a = m ? Number(m[1]) : 0;
      const b = m ? Math.min(Number(m[2]), body.length - 1) : body.length - 1;
      res.writeHead(m ? 206 : 200, { 'content-length': String(b - a + 1), ...(m ? { 'content-range': `bytes ${a}-${b}/${body.length}` } : {}) });
      res.end(body.subarray(a, b + 1));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const badUrl = `${base}/bad/f.bin`;
    torrent = (await createTorrent(join(dir, 'f.bin'), { pieceLength: 16 * 1024, creationDate: null, urlList: [badUrl, `${base}/good/f.bin`] })).torrent;
    const warnings: string[] = [];
    const notable: string[] = [];
    await getUrl({
      url: `${base}/f.bin`,
      output: { kind: 'file', path: join(dir, 'out.bin') },
      onEvent: (e) => {
        if (e.type !== 'warning') return;
        warnings.push(e.message);
        if (e.notable === true) notable.push(e.message);
      },
      stallMs: TEST_STALL_MS,
    });
    assert.ok(readFileSync(join(dir, 'out.bin')).equals(Buffer.from(payload)), 'byte-identical');
    assert.ok(
      warnings.some((w) => w.includes(badUrl) && /failed the hash check/.test(w)),
      `a warning names the lying web seed: ${JSON.stringify(warnings)}`,
    );
    // Said in get's normal output too (not only under --json, as routine swarm trouble is).
    assert.ok(notable.some((w) => w.includes(badUrl)), `the ban is a notable warning: ${JSON.stringify(notable)}`);
    assert.ok(badGets <= 128, `${badGets} GETs to the lying web seed (128 pieces)`);
  }));

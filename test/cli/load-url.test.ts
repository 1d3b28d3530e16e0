/**
 * A torrent by URL (`download https://host/x.torrent`, `info` too), fetched with undici and
 * size-limited; and `info <folder>` says what `info` takes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { loadInput, MAX_INPUT_BYTES } from '../../src/cli/load.js';
import { TorrenttpError } from '../../src/errors/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { cli } from '../helpers/cli.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

async function serve(t: { after(fn: () => unknown): void }, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => server.close());
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

test('download and info take a torrent by http URL (redirects followed)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(200_000, 21);
    mkdirSync(join(dir, 'site'));
    writeFileSync(join(dir, 'site', 'p.bin'), payload);
    const base = await serve(t, (req, res) => {
      if (req.url === '/old.torrent') res.writeHead(302, { location: '/p.torrent' }).end();
      else if (req.url === '/p.torrent') res.writeHead(200, { 'content-type': 'application/x-bittorrent' }).end(torrent);
      else if (req.url === '/p.bin') {
        // The web seed: ranged GETs (BEP 19).
        const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')!;
        const [first, last] = [Number(m[1]), Number(m[2])];
        res.writeHead(206, { 'content-range': `bytes ${first}-${last}/${payload.length}` }).end(payload.subarray(first, last + 1));
      }      else res.writeHead(404).end();
    });
    const { torrent, metainfo } = await createTorrent(join(dir, 'site', 'p.bin'), { creationDate: null, urlList: [`${base}/p.bin`] });
    const info = await cli(dir, ['info', `${base}/old.torrent`, '--json']);
    assert.equal(info.code, 0, info.stderr);
    assert.equal((JSON.parse(info.stdout) as { infoHash: string }).infoHash, metainfo.infoHash);
    const dl = await cli(dir, ['download', `${base}/p.torrent`, '-o', 'dl', '--json', '--stop-timeout', '20']);
    assert.equal(dl.code, 0, dl.stderr + dl.stdout);
    assert.deepEqual(readFileSync(join(dir, 'dl', 'p.bin')), Buffer.from(payload));
  }));

test('a torrent URL that fails: HTTP status, oversized by Content-Length or by its body', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const base = await serve(t, (req, res) => {
      if (req.url === '/huge-declared') {
        res.writeHead(200, { 'content-length': String(MAX_INPUT_BYTES + 1) });
        res.write('d');
        return; // never finishes: the length alone must refuse it
      }
      if (req.url === '/huge-chunked') {
        res.writeHead(200); // no length: counted as it comes
        const chunk = new Uint8Array(64 * 1024).fill(0x64);
        const pump = () => {
          while (res.write(chunk));
          res.once('drain', pump);
        };
        res.on('close', () => res.removeAllListeners('drain'));
        pump();
        return;
      }
      res.writeHead(404).end('not here');
    });
    const missing = await cli(dir, ['info', `${base}/nope.torrent`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`cannot fetch the torrent from its URL: ${base}/nope.torrent: HTTP 404 \\[CLI_FETCH_FAILED\\]`));
    const declared = await cli(dir, ['info', `${base}/huge-declared`]);
    assert.match(declared.stderr, /larger than any torrent.*\[CLI_FETCH_FAILED\]/);
    await assert.rejects(
      loadInput(`${base}/huge-chunked`, dir, { maxBytes: 1024 * 1024 }),
      (e: unknown) => e instanceof TorrenttpError && e.code === 'CLI_FETCH_FAILED' && /more than 1048576 bytes/.test(e.message),
    );
  }));

test('info <folder> says what info takes and suggests create', () =>
  withTempDir(async (dir) => {
    mkdirSync(join(dir, 'stuff'));
    const r = await cli(dir, ['info', 'stuff']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /input is not a \.torrent, a magnet URI or a metainfo JSON document: .*stuff is a folder \(to make a torrent of it: torrenttp create .*stuff\) \[CLI_UNKNOWN_INPUT\]/);
    assert.doesNotMatch(r.stderr, /files to share/);
  }));

test('info "" and download "" name the empty argument, not the current folder', () =>
  withTempDir(async (dir) => {
    for (const args of [['info', ''], ['download', '', '-o', 'dl']]) {
      const r = await cli(dir, args);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /an empty argument \(give a \.torrent file, a magnet URI or a URL\) \[CLI_UNKNOWN_INPUT\]/);
      assert.doesNotMatch(r.stderr, /is a folder/);
    }
  }));

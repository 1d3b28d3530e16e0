/** serve behind a front server that names its seed only in `TorrentTTP-Seed` (seed-header and proxy-plain-seed tests). */
import type { TestContext } from 'node:test';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket, type AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { encodeTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { bytes } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';

const MIB = 1024 * 1024;

/**
 * serve (4 MiB, 64 KiB pieces) behind a front server that passes its torrent on with a tracker
 * that never answers and no web seed, naming as seed `seedFor(serve's seed port)`: only that
 * header leads a get to the seed.
 */
export async function seedOnlyByHeader(t: TestContext, dir: string, seedFor: (peerPort: number) => string | Promise<string>): Promise<{ frontUrl: string; payload: Uint8Array }> {
  const root = join(dir, 'www');
  mkdirSync(root);
  const payload = bytes(4 * MIB, 9);
  writeFileSync(join(root, 'big.bin'), payload);
  const g = await startGateway(t, { root, cacheDir: join(dir, 'cache'), pieceLength: 64 * 1024 });
  const origin = `${g.url}/big.bin`;
  await torrentOf(origin);

  // A tracker that accepts connections and never says a word.
  const held: Socket[] = [];
  const silent = createTcpServer((s) => void held.push(s.on('error', () => undefined)));
  await new Promise<void>((res) => silent.listen(0, '127.0.0.1', res));
  t.after(() => {
    for (const s of held) s.destroy();
    silent.close();
  });
  const deadTracker = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/announce`;
  // Wait until serve names its seed (it joins the engine just after the torrent is made).
  for (let i = 0; i < 100; i++) {
    const r = await request(`${origin}?torrent`);
    await r.body.dump();
    if (r.headers['torrenttp-seed'] !== undefined) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  const seed = await seedFor(g.peerPort);

  // The front: serve's torrent with that tracker and no url-list, and the seed header.
  const front: Server = createHttpServer((req, res) => {
    void (async () => {
      if (req.method === 'GET' && !String(req.headers.accept ?? '').includes('application/x-bittorrent')) {
        // The bytes (a proxy's first piece, a range): the origin's answer, passed on.
        const b = await request(origin, { headers: typeof req.headers.range === 'string' ? { range: req.headers.range } : {} });
        const pass = ['content-length', 'content-type', 'content-range', 'etag', 'last-modified'].flatMap((k) => (typeof b.headers[k] === 'string' ? [[k, b.headers[k]] as [string, string]] : []));
        res.writeHead(b.statusCode, Object.fromEntries(pass));
        res.end(Buffer.from(await b.body.arrayBuffer()));
        return;
      }
      if (req.method === 'HEAD') {
        // The proxy checks the torrent against the bytes' length (and takes their validators).
        const h = await request(origin, { method: 'HEAD' });
        await h.body.dump();
        const pass = ['content-length', 'content-type', 'etag', 'last-modified'].flatMap((k) => (typeof h.headers[k] === 'string' ? [[k, h.headers[k]] as [string, string]] : []));
        res.writeHead(200, Object.fromEntries(pass));
        res.end();
        return;
      }
      const r = await request(`${origin}?torrent`);
      const m = parseTorrent(new Uint8Array(await r.body.arrayBuffer()));
      res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'torrenttp-seed': seed });
      res.end(encodeTorrent(m.infoBytes, { announceList: [[deadTracker]] }));
    })().catch(() => res.destroy());
    req.resume();
  });
  await new Promise<void>((res) => front.listen(0, '127.0.0.1', res));
  t.after(() => {
    front.closeAllConnections();
    front.close();
  });
  return { frontUrl: `http://127.0.0.1:${(front.address() as AddressInfo).port}/big.bin`, payload };
}


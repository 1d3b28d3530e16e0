/**
 * An origin for a lone stream (src/gateway/lone-stream.ts) whose bytes a test can damage or slow:
 * serve behind a front server whose torrent names the front as web seed (url-list) and serve's
 * seed in `TorrentTTP-Seed`, so the stream's bytes can be damaged while the seed's stay whole.
 * For a lone get (lone-stream.test.ts) and a lone proxy fetch (proxy-stream.test.ts).
 */
import type { TestContext } from 'node:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { encodeTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { sendInterim } from '../helpers/interim.js';
import { bytes } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';

const MIB = 1024 * 1024;
export const PIECE = 64 * 1024;

export interface Front {
  readonly url: string;
  readonly payload: Uint8Array;
  /** `Range` of each byte request the front answered. */
  readonly ranges: string[];
  /** `Authorization` of each byte request ('' when absent). */
  readonly auths: string[];
  /** `TorrentTTP-Join` of each torrent request ('' when absent). */
  readonly joins: string[];
  /** Byte requests whose answer the client closed before its end. */
  readonly cut: () => number;
  /** serve's own URL (its tracker is `/announce`) and the torrent's info-hash (hex). */
  readonly serveUrl: string;
  readonly infoHash: string;
}

/**
 * serve (4 MiB, 64 KiB pieces) behind a front: torrents with the front as web seed and serve's
 * seed named; bytes from serve, with `damage` applied and sent `chunk` bytes every `everyMs`.
 */
export async function front(
  t: TestContext,
  dir: string,
  opts: {
    damage?: (body: Buffer, from: number) => void;
    chunk?: number;
    everyMs?: number;
    /** Extra headers of the torrent answer (`TorrentTTP-Swarm-Peers`). */
    torrentHeaders?: Record<string, string>;
    /** The torrent's trackers instead of serve's (`[]`: none, so no tracker answer ever comes). */
    announceList?: string[][];
    /** Interim answers (an unasked 100 Continue, 103 Early Hints, 102) before every real one (helpers/interim.ts). */
    interim?: boolean;
  } = {},
): Promise<Front> {
  const root = join(dir, 'www');
  mkdirSync(root, { recursive: true });
  const payload = bytes(4 * MIB, 21);
  writeFileSync(join(root, 'big.bin'), payload);
  const g = await startGateway(t, { root, cacheDir: join(dir, 'cache'), pieceLength: PIECE });
  const origin = `${g.url}/big.bin`;
  const torrent = parseTorrent(await torrentOf(origin));
  for (let i = 0; i < 100; i++) {
    const r = await request(`${origin}?torrent`);
    await r.body.dump();
    if (r.headers['torrenttp-seed'] !== undefined) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  const ranges: string[] = [];
  const auths: string[] = [];
  const joins: string[] = [];
  let cut = 0;
  let url = '';
  const server = createServer((req, res) => {
    if (opts.interim === true) sendInterim(res);
    void (async () => {
      if (String(req.headers.accept ?? '').includes('application/x-bittorrent')) {
        joins.push(String(req.headers['torrenttp-join'] ?? ''));
        res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'torrenttp-seed': `127.0.0.1:${g.peerPort}`, ...opts.torrentHeaders });
        res.end(encodeTorrent(torrent.infoBytes, { announceList: opts.announceList ?? torrent.announceList, urlList: [url] }));
        return;
      }
      const range = typeof req.headers.range === 'string' ? req.headers.range : undefined;
      ranges.push(range ?? '');
      auths.push(String(req.headers.authorization ?? ''));
      const b = await request(origin, range === undefined ? {} : { headers: { range } });
      const body = Buffer.from(await b.body.arrayBuffer());
      const from = Number(/^bytes (\d+)-/.exec(String(b.headers['content-range'] ?? ''))?.[1] ?? 0);
      opts.damage?.(body, from);
      const pass = ['content-length', 'content-range', 'content-type', 'etag', 'last-modified'].flatMap((k) => (typeof b.headers[k] === 'string' ? [[k, b.headers[k]] as [string, string]] : []));
      res.writeHead(b.statusCode, Object.fromEntries(pass));
      const chunk = opts.chunk ?? body.length;
      let closed = false;
      res.on('close', () => {
        if (!res.writableFinished) {
          closed = true;
          cut++;
        }
      });
      for (let at = 0; at < body.length && !closed; at += chunk) {
        if (!res.write(body.subarray(at, at + chunk))) await new Promise((r) => res.once('drain', r).once('close', r));
        if (opts.everyMs !== undefined) await new Promise((r) => setTimeout(r, opts.everyMs));
      }
      res.end();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/big.bin`;
  return { url, payload, ranges, auths, joins, cut: () => cut, serveUrl: g.url, infoHash: torrent.infoHash };
}


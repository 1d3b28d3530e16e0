import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { request } from 'undici';
import { Client, type ClientOptions, type Torrent } from '../../src/engine/index.js';
import { ttpServer, type TtpServer, type TtpServerOptions } from '../../src/gateway/index.js';
import { createTorrent, parseTorrent, type Metainfo } from '../../src/metainfo/index.js';
import { bytes } from '../helpers/torrents.js';

/**
 * The spec's `demo` shape (docs/torrenttp.md §2): a 40,000-byte `docs/data.bin` and a 102-byte
 * `readme.txt`, 16 KiB pieces, so 3 pieces of 16384, 16384 and 7334 bytes.
 */
export function writeDemo(dir: string): { root: string; data: Uint8Array; readme: Uint8Array } {
  const root = join(dir, 'demo');
  mkdirSync(join(root, 'docs'), { recursive: true });
  const data = bytes(40_000, 5);
  const readme = bytes(102, 6);
  writeFileSync(join(root, 'docs', 'data.bin'), data);
  writeFileSync(join(root, 'readme.txt'), readme);
  return { root, data, readme };
}

export async function demoTorrent(dir: string, extra: { private?: boolean } = {}): Promise<{ metainfo: Metainfo; torrent: Uint8Array; content: Uint8Array }> {
  const { root, data, readme } = writeDemo(dir);
  const { torrent } = await createTorrent(root, { pieceLength: 16384, creationDate: null, ...(extra.private === true ? { private: true } : {}) });
  // Files in torrent order (paths sorted): docs/data.bin, then readme.txt.
  const content = new Uint8Array(data.length + readme.length);
  content.set(data, 0);
  content.set(readme, data.length);
  return { metainfo: parseTorrent(torrent), torrent, content };
}

export interface TtpSeed {
  readonly client: Client;
  readonly server: TtpServer;
  readonly torrent: Torrent;
  /** `http://127.0.0.1:port/ttp/v1/torrents/<hash>` */
  readonly url: string;
  readonly origin: string;
}

/** A Client seeding `torrent` from `dir` over TorrentTTP only (no wire port), closed when the test ends. */
export async function ttpSeed(t: TestContext, torrent: Uint8Array, dir: string, opts: { server?: TtpServerOptions; client?: ClientOptions } = {}): Promise<TtpSeed> {
  const server = ttpServer({ host: '127.0.0.1', port: 0, ...opts.server });
  const client = new Client({ listen: false, httpServer: server, ...opts.client });
  t.after(() => client.close());
  const tor = await client.add(torrent, { path: dir, trackers: false });
  const url = client.httpServer!.torrentUrl(tor.infoHash)!;
  return { client, server, torrent: tor, url, origin: server.origin };
}

export async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' | 'OPTIONS' | 'POST' | 'DELETE' = 'GET') {
  const r = await request(url, { method, headers });
  const body = new Uint8Array(await r.body.arrayBuffer());
  const h = (name: string): string | undefined => {
    const v = r.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  return { status: r.statusCode, h, body, text: () => Buffer.from(body).toString('utf8'), json: () => JSON.parse(Buffer.from(body).toString('utf8')) as Record<string, unknown> };
}

/**
 * The tracker embedded in another web server through the tracker layer's public surface only
 * (`src/tracker/index.ts`): `TrackerCore` over a store, `httpHandler(core)` mounted on the
 * `TRACKER_HTTP_PATHS`, every other path the host server's own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  decodeAnnounceResponse,
  encodeAnnounceQuery,
  httpHandler,
  MemorySwarmStore,
  TRACKER_HTTP_PATHS,
  TrackerCore,
  type AnnounceRequest,
} from '../../../src/tracker/index.js';
import { infoHash, peerId } from './helpers.js';

async function embedded(): Promise<{ server: Server; base: string; core: TrackerCore }> {
  const core = new TrackerCore({ intervalSec: 60 }, new MemorySwarmStore());
  const tracker = httpHandler(core);
  const paths: ReadonlySet<string> = new Set(TRACKER_HTTP_PATHS);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (paths.has(path)) return tracker(req, res);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`site ${path}`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, core };
}

function req(n: number): AnnounceRequest {
  return { infoHash: infoHash(1), peerId: peerId(n), port: 7000 + n, uploaded: 0, downloaded: 0, left: 100 };
}

test('an embedded tracker answers its paths; the host server keeps the rest', async () => {
  const { server, base, core } = await embedded();
  try {
    assert.deepEqual([...TRACKER_HTTP_PATHS].sort(), ['/announce', '/scrape', '/stats', '/ttp/v1/announce', '/ttp/v1/scrape']);
    const first = decodeAnnounceResponse(new Uint8Array(await (await fetch(`${base}/announce?${encodeAnnounceQuery(req(1))}`)).arrayBuffer()));
    assert.equal(first.type, 'ok');
    const second = decodeAnnounceResponse(new Uint8Array(await (await fetch(`${base}/announce?${encodeAnnounceQuery(req(2))}`)).arrayBuffer()));
    assert.equal(second.type, 'ok');
    assert.deepEqual(second.type === 'ok' ? second.peers.map((p) => p.port) : [], [7001]); // the first peer, through the shared core
    const stats = (await (await fetch(`${base}/stats`)).json()) as { torrents: number };
    assert.equal(stats.torrents, 1);
    assert.equal((await core.stats()).torrents, 1);
    const page = await fetch(`${base}/index.html`);
    assert.equal(await page.text(), 'site /index.html');
    // A path the host server hands over by mistake is a 404 problem, not an announce.
    const stray = await new Promise<number>((resolve) => {
      const s = createServer((rq, rs) => httpHandler(core)(rq, rs));
      s.listen(0, '127.0.0.1', () => {
        void fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/nope`).then((r) => {
          resolve(r.status);
          s.close();
        });
      });
    });
    assert.equal(stray, 404);
  } finally {
    server.close();
  }
});

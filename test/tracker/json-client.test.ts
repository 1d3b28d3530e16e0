/**
 * The JSON tracker client (TorrentTTP announce, docs/torrenttp.md §10) against our tracker: a
 * URL-only peer and a wire peer meet in one swarm, URLs come back as `{url}` refs, a peer with
 * both comes back as its address; a tracker without a JSON side is asked the BEP 3 way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { encodeAnnounceResponse, encodeJsonAnnounceResponse, JsonTrackerClient, TrackerServer, type AnnounceRequest } from '../../src/tracker/index.js';
import { setClientTls } from '../../src/tracker/undici.js';
import { selfSignedHttps } from '../helpers/tls.js';
import { withTempDir } from '../helpers/torrents.js';

const hash = new Uint8Array(20).fill(7);
const pid = (n: number) => new TextEncoder().encode(`-TT0001-${String(n).padStart(12, '0')}`);
const req = (n: number, port: number): AnnounceRequest => ({ infoHash: hash, peerId: pid(n), port, uploaded: 0, downloaded: 0, left: 100, event: 'started' });
const ttpUrl = 'http://127.0.0.1:8080/ttp/v1/torrents/0707070707070707070707070707070707070707';

test('JSON announces: a URL-only peer, a wire peer and a peer with both, in one swarm', async (t) => {
  const server = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 120 });
  const { port } = await server.listen();
  t.after(() => server.close());
  const url = `http://127.0.0.1:${port}/announce`;
  const httpOnly = new JsonTrackerClient(url, { peerUrl: ttpUrl });
  await httpOnly.announce(req(1, 0));
  assert.equal(httpOnly.usesBep3, false);
  const both = new JsonTrackerClient(url, { peerUrl: 'http://127.0.0.1:9090/ttp/v1/torrents/0707070707070707070707070707070707070707' });
  await both.announce(req(2, 6002));
  const wire = new JsonTrackerClient(url);
  const r = await wire.announce(req(3, 6003));
  const refs = r.peers.map((p) => ('url' in p ? p.url : `${p.ip}:${p.port}`)).sort();
  assert.deepEqual(refs, ['127.0.0.1:6002', ttpUrl].sort(), 'the URL-only peer as a URL, the one with both as its address');
  assert.equal(r.intervalSec, 120);
  assert.ok((r.leechers ?? 0) >= 2);
});

test('a tracker without a JSON side (404 at …/ttp/v1/announce) is asked the BEP 3 way, and stays so', async (t) => {
  const seen: string[] = [];
  const srv = createServer((req, res) => {
    seen.push(`${req.method} ${req.url?.split('?')[0]}`);
    if (req.url?.startsWith('/announce?') === true) {
      res.end(encodeAnnounceResponse({ intervalSec: 60, peers: [{ ip: '10.0.0.1', port: 6881 }] }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  t.after(() => srv.close());
  const c = new JsonTrackerClient(`http://127.0.0.1:${(srv.address() as { port: number }).port}/announce`, { peerUrl: ttpUrl });
  const r1 = await c.announce(req(1, 6001));
  const r2 = await c.announce(req(1, 6001));
  assert.deepEqual(r1.peers, [{ ip: '10.0.0.1', port: 6881 }]);
  assert.deepEqual(r2.peers, r1.peers);
  assert.equal(c.usesBep3, true);
  assert.deepEqual(seen, ['POST /ttp/v1/announce', 'GET /announce', 'GET /announce']);
});

test('a JSON error answer is a typed failure naming the tracker’s code', async (t) => {
  const server = new TrackerServer({ host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  t.after(() => server.close());
  const c = new JsonTrackerClient(`http://127.0.0.1:${port}/announce`);
  // Port 0 and no URL: the tracker refuses (a peer needs a port, a url, or both).
  await assert.rejects(c.announce(req(1, 0)), (e: Error & { code?: string }) => e.code === 'TRACKER_HTTP_STATUS' && /TRACKER_JSON_BAD_FIELD/.test(e.message));
});

test('a JSON announce over https takes the process\'s TLS options (setClientTls: get -k, --cacert), as every https request does', (t) =>
  withTempDir(t, async (dir) => {
    const { origin, cert } = await selfSignedHttps(t, dir, (req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(encodeJsonAnnounceResponse({ interval: 77, minInterval: 10, complete: 1, incomplete: 0, peers: [] })));
    });
    t.after(() => setClientTls({}));
    const url = `${origin}/announce`;
    await assert.rejects(new JsonTrackerClient(url).announce(req(1, 6001)), /self.signed/i, 'not trusted by default');
    setClientTls({ ca: readFileSync(cert) });
    assert.equal((await new JsonTrackerClient(url).announce(req(1, 6001))).intervalSec, 77, '--cacert');
    setClientTls({ rejectUnauthorized: false });
    assert.equal((await new JsonTrackerClient(url).announce(req(1, 6001))).intervalSec, 77, '-k');
  }));

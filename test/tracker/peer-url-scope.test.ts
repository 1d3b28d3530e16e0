/**
 * Peer URLs are requests a client will make, so a tracker must not be able to point one at an
 * internal service (SSRF, docs/torrenttp.md §16): an internal address is taken only from a
 * tracker on an internal address, a link-local one only from a link-local tracker, and the
 * refusal is said once as a tracker warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { addressScope, Announcer, encodeJsonAnnounceResponse, isUrlRef, peerUrlAllowed, type PeerRef } from '../../src/tracker/index.js';

test('addressScope: loopback, link-local, private, unspecified and public, however spelt', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', 'loopback'], ['127.9.9.9', 'loopback'], ['::1', 'loopback'], ['[::1]', 'loopback'], ['0:0:0:0:0:0:0:1', 'loopback'],
    ['localhost', 'loopback'], ['a.localhost', 'loopback'], ['::ffff:127.0.0.1', 'loopback'],
    ['169.254.169.254', 'link-local'], ['fe80::1', 'link-local'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'], ['100.64.0.1', 'private'], ['fd00::1', 'private'],
    ['0.0.0.0', 'unspecified'], ['::', 'unspecified'],
    ['172.32.0.1', 'public'], ['8.8.8.8', 'public'], ['::ffff:8.8.8.8', 'public'], ['2001:db8::1', 'public'], ['example.com', 'public'],
  ];
  for (const [host, scope] of cases) assert.equal(addressScope(host), scope, host);
  assert.equal(peerUrlAllowed('http://169.254.169.254/latest/', 'https://tracker.example/announce'), false);
  assert.equal(peerUrlAllowed('http://10.0.0.5/ttp/v1/torrents/x', 'https://tracker.example/announce'), false);
  assert.equal(peerUrlAllowed('http://10.0.0.5/ttp/v1/torrents/x', 'http://10.0.0.1:8080/announce'), true, 'a LAN tracker names LAN peers');
  assert.equal(peerUrlAllowed('http://127.0.0.1:9/x', 'https://tracker.example/announce'), false, 'a public tracker names no loopback peer');
  assert.equal(peerUrlAllowed('http://169.254.169.254/latest/', 'http://10.0.0.1:8080/announce'), false, 'but not link-local ones');
  assert.equal(peerUrlAllowed('http://8.8.8.8/x', 'http://127.0.0.1/announce'), true);
  assert.equal(peerUrlAllowed('http://192.168.1.9:8080/x', 'http://127.0.0.1:8080/announce'), true, 'a local serve names its LAN peers');
  assert.equal(peerUrlAllowed('http://169.254.169.254/latest/', 'http://127.0.0.1:8080/announce'), false, 'not link-local ones');
  assert.equal(peerUrlAllowed('http://169.254.1.2/x', 'http://169.254.1.1/announce'), true);
  assert.equal(peerUrlAllowed('not a url', 'http://127.0.0.1/announce'), false);
});

test('an announce reply naming internal peer URLs: link-local ones are refused with one warning, the rest kept from a loopback tracker', async (t) => {
  const urls = ['http://127.0.0.1:1/ttp/v1/torrents/a', 'http://169.254.169.254/latest/', 'http://10.0.0.5:8080/ttp/v1/torrents/a', 'http://93.184.216.34/ttp/v1/torrents/a'];
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(encodeJsonAnnounceResponse({ interval: 60, minInterval: 1, complete: 1, incomplete: 3, peers: urls.map((url) => ({ url })) }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const trackerUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/announce`;
  const a = new Announcer([[trackerUrl]], {
    infoHash: new Uint8Array(20).fill(3),
    peerId: new TextEncoder().encode('-TT0001-000000000001'),
    port: 6881,
    jsonAnnounce: true,
    stats: () => ({ uploaded: 0, downloaded: 0, left: 1 }),
  });
  const warnings: string[] = [];
  a.on('warning', (msg) => warnings.push(msg));
  const got = once(a, 'peers');
  a.start();
  const [peers] = (await got) as [PeerRef[]];
  assert.deepEqual(peers.filter(isUrlRef).map((p) => p.url), [urls[0], urls[2], urls[3]]);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /refused peer URL http:\/\/169\.254\.169\.254\/latest\/.*SSRF/);
  await a.stop(500);
});

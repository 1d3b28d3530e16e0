/**
 * Metainfo size limits. A torrent file the user names (`info`, `download`) may be as large as
 * MAX_METAINFO_BYTES; a torrent an HTTP answer offers (`get`, the proxy) only
 * OFFERED_METAINFO_MAX_BYTES, and one past it costs the get nothing: the URL is downloaded
 * plainly, the start line saying why (test/cli/load-url.test.ts for `info` and `download`).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { getUrl } from '../../src/gateway/index.js';
import { OFFERED_METAINFO_MAX_BYTES } from '../../src/gateway/negotiate-client.js';
import { MAX_FETCH_PIECE_LENGTH, MAX_METAINFO_BYTES } from '../../src/metainfo/index.js';
import { MAX_INPUT_BYTES } from '../../src/cli/load.js';
import { withTempDir } from '../helpers/torrents.js';
import { TEST_STALL_MS } from './helpers.js';

/**
 * A server that answers a torrent-preferring request with `offer` and any other with `plain`: get
 * of its /big.bin must come out plain (the offer unusable). The start events' reasons.
 */
async function plainAfterOffer(t: TestContext, dir: string, offer: (res: ServerResponse) => void): Promise<string[]> {
  const server = createServer((req, res) => {
    if (!/x-bittorrent/.test(req.headers.accept ?? '')) return void res.end('plain');
    offer(res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/big.bin`;
  const reasons: string[] = [];
  const r = await getUrl({ url, output: { kind: 'file', path: join(dir, 'big.bin') }, onEvent: (e) => void (e.type === 'start' && reasons.push(e.reason)), stallMs: TEST_STALL_MS });
  assert.equal(r.mode, 'plain');
  assert.equal(readFileSync(join(dir, 'big.bin'), 'utf8'), 'plain');
  return reasons;
}

test('get takes a torrent answer one byte past OFFERED_METAINFO_MAX_BYTES as no offer: the bytes, plainly', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    assert.equal(MAX_INPUT_BYTES, MAX_METAINFO_BYTES);
    assert.ok(OFFERED_METAINFO_MAX_BYTES <= 16 * 1024 * 1024, 'a get does not buffer a torrent of tens of MiB');
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const reasons = await plainAfterOffer(t, dir, (res) => {
      res.writeHead(200, { 'content-type': 'application/x-bittorrent' });
      let left = OFFERED_METAINFO_MAX_BYTES + 1;
      const more = (): void => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(chunk.subarray(0, n))) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('error', () => {});
      more();
    });
    assert.equal(reasons.length, 1);
    assert.match(reasons[0]!, new RegExp(`^the offered torrent is unusable: .*torrent larger than ${OFFERED_METAINFO_MAX_BYTES} bytes`));
  }));

test('get takes a torrent offered with pieces past MAX_FETCH_PIECE_LENGTH (a piece is a buffer of its length) as unusable: the bytes, plainly', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const pieceLength = 2 * MAX_FETCH_PIECE_LENGTH;
    const torrent = Buffer.concat([Buffer.from(`d4:infod6:lengthi${pieceLength}e4:name7:big.bin12:piece lengthi${pieceLength}e6:pieces20:`), Buffer.alloc(20, 7), Buffer.from('ee')]);
    const reasons = await plainAfterOffer(t, dir, (res) => {
      res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': torrent.length });
      res.end(torrent);
    });
    assert.equal(reasons.length, 1);
    assert.match(reasons[0]!, /^the offered torrent is unusable: .*METAINFO_PIECE_TOO_LARGE/);
  }));

/**
 * The proxy reads the torrent offered for every URL a program asks of it, several at once: an
 * origin answering each with an endless torrent made six requests hold 96 MiB each (the proxy at
 * 680 MB; the limit is OFFERED_METAINFO_MAX_BYTES now). The metainfo bytes buffered at once in a process have a budget of their own
 * (`METAINFO_BYTES_IN_FLIGHT`): a read that would pass it fails (GATEWAY_GET_BAD_ANSWER: the proxy
 * passes the URL through, `get` downloads it plainly), and its bytes are given back as each read ends. An
 * answer whose declared length is past the limit is refused before a byte is read.
 */
test('readSmall: a budget for metainfo bytes read at once; a declared length past the limit is refused unread', async () => {
  const { readSmall } = await import('../../src/gateway/negotiate-client.js');
  const { PassThrough } = await import('node:stream');
  const limits = { maxBytes: 100, inFlightBytes: 150 };
  const open = (headers: Record<string, string> = {}): { res: { url: string; status: number; headers: Record<string, string>; body: InstanceType<typeof PassThrough> }; body: InstanceType<typeof PassThrough> } => {
    const body = new PassThrough();
    return { res: { url: 'http://origin/x', status: 200, headers, body }, body };
  };
  const a = open();
  const reading = readSmall(a.res, limits);
  a.body.write(Buffer.alloc(90, 1));
  await new Promise((r) => setImmediate(r));
  const b = open();
  const refused = readSmall(b.res, limits);
  b.body.write(Buffer.alloc(90, 2)); // 180 in flight > 150
  await assert.rejects(refused, (e: { code?: string; message?: string }) => e.code === 'GATEWAY_GET_BAD_ANSWER' && /at once/.test(e.message ?? ''));
  a.body.end(Buffer.alloc(5, 1));
  assert.equal((await reading).length, 95, 'the first read is whole');
  // Its bytes given back: another read of 90 fits now.
  const c = open();
  const again = readSmall(c.res, limits);
  c.body.end(Buffer.alloc(90, 3));
  assert.equal((await again).length, 90);
  // Past the limit alone, as before; and by its declared length, before any byte.
  const d = open();
  const big = readSmall(d.res, limits);
  d.body.end(Buffer.alloc(101, 4));
  await assert.rejects(big, { code: 'GATEWAY_GET_BAD_ANSWER' });
  const e = open({ 'content-length': '101' });
  e.body.end(); // read out by the discard, as a small answer is (a large one is cut off)
  await assert.rejects(readSmall(e.res, limits), (err: { code?: string; message?: string }) => err.code === 'GATEWAY_GET_BAD_ANSWER' && /declares 101 bytes/.test(err.message ?? ''));
});

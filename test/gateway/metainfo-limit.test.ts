/**
 * One metainfo size limit for every reader (MAX_METAINFO_BYTES): `get` refuses a torrent answer
 * one byte past it, as `info` and `download` refuse such a file (test/cli/load-url.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { getUrl } from '../../src/gateway/index.js';
import { MAX_METAINFO_BYTES } from '../../src/metainfo/index.js';
import { MAX_INPUT_BYTES } from '../../src/cli/load.js';
import { withTempDir } from '../helpers/torrents.js';

test('get refuses a torrent answer one byte past MAX_METAINFO_BYTES, the limit info and download use', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    assert.equal(MAX_INPUT_BYTES, MAX_METAINFO_BYTES);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const server = createServer((req, res) => {
      if (!/x-bittorrent/.test(req.headers.accept ?? '')) return void res.end('plain');
      res.writeHead(200, { 'content-type': 'application/x-bittorrent' });
      let left = MAX_METAINFO_BYTES + 1;
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
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/big.bin`;
    await assert.rejects(getUrl({ url, output: { kind: 'file', path: join(dir, 'big.bin') } }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'GATEWAY_GET_BAD_ANSWER', err.message);
      assert.match(err.message, new RegExp(`torrent larger than ${MAX_METAINFO_BYTES} bytes`));
      return true;
    });
  }));

/**
 * The proxy reads the torrent offered for every URL a program asks of it, several at once: an
 * origin answering each with an endless torrent made six requests hold 96 MiB each (the proxy at
 * 680 MB). The metainfo bytes buffered at once in a process have a budget of their own
 * (`METAINFO_BYTES_IN_FLIGHT`): a read that would pass it fails (GATEWAY_GET_BAD_ANSWER: the proxy
 * passes the URL through, `get` reports it), and its bytes are given back as each read ends. An
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

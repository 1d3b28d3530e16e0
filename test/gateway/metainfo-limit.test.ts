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

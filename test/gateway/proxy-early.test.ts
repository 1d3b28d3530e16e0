/**
 * The cold start's first piece (src/gateway/proxy-early.ts): taken only from an answer of exactly
 * that piece, its `Content-Range` read as RFC 9110 §14.4 writes it (`readContentRange`), not
 * compared as one spelling of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseTorrent, type PieceIndex } from '../../src/metainfo/index.js';
import { fetchFirstPiece } from '../../src/gateway/proxy-early.js';

const DATA = Buffer.from('abcd');

/**
 * An origin answering every GET with a 206 of the bytes under `contentRange`, or, for `''`, a `200`
 * of 4 MiB that ignores the range (still arriving when the proxy drops it).
 */
async function origin(t: import('node:test').TestContext, contentRange: string): Promise<string> {
  const server = createServer((_req, res) => {
    if (contentRange === '') {
      res.writeHead(200, { 'content-length': 4 * 1024 * 1024 });
      res.end(Buffer.alloc(4 * 1024 * 1024));
      return;
    }
    res.writeHead(206, { 'content-length': DATA.length, 'content-range': contentRange });
    res.end(DATA);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/f`;
}

const info = Buffer.concat([Buffer.from('d6:lengthi4e4:name1:f12:piece lengthi16384e6:pieces20:'), createHash('sha1').update(DATA).digest(), Buffer.from('e')]);
const metainfo = parseTorrent(new Uint8Array(Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')])));

test('the first piece is taken from a 206 whose Content-Range names exactly it, however spelled; not from one of other bytes or an unknown length, nor a 200 of other bytes (dropped without an uncaught error)', async (t) => {
  for (const [contentRange, taken] of [
    ['bytes 0-3/4', true],
    ['bytes 0-03/4', true], // leading zeros are digits (RFC 9110 §14.4: 1*DIGIT)
    ['bytes 0-3/*', false],
    ['bytes 1-3/4', false],
    ['bytes 0-3/5', false],
    ['bytes */4', false],
    ['', false], // a 200 of other bytes, dropped mid-body: no piece, and no uncaught abort error
  ] as const) {
    const url = await origin(t, contentRange);
    const answer = await fetchFirstPiece(url, metainfo, 0 as PieceIndex, { timeoutMs: 5000 });
    assert.equal(answer?.status, contentRange === '' ? 200 : 206);
    const body = await answer!.body;
    assert.equal(body.piece !== undefined, taken, contentRange);
    if (taken) assert.ok(body.piece!.data.equals(DATA));
  }
});

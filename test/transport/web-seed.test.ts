import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Bitfield, parseTorrent, type Metainfo } from '../../src/metainfo/index.js';
import { createWebSeed, openHttp1Origins, WEB_SEED_DEFAULTS, webSeedFileUrl, type PeerLink, type WebSeedOptions } from '../../src/transport/index.js';
import { setClientTls } from '../../src/transport/http-fetch.js';
import { selfSignedHttps } from '../helpers/tls.js';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';
import { allBlocks, leech, makeTorrent, Recorder } from './helpers.js';

type Handler = (req: IncomingMessage, res: ServerResponse, file: Uint8Array | undefined) => void;

/** Serves `files` (URL path → bytes), honouring `Range`, unless `handler` says otherwise. */
async function httpServer(files: Map<string, Uint8Array>, handler?: Handler, keepAliveMs = 1000) {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '';
    seen.push(`${path} ${req.headers.range ?? ''}`);
    const file = files.get(path);
    if (handler !== undefined) return handler(req, res, file);
    rangeResponse(req, res, file);
  });
  // `Keep-Alive: timeout=1` by default: a client that keeps a connection 1 s less closes it after each answer.
  server.keepAliveTimeout = keepAliveMs;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function rangeResponse(req: IncomingMessage, res: ServerResponse, file: Uint8Array | undefined): void {
  if (file === undefined) {
    res.writeHead(404).end();
    return;
  }
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (m === null) {
    res.writeHead(200, { 'content-length': file.length }).end(file);
    return;
  }
  const first = Number(m[1]);
  const last = Math.min(Number(m[2]), file.length - 1);
  res.writeHead(206, { 'content-range': `bytes ${first}-${last}/${file.length}`, 'content-length': last - first + 1, 'content-type': 'application/octet-stream' });
  res.end(file.subarray(first, last + 1));
}

function multiFileTorrent(): { metainfo: Metainfo; data: Uint8Array; files: { path: string[]; data: Uint8Array }[] } {
  const lengths = [70_000, 0, 1, 150_000, 33_333];
  const names = [['a.bin'], ['empty'], ['sub dir', 'one byte'], ['sub dir', 'ünï #?.bin'], ['z%.bin']];
  const files = lengths.map((n, i) => ({ path: names[i]!, data: bytes(n, 100 + i) }));
  const data = new Uint8Array(lengths.reduce((a, b) => a + b, 0));
  let at = 0;
  for (const f of files) {
    data.set(f.data, at);
    at += f.data.length;
  }
  const pieceLength = 32 * 1024;
  const metainfo = parseTorrent(
    torrentBytes({
      files: files.map((f) => ({ length: f.data.length, path: f.path })),
      name: 'my share',
      'piece length': pieceLength,
      pieces: piecesOf(data, pieceLength),
    }),
  );
  return { metainfo, data, files };
}

function seed(url: string, metainfo: Metainfo, opts: Partial<WebSeedOptions> = {}): { link: PeerLink; rec: Recorder } {
  const rec = new Recorder();
  // A block's bytes may be a view of the connection's reused read buffer, valid only while its
  // event is delivered: the recorder keeps a copy, as the engine copies them.
  const link = createWebSeed(url, metainfo, { onEvent: (e) => rec.handler(e.type === 'block' ? { ...e, data: Uint8Array.from(e.data) } : e), ...opts });
  return { link, rec };
}

test('URL mapping (BEP 19): single file with and without a trailing slash, multi-file folders, encoded components', () => {
  const single = makeTorrent(1000, 16 * 1024, 1, 'a b#.iso').metainfo;
  assert.equal(webSeedFileUrl('http://h/x/file.iso', single, 0), 'http://h/x/file.iso');
  assert.equal(webSeedFileUrl('http://h/x/', single, 0), 'http://h/x/a%20b%23.iso');
  const { metainfo } = multiFileTorrent();
  assert.equal(webSeedFileUrl('http://h/x/', metainfo, 3), 'http://h/x/my%20share/sub%20dir/%C3%BCn%C3%AF%20%23%3F.bin');
  assert.equal(webSeedFileUrl('http://h/x', metainfo, 4), 'http://h/x/my%20share/z%25.bin');
});

test('single file: every piece byte-identical, adjacent blocks coalesced into few GETs', async () => {
  const { metainfo, data } = makeTorrent(2 * 1024 * 1024 + 777, 256 * 1024, 9, 'payload.bin');
  const srv = await httpServer(new Map([['/files/payload.bin', data]]));
  const { link, rec } = seed(`${srv.base}/files/`, metainfo);
  try {
    assert.equal(link.kind, 'webseed');
    assert.equal(link.prefersRuns, true);
    const bf = await rec.wait('bitfield');
    assert.equal(bf.bitfield.complete, true);
    await rec.wait('unchoke');
    assert.ok(link.desiredQueueDepth >= 32, `depth ${link.desiredQueueDepth}`);
    const got = await leech(link, rec, metainfo);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)));
    assert.ok(srv.seen.length <= 2 * metainfo.pieceCount, `${srv.seen.length} GETs for ${allBlocks(metainfo).length} blocks`);
    assert.equal(rec.of('bytes').reduce((n, e) => n + e.downloaded, 0), data.length);
  } finally {
    link.close();
    await srv.close();
  }
});

test('limited to some pieces: its bitfield names only those, blocks of others are rejected without a GET', async () => {
  const { metainfo, data } = makeTorrent(256 * 1024, 64 * 1024, 4, 'f.bin');
  const srv = await httpServer(new Map([['/f.bin', data]]));
  const pieces = new Bitfield(metainfo.pieceCount);
  pieces.set(2);
  const { link, rec } = seed(`${srv.base}/f.bin`, metainfo, { pieces });
  try {
    const bf = await rec.wait('bitfield');
    assert.deepEqual([0, 1, 2, 3].map((i) => bf.bitfield.has(i)), [false, false, true, false]);
    await rec.wait('unchoke');
    const blocks = allBlocks(metainfo);
    const other = blocks.find((b) => b.index === 1)!;
    link.request(other);
    for (const b of blocks.filter((x) => x.index === 2)) link.request(b);
    await rec.wait('block', 5000, () => rec.of('block').length === 4);
    assert.deepEqual(rec.of('rejected').map((e) => e.req), [other]);
    const got = Buffer.concat(rec.of('block').map((e) => e.data));
    assert.ok(got.equals(Buffer.from(data.subarray(128 * 1024, 192 * 1024))), 'piece 2, byte-identical');
    assert.deepEqual(srv.seen, [`/f.bin bytes=${128 * 1024}-${192 * 1024 - 1}`], 'one GET, of piece 2 only');
  } finally {
    link.close();
    await srv.close();
  }
});

test('blocks of a piece asked for backwards in one turn are one GET (runs grow both ways, as an HTTP peer\'s)', async () => {
  const { metainfo, data } = makeTorrent(256 * 1024, 256 * 1024, 11, 'payload.bin');
  const srv = await httpServer(new Map([['/files/payload.bin', data]]));
  const { link, rec } = seed(`${srv.base}/files/`, metainfo);
  try {
    await rec.wait('unchoke');
    const blocks = allBlocks(metainfo).filter((b) => b.index === 0);
    for (const b of blocks.reverse()) link.request(b);
    await rec.wait('block', 5000, () => rec.of('block').length === blocks.length); // streamed as the GET's body comes
    assert.equal(rec.of('bytes').reduce((n, e) => n + e.downloaded, 0), 256 * 1024);
    assert.deepEqual(srv.seen, [`/files/payload.bin bytes=0-${256 * 1024 - 1}`]);
    const got = new Uint8Array(256 * 1024);
    for (const e of rec.of('block')) got.set(e.data, e.req.begin);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)));
  } finally {
    link.close();
    await srv.close();
  }
});

test('multi-file: folder URLs, pieces spanning files (several GETs), empty files skipped', async () => {
  const { metainfo, data, files } = multiFileTorrent();
  const served = new Map(files.map((f) => [webSeedFileUrl('', metainfo, files.indexOf(f)), f.data]));
  const srv = await httpServer(served);
  const { link, rec } = seed(`${srv.base}/`, metainfo);
  try {
    const got = await leech(link, rec, metainfo);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)));
    assert.ok(!srv.seen.some((s) => s.includes('empty')), 'no GET for the empty file');
    assert.ok(srv.seen.some((s) => s.startsWith('/my%20share/sub%20dir/one%20byte bytes=0-0')));
  } finally {
    link.close();
    await srv.close();
  }
});

/** Requests the first piece's blocks and waits for their rejections, then the choke. */
async function failsWith(handler: Handler, code: string, opts: Partial<WebSeedOptions> = {}) {
  const { metainfo, data } = makeTorrent(256 * 1024, 64 * 1024, 4, 'f.bin');
  const srv = await httpServer(new Map([['/f.bin', data]]), handler);
  const { link, rec } = seed(`${srv.base}/f.bin`, metainfo, { maxFailures: 2, backoffBaseMs: 100, ...opts });
  try {
    await rec.wait('unchoke');
    const reqs = allBlocks(metainfo).slice(0, 4);
    reqs.forEach((r) => link.request(r));
    await rec.wait('rejected', 5000, () => rec.of('rejected').length === 4);
    const choke = await rec.wait('choke');
    assert.equal(link.peerChoking, true);
    // Back-off ends with an unchoke; the next failure is the last (maxFailures 2).
    await rec.wait('unchoke', 5000, () => rec.of('unchoke').length === 2);
    reqs.forEach((r) => link.request(r));
    const closed = await rec.wait('closed', 5000);
    assert.equal(closed.reason?.code, 'TRANSPORT_WEBSEED_GAVE_UP');
    const cause = closed.reason?.cause as { code?: string } | undefined;
    assert.equal(cause?.code, code);
    assert.equal(rec.of('block').length, 0);
    return { choke, srv };
  } finally {
    link.close();
    await srv.close();
  }
}

/** A server that ignores Range: 200 and the whole file, always (a plain static server, nginx with max_ranges 0). */
const ignoresRange: Handler = (_q, res, file) => {
  if (file === undefined) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-length': file.length, 'content-type': 'application/octet-stream' }).end(file);
};

test('a server that ignores Range: a small torrent is fetched file by file, whole, and every piece is byte-identical', async () => {
  const { metainfo, data, files } = multiFileTorrent();
  const served = new Map(files.map((f) => [webSeedFileUrl('', metainfo, files.indexOf(f)), f.data]));
  const srv = await httpServer(served, ignoresRange);
  const { link, rec } = seed(`${srv.base}/`, metainfo);
  try {
    const got = await leech(link, rec, metainfo);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)));
    assert.equal(rec.of('rejected').length, 0);
    assert.equal(rec.of('choke').length, 0);
    // Each file whole, a few times at most (the GETs in flight when the first 200 came), not once per block.
    for (const path of served.keys()) {
      const gets = srv.seen.filter((x) => x.startsWith(`${path} `)).length;
      assert.ok(gets <= WEB_SEED_DEFAULTS.maxInFlight, `${gets} GETs of ${path}`);
    }
  } finally {
    link.close();
    await srv.close();
  }
});

test('a server that ignores Range: the GETs in flight when the first 200 came stop at their heads and share its body (one whole copy a file, not one a GET)', async () => {
  const { metainfo, data } = makeTorrent(256 * 1024, 64 * 1024, 4, 'f.bin');
  // The first GET gets its 200 and the file at once; the others their 200 heads only once the link
  // has blocks of the first (its body is in), then nothing more: a link that reads them waits for ever.
  let first = true;
  let release: () => void = () => {};
  const released = new Promise<void>((r) => (release = r));
  const bodies: string[] = [];
  const srv = await httpServer(new Map([['/f.bin', data]]), (_q, res) => {
    if (first) {
      first = false;
      bodies.push('whole');
      res.writeHead(200, { 'content-length': data.length }).end(data);
      return;
    }
    void released.then(() => {
      res.writeHead(200, { 'content-length': data.length });
      res.flushHeaders();
    });
  });
  const { link, rec } = seed(`${srv.base}/f.bin`, metainfo, { requestTimeoutMs: 3000 });
  try {
    await rec.wait('unchoke');
    const reqs = allBlocks(metainfo);
    reqs.forEach((r) => link.request(r));
    await rec.wait('block');
    // A GET a piece went out at once (4 runs, 4 in flight): those the first 200 did not answer are still there.
    for (let i = 0; i < 200 && srv.seen.length < WEB_SEED_DEFAULTS.maxInFlight; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(srv.seen.length, WEB_SEED_DEFAULTS.maxInFlight);
    release();
    for (let i = 0; i < 200 && rec.of('block').length + rec.of('rejected').length < reqs.length; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(rec.of('rejected').length, 0, 'no GET waited for a second copy of the file');
    assert.equal(rec.of('choke').length, 0);
    const got = new Uint8Array(data.length);
    for (const b of rec.of('block')) got.set(b.data, b.req.index * metainfo.pieceLength + b.req.begin);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)));
    assert.deepEqual(bodies, ['whole']);
  } finally {
    link.close();
    await srv.close();
  }
});

test('a server that ignores Range on a torrent too large to fetch whole: the link closes at once with the reason', async () => {
  const { metainfo, data } = makeTorrent(256 * 1024, 64 * 1024, 4, 'f.bin');
  const srv = await httpServer(new Map([['/f.bin', data]]), ignoresRange);
  const { link, rec } = seed(`${srv.base}/f.bin`, metainfo, { maxWholeFileBytes: 128 * 1024 });
  try {
    await rec.wait('unchoke');
    allBlocks(metainfo).slice(0, 4).forEach((r) => link.request(r));
    const closed = await rec.wait('closed', 5000);
    assert.equal(closed.reason?.code, 'TRANSPORT_WEBSEED_NO_RANGE');
    assert.match(closed.reason?.message ?? '', /Range/);
    assert.equal(rec.of('choke').length, 0, 'no back-off: retrying cannot help');
    assert.equal(rec.of('block').length, 0);
  } finally {
    link.close();
    await srv.close();
  }
});

test('a wrong Content-Range or a short body fails', async () => {
  await failsWith((_q, res, file) => res.writeHead(206, { 'content-range': `bytes 1-65536/${file!.length}` }).end(file!.subarray(1, 65537)), 'TRANSPORT_HTTP_BAD_RANGE');
  await failsWith((req, res, file) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range!)!;
    res.writeHead(206, { 'content-range': `bytes ${m[1]}-${m[2]}/${file!.length}` }).end(file!.subarray(0, 100));
  }, 'TRANSPORT_HTTP_BAD_LENGTH');
});

test('an HTML error page fails', async () => {
  await failsWith((req, res, file) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range!)!;
    const page = Buffer.alloc(Number(m[2]) - Number(m[1]) + 1, '<html>quota exceeded</html>');
    res.writeHead(206, { 'content-range': `bytes ${m[1]}-${m[2]}/${file!.length}`, 'content-type': 'text/html; charset=utf-8' }).end(page);
  }, 'TRANSPORT_HTTP_ERROR_PAGE');
});

test('429/503 is a choke, not a failure: Retry-After honoured (5 s when absent, 5 min at most), and the link never gives up on a busy server', async () => {
  const { metainfo, data } = makeTorrent(256 * 1024, 64 * 1024, 4, 'f.bin');
  // Six busy answers (more than maxFailures), with Retry-After 0, absent, and too large, then bytes.
  const busy = ['0', undefined, '0', '99999', '0', '0'];
  let answers = 0;
  const srv = await httpServer(new Map([['/f.bin', data]]), (req, res, file) => {
    if (answers < busy.length) {
      const ra = busy[answers++];
      res.writeHead(answers % 2 === 0 ? 429 : 503, ra === undefined ? {} : { 'retry-after': ra }).end('busy');
      return;
    }
    rangeResponse(req, res, file);
  });
  const { link, rec } = seed(`${srv.base}/f.bin`, metainfo, { maxFailures: 2, backoffBaseMs: 10, maxInFlight: 1, defaultRetryAfterMs: 50, maxRetryAfterMs: 80 });
  const waits: number[] = [];
  rec.on((e) => {
    if (e.type === 'choke') waits.push(e.retryAfterMs ?? -1);
  });
  try {
    const got = await Promise.race([
      leech(link, rec, metainfo, 20_000),
      rec.wait('closed', 20_000).then((c) => {
        throw new Error(`closed: ${c.reason?.code}`);
      }),
    ]);
    assert.deepEqual(Buffer.from(got), Buffer.from(data));
    assert.equal(answers, busy.length);
    assert.deepEqual(waits.slice(0, 4), [0, 50, 0, 80], 'Retry-After as sent, the default when absent, clamped to the most');
    assert.equal(WEB_SEED_DEFAULTS.defaultRetryAfterMs, 5000);
    assert.equal(WEB_SEED_DEFAULTS.maxRetryAfterMs, 300_000);
    assert.equal(rec.of('closed').length, 0, 'six busy answers did not make it give up (maxFailures 2)');
  } finally {
    link.close();
    await srv.close();
  }
});

test('a server that stalls times out: only that link suffers', async () => {
  await failsWith((_q, res) => res.writeHead(206), 'TRANSPORT_HTTP_TIMEOUT', { requestTimeoutMs: 200 });
});

test('a 404 and a refused connection fail the same way', async () => {
  await failsWith((_q, res) => res.writeHead(404).end(), 'TRANSPORT_HTTP_STATUS');
  const { metainfo } = makeTorrent(64 * 1024, 64 * 1024);
  const srv = await httpServer(new Map());
  const url = `${srv.base}/x`;
  await srv.close();
  const { link, rec } = seed(url, metainfo, { maxFailures: 1 });
  link.request(allBlocks(metainfo)[0]!);
  const closed = await rec.wait('closed');
  assert.equal((closed.reason?.cause as { code?: string }).code, 'TRANSPORT_HTTP_FAILED');
  assert.equal(rec.of('rejected').length, 1);
});

test('cancel drops queued and in-flight requests silently; requests outside the torrent are rejected', async () => {
  const { metainfo, data } = makeTorrent(256 * 1024, 64 * 1024, 4, 'f.bin');
  let release: (() => void) | undefined;
  const srv = await httpServer(new Map([['/f.bin', data]]), (req, res, file) => {
    release = () => rangeResponse(req, res, file);
  });
  const { link, rec } = seed(`${srv.base}/f.bin`, metainfo, { maxInFlight: 1 });
  try {
    await rec.wait('unchoke');
    const [a, b] = allBlocks(metainfo);
    const c = allBlocks(metainfo)[4]!; // another piece: its own GET, queued behind
    link.request(a!);
    link.request(b!);
    link.request(c);
    link.request({ index: a!.index, begin: 64 * 1024, length: 16 * 1024 });
    await rec.wait('rejected');
    while (release === undefined) await new Promise((r) => setTimeout(r, 5));
    link.cancel(b!);
    link.cancel(c);
    release();
    await rec.wait('block');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(rec.of('block').map((e) => e.req), [a]);
    assert.equal(srv.seen.length, 1, 'the cancelled queued request never became a GET');
  } finally {
    link.close();
    await srv.close();
  }
});

test('any real server: chunked answers, and HTTP/1.0 bodies that run to the connection\'s end, over a multi-file torrent: every piece byte-identical', async () => {
  const { metainfo, data, files } = multiFileTorrent();
  const served = new Map(files.map((f) => [webSeedFileUrl('', metainfo, files.indexOf(f)), f.data]));
  for (const style of ['chunked', 'close'] as const) {
    const srv = await httpServer(served, (req, res, file) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (file === undefined || m === null) return void res.writeHead(404).end();
      const first = Number(m[1]);
      const last = Math.min(Number(m[2]), file.length - 1);
      const body = file.subarray(first, last + 1);
      if (style === 'close') {
        // No length, no chunking: the body ends with the connection (an HTTP/1.0 server).
        res.socket!.end(Buffer.concat([Buffer.from(`HTTP/1.0 206 Partial Content\r\nContent-Range: bytes ${first}-${last}/${file.length}\r\n\r\n`), body]));
        return;
      }
      res.writeHead(206, { 'content-range': `bytes ${first}-${last}/${file.length}`, 'transfer-encoding': 'chunked' });
      // Chunks of 1000 bytes: blocks straddle chunks, reads and file ends.
      for (let at = 0; at < body.length; at += 1000) res.write(body.subarray(at, at + 1000));
      res.end();
    });
    const { link, rec } = seed(`${srv.base}/`, metainfo);
    try {
      const got = await leech(link, rec, metainfo);
      assert.ok(Buffer.from(got).equals(Buffer.from(data)), style);
      assert.equal(rec.of('rejected').length, 0, style);
    } finally {
      link.close();
      await srv.close();
    }
  }
});

test('a redirect is not followed: a 3xx fails like any other status, its Location never asked for', async () => {
  const { srv } = await failsWith((_q, res) => res.writeHead(302, { location: '/elsewhere.bin' }).end(), 'TRANSPORT_HTTP_STATUS');
  assert.ok(srv.seen.length > 0 && srv.seen.every((s) => s.startsWith('/f.bin ')), srv.seen.join(', '));
});

test('zero copy: blocks are views of the connection\'s reused read buffer, delivered as the body comes; the closed link releases its pool', async () => {
  const { metainfo, data } = makeTorrent(2 * 1024 * 1024, 64 * 1024, 13, 'payload.bin');
  const srv = await httpServer(new Map([['/payload.bin', data]]), undefined, 10_000);
  const rec = new Recorder();
  const buffers = new Set<ArrayBufferLike>();
  let views = 0;
  const link = createWebSeed(`${srv.base}/payload.bin`, metainfo, {
    maxInFlight: 1, // one connection: its reads all go into one buffer
    onEvent: (e) => {
      if (e.type === 'block') {
        buffers.add(e.data.buffer);
        if (e.data.buffer.byteLength > e.data.length) views++;
      }
      rec.handler(e);
    },
  });
  try {
    const got = await leech(link, rec, metainfo);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)));
    assert.equal(srv.seen.length, metainfo.pieceCount, 'a GET a piece');
    // 128 blocks of 32 GETs: a copy per GET would show 32 buffers (or more); the reads are one or two (16 KiB, then 256 KiB).
    assert.ok(buffers.size <= 4, `${buffers.size} buffers under ${rec.of('block').length} blocks: ${[...buffers].map((b) => b.byteLength).join(' ')}`);
    assert.ok(views > rec.of('block').length / 2, `${views} views`);
    assert.deepEqual(openHttp1Origins(), [srv.base], 'one pool, the origin\'s');
  } finally {
    link.close();
    await srv.close();
  }
  assert.deepEqual(openHttp1Origins(), [], 'the closed link released its pool');
});

test('a multi-file run whose GET of one file fails: the GETs of its other files are stopped, each of its requests ends once (a block or a rejection)', async () => {
  const { metainfo, files } = multiFileTorrent();
  const served = new Map(files.map((f) => [webSeedFileUrl('', metainfo, files.indexOf(f)), f.data]));
  const broken = webSeedFileUrl('', metainfo, 4);
  const slow = webSeedFileUrl('', metainfo, 3);
  let slowCut = false;
  const srv = await httpServer(served, (req, res, file) => {
    if (req.url === broken) return void res.writeHead(500).end();
    // File 3's part would come long after the failure: its GET is stopped (the connection closed) first.
    if (req.url === slow) {
      const timer = setTimeout(() => rangeResponse(req, res, file), 3000);
      res.on('close', () => {
        clearTimeout(timer);
        if (!res.writableFinished) slowCut = true;
      });
      return;
    }
    rangeResponse(req, res, file);
  });
  const { link, rec } = seed(`${srv.base}/`, metainfo, { maxFailures: 100, backoffBaseMs: 10_000 });
  try {
    await rec.wait('unchoke');
    // Piece 6 (bytes 196608–229375): a block wholly of file 3, then one of the end of file 3 and the start of file 4.
    const reqs = allBlocks(metainfo).filter((b) => b.index === 6);
    reqs.forEach((r) => link.request(r));
    await rec.wait('choke');
    for (let i = 0; i < 200 && !slowCut; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(slowCut, 'the GET of the other file was stopped');
    const ended = [...rec.of('block').map((e) => e.req), ...rec.of('rejected').map((e) => e.req)];
    assert.equal(ended.length, reqs.length, JSON.stringify(ended));
    for (const r of reqs) assert.equal(ended.filter((x) => x.begin === r.begin).length, 1, `block at ${r.begin}`);
    assert.ok(rec.of('rejected').length > 0);
  } finally {
    link.close();
    await srv.close();
  }
});

test('an https web seed takes the process\'s TLS options (setClientTls: get -k, --cacert): refused untrusted, byte-identical with the CA', (t) =>
  withTempDir(t, async (dir) => {
    const { metainfo, data } = makeTorrent(512 * 1024, 64 * 1024, 17, 'f.bin');
    const { origin, cert } = await selfSignedHttps(t, dir, (req, res) => rangeResponse(req, res, req.url === '/f.bin' ? data : undefined));
    t.after(() => setClientTls({}));
    const url = `${origin}/f.bin`;
    const untrusted = seed(url, metainfo, { maxFailures: 1 });
    untrusted.link.request(allBlocks(metainfo)[0]!);
    const closed = await untrusted.rec.wait('closed');
    assert.match(String((closed.reason?.cause as Error | undefined)?.message), /self.signed|certificate/i);
    setClientTls({ ca: readFileSync(cert) });
    const { link, rec } = seed(url, metainfo);
    try {
      assert.ok(Buffer.from(await leech(link, rec, metainfo)).equals(Buffer.from(data)), '--cacert');
    } finally {
      link.close();
    }
  }));

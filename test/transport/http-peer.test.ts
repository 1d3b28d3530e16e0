/**
 * The TorrentTTP HTTP peer link (src/transport/http-peer.ts) against test/helpers/ttp-peer-server.ts,
 * a server written from docs/torrenttp.md: the happy path byte for byte, the have-set long-poll,
 * choking, and each fault of §6.4/§6.5/§16 costing only the link.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bitfield, type Metainfo } from '../../src/metainfo/index.js';
import { createHttpPeer, openHttp1Origins as openOrigins, type HttpPeerOptions, type PeerLink } from '../../src/transport/index.js';
import { startTtpPeerServer, type TtpPeerServer, type TtpPeerServerOptions } from '../helpers/ttp-peer-server.js';
import { until } from '../helpers/processes.js';
import { allBlocks, index, leech, makeTorrent, peerId, Recorder } from './helpers.js';

// 6 pieces of 4 blocks (64 KiB), the last one short.
const { metainfo, data } = makeTorrent(5 * 64 * 1024 + 30_000, 64 * 1024, 21);
const ourId = peerId('httpclient');

async function setup(
  serverOpts: Partial<TtpPeerServerOptions> = {},
  linkOpts: Partial<HttpPeerOptions> = {},
  m: Metainfo = metainfo,
): Promise<{ server: TtpPeerServer; link: PeerLink; rec: Recorder; done: () => Promise<void> }> {
  const server = await startTtpPeerServer({ metainfo: m, data, ...serverOpts });
  const rec = new Recorder();
  const link = createHttpPeer(server.url, m, { onEvent: rec.handler, peerId: ourId, ...linkOpts });
  return {
    server,
    link,
    rec,
    done: async () => {
      link.close();
      await server.close();
    },
  };
}

test('downloads every block byte-identical: whole pieces without Range, ≤ maxInFlight GETs in flight, our peer id on every request', async () => {
  let inFlight = 0;
  let most = 0;
  const { server, link, rec, done } = await setup({
    hook: (_req, res, route) => {
      if (route?.resource !== 'piece') return false;
      inFlight++;
      most = Math.max(most, inFlight);
      res.on('finish', () => inFlight--);
      return false;
    },
  }, { maxInFlight: 3 });
  try {
    const got = await leech(link, rec, metainfo, 20_000);
    assert.deepEqual(Buffer.from(got), Buffer.from(data));
    const pieces = server.requests.filter((r) => r.target.includes('/pieces/'));
    assert.equal(pieces.length, metainfo.pieceCount, 'one GET per piece');
    assert.ok(pieces.every((r) => r.headers.range === undefined), 'a whole piece is asked for without Range (it caches best)');
    assert.ok(pieces.every((r) => r.headers['accept-encoding'] === 'identity'));
    assert.ok(most <= 3, `${most} piece GETs at once`);
    const hex = Buffer.from(ourId).toString('hex');
    assert.ok(server.requests.every((r) => r.headers['torrenttp-peer-id'] === hex), 'TorrentTTP-Peer-Id on every request');
    assert.equal(link.kind, 'http');
    assert.equal(link.pollsHaves, true);
    assert.equal(link.canUpload, false);
  } finally {
    await done();
  }
  assert.deepEqual(openOrigins(), [], 'the closed link released its pool');
});

test('the GET window: starts at 1 and grows with answers to 3 GETs at once, over at most 4 connections to the peer (§7), whatever maxInFlight asks', async () => {
  // 64 pieces of 16 KiB, each answered 20 ms late, by hand: the GETs overlap however fast loopback is.
  const small = makeTorrent(64 * 16 * 1024, 16 * 1024, 7);
  let inFlight = 0;
  let most = 0;
  const sockets = new Set<unknown>();
  const { link, rec, done } = await setup(
    {
      metainfo: small.metainfo,
      data: small.data,
      hook: (req, res, route) => {
        sockets.add(req.socket);
        if (route?.resource !== 'piece') return false;
        inFlight++;
        most = Math.max(most, inFlight);
        const bytes = small.data.subarray(route.index * 16 * 1024, (route.index + 1) * 16 * 1024);
        setTimeout(() => {
          inFlight--;
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
          res.end(bytes);
        }, 20);
        return true;
      },
    },
    { maxInFlight: 16 },
    small.metainfo,
  );
  try {
    const got = await leech(link, rec, small.metainfo, 20_000);
    assert.deepEqual(Buffer.from(got), Buffer.from(small.data));
    assert.equal(most, 3, `${most} piece GETs at once`);
    assert.ok(sockets.size <= 4, `${sockets.size} connections to one peer`);
  } finally {
    await done();
  }
});

/** The most piece GETs a default link (no maxInFlight) keeps at once for a torrent of `pieces` pieces of `pieceLength`, each answered 20 ms late. */
async function mostGetsAtOnce(pieces: number, pieceLength: number): Promise<number> {
  const t = makeTorrent(pieces * pieceLength, pieceLength, 9);
  let inFlight = 0;
  let most = 0;
  const { link, rec, done } = await setup(
    {
      metainfo: t.metainfo,
      data: t.data,
      hook: (_req, res, route) => {
        if (route?.resource !== 'piece') return false;
        inFlight++;
        most = Math.max(most, inFlight);
        const bytes = t.data.subarray(route.index * pieceLength, (route.index + 1) * pieceLength);
        setTimeout(() => {
          inFlight--;
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
          res.end(bytes);
        }, 20);
        return true;
      },
    },
    {},
    t.metainfo,
  );
  try {
    const got = await leech(link, rec, t.metainfo, 20_000);
    assert.deepEqual(Buffer.from(got), Buffer.from(t.data));
  } finally {
    await done();
  }
  return most;
}

test('by default 2 GETs at once of 1 MiB pieces (each fills a piece buffer: a third is a piece more in memory for no speed), 3 of small pieces', async () => {
  assert.equal(await mostGetsAtOnce(8, 1024 * 1024), 2, 'pieces of 1 MiB');
  assert.equal(await mostGetsAtOnce(32, 16 * 1024), 3, 'pieces of 16 KiB');
});

test('blocks that straddle the chunks a body arrives in are byte-identical (each piece written in 10,000-byte pieces, 2 ms apart)', async () => {
  const { link, rec, done } = await setup({
    hook: (_req, res, route) => {
      if (route?.resource !== 'piece') return false;
      const at = metainfo.geometry.pieceOffset(metainfo.geometry.pieceIndex(route.index));
      const bytes = data.subarray(at, at + metainfo.geometry.pieceLengthOf(route.index));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
      let sent = 0;
      const more = (): void => {
        const n = Math.min(10_000, bytes.length - sent);
        res.write(bytes.subarray(sent, sent + n));
        sent += n;
        if (sent < bytes.length) setTimeout(more, 2);
        else res.end();
      };
      more();
      return true;
    },
  });
  try {
    const got = await leech(link, rec, metainfo, 20_000);
    assert.deepEqual(Buffer.from(got), Buffer.from(data));
  } finally {
    await done();
  }
});

test('blocks go to the engine as their bytes come, not when the GET ends; a body cut short rejects only the blocks that did not come', async () => {
  let release: (() => void) | undefined;
  const { link, rec, done } = await setup({
    hook: (_req, res, route) => {
      if (route?.resource !== 'piece' || route.index !== 0) return false;
      // Two blocks and a half of piece 0, then nothing until the test has seen the two blocks; then the connection drops.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 64 * 1024 });
      res.write(data.subarray(0, 2 * 16 * 1024 + 8000));
      release = () => res.destroy();
      return true;
    },
  }, { backoffBaseMs: 5 });
  try {
    await rec.wait('unchoke');
    const reqs = allBlocks(metainfo).filter((r) => r.index === 0);
    const copies = new Map<number, Uint8Array>();
    rec.on((e) => {
      if (e.type === 'block') copies.set(e.req.begin, Uint8Array.from(e.data));
    });
    for (const r of reqs) link.request(r);
    await rec.wait('block', 5000, () => rec.of('block').length === 2);
    assert.equal(rec.of('rejected').length, 0, 'the GET is still open');
    assert.deepEqual([...copies.keys()], [0, 16 * 1024]);
    assert.deepEqual(copies.get(0), data.subarray(0, 16 * 1024));
    assert.deepEqual(copies.get(16 * 1024), data.subarray(16 * 1024, 32 * 1024));
    assert.deepEqual(rec.of('bytes').reduce((n, e) => n + e.downloaded, 0), 32 * 1024);
    release!();
    await rec.wait('rejected', 5000, () => rec.of('rejected').length === 2);
    assert.deepEqual(rec.of('rejected').map((e) => e.req.begin), [32 * 1024, 48 * 1024], 'only the blocks that did not come');
    assert.equal(rec.of('block').length, 2);
    assert.equal((await rec.wait('choke')).reason?.code, 'TRANSPORT_HTTP1_TRUNCATED', 'a failure (the connection ended within the answer): back-off');
  } finally {
    await done();
  }
});

test('blocks of part of a piece: one GET with Range bytes=first-last', async () => {
  const { server, link, rec, done } = await setup();
  try {
    await rec.wait('unchoke');
    const [, b, c] = allBlocks(metainfo);
    link.request(b!);
    link.request(c!);
    await rec.wait('block', 5000, () => rec.of('block').length === 2);
    const gets = server.requests.filter((r) => r.target.includes('/pieces/'));
    assert.deepEqual(gets.map((r) => r.headers.range), ['bytes=16384-49151']);
    const at = b!.begin;
    assert.deepEqual(Buffer.from(rec.of('block')[0]!.data), Buffer.from(data.subarray(at, at + 16384)));
  } finally {
    await done();
  }
});

test('have-set: the first document is the bitfield, then the long-poll brings each new piece as a have; pieces not held are not asked for', async () => {
  const have = new Bitfield(metainfo.pieceCount);
  have.set(0);
  have.set(2);
  const { server, link, rec, done } = await setup({ have }, { pollWaitSec: 30 });
  try {
    const bf = await rec.wait('bitfield');
    assert.equal(bf.bitfield, link.bitfield);
    assert.deepEqual([0, 1, 2, 3].map((i) => link.bitfield.has(i)), [true, false, true, false]);
    await rec.wait('unchoke');
    const lacking = allBlocks(metainfo).find((r) => r.index === 1)!;
    link.request(lacking);
    await rec.wait('rejected');
    await new Promise((r) => setTimeout(r, 50)); // the long-poll is waiting now
    const started = Date.now();
    server.add(1);
    const h = await rec.wait('have', 8000);
    assert.equal(h.index, 1);
    // The poll waits up to 30 s: well under that means the change answered it (a loaded machine can take seconds).
    assert.ok(Date.now() - started < 8000, 'the long-poll answered at the change, not after its wait');
    assert.equal(link.bitfield.has(1), true);
    const polls = server.requests.filter((r) => r.target.includes('/have'));
    assert.match(polls[1]!.target, /\/have\?since=[^&]+&wait=30$/);
    assert.match(String(polls[1]!.headers['if-none-match']), /^"[^"]+"$/);
    assert.equal(rec.of('bitfield').length, 1, 'additions come as haves, not a new bitfield');
  } finally {
    await done();
  }
});

test('links of one origin share one long-poll: the others poll without wait every shortPollGapMs, and every link learns a new piece', async () => {
  const have = new Bitfield(metainfo.pieceCount);
  have.set(0);
  const server = await startTtpPeerServer({ metainfo, data, have });
  // Three links on one origin (three torrents of a serve, say; one torrent URL here), told apart by peer id.
  const ids = ['linkone', 'linktwo', 'linkthree'].map((n) => peerId(n));
  const hex = ids.map((id) => Buffer.from(id).toString('hex'));
  const recs = ids.map(() => new Recorder());
  const links = ids.map((id, i) => createHttpPeer(server.url, metainfo, { onEvent: recs[i]!.handler, peerId: id, pollWaitSec: 30, minPollGapMs: 50, shortPollGapMs: 200 }));
  const polls = (i: number): string[] => server.requests.filter((r) => r.target.includes('/have?') && r.headers['torrenttp-peer-id'] === hex[i]).map((r) => r.target);
  try {
    await until('two short polls from each link without the long-poll', () => {
      const long = [0, 1, 2].filter((i) => polls(i).some((x) => x.includes('wait=')));
      return long.length === 1 && [0, 1, 2].filter((i) => i !== long[0]).every((i) => polls(i).length >= 2);
    }, 10_000);
    const holder = [0, 1, 2].find((i) => polls(i).some((x) => x.includes('wait=')))!;
    assert.match(polls(holder)[0]!, /since=[^&]+&wait=30$/, 'the long-poll');
    for (const i of [0, 1, 2].filter((i) => i !== holder)) {
      assert.ok(polls(i).every((x) => /^[^?]+\?since=[^&]+$/.test(x)), `link ${i} polls without wait: ${polls(i).join(' ')}`);
    }
    server.add(1);
    for (const rec of recs) assert.equal((await rec.wait('have', 8000)).index, 1);
    assert.ok(links.every((l) => l.bitfield.has(1)));
  } finally {
    for (const l of links) l.close();
    await server.close();
  }
  assert.deepEqual(openOrigins(), []);
});

test('429/503 is a choke with the Retry-After wait (default when absent, clamped), then an unchoke; never a failure', async () => {
  const { server, link, rec, done } = await setup({}, { defaultRetryAfterMs: 40, maxRetryAfterMs: 60, maxFailures: 1 });
  try {
    await rec.wait('unchoke');
    const reqs = allBlocks(metainfo).slice(0, 4);
    const round = async (status: 429 | 503, retryAfter: number | undefined, expectMs: number) => {
      server.refuse(status, retryAfter as number);
      const chokes = rec.of('choke').length;
      for (const r of reqs) link.request(r);
      const choke = await rec.wait('choke', 3000, () => rec.of('choke').length > chokes);
      assert.equal(choke.retryAfterMs, expectMs);
      assert.equal(choke.reason, undefined, 'a choke, not a failure');
      await rec.wait('unchoke', 3000, () => rec.of('unchoke').length > chokes + 1);
    };
    await round(503, 0, 0);
    await round(429, 9999, 60);
    server.resume();
    for (const r of reqs) link.request(r);
    await rec.wait('block', 5000, () => rec.of('block').length === 4);
    assert.equal(rec.of('closed').length, 0, 'two refusals with maxFailures 1: still open');
  } finally {
    await done();
  }
});

test('a 404 STORAGE_NOT_VERIFIED takes the piece out of the peer’s set (a new bitfield) and rejects its requests', async () => {
  const { link, rec, done } = await setup({
    hook: (_req, res, route) => {
      if (route?.resource !== 'piece' || route.index !== 3) return false;
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"type":"x","title":"x","status":404,"code":"STORAGE_NOT_VERIFIED"}');
      return true;
    },
  });
  try {
    await rec.wait('unchoke');
    const reqs = allBlocks(metainfo).filter((r) => r.index === 3);
    for (const r of reqs) link.request(r);
    await rec.wait('rejected', 5000, () => rec.of('rejected').length === reqs.length);
    assert.equal(link.bitfield.has(index(metainfo, 3)), false);
    assert.equal(rec.of('bitfield').length, 2);
    assert.equal(link.peerChoking, false, 'not a choke');
  } finally {
    await done();
  }
});

/**
 * A link whose server answers piece GETs with `answer`; resolves with the reason it closed. No
 * block may come of a bad head; of a body that runs long (`bodyRunsLong`), the blocks before the
 * first byte too many may (they go to the engine as they come; its hash check decides, §6.4 4.).
 */
async function closesWith(answer: NonNullable<TtpPeerServerOptions['hook']>, linkOpts: Partial<HttpPeerOptions> = {}, what: 'piece' | 'have' = 'piece', bodyRunsLong = false) {
  const { link, rec, done } = await setup({ hook: (req, res, route) => route?.resource === what && answer(req, res, route) }, { backoffBaseMs: 5, maxFailures: 2, ...linkOpts });
  try {
    if (what === 'piece') {
      await rec.wait('unchoke');
      const leeching = leech(link, rec, metainfo, 10_000).catch(() => undefined);
      const closed = await rec.wait('closed', 8000);
      await leeching;
      if (!bodyRunsLong) assert.equal(rec.of('block').length, 0, 'no byte of a bad answer is delivered');
      return closed.reason;
    }
    return (await rec.wait('closed', 8000)).reason;
  } finally {
    await done();
  }
}

test('faults that drop the peer: bad Content-Range, Content-Length, a redirect, another 4xx, an unknown torrent', async () => {
  const wrongRange = await closesWith((req, res) => {
    res.writeHead(206, { 'content-range': 'bytes 0-99/65536', 'content-length': 100 }).end(Buffer.alloc(100));
    return req !== undefined;
  }, { maxRunBytes: 32 * 1024 });
  assert.equal(wrongRange?.code, 'TTP_BAD_CONTENT_RANGE');
  const wrongLength = await closesWith((_req, res) => {
    res.writeHead(200, { 'content-length': 10 }).end(Buffer.alloc(10));
    return true;
  });
  assert.equal(wrongLength?.code, 'TTP_BAD_CONTENT_RANGE');
  const redirect = await closesWith((_req, res) => {
    res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
    return true;
  });
  assert.equal(redirect?.code, 'TRANSPORT_HTTP_STATUS');
  assert.match(redirect?.message ?? '', /302/);
  const gone = await closesWith((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"type":"x","title":"x","status":404,"code":"TRANSPORT_UNKNOWN_TORRENT"}');
    return true;
  });
  assert.equal(gone?.code, 'TRANSPORT_UNKNOWN_TORRENT');
});

test('a body longer than announced, a short body and 5xx are failures: back-off, then the link gives up', async () => {
  const long = await closesWith((_req, res) => {
    // Chunked, so the server can send more than the piece: the client stops at the first byte too many.
    res.writeHead(200, { 'transfer-encoding': 'chunked' });
    res.end(Buffer.alloc(64 * 1024 + 1));
    return true;
  }, {}, 'piece', true);
  assert.equal(long?.code, 'TTP_BODY_TOO_LONG');
  const short = await closesWith((_req, res) => {
    res.writeHead(200, { 'transfer-encoding': 'chunked' });
    res.end(Buffer.alloc(100));
    return true;
  });
  assert.equal(short?.code, 'TRANSPORT_HTTP_PEER_GAVE_UP');
  assert.equal((short?.cause as { code?: string }).code, 'TTP_BODY_TOO_SHORT');
  const broken = await closesWith((_req, res) => {
    res.writeHead(500).end();
    return true;
  });
  assert.equal(broken?.code, 'TRANSPORT_HTTP_PEER_GAVE_UP');
});

/** `body` written 40 bytes at a time, 2 ms apart: many socket reads, into buffers the pool reuses. */
function dribble(res: import('node:http').ServerResponse, body: string): void {
  let at = 0;
  const more = (): void => {
    res.write(body.slice(at, at + 40));
    at += 40;
    if (at < body.length) setTimeout(more, 2);
    else res.end();
  };
  more();
}

test('a have-set and a problem document that come in many small reads are read whole (each chunk copied before its read buffer is reused)', async () => {
  const doc = JSON.stringify({ version: 1, infoHash: metainfo.infoHash, cursor: 'c1', pieceCount: 6, have: '/A==', note: 'n'.repeat(600) });
  const { rec, done } = await setup({
    hook: (_req, res, route) => {
      if (route?.resource !== 'have') return false;
      res.writeHead(200, { 'content-type': 'application/vnd.torrenttp.have+json', 'content-length': doc.length });
      dribble(res, doc);
      return true;
    },
  });
  try {
    const bf = await rec.wait('bitfield');
    assert.deepEqual([0, 1, 2, 3, 4, 5].filter((i) => bf.bitfield.has(i)), [0, 1, 2, 3, 4, 5]);
    assert.equal(rec.of('closed').length, 0);
  } finally {
    await done();
  }
  const gone = await closesWith((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/problem+json' });
    dribble(res, JSON.stringify({ type: 'x', title: 'x', status: 404, detail: 'd'.repeat(600), code: 'TRANSPORT_UNKNOWN_TORRENT' }));
    return true;
  }, {}, 'have');
  assert.equal(gone?.code, 'TRANSPORT_UNKNOWN_TORRENT');
});

test('a hostile have-set closes the link: wrong piece count, spare bits, over 1 MiB; a body that stalls times out', async () => {
  const docWith = (fields: object) => (_req: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/vnd.torrenttp.have+json' }).end(JSON.stringify({ version: 1, infoHash: metainfo.infoHash, cursor: 'c1', ...fields }));
    return true;
  };
  assert.equal((await closesWith(docWith({ pieceCount: 7, have: 'AAA=' }), {}, 'have'))?.code, 'TTP_BAD_HAVE');
  assert.equal((await closesWith(docWith({ pieceCount: 6, have: '/w==' }), {}, 'have'))?.code, 'TTP_BAD_HAVE');
  assert.equal((await closesWith(docWith({ pieceCount: 6, have: '/A==', junk: 'x'.repeat(1024 * 1024) }), {}, 'have'))?.code, 'TTP_RESPONSE_TOO_LARGE');
  const stalled = await closesWith((_req, res) => {
    res.writeHead(200, { 'content-length': 64 * 1024 });
    res.write(Buffer.alloc(10));
    return true;
  }, { bodyTimeoutMs: 100, maxFailures: 1 });
  assert.equal(stalled?.code, 'TRANSPORT_HTTP_PEER_GAVE_UP');
  assert.equal((stalled?.cause as { code?: string }).code, 'TRANSPORT_HTTP_TIMEOUT');
});

test('a URL that is not a torrent URL closes the link at once, typed', async () => {
  const rec = new Recorder();
  createHttpPeer('http://127.0.0.1:1/ttp/v1/torrents/x/', metainfo, { onEvent: rec.handler });
  const closed = await rec.wait('closed');
  assert.equal(closed.reason?.code, 'TTP_BAD_URL');
});

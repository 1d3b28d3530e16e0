import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bitfield, BLOCK_LENGTH, infoHashToBytes, toHex, type Metainfo } from '../../src/metainfo/index.js';
import { TorrenttpError } from '../../src/errors/index.js';
import { decode } from '../../src/bencode/index.js';
import { encodeExtendedHandshake, encodeFastMessage, encodeMessages, EXTENDED_MESSAGE_ID, reservedBytes, supportsExtensionProtocol, WireDecoder, type WireMessage } from '../../src/wire/index.js';
import {
  acceptWirePeer,
  connectWirePeer,
  type WirePeerLink,
  type WirePeerOptions,
  type WireTorrent,
  MAX_RUN_REQUEST_BYTES,
  WIRE_PEER_DEFAULTS,
} from '../../src/transport/index.js';
import { allBlocks, index, leech, listen, makeTorrent, peerId, RawPeer, Recorder, serve, wireTorrent } from './helpers.js';
import { CHOKE_WINDOW_MS, HAVE_DELAY_MS, MAX_CHOKES_PER_WINDOW, MAX_UNSOLICITED_BLOCKS, plainBytes } from '../../src/transport/wire-peer.js';
import { Socket } from 'node:net';

interface Side {
  link: WirePeerLink;
  rec: Recorder;
}

/** A listening seed for `torrents` and a leech dialling it for the first one. */
async function pair(
  torrents: WireTorrent[],
  leechTorrent: WireTorrent,
  opts: { seed?: Partial<WirePeerOptions>; leech?: Partial<WirePeerOptions> } = {},
): Promise<{ seed: Side; leech: Side; close: () => Promise<void> }> {
  let seedSide: Promise<Side> | undefined;
  const srv = await listen((socket) => {
    const rec = new Recorder();
    seedSide = acceptWirePeer(socket, (ih) => {
      const t = torrents.find((x) => toHex(x.infoHash) === toHex(ih));
      return t === undefined ? undefined : { torrent: t, opts: { peerId: peerId('seed'), onEvent: rec.handler, ...opts.seed } };
    }).then((link) => ({ link, rec }));
  });
  const rec = new Recorder();
  const link = await connectWirePeer('127.0.0.1', srv.port, leechTorrent, { peerId: peerId('leech'), onEvent: rec.handler, ...opts.leech });
  while (seedSide === undefined) await new Promise((r) => setTimeout(r, 5));
  const seed = await seedSide;
  return {
    seed,
    leech: { link, rec },
    close: async () => {
      link.close();
      seed.link.close();
      await srv.close();
    },
  };
}

async function seedAndLeech(metainfo: Metainfo, data: Uint8Array, opts: Parameters<typeof pair>[2] = {}) {
  const p = await pair([wireTorrent(metainfo, true)], wireTorrent(metainfo, false), opts);
  serve(p.seed.link, p.seed.rec, metainfo, data);
  return p;
}

test('handshake with the right info-hash: the leech sees the seed bitfield', async () => {
  const { metainfo } = makeTorrent(300_000, 32 * 1024);
  const p = await pair([wireTorrent(metainfo, true)], wireTorrent(metainfo, false));
  try {
    const bf = await p.leech.rec.wait('bitfield');
    assert.equal(bf.bitfield.count, metainfo.pieceCount);
    assert.equal(p.leech.link.bitfield.complete, true);
    assert.equal(p.leech.link.kind, 'wire');
    assert.equal(p.leech.link.peerChoking, true);
    assert.equal(new TextDecoder().decode(p.leech.link.handshake.peerId), new TextDecoder().decode(peerId('seed')));
    // The empty leech sends no bitfield, but BEP 6's have_none (both sides speak it): an empty bitfield event.
    const none = await p.seed.rec.wait('bitfield');
    assert.equal(none.bitfield.empty, true);
    assert.equal(p.seed.link.bitfield.empty, true);
  } finally {
    await p.close();
  }
});

test('unknown info-hash: the listener closes, both sides fail with typed errors', async () => {
  const a = makeTorrent(100_000, 16 * 1024, 1, 'a');
  const b = makeTorrent(100_000, 16 * 1024, 2, 'b');
  let accepted: Promise<unknown> | undefined;
  const srv = await listen((s) => {
    accepted = acceptWirePeer(s, () => undefined);
    accepted.catch(() => {});
  });
  try {
    await assert.rejects(
      connectWirePeer('127.0.0.1', srv.port, wireTorrent(b.metainfo, false), { peerId: peerId('x'), onEvent: () => {} }),
      (err: unknown) => err instanceof TorrenttpError && err.code === 'TRANSPORT_PEER_CLOSED',
    );
    await assert.rejects(accepted!, (err: unknown) => err instanceof TorrenttpError && err.code === 'TRANSPORT_UNKNOWN_TORRENT');
  } finally {
    await srv.close();
  }
  void a;
});

test('a peer answering with another info-hash is refused', async () => {
  const a = makeTorrent(100_000, 16 * 1024, 1, 'a');
  const b = makeTorrent(100_000, 16 * 1024, 2, 'b');
  const srv = await listen((s) => {
    const raw = new RawPeer(s);
    raw.send({ type: 'handshake', reserved: new Uint8Array(8), infoHash: infoHashToBytes(b.metainfo.infoHash), peerId: peerId('liar') });
  });
  try {
    await assert.rejects(
      connectWirePeer('127.0.0.1', srv.port, wireTorrent(a.metainfo, false), { peerId: peerId('x'), onEvent: () => {} }),
      (err: unknown) => err instanceof TorrenttpError && err.code === 'TRANSPORT_INFO_HASH_MISMATCH',
    );
  } finally {
    await srv.close();
  }
});

test('connect: refused port, timeout and abort are typed errors', async () => {
  const { metainfo } = makeTorrent(100_000, 16 * 1024);
  const t = wireTorrent(metainfo, false);
  const srv = await listen(() => {});
  const silentPort = srv.port;
  const closedSrv = await listen(() => {});
  const freePort = closedSrv.port;
  await closedSrv.close();
  try {
    await assert.rejects(connectWirePeer('127.0.0.1', freePort, t, { peerId: peerId('x'), onEvent: () => {} }), (err: unknown) => err instanceof TorrenttpError && err.code === 'TRANSPORT_CONNECT_FAILED');
    await assert.rejects(
      connectWirePeer('127.0.0.1', silentPort, t, { peerId: peerId('x'), onEvent: () => {}, connectTimeoutMs: 100 }),
      (err: unknown) => err instanceof TorrenttpError && err.code === 'TRANSPORT_CONNECT_TIMEOUT',
    );
    const ac = new AbortController();
    const p = connectWirePeer('127.0.0.1', silentPort, t, { peerId: peerId('x'), onEvent: () => {}, signal: ac.signal });
    ac.abort();
    await assert.rejects(p, (err: unknown) => err instanceof TorrenttpError && err.code === 'TRANSPORT_ABORTED');
  } finally {
    await srv.close();
  }
});

test('request/piece round trip: every block byte-identical, bytes events add up, queue depth grows', async () => {
  const { metainfo, data } = makeTorrent(8 * 1024 * 1024 + 12_345, 256 * 1024, 7);
  const p = await seedAndLeech(metainfo, data, { leech: { requestTimeoutMs: 10_000 } });
  try {
    assert.equal(p.leech.link.desiredQueueDepth, 16);
    const got = await leech(p.leech.link, p.leech.rec, metainfo);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'byte-identical');
    // Rate samples every 1 s at most, so give the depth a moment to catch up.
    await new Promise((r) => setTimeout(r, 1100));
    const down = p.leech.rec.of('bytes').reduce((n, e) => n + e.downloaded, 0);
    const up = p.seed.rec.of('bytes').reduce((n, e) => n + e.uploaded, 0);
    assert.equal(down, data.length);
    assert.equal(up, data.length);
    assert.ok(p.leech.rec.of('bytes').length < allBlocks(metainfo).length / 4, 'bytes events are batched');
    assert.ok(p.leech.link.desiredQueueDepth > 16, `queue depth grew, is ${p.leech.link.desiredQueueDepth}`);
    assert.equal(p.leech.rec.of('rejected').length, 0);
  } finally {
    await p.close();
  }
});

test('haves wait for company: eight announced in separate turns go out in one socket write, and all arrive', async () => {
  const { metainfo } = makeTorrent(16 * 16 * 1024, 16 * 1024);
  const p = await pair([wireTorrent(metainfo, true)], wireTorrent(metainfo, false));
  const cork = Socket.prototype.cork;
  try {
    await p.leech.rec.wait('bitfield');
    await p.seed.rec.wait('bitfield');
    await new Promise((r) => setTimeout(r, 50)); // the handshakes' last writes are out
    let writes = 0;
    Socket.prototype.cork = function (this: Socket) {
      writes++; // each flush of a link is one corked write
      cork.call(this);
    };
    const t0 = performance.now();
    for (let i = 0; i < 8; i++) {
      p.leech.link.announceHave(index(metainfo, i));
      await new Promise((r) => setImmediate(r)); // another turn: written at once, each would be a write of its own
    }
    await p.seed.rec.wait('have', 5000, () => p.seed.rec.of('have').length === 8);
    Socket.prototype.cork = cork;
    assert.deepEqual(p.seed.rec.of('have').map((e) => e.index), [0, 1, 2, 3, 4, 5, 6, 7]);
    // One write, two if the machine was slow enough for the timer to fire between two turns.
    assert.ok(writes >= 1 && writes <= 2, `${writes} writes for 8 haves`);
    assert.ok(performance.now() - t0 >= HAVE_DELAY_MS - 5, 'they waited');
  } finally {
    Socket.prototype.cork = cork;
    await p.close();
  }
});

test('a have announced with now goes out with this turn\'s write: no wait for the shared have timer', async () => {
  const { metainfo } = makeTorrent(16 * 16 * 1024, 16 * 1024);
  const p = await pair([wireTorrent(metainfo, true)], wireTorrent(metainfo, false));
  const realSetTimeout = globalThis.setTimeout;
  let haveTimers = 0;
  try {
    await p.leech.rec.wait('bitfield');
    await p.seed.rec.wait('bitfield');
    // Counts the shared have timer being armed (a timer of HAVE_DELAY_MS), not wall time: a loaded machine may take that long to deliver.
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      if (ms === HAVE_DELAY_MS) haveTimers++;
      return realSetTimeout(fn, ms);
    }) as typeof setTimeout;
    p.leech.link.announceHave(index(metainfo, 3), true);
    p.leech.link.announceHave(index(metainfo, 4), true);
    globalThis.setTimeout = realSetTimeout;
    await p.seed.rec.wait('have', 5000, () => p.seed.rec.of('have').length === 2);
    assert.deepEqual(p.seed.rec.of('have').map((e) => e.index), [3, 4]);
    assert.equal(haveTimers, 0, 'no have waited for the timer');
  } finally {
    globalThis.setTimeout = realSetTimeout;
    await p.close();
  }
});

test('blocks reach the engine as plain Uint8Arrays whichever side dialled (an accepted socket reads Buffers): one map on the block path', async () => {
  const { metainfo, data } = makeTorrent(1024 * 1024, 256 * 1024, 3);
  // The dialling side holds the data: the accepting side downloads through its socket's Buffers.
  const up = await pair([wireTorrent(metainfo, false)], wireTorrent(metainfo, true));
  serve(up.leech.link, up.leech.rec, metainfo, data);
  const down = await seedAndLeech(metainfo, data);
  try {
    const viaAccepted = await leech(up.seed.link, up.seed.rec, metainfo);
    const viaDialled = await leech(down.leech.link, down.leech.rec, metainfo);
    assert.ok(Buffer.from(viaAccepted).equals(Buffer.from(data)) && Buffer.from(viaDialled).equals(Buffer.from(data)), 'byte-identical');
    const kinds = new Set([...up.seed.rec.of('block'), ...down.leech.rec.of('block')].map((e) => e.data.constructor.name));
    assert.deepEqual([...kinds], ['Uint8Array']);
  } finally {
    await up.close();
    await down.close();
  }
});

test('plainBytes: a Buffer becomes a Uint8Array over the same bytes; a Uint8Array is itself', () => {
  const backing = Buffer.from('--abcdef--');
  const view = plainBytes(backing.subarray(2, 8));
  assert.equal(view.constructor, Uint8Array);
  assert.equal(view.buffer, backing.buffer);
  assert.equal(view.byteOffset, backing.byteOffset + 2);
  assert.equal(Buffer.from(view).toString(), 'abcdef');
  const plain = new Uint8Array(4);
  assert.equal(plainBytes(plain), plain);
});

test('choke rejects every outstanding request; requests while choked are rejected', async () => {
  const { metainfo } = makeTorrent(1024 * 1024, 64 * 1024);
  const p = await pair([wireTorrent(metainfo, true)], wireTorrent(metainfo, false));
  try {
    p.seed.rec.on((e) => e.type === 'interested' && p.seed.link.setChoking(false));
    p.leech.link.setInterested(true);
    await p.leech.rec.wait('unchoke');
    const reqs = allBlocks(metainfo).slice(0, 5);
    reqs.forEach((r) => p.leech.link.request(r));
    // Two torrenttp links: the five blocks may go out as runs (BEP 10 `torrenttp_max_request`).
    const asked = (): number => p.seed.rec.of('request').reduce((n, e) => n + e.req.length, 0);
    await p.seed.rec.wait('request', 2000, () => asked() === 5 * BLOCK_LENGTH);
    p.seed.link.setChoking(true);
    await p.leech.rec.wait('choke');
    await p.leech.rec.wait('rejected', 2000, () => p.leech.rec.of('rejected').length === 5);
    const chokeAt = p.leech.rec.events.findIndex((e) => e.type === 'choke');
    const firstReject = p.leech.rec.events.findIndex((e) => e.type === 'rejected');
    assert.ok(chokeAt < firstReject, 'choke comes before its rejections');
    assert.equal(p.leech.link.peerChoking, true);
    p.leech.link.request(reqs[0]!);
    await p.leech.rec.wait('rejected', 2000, () => p.leech.rec.of('rejected').length === 6);
    // The seed dropped their requests: a late sendBlock is a no-op.
    p.seed.link.sendBlock(reqs[1]!, new Uint8Array(reqs[1]!.length));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(p.leech.rec.of('block').length, 0);
  } finally {
    await p.close();
  }
});

/** A leech link dialled to a raw peer that has the torrent; returns both after the unchoke. */
async function rawSeed(metainfo: Metainfo, opts: Partial<WirePeerOptions> = {}, bitfield = true) {
  let raw: RawPeer | undefined;
  const hs = { type: 'handshake' as const, reserved: new Uint8Array(8), infoHash: infoHashToBytes(metainfo.infoHash), peerId: peerId('raw') };
  const srv = await listen((s) => {
    raw = new RawPeer(s);
    if (bitfield) raw.send(hs, { type: 'bitfield', bitfield: wireTorrent(metainfo, true).bitfield.toBytes() });
    else raw.send(hs);
  });
  const rec = new Recorder();
  const link = await connectWirePeer('127.0.0.1', srv.port, wireTorrent(metainfo, false), { peerId: peerId('leech'), onEvent: rec.handler, ...opts });
  while (raw === undefined) await new Promise((r) => setTimeout(r, 5));
  const peer = raw;
  return { link, rec, raw: peer, close: async () => { link.close(); await srv.close(); } };
}

test('a piece never requested, cancelled or repeated is ignored and counted; each request ends once', async () => {
  const { metainfo, data } = makeTorrent(256 * 1024, 64 * 1024, 3);
  const r = await rawSeed(metainfo);
  try {
    r.raw.send({ type: 'unchoke' });
    await r.rec.wait('unchoke');
    const [b0, b1, b2] = allBlocks(metainfo) as [ReturnType<typeof allBlocks>[number], ReturnType<typeof allBlocks>[number], ReturnType<typeof allBlocks>[number]];
    r.link.request(b0);
    r.link.request(b1);
    r.link.cancel(b1);
    await r.raw.until((m) => m.some((x) => x.type === 'cancel'));
    const block = (q: typeof b0) => ({ type: 'piece' as const, index: q.index, begin: q.begin, block: data.subarray(q.index * 65536 + q.begin, q.index * 65536 + q.begin + q.length) });
    r.raw.send(block(b2), block(b1), block(b0), block(b0));
    await r.rec.wait('block');
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(r.rec.of('block').length, 1);
    assert.deepEqual(r.rec.of('block')[0]!.req, b0);
    assert.equal(r.link.stats().unrequestedBlocks, 3);
    assert.equal(r.rec.of('closed').length, 0);
  } finally {
    await r.close();
  }
});

test('a block of the wrong length closes the link', async () => {
  const { metainfo } = makeTorrent(256 * 1024, 64 * 1024, 3);
  const r = await rawSeed(metainfo);
  try {
    r.raw.send({ type: 'unchoke' });
    await r.rec.wait('unchoke');
    r.link.request({ index: index(metainfo, 0), begin: 0, length: BLOCK_LENGTH });
    await r.raw.until((m) => m.some((x) => x.type === 'request'));
    r.raw.send({ type: 'piece', index: 0, begin: 0, block: new Uint8Array(1000) });
    const closed = await r.rec.wait('closed');
    assert.equal(closed.reason?.code, 'TRANSPORT_BLOCK_MISMATCH');
    assert.ok(await r.raw.closedWithin());
  } finally {
    await r.close();
  }
});

test('unrequested blocks: one forgiven per request we gave up on, then 64 more; the 65th closes the link', async () => {
  const { metainfo, data } = makeTorrent(256 * 1024, 64 * 1024, 3);
  const r = await rawSeed(metainfo);
  try {
    r.raw.send({ type: 'unchoke' });
    await r.rec.wait('unchoke');
    const blocks = allBlocks(metainfo).slice(0, 10);
    blocks.forEach((b) => r.link.request(b));
    await r.raw.until((m) => m.filter((x) => x.type === 'request').length === 10);
    r.raw.send({ type: 'choke' }); // drops all ten: their blocks may still be on the way
    await r.rec.wait('rejected', 2000, () => r.rec.of('rejected').length === 10);
    const piece = (q: (typeof blocks)[number]) => ({ type: 'piece' as const, index: q.index, begin: q.begin, block: data.subarray(q.index * 65536 + q.begin, q.index * 65536 + q.begin + q.length) });
    r.raw.send(...blocks.map(piece), ...Array.from({ length: MAX_UNSOLICITED_BLOCKS }, () => piece(blocks[0]!)));
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(r.rec.of('closed').length, 0, 'the late ten and 64 more are tolerated');
    assert.equal(r.link.stats().unrequestedBlocks, 10 + MAX_UNSOLICITED_BLOCKS);
    r.raw.send(piece(blocks[1]!));
    const closed = await r.rec.wait('closed');
    assert.equal(closed.reason?.code, 'TRANSPORT_UNREQUESTED_BLOCKS');
    assert.equal(r.rec.of('block').length, 0);
  } finally {
    await r.close();
  }
});

test('a block off the 16 KiB grid (overlapping the blocks we asked for) closes the link', async () => {
  const { metainfo } = makeTorrent(256 * 1024, 64 * 1024, 3);
  const r = await rawSeed(metainfo);
  try {
    r.raw.send({ type: 'unchoke' });
    await r.rec.wait('unchoke');
    r.link.request({ index: index(metainfo, 0), begin: 0, length: BLOCK_LENGTH });
    await r.raw.until((m) => m.some((x) => x.type === 'request'));
    r.raw.send({ type: 'piece', index: 0, begin: 8192, block: new Uint8Array(BLOCK_LENGTH) });
    const closed = await r.rec.wait('closed');
    assert.equal(closed.reason?.code, 'TRANSPORT_BAD_BLOCK_OFFSET');
    assert.equal(r.rec.of('block').length, 0);
  } finally {
    await r.close();
  }
});

test('chokes while we are not interested are heard and never a storm (a super-seed chokes each not-interested between offers)', async () => {
  const { metainfo } = makeTorrent(256 * 1024, 64 * 1024, 3);
  const r = await rawSeed(metainfo);
  try {
    const n = MAX_CHOKES_PER_WINDOW * 2;
    r.raw.send(...Array.from({ length: n }, () => [{ type: 'unchoke' as const }, { type: 'choke' as const }]).flat());
    await r.rec.wait('choke', 2000, () => r.rec.of('choke').length === n);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(r.rec.of('closed').length, 0);
  } finally {
    await r.close();
  }
});

test(`a choke storm: ${MAX_CHOKES_PER_WINDOW} chokes within ${CHOKE_WINDOW_MS / 1000} s are heard, one more closes the link`, async () => {
  const { metainfo } = makeTorrent(256 * 1024, 64 * 1024, 3);
  const r = await rawSeed(metainfo);
  try {
    r.link.setInterested(true);
    await r.raw.until((m) => m.some((x) => x.type === 'interested'));
    const storm = (n: number) => Array.from({ length: n }, () => [{ type: 'unchoke' as const }, { type: 'choke' as const }]).flat();
    r.raw.send(...storm(MAX_CHOKES_PER_WINDOW));
    await r.rec.wait('choke', 2000, () => r.rec.of('choke').length === MAX_CHOKES_PER_WINDOW);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(r.rec.of('closed').length, 0);
    r.raw.send(...storm(1));
    const closed = await r.rec.wait('closed');
    assert.equal(closed.reason?.code, 'TRANSPORT_CHOKE_STORM');
  } finally {
    await r.close();
  }
});

test('a lying bitfield (wrong length, spare bits) or have (index out of range) closes the link with the wire error', async () => {
  const { metainfo } = makeTorrent(10 * 16 * 1024 + 5, 16 * 1024); // 11 pieces: 2 bytes, 5 spare bits
  for (const [bad, code] of [
    [{ type: 'bitfield', bitfield: new Uint8Array(3) }, 'WIRE_BAD_BITFIELD'],
    [{ type: 'bitfield', bitfield: Uint8Array.of(0xff, 0xff) }, 'WIRE_BAD_BITFIELD'],
    [{ type: 'have', index: 11 }, 'WIRE_OUT_OF_RANGE'],
    [{ type: 'request', index: 0, begin: 16 * 1024, length: 16 * 1024 }, 'WIRE_OUT_OF_RANGE'],
  ] as const) {
    const r = await rawSeed(metainfo, {}, false);
    try {
      r.raw.send(bad);
      const closed = await r.rec.wait('closed');
      assert.equal(closed.reason?.code, code, `${bad.type}`);
      assert.ok(await r.raw.closedWithin());
      assert.equal(r.rec.events.length, 1, 'closed is the only event');
    } finally {
      await r.close();
    }
  }
});

test('a request that times out is rejected, cancelled on the wire, and snubs the peer', async () => {
  const { metainfo, data } = makeTorrent(256 * 1024, 64 * 1024, 3);
  const r = await rawSeed(metainfo, { requestTimeoutMs: 150 });
  try {
    r.raw.send({ type: 'unchoke' });
    await r.rec.wait('unchoke');
    const b0 = allBlocks(metainfo)[0]!;
    r.link.request(b0);
    const rej = await r.rec.wait('rejected', 2000);
    assert.deepEqual(rej.req, b0);
    assert.equal(r.link.snubbed, true);
    assert.equal(r.link.desiredQueueDepth, 1);
    await r.raw.until((m) => m.some((x) => x.type === 'cancel'));
    // Late answer: ignored, never a second ending.
    r.raw.send({ type: 'piece', index: 0, begin: 0, block: data.subarray(0, BLOCK_LENGTH) });
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(r.rec.of('block').length, 0);
    assert.equal(r.link.stats().unrequestedBlocks, 1);
  } finally {
    await r.close();
  }
});

/** A seeding link that a raw peer dialled and greeted: the serving side under test. */
async function rawPeerToSeed(opts: Partial<WirePeerOptions> = {}) {
  const { metainfo } = makeTorrent(1024 * 1024, 64 * 1024);
  const t = wireTorrent(metainfo, true);
  const rec = new Recorder();
  let link: Promise<WirePeerLink> | undefined;
  const srv = await listen((s) => {
    link = acceptWirePeer(s, () => ({ torrent: t, opts: { peerId: peerId('seed'), onEvent: rec.handler, ...opts } }));
  });
  const raw = await RawPeer.dial(srv.port);
  const close = async (): Promise<void> => {
    raw.socket.destroy();
    await srv.close();
  };
  try {
    raw.send({ type: 'handshake', reserved: new Uint8Array(8), infoHash: t.infoHash, peerId: peerId('raw') });
    await raw.until((m) => m.some((x) => x.type === 'bitfield'));
    return { rec, raw, seed: await link!, blocks: allBlocks(metainfo), close };
  } catch (err) {
    await close();
    throw err;
  }
}

test('serving: requests while choked are ignored, cancel drops, too many requests close', async () => {
  const { rec, raw, seed, blocks, close } = await rawPeerToSeed({ maxPeerRequests: 8 });
  try {
    raw.send({ type: 'interested' }, { type: 'request', ...blocks[0]! });
    await rec.wait('interested');
    await new Promise((res) => setTimeout(res, 30));
    assert.equal(rec.of('request').length, 0);
    assert.equal(seed.stats().ignoredRequests, 1);
    seed.setChoking(false);
    await raw.until((m) => m.some((x) => x.type === 'unchoke'));
    raw.send({ type: 'request', ...blocks[1]! }, { type: 'cancel', ...blocks[1]! });
    const c = await rec.wait('cancel');
    assert.deepEqual(c.req, blocks[1]);
    seed.sendBlock(blocks[1]!, new Uint8Array(blocks[1]!.length)); // cancelled: dropped
    raw.send(...blocks.slice(2, 11).map((b) => ({ type: 'request' as const, ...b })));
    const closed = await rec.wait('closed');
    assert.equal(closed.reason?.code, 'TRANSPORT_TOO_MANY_REQUESTS');
    assert.equal(raw.messages.filter((m) => m.type === 'piece').length, 0);
  } finally {
    await close();
  }
});

test('serving: runs count by their blocks against maxPeerRequests: a peer asking 64 KiB runs holds at most maxPeerRequests blocks unanswered, not that many runs', async () => {
  // Every link takes runs of up to 256 KiB (MAX_RUN_REQUEST_BYTES): counted as requests, a peer
  // could hold 16 times the blocks (maxPeerRequests 256 × 256 KiB = 64 MiB of reads and sends a peer).
  const { rec, raw, seed, close } = await rawPeerToSeed({ maxPeerRequests: 8 });
  try {
    seed.setChoking(false);
    await raw.until((m) => m.some((x) => x.type === 'unchoke'));
    // Two runs of 4 blocks: 8 blocks, at the limit, taken.
    raw.send({ type: 'request', index: 0, begin: 0, length: 4 * BLOCK_LENGTH }, { type: 'request', index: 1, begin: 0, length: 4 * BLOCK_LENGTH });
    await rec.wait('request', 5000, (e) => e.req.index === 1);
    assert.equal(rec.of('closed').length, 0);
    // A third: 12 blocks unanswered, past the limit.
    raw.send({ type: 'request', index: 2, begin: 0, length: 4 * BLOCK_LENGTH });
    const closed = await rec.wait('closed');
    assert.equal(closed.reason?.code, 'TRANSPORT_TOO_MANY_REQUESTS');
    assert.equal(rec.of('request').length, 2);
  } finally {
    await close();
  }
});

test('serving: more than maxPeerRequests refused requests (while choked) since our last unchoke close the link', async () => {
  const { rec, raw, seed, blocks, close } = await rawPeerToSeed({ maxPeerRequests: 8 });
  const waitIgnored = async (n: number): Promise<void> => {
    const deadline = Date.now() + 2000;
    while (seed.stats().ignoredRequests < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(seed.stats().ignoredRequests, n);
  };
  try {
    // The requests in flight when a choke arrives: up to maxPeerRequests, refused, the link stays.
    raw.send(...blocks.slice(0, 8).map((b) => ({ type: 'request' as const, ...b })));
    await waitIgnored(8);
    assert.equal(rec.of('closed').length, 0);
    // An unchoke starts the count again.
    seed.setChoking(false);
    seed.setChoking(true);
    await raw.until((m) => m.filter((x) => x.type === 'choke').length >= 1);
    raw.send(...blocks.slice(0, 8).map((b) => ({ type: 'request' as const, ...b })));
    await waitIgnored(16);
    assert.equal(rec.of('closed').length, 0);
    // One more: a flood, closed.
    raw.send({ type: 'request', ...blocks[9]! });
    const closed = await rec.wait('closed');
    assert.equal(closed.reason?.code, 'TRANSPORT_TOO_MANY_REQUESTS');
    assert.match(closed.reason!.detail!, /refused/);
  } finally {
    await close();
  }
});

test('sendBlock calls done exactly once, saying whether the block was written: when it is written, when it is dropped (also queued, by our choke), when the link closes', async () => {
  const { rec, raw, seed, blocks, close } = await rawPeerToSeed();
  try {
    seed.setChoking(false);
    await raw.until((m) => m.some((x) => x.type === 'unchoke'));
    raw.send({ type: 'interested' }, ...blocks.slice(0, 3).map((b) => ({ type: 'request' as const, ...b })));
    await rec.wait('request', 5000, (e) => e.req.begin === blocks[2]!.begin && e.req.index === blocks[2]!.index);
    const calls = [0, 0, 0, 0, 0];
    const written: (boolean | undefined)[] = [];
    const done = (k: number) => (w: boolean) => {
      calls[k]!++;
      written[k] = w;
    };
    seed.sendBlock(blocks[0]!, new Uint8Array(blocks[0]!.length), done(0));
    assert.equal(calls[0], 0, 'not before it is written');
    await raw.until((m) => m.some((x) => x.type === 'piece'));
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(calls[0], 1, 'written');
    seed.sendBlock(blocks[0]!, new Uint8Array(blocks[0]!.length), done(1));
    assert.equal(calls[1], 1, 'a block nobody asked for (any more) is dropped at once');
    seed.setChoking(true);
    seed.sendBlock(blocks[1]!, new Uint8Array(blocks[1]!.length), done(2));
    assert.equal(calls[2], 1, 'choked: their requests are gone');
    seed.setChoking(false);
    const earlier = new Set<object>(rec.of('request'));
    raw.send({ type: 'request', ...blocks[2]! });
    await rec.wait('request', 5000, (e) => !earlier.has(e) && e.req.begin === blocks[2]!.begin && e.req.index === blocks[2]!.index);
    seed.sendBlock(blocks[2]!, new Uint8Array(blocks[2]!.length), done(4));
    assert.equal(calls[4], 0, 'queued');
    seed.setChoking(true);
    assert.equal(calls[4], 1, 'queued, then dropped by our choke');
    seed.close();
    seed.sendBlock(blocks[2]!, new Uint8Array(blocks[2]!.length), done(3));
    assert.equal(calls[3], 1, 'closed');
    assert.deepEqual(calls, [1, 1, 1, 1, 1]);
    assert.deepEqual(written, [true, false, false, false, false], 'only the first went out');
  } finally {
    await close();
  }
});

test('acceptWirePeer routes two torrents on one listening socket by info-hash', async () => {
  const a = makeTorrent(200_000, 32 * 1024, 11, 'a.bin');
  const b = makeTorrent(300_000, 64 * 1024, 12, 'b.bin');
  const ta = wireTorrent(a.metainfo, true);
  const tb = wireTorrent(b.metainfo, true);
  const seeds: { link: WirePeerLink; rec: Recorder; name: string }[] = [];
  const srv = await listen((socket) => {
    const rec = new Recorder();
    void acceptWirePeer(socket, (ih) => {
      const t = [ta, tb].find((x) => toHex(x.infoHash) === toHex(ih));
      return t === undefined ? undefined : { torrent: t, opts: { peerId: peerId('seed'), onEvent: rec.handler } };
    }).then((link) => {
      const which = toHex(link.handshake.infoHash) === toHex(ta.infoHash) ? a : b;
      serve(link, rec, which.metainfo, which.data);
      seeds.push({ link, rec, name: which.metainfo.name });
    });
  });
  try {
    for (const x of [a, b]) {
      const rec = new Recorder();
      const link = await connectWirePeer('127.0.0.1', srv.port, wireTorrent(x.metainfo, false), { peerId: peerId('leech'), onEvent: rec.handler });
      const got = await leech(link, rec, x.metainfo);
      assert.ok(Buffer.from(got).equals(Buffer.from(x.data)), x.metainfo.name);
      link.close();
    }
    assert.deepEqual(seeds.map((s) => s.name), ['a.bin', 'b.bin']);
  } finally {
    seeds.forEach((s) => s.link.close());
    await srv.close();
  }
});

test('backpressure: a peer that stops reading holds at most sendBufferBytes in the socket; the rest waits', async () => {
  const { metainfo, data } = makeTorrent(32 * 1024 * 1024, 1024 * 1024, 5);
  const t = wireTorrent(metainfo, true);
  const rec = new Recorder();
  const sendBufferBytes = 256 * 1024;
  let link: Promise<WirePeerLink> | undefined;
  const srv = await listen((s) => {
    link = acceptWirePeer(s, () => ({ torrent: t, opts: { peerId: peerId('seed'), onEvent: rec.handler, maxPeerRequests: 4096, sendBufferBytes } }));
  });
  const raw = await RawPeer.dial(srv.port);
  try {
    raw.send({ type: 'handshake', reserved: new Uint8Array(8), infoHash: t.infoHash, peerId: peerId('raw') }, { type: 'interested' });
    const seed = await link!;
    serve(seed, rec, metainfo, data);
    await raw.until((m) => m.some((x) => x.type === 'unchoke'));
    raw.socket.pause(); // stop reading: the kernel buffers fill, then our socket's
    const blocks = allBlocks(metainfo);
    raw.send(...blocks.map((b) => ({ type: 'request' as const, ...b })));
    await rec.wait('request', 5000, () => rec.of('request').length === blocks.length);
    await new Promise((res) => setTimeout(res, 500));
    const s = seed.stats();
    assert.ok(s.queuedUploads > 0, `blocks wait in our queue (${s.queuedUploads})`);
    assert.ok(s.socketBufferedBytes <= sendBufferBytes + BLOCK_LENGTH + 13, `socket holds ${s.socketBufferedBytes} bytes`);
    raw.socket.resume();
    await raw.until((m) => m.filter((x) => x.type === 'piece').length === blocks.length, 20_000);
    const out = new Uint8Array(data.length);
    for (const m of raw.messages) if (m.type === 'piece') out.set(m.block, m.index * metainfo.pieceLength + m.begin);
    assert.ok(Buffer.from(out).equals(Buffer.from(data)));
    assert.equal(seed.stats().queuedUploads, 0);
    seed.close();
  } finally {
    raw.socket.destroy();
    await srv.close();
  }
});

test('idle peers are closed; keep-alives keep a quiet link open', async () => {
  const { metainfo } = makeTorrent(100_000, 16 * 1024);
  const p = await pair([wireTorrent(metainfo, true)], wireTorrent(metainfo, false), {
    seed: { keepAliveMs: 60, idleTimeoutMs: 400 },
    leech: { keepAliveMs: 60, idleTimeoutMs: 400 },
  });
  try {
    await new Promise((r) => setTimeout(r, 900));
    assert.equal(p.leech.rec.of('closed').length, 0);
    assert.equal(p.seed.rec.of('closed').length, 0);
  } finally {
    await p.close();
  }
  const r = await rawSeed(metainfo, { idleTimeoutMs: 200 });
  try {
    const closed = await r.rec.wait('closed', 3000);
    assert.equal(closed.reason?.code, 'TRANSPORT_IDLE_TIMEOUT');
  } finally {
    await r.close();
  }
});

test('after close: one closed event, methods are no-ops, requests end with it', async () => {
  const { metainfo } = makeTorrent(100_000, 16 * 1024);
  const p = await pair([wireTorrent(metainfo, true)], wireTorrent(metainfo, false));
  try {
    p.seed.rec.on((e) => e.type === 'interested' && p.seed.link.setChoking(false));
    p.leech.link.setInterested(true);
    await p.leech.rec.wait('unchoke');
    p.leech.link.request(allBlocks(metainfo)[0]!);
    p.leech.link.close();
    p.leech.link.close();
    p.leech.link.request(allBlocks(metainfo)[1]!);
    await p.leech.rec.wait('closed');
    const seedClosed = await p.seed.rec.wait('closed');
    assert.equal(seedClosed.reason?.code, 'TRANSPORT_PEER_CLOSED');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(p.leech.rec.of('closed').length, 1);
    assert.equal(p.leech.rec.events.at(-1)?.type, 'closed');
    assert.equal(p.leech.rec.of('rejected').length, 0);
  } finally {
    await p.close();
  }
});

/** `reqq` from the BEP 10 handshakes a raw peer received, in order. */
function reqqsSeen(raw: RawPeer): number[] {
  return raw.messages
    .filter((m) => m.type === 'unknown' && m.id === EXTENDED_MESSAGE_ID && m.payload[0] === 0)
    .map((m) => {
      const dict = decode((m as { payload: Uint8Array }).payload.subarray(1));
      assert.ok(dict instanceof Map);
      return Number(dict.get('reqq'));
    });
}

test('BEP 10: we set the extension bit and send reqq = maxPeerRequests, only to peers that set it too', async () => {
  const { metainfo } = makeTorrent(256 * 1024, 64 * 1024);
  const t = wireTorrent(metainfo, true);
  for (const peerSetsBit of [true, false]) {
    const reserved = reservedBytes({ extensionProtocol: peerSetsBit });
    // They dial us.
    let accepted: Promise<WirePeerLink> | undefined;
    const srv = await listen((s) => {
      accepted = acceptWirePeer(s, () => ({ torrent: t, opts: { peerId: peerId('seed'), onEvent: new Recorder().handler, maxPeerRequests: 77 } }));
    });
    const raw = await RawPeer.dial(srv.port);
    try {
      raw.send({ type: 'handshake', reserved, infoHash: t.infoHash, peerId: peerId('raw') });
      await raw.until((m) => m.some((x) => x.type === 'bitfield'));
      const link = await accepted!;
      link.setChoking(false); // one more message, so everything sent before it has arrived
      await raw.until((m) => m.some((x) => x.type === 'unchoke'));
      const hs = raw.messages.find((m) => m.type === 'handshake');
      assert.ok(hs?.type === 'handshake' && supportsExtensionProtocol(hs.reserved));
      assert.deepEqual(reqqsSeen(raw), peerSetsBit ? [77] : [], `accept, peer bit ${peerSetsBit}`);
      link.close();
    } finally {
      raw.socket.destroy();
      await srv.close();
    }
    // We dial them.
    let dialled: RawPeer | undefined;
    const srv2 = await listen((s) => {
      dialled = new RawPeer(s);
      dialled.send({ type: 'handshake', reserved, infoHash: t.infoHash, peerId: peerId('raw') });
    });
    try {
      const link = await connectWirePeer('127.0.0.1', srv2.port, wireTorrent(metainfo, false), { peerId: peerId('leech'), onEvent: new Recorder().handler });
      link.setInterested(true);
      await dialled!.until((m) => m.some((x) => x.type === 'interested'));
      assert.deepEqual(reqqsSeen(dialled!), peerSetsBit ? [WIRE_PEER_DEFAULTS.maxPeerRequests] : [], `connect, peer bit ${peerSetsBit}`);
      link.close();
    } finally {
      await srv2.close();
    }
  }
});

test("BEP 10: the peer's reqq caps our queue depth, so a seed that queues only 8 requests is never overrun", async () => {
  const { metainfo, data } = makeTorrent(4 * 1024 * 1024, 256 * 1024, 9);
  const p = await seedAndLeech(metainfo, data, { seed: { maxPeerRequests: 8 }, leech: { maxQueueDepth: 500 } });
  try {
    const deadline = Date.now() + 2000;
    while (p.leech.link.desiredQueueDepth !== 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(p.leech.link.desiredQueueDepth, 8, 'the initial depth of 16 came down to the seed reqq');
    const got = await leech(p.leech.link, p.leech.rec, metainfo);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'byte-identical');
    await new Promise((r) => setTimeout(r, 1100)); // a rate sample: the depth would grow without the cap
    assert.ok(p.leech.link.desiredQueueDepth <= 8, `depth ${p.leech.link.desiredQueueDepth}`);
    assert.equal(p.seed.rec.of('closed').length, 0, 'the seed did not close on us (TRANSPORT_TOO_MANY_REQUESTS)');
  } finally {
    await p.close();
  }
});

test('later bitfields arrive as haves into the same bitfield object (aria2 sends them late and repeatedly)', async () => {
  const { metainfo } = makeTorrent(8 * 64 * 1024, 64 * 1024, 4);
  const r = await rawSeed(metainfo, {}, false);
  try {
    const bits = (pieces: number[]) => {
      const b = wireTorrent(metainfo, false).bitfield.clone();
      for (const i of pieces) b.set(i);
      return b.toBytes();
    };
    r.raw.send({ type: 'bitfield', bitfield: bits([]) });
    const first = await r.rec.wait('bitfield');
    // An empty first bitfield, then a fuller one: the case that used to swap the object.
    r.raw.send({ type: 'bitfield', bitfield: bits([1, 2, 5]) }, { type: 'have', index: 6 }, { type: 'bitfield', bitfield: bits([0]) });
    await r.rec.wait('have', 5000, (e) => e.index === 0);
    assert.equal(r.rec.of('bitfield').length, 1, 'one bitfield event; the rest are haves');
    assert.deepEqual(r.rec.of('have').map((e) => e.index), [1, 2, 5, 6, 0]);
    assert.equal(r.link.bitfield, first.bitfield, 'the object the engine counted is kept');
    assert.deepEqual([...r.link.bitfield], [0, 1, 2, 5, 6], 'pieces missing from a later bitfield stay');
  } finally {
    await r.close();
  }
});

test('dialling: only our 68-byte handshake goes out before the peer answers; the bitfield (as of then) and BEP 10 handshake follow it', async () => {
  const { metainfo } = makeTorrent(8 * 64 * 1024, 64 * 1024, 5);
  const ours = wireTorrent(metainfo, false);
  for (const i of [0, 3, 4]) ours.bitfield.set(i);
  let received = new Uint8Array(0);
  let sock: import('node:net').Socket | undefined;
  const srv = await listen((s) => {
    sock = s;
    s.on('data', (c: Buffer) => (received = Buffer.concat([received, c])));
  });
  try {
    const connecting = connectWirePeer('127.0.0.1', srv.port, ours, { peerId: peerId('leech'), onEvent: new Recorder().handler });
    while (received.length < 68) await new Promise((r) => setTimeout(r, 5));
    // aria2, accepting, closes when more than the handshake is buffered: give anything else time to arrive.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(received.length, 68, 'nothing but the handshake before the peer has answered');
    const decoder = new WireDecoder({ torrent: metainfo.geometry });
    const first = decoder.push(received);
    assert.deepEqual(first.map((m) => m.type), ['handshake']);
    ours.bitfield.set(7); // verified while we waited: the bitfield we send is the one of now
    sock!.write(encodeMessages([{ type: 'handshake', reserved: reservedBytes({ extensionProtocol: true }), infoHash: ours.infoHash, peerId: peerId('raw') }]));
    const link = await connecting;
    const decoded = (): WireMessage[] => new WireDecoder({ torrent: metainfo.geometry }).push(received).slice(1);
    while (decoded().length < 2) await new Promise((r) => setTimeout(r, 5));
    const [bf, ext] = decoded();
    assert.ok(bf?.type === 'bitfield');
    assert.deepEqual([...Bitfield.fromBytes(bf.bitfield, metainfo.pieceCount)], [0, 3, 4, 7]);
    assert.ok(ext?.type === 'unknown' && ext.id === EXTENDED_MESSAGE_ID);
    link.close();
  } finally {
    await srv.close();
  }
});

test('two torrenttp links ask in runs (BEP 10 torrenttp_max_request): adjacent blocks go out as requests of up to 256 KiB, answered in 16 KiB blocks', async () => {
  // 512 KiB pieces, so a run stops at our 256 KiB and not at the piece's end; a short last piece and block.
  const { metainfo, data } = makeTorrent(2 * 1024 * 1024 + 12_345, 512 * 1024, 11);
  const p = await seedAndLeech(metainfo, data);
  try {
    const got = await leech(p.leech.link, p.leech.rec, metainfo);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'byte-identical');
    const asked = p.seed.rec.of('request').map((e) => e.req.length);
    assert.equal(asked.reduce((n, l) => n + l, 0), data.length, 'every byte asked for once');
    assert.ok(asked.every((l) => l <= MAX_RUN_REQUEST_BYTES), `at most ${MAX_RUN_REQUEST_BYTES} a request`);
    assert.ok(asked.length < allBlocks(metainfo).length / 4, `${asked.length} requests for ${allBlocks(metainfo).length} blocks`);
    const blocks = p.leech.rec.of('block');
    assert.equal(blocks.length, allBlocks(metainfo).length, 'one block event per 16 KiB block');
    assert.ok(blocks.every((e) => e.data.length <= BLOCK_LENGTH));
  } finally {
    await p.close();
  }
});

/** A raw seed (fast extension, have-all) that our link dials: BEP 10 handshake with `maxRequest` (torrenttp_max_request) if given, then unchoke. */
async function unchokingRawSeed(metainfo: Metainfo, maxRequest: number | undefined) {
  let accepted: RawPeer | undefined;
  const t = wireTorrent(metainfo, true);
  const srv = await listen((s) => {
    accepted = new RawPeer(s);
    accepted.send(
      { type: 'handshake', reserved: reservedBytes({ extensionProtocol: true, fastExtension: true }), infoHash: t.infoHash, peerId: peerId('raw') },
      encodeFastMessage({ type: 'haveAll' }),
    );
  });
  const rec = new Recorder();
  const link = await connectWirePeer('127.0.0.1', srv.port, wireTorrent(metainfo, false), { peerId: peerId('leech'), onEvent: rec.handler });
  const close = async (): Promise<void> => {
    link.close();
    accepted?.socket.destroy();
    await srv.close();
  };
  try {
    while (accepted === undefined) await new Promise((r) => setTimeout(r, 5));
    const raw: RawPeer = accepted;
    raw.send(encodeExtendedHandshake({ m: new Map(), reqq: 250, ...(maxRequest === undefined ? {} : { maxRequest }) }), { type: 'unchoke' });
    await rec.wait('unchoke');
    return { raw, link, rec, close };
  } catch (err) {
    await close();
    throw err;
  }
}

test('runs only to a peer that offers them: a BEP 10 peer without torrenttp_max_request gets 16 KiB requests; one with it gets runs, and its reject of a run rejects each block', async () => {
  const { metainfo, data } = makeTorrent(1024 * 1024, 256 * 1024, 12);
  for (const maxRequest of [undefined, 64 * 1024]) {
    const { raw, link, rec, close } = await unchokingRawSeed(metainfo, maxRequest);
    try {
      const eight = allBlocks(metainfo).slice(0, 8);
      eight.forEach((b) => link.request(b));
      const requests = (): WireMessage[] => raw!.messages.filter((m) => m.type === 'request');
      const want = maxRequest === undefined ? 8 : 2;
      await raw.until(() => requests().length === want);
      const lengths = requests().map((m) => (m.type === 'request' ? m.length : 0));
      assert.deepEqual(lengths, Array(want).fill(maxRequest ?? BLOCK_LENGTH), `max request ${maxRequest}`);
      if (maxRequest !== undefined) {
        // The first run's four blocks come as 16 KiB pieces; the second run is rejected in one message.
        raw.send(...eight.slice(0, 4).map((b) => ({ type: 'piece' as const, index: b.index, begin: b.begin, block: data.subarray(b.begin, b.begin + b.length) })));
        raw.send(encodeFastMessage({ type: 'reject', index: 0, begin: 4 * BLOCK_LENGTH, length: 4 * BLOCK_LENGTH }));
        await rec.wait('rejected', 2000, () => rec.of('rejected').length === 4);
        assert.deepEqual(rec.of('block').map((e) => e.req.begin), [0, 1, 2, 3].map((i) => i * BLOCK_LENGTH));
        assert.deepEqual(rec.of('rejected').map((e) => e.req.begin), [4, 5, 6, 7].map((i) => i * BLOCK_LENGTH));
        assert.equal(rec.of('closed').length, 0);
      }
    } finally {
      await close();
    }
  }
});

test('a run is cancelled with one cancel of the run once each of its blocks is (endgame), not block by block; a run one of whose blocks arrived, or partly cancelled, is not', async () => {
  const { metainfo, data } = makeTorrent(1024 * 1024, 256 * 1024, 12);
  const { raw, link, rec, close } = await unchokingRawSeed(metainfo, 64 * 1024);
  try {
    const blocks = allBlocks(metainfo).slice(0, 12);
    blocks.forEach((b) => link.request(b));
    await raw.until((m) => m.filter((x) => x.type === 'request').length === 3);
    // Run 1 (blocks 0-3): each block cancelled, one by one.
    blocks.slice(0, 4).forEach((b) => link.cancel(b));
    // Run 2 (4-7): its first block arrives (the peer is sending the run), the rest are cancelled.
    const b4 = blocks[4]!;
    raw.send({ type: 'piece', index: b4.index, begin: b4.begin, block: data.subarray(b4.begin, b4.begin + b4.length) });
    await rec.wait('block', 2000, () => rec.of('block').length === 1);
    blocks.slice(5, 8).forEach((b) => link.cancel(b));
    // Run 3 (8-11): three of four cancelled, then the last.
    blocks.slice(8, 11).forEach((b) => link.cancel(b));
    link.cancel(blocks[11]!);
    const cancels = (m: readonly WireMessage[]): WireMessage[] => m.filter((x) => x.type === 'cancel');
    await raw.until((m) => cancels(m).length >= 2);
    assert.deepEqual(cancels(raw.messages), [
      { type: 'cancel', index: 0, begin: 0, length: 4 * BLOCK_LENGTH },
      { type: 'cancel', index: 0, begin: 8 * BLOCK_LENGTH, length: 4 * BLOCK_LENGTH },
    ]);
    assert.equal(rec.of('closed').length, 0);
  } finally {
    await close();
  }
});

test('a reject longer than any run we ask of the peer rejects nothing (a 4 GiB one was a loop of 262,144 pipeline lookups, and ended every request in its range)', async () => {
  const { metainfo } = makeTorrent(1024 * 1024, 256 * 1024, 12);
  const { raw, link, rec, close } = await unchokingRawSeed(metainfo, 64 * 1024);
  try {
    const eight = allBlocks(metainfo).slice(0, 8);
    eight.forEach((b) => link.request(b));
    await raw.until((m) => m.filter((x) => x.type === 'request').length === 2);
    // Not a run we asked for (longer than the peer's 64 KiB): nothing; then the first run's own reject.
    raw.send(encodeFastMessage({ type: 'reject', index: 0, begin: 0, length: 0x100000000 - BLOCK_LENGTH }));
    raw.send(encodeFastMessage({ type: 'reject', index: 0, begin: 0, length: 4 * BLOCK_LENGTH }));
    await rec.wait('rejected', 2000, () => rec.of('rejected').length === 4);
    assert.deepEqual(rec.of('rejected').map((e) => e.req.begin), [0, 1, 2, 3].map((i) => i * BLOCK_LENGTH));
    assert.equal(rec.of('closed').length, 0);
  } finally {
    await close();
  }
});

test('serving a run: one piece message to a peer that offers runs, 16 KiB piece messages to one that asks for a run without offering', async () => {
  const { metainfo, data } = makeTorrent(1024 * 1024, 256 * 1024, 13);
  const t = wireTorrent(metainfo, true);
  for (const maxRequest of [64 * 1024, undefined]) {
    const rec = new Recorder();
    let link: Promise<WirePeerLink> | undefined;
    const srv = await listen((s) => {
      link = acceptWirePeer(s, () => ({ torrent: t, opts: { peerId: peerId('seed'), onEvent: rec.handler } }));
    });
    const raw = await RawPeer.dial(srv.port);
    try {
      raw.send(
        { type: 'handshake', reserved: reservedBytes({ extensionProtocol: true }), infoHash: t.infoHash, peerId: peerId('raw') },
        encodeExtendedHandshake({ m: new Map(), ...(maxRequest === undefined ? {} : { maxRequest }) }),
        { type: 'interested' },
      );
      const seed = await link!;
      serve(seed, rec, metainfo, data);
      await raw.until((m) => m.some((x) => x.type === 'unchoke'));
      const before = raw.bytesIn;
      raw.send({ type: 'request', index: 1, begin: 0, length: 64 * 1024 });
      await raw.until((m) => m.filter((x) => x.type === 'piece').length === 4);
      const pieces = raw.messages.filter((m) => m.type === 'piece');
      assert.deepEqual(pieces.map((m) => (m.type === 'piece' ? [m.begin, m.block.length] : [])), [0, 1, 2, 3].map((i) => [i * BLOCK_LENGTH, BLOCK_LENGTH]));
      assert.ok(pieces.every((m) => m.type === 'piece' && Buffer.from(m.block).equals(Buffer.from(data.subarray(256 * 1024 + m.begin, 256 * 1024 + m.begin + BLOCK_LENGTH)))));
      // One message is one 13-byte head; four are four.
      assert.equal(raw.bytesIn - before, maxRequest === undefined ? 4 * (13 + BLOCK_LENGTH) : 13 + 4 * BLOCK_LENGTH, `max request ${maxRequest}`);
      assert.equal(rec.of('request').length, 1, 'one request event for the run');
      seed.close();
    } finally {
      raw.socket.destroy();
      await srv.close();
    }
  }
});

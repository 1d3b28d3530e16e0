/**
 * BEP 6 on a wire link, against a raw peer that sets the fast bit: have_all stands for a
 * bitfield; a choke rejects at once every outstanding request outside the allowed-fast pieces;
 * the peer's `reject` frees a request at once (counted in stats, no 30 s request timeout);
 * allowed-fast pieces may be requested while choked; and as the serving side we reject what we
 * will not answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { infoHashToBytes, type Metainfo } from '../../src/metainfo/index.js';
import { connectWirePeer } from '../../src/transport/index.js';
import { encodeFastMessage, reservedBytes, supportsFastExtension } from '../../src/wire/index.js';
import { allBlocks, listen, makeTorrent, peerId, RawPeer, Recorder, wireTorrent } from './helpers.js';

async function fastRawPeer(metainfo: Metainfo, ourData: boolean) {
  let raw: RawPeer | undefined;
  const hs = { type: 'handshake' as const, reserved: reservedBytes({ fastExtension: true }), infoHash: infoHashToBytes(metainfo.infoHash), peerId: peerId('raw') };
  const srv = await listen((s) => {
    raw = new RawPeer(s);
    raw.send(hs, encodeFastMessage({ type: ourData ? 'haveNone' : 'haveAll' }), encodeFastMessage({ type: 'allowedFast', index: 2 }));
  });
  const rec = new Recorder();
  // Requests time out after 60 s: anything freed in this test was freed by the protocol, not a timer.
  const link = await connectWirePeer('127.0.0.1', srv.port, wireTorrent(metainfo, ourData), { peerId: peerId('us'), onEvent: rec.handler, requestTimeoutMs: 60_000 });
  while (raw === undefined) await new Promise((r) => setTimeout(r, 5));
  const peer = raw;
  return { link, rec, raw: peer, close: async () => { link.close(); await srv.close(); } };
}

test('have_all, choke keeps allowed-fast requests and rejects the rest at once, a reject frees its request at once', { timeout: 10_000 }, async () => {
  const { metainfo } = makeTorrent(256 * 1024, 64 * 1024, 5);
  const r = await fastRawPeer(metainfo, false);
  try {
    const bf = await r.rec.wait('bitfield');
    assert.equal(bf.bitfield.complete, true, 'have_all is a full bitfield');
    // Our handshake set the fast bit and, having nothing, we said have_none.
    await r.raw.until((m) => m.some((x) => x.type === 'unknown' && x.id === 15));
    const ours = r.raw.messages.find((m) => m.type === 'handshake');
    assert.ok(ours?.type === 'handshake' && supportsFastExtension(ours.reserved));
    // Allowed fast: piece 2 may be requested while choked, piece 0 may not.
    const blocks = allBlocks(metainfo);
    const inPiece = (i: number) => blocks.filter((b) => b.index === i);
    r.link.request(inPiece(0)[0]!);
    r.link.request(inPiece(2)[0]!);
    await r.rec.wait('rejected');
    assert.equal(r.rec.of('rejected')[0]!.req.index, 0, 'choked: piece 0 rejected');
    await r.raw.until((m) => m.some((x) => x.type === 'request' && x.index === 2));
    r.raw.send({ type: 'unchoke' });
    await r.rec.wait('unchoke');
    for (const b of [...inPiece(0), ...inPiece(1)]) r.link.request(b);
    await r.raw.until((m) => m.filter((x) => x.type === 'request').length === 1 + 8);
    const before = r.rec.of('rejected').length;
    r.raw.send({ type: 'choke' });
    await r.rec.wait('rejected', 2000, () => r.rec.of('rejected').length === before + 8);
    assert.ok(
      r.rec.of('rejected').slice(before).every((e) => e.req.index !== 2),
      'the allowed-fast request survives the choke',
    );
    // The peer rejects it: freed at once.
    const b2 = inPiece(2)[0]!;
    r.raw.send(encodeFastMessage({ type: 'reject', index: b2.index, begin: b2.begin, length: b2.length }));
    await r.rec.wait('rejected', 2000, () => r.rec.of('rejected').some((e) => e.req.index === 2));
    assert.equal(r.link.stats().rejectedByPeer, 1);
    assert.equal(r.rec.of('closed').length, 0);
  } finally {
    await r.close();
  }
});

test('serving with BEP 6: a request while we choke gets a reject; have_all when we have everything', { timeout: 10_000 }, async () => {
  const { metainfo } = makeTorrent(256 * 1024, 64 * 1024, 6);
  const r = await fastRawPeer(metainfo, true);
  try {
    await r.raw.until((m) => m.some((x) => x.type === 'unknown' && x.id === 14));
    r.raw.send({ type: 'request', index: 1, begin: 0, length: 16384 });
    await r.raw.until((m) => m.some((x) => x.type === 'unknown' && x.id === 16));
    const rej = r.raw.messages.find((x) => x.type === 'unknown' && x.id === 16);
    assert.ok(rej?.type === 'unknown');
    assert.deepEqual([...rej.payload], [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0]);
    assert.equal(r.raw.messages.filter((x) => x.type === 'bitfield').length, 0, 'have_all instead of a bitfield');
  } finally {
    await r.close();
  }
});

/**
 * BEP 11 on a wire link: ut_pex is offered in our BEP 10 handshake only when the torrent asks
 * (`WireTorrent.pex`), the peer's id and listen port (`p`) are read from its handshake, messages
 * go out on its id and come in on ours as `peers` events, and a malformed one closes the link
 * (libtorrent's `invalid_pex_message`). A raw peer on loopback plays the other side.
 *
 * Fault injected once: `peers` events not emitted (wire-peer.ts returns before the emit): the
 * first test fails at "no peers event".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '../../src/bencode/index.js';
import { acceptWirePeer, connectWirePeer, type WirePeerLink, type WireTorrent } from '../../src/transport/index.js';
import {
  decodeExtendedHandshake,
  decodePexMessage,
  encodeExtended,
  encodeExtendedHandshake,
  encodePexMessage,
  EXTENDED_MESSAGE_ID,
  reservedBytes,
  type WireMessage,
} from '../../src/wire/index.js';
import { listen, makeTorrent, peerId, RawPeer, Recorder, wireTorrent } from './helpers.js';

const RAW_PEX_ID = 7;

function extendedOf(raw: RawPeer, extendedId: number): Uint8Array[] {
  return raw.messages.filter((m): m is Extract<WireMessage, { type: 'unknown' }> => m.type === 'unknown' && m.id === EXTENDED_MESSAGE_ID && m.payload[0] === extendedId).map((m) => m.payload);
}

/** A raw peer dials a link of `torrent` and sends its BEP 10 handshake (`m` with ut_pex, `p`). */
async function accepted(torrent: WireTorrent, m: Map<string, number> = new Map([['ut_pex', RAW_PEX_ID]])) {
  let link: Promise<WirePeerLink> | undefined;
  const rec = new Recorder();
  const srv = await listen((s) => {
    link = acceptWirePeer(s, () => ({ torrent, opts: { peerId: peerId('us'), onEvent: rec.handler, listenPort: 6000 } }));
  });
  const raw = await RawPeer.dial(srv.port);
  raw.send({ type: 'handshake', reserved: reservedBytes({ extensionProtocol: true }), infoHash: torrent.infoHash, peerId: peerId('raw') });
  await raw.until((ms) => extendedOf(raw, 0).length > 0);
  raw.send(encodeExtendedHandshake({ m, p: 6999 }));
  const l = await link!;
  return {
    link: l,
    rec,
    raw,
    close: async () => {
      l.close();
      raw.socket.destroy();
      await srv.close();
    },
  };
}

/** Waits until `cond` holds, polling (the link reads the raw peer's bytes asynchronously). */
async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('ut_pex offered: our handshake names it, the peer id and port are read, messages go both ways', async () => {
  const { metainfo } = makeTorrent(256 * 1024, 64 * 1024);
  const p = await accepted({ ...wireTorrent(metainfo, true), pex: true });
  try {
    const ours = decodeExtendedHandshake(extendedOf(p.raw, 0)[0]!)!;
    assert.equal(ours.m.get('ut_pex'), 2, 'we offer ut_pex as id 2');
    assert.equal(ours.m.get('ut_metadata'), 1);
    await until('exchangesPeers', () => p.link.exchangesPeers === true);
    assert.deepEqual(p.link.address, { ip: '127.0.0.1', listenPort: 6999, dialled: false }, "an incoming peer's listen port is its BEP 10 p");

    p.link.sendPeers!({ added: [{ ip: '8.8.8.8', port: 6881, flags: 0x12 }], dropped: [{ ip: '2001:db8::1', port: 51413, flags: 0 }] });
    await p.raw.until(() => extendedOf(p.raw, RAW_PEX_ID).length > 0);
    assert.deepEqual(decodePexMessage(extendedOf(p.raw, RAW_PEX_ID)[0]!.subarray(1)), {
      added: [{ ip: '8.8.8.8', port: 6881, flags: 0x12 }],
      dropped: [{ ip: '2001:db8::1', port: 51413, flags: 0 }],
    });

    const msg = { added: [{ ip: '9.9.9.9', port: 1234, flags: 2 }], dropped: [] };
    p.raw.send(encodeExtended(2, encodePexMessage(msg)));
    const ev = await p.rec.wait('peers', 2000).catch(() => assert.fail('no peers event'));
    assert.deepEqual(ev.message, msg);

    // Malformed: a list that is not a whole number of entries. Costs the link, with the wire error.
    p.raw.send(encodeExtended(2, new TextEncoder().encode('d5:added5:abcdee')));
    const closed = await p.rec.wait('closed', 2000);
    assert.equal(closed.reason?.code, 'WIRE_BAD_EXTENSION');
  } finally {
    await p.close();
  }
});

test('ut_pex not offered (private torrent, or turned off): not in our handshake, messages on its id ignored', async () => {
  const { metainfo } = makeTorrent(256 * 1024, 64 * 1024);
  for (const pex of [false, undefined]) {
    const t: WireTorrent = pex === undefined ? wireTorrent(metainfo, true) : { ...wireTorrent(metainfo, true), pex };
    const p = await accepted(t);
    try {
      const ours = decodeExtendedHandshake(extendedOf(p.raw, 0)[0]!)!;
      assert.equal(ours.m.has('ut_pex'), false);
      await until('the peer handshake read', () => p.link.address?.listenPort === 6999);
      assert.notEqual(p.link.exchangesPeers, true);
      p.link.sendPeers?.({ added: [{ ip: '8.8.8.8', port: 6881, flags: 0 }], dropped: [] }); // a no-op
      p.raw.send(encodeExtended(2, encodePexMessage({ added: [{ ip: '9.9.9.9', port: 1, flags: 0 }], dropped: [] })));
      p.raw.send(encodeExtended(2, new TextEncoder().encode('garbage')));
      p.link.setChoking(false); // a round trip: everything the raw peer sent before its answer has been read
      await p.raw.until((ms) => ms.some((m) => m.type === 'unchoke'));
      p.raw.send({ type: 'interested' });
      await p.rec.wait('interested', 2000);
      assert.equal(p.rec.of('peers').length, 0);
      assert.equal(p.rec.of('closed').length, 0, 'not closed for a message on an id we never gave');
      assert.equal(extendedOf(p.raw, RAW_PEX_ID).length, 0, 'nothing sent');
    } finally {
      await p.close();
    }
  }
});

test('a peer we dialled: its address is the one we reached, flagged dialled; without its ut_pex no exchange', async () => {
  const { metainfo } = makeTorrent(256 * 1024, 64 * 1024);
  let raw: RawPeer | undefined;
  const t = { ...wireTorrent(metainfo, false), pex: true };
  const srv = await listen((s) => {
    raw = new RawPeer(s);
    raw.send({ type: 'handshake', reserved: reservedBytes({ extensionProtocol: true }), infoHash: t.infoHash, peerId: peerId('raw') });
    raw.send(encodeExtendedHandshake({ m: new Map([['ut_metadata', 3]]) }));
  });
  const rec = new Recorder();
  const link = await connectWirePeer('127.0.0.1', srv.port, t, { peerId: peerId('us'), onEvent: rec.handler });
  try {
    assert.deepEqual(link.address, { ip: '127.0.0.1', listenPort: srv.port, dialled: true });
    await raw!.until(() => extendedOf(raw!, 0).length > 0);
    const ours = decode(extendedOf(raw!, 0)[0]!.subarray(1));
    assert.ok(ours instanceof Map && ours.get('m') instanceof Map && (ours.get('m') as Map<string, unknown>).get('ut_pex') === 2);
    link.setInterested(true);
    await raw!.until((ms) => ms.some((m) => m.type === 'interested'));
    assert.equal(link.exchangesPeers, false, 'the peer did not offer ut_pex');
  } finally {
    link.close();
    await srv.close();
  }
});

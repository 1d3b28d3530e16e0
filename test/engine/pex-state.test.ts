/**
 * `PeerExchange` (pex.ts) on its own, below the torrent: the verdict it returns for each
 * received message, what it forgets with `remove`, and which slots of the peer list it passes
 * over (closed, not yet linked). pex.test.ts covers the same rules through `Torrent`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerExchange } from '../../src/engine/pex.js';
import type { PeerState } from '../../src/engine/peer-set.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import type { PeerSocketAddress } from '../../src/transport/index.js';
import type { PexMessage, PexPeer } from '../../src/wire/index.js';
import { FakeLink } from '../helpers/engine-fakes.js';
import { peerState } from '../helpers/peer-state.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const data = bytes(64 * 1024, 2);
const metainfo = parseTorrent(torrentBytes({ name: 'p', 'piece length': 16 * 1024, length: data.length, pieces: piecesOf(data, 16 * 1024) }));

class Link extends FakeLink {
  readonly exchangesPeers = true;
  readonly pexSent: PexMessage[] = [];
  sendPeers(m: PexMessage): void {
    this.pexSent.push(m);
  }
}

const at = (ip: string, port: number): PeerSocketAddress => ({ ip, listenPort: port, dialled: true });
const slot = (address: PeerSocketAddress | undefined): { p: PeerState; link: Link } => {
  const link = new Link(data, metainfo, () => undefined, { has: () => false, ...(address === undefined ? {} : { address }) });
  return { p: peerState(link), link };
};
const msg = (...added: PexPeer[]): PexMessage => ({ added, dropped: [] });

test('verdicts: honoured with the believable addresses, then ignored, then flood with the count', () => {
  const x = new PeerExchange();
  const { p } = slot(at('127.0.0.1', 1));
  assert.deepEqual(x.received(p, msg({ ip: '8.8.8.8', port: 1, flags: 0 }), 0), { kind: 'honoured', addresses: ['8.8.8.8:1'] });
  for (const ms of [1, 2, 3]) assert.deepEqual(x.received(p, msg(), ms), { kind: 'ignored' });
  assert.deepEqual(x.received(p, msg(), 4), { kind: 'flood', ignored: 4 });
  assert.deepEqual(x.received(p, msg(), 5), { kind: 'flood', ignored: 5 }, 'still too soon');
  assert.deepEqual(x.stats, { sent: 0, received: 1, ignored: 5, learned: 1 });
});

test('remove forgets a peer: its next message is honoured and its next list is a first one', () => {
  const x = new PeerExchange();
  const a = slot(at('10.0.0.1', 1));
  const b = slot(at('10.0.0.2', 2));
  x.tick(0, [a.p, b.p]);
  assert.deepEqual(a.link.pexSent, [msg({ ip: '10.0.0.2', port: 2, flags: 0x10 })]);
  assert.equal(x.received(a.p, msg(), 0).kind, 'honoured');
  assert.equal(x.received(a.p, msg(), 1).kind, 'ignored');
  x.remove(a.p);
  assert.equal(x.received(a.p, msg(), 2).kind, 'honoured', 'a fresh start');
  x.remove(a.p);
  x.tick(3, [a.p, b.p]);
  assert.deepEqual(a.link.pexSent[1], msg({ ip: '10.0.0.2', port: 2, flags: 0x10 }), 'told of b again: what it was told is forgotten');
  assert.equal(b.link.pexSent.length, 1, 'b is not due');
});

test('closed slots and slots without a link are neither sent to nor passed on', () => {
  const x = new PeerExchange();
  const a = slot(at('10.0.0.1', 1));
  const closed = slot(at('10.0.0.2', 2));
  closed.p.closed = true;
  const unlinked = peerState(undefined);
  const c = slot(at('10.0.0.3', 3));
  x.tick(0, [a.p, closed.p, unlinked, c.p]);
  assert.deepEqual(a.link.pexSent, [msg({ ip: '10.0.0.3', port: 3, flags: 0x10 })]);
  assert.deepEqual(closed.link.pexSent, []);
  assert.deepEqual(x.stats.sent, 2);
});

test('stats are a snapshot', () => {
  const x = new PeerExchange();
  const s = x.stats;
  x.received(slot(at('1.1.1.1', 1)).p, msg({ ip: '8.8.8.8', port: 1, flags: 0 }), 0);
  assert.deepEqual(s, { sent: 0, received: 0, ignored: 0, learned: 0 });
});

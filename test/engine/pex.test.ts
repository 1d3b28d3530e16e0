/**
 * BEP 11 peer exchange in the engine, on the injected clock: fake links that exchange peers
 * (`exchangesPeers`, `address`, `sendPeers`) record what the torrent tells them, and emit
 * `peers` events as a wire link would after decoding. Only the public API is used.
 *
 * Faults injected by hand in src/engine/pex.ts, and the test here that fails for each (checked once):
 *
 * | fault                                                      | failing test                                  |
 * |------------------------------------------------------------|-----------------------------------------------|
 * | the added list left empty (`added.push` skipped)           | "first message…", "at most 50 added…"        |
 * | no minimum interval between honoured messages              | "a flood…"                                    |
 * | `believable` returns true for every scope                  | "received addresses…"                         |
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PEX_DEFAULTS, Torrent, type TorrentOptions } from '../../src/engine/index.js';
import type { TorrenttpError } from '../../src/errors/index.js';
import { parseTorrent, type Metainfo } from '../../src/metainfo/index.js';
import type { PeerEvent, PeerLink, PeerSocketAddress } from '../../src/transport/index.js';
import type { PexMessage, PexPeer } from '../../src/wire/index.js';
import { FakeLink, MemoryStore, type FakeLinkOptions } from '../helpers/engine-fakes.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

const PIECE = 32 * 1024;
const data = bytes(8 * PIECE, 5);
const info = { name: 'pex', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) };
const metainfo = parseTorrent(torrentBytes(info));
const privateMetainfo = parseTorrent(torrentBytes({ ...info, private: 1 }));
const OPTS = { timeout: 10_000 };

async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
}

interface PexLinkOptions extends FakeLinkOptions {
  /** Both sides offered ut_pex. */
  pex?: boolean;
  /** The connection is encrypted (MSE). */
  encrypted?: boolean;
}

/** A fake wire link with a socket address that may exchange peers; records what it was sent. */
class PexLink extends FakeLink {
  readonly exchangesPeers: boolean;
  readonly encrypted: boolean | undefined;
  readonly pexSent: PexMessage[] = [];

  constructor(m: Metainfo, onEvent: (e: PeerEvent) => void, o: PexLinkOptions) {
    super(data, m, onEvent, { stall: true, ...o });
    this.exchangesPeers = o.pex === true;
    this.encrypted = o.encrypted;
  }

  sendPeers(m: PexMessage): void {
    if (!this.closed && this.exchangesPeers) this.pexSent.push(m);
  }

  /** The peer tells us of `added`. */
  tell(added: readonly PexPeer[]): void {
    this.emit({ type: 'peers', message: { added, dropped: [] } });
  }
}

function setup(opts: TorrentOptions = {}, m: Metainfo = metainfo) {
  const clock = { ms: 0 };
  const t = new Torrent(m, new MemoryStore(m), { rng: () => 0.5, now: () => clock.ms, maxPeers: 100, ...opts });
  const add = (o: PexLinkOptions = {}): PexLink => t.addPeer((onEvent) => new PexLink(m, onEvent, o)) as PexLink;
  const tickAt = (ms: number): void => {
    clock.ms = ms;
    t.tick();
  };
  const discovered: { addresses: readonly string[]; from: PeerLink }[] = [];
  t.on('discovered', (addresses, from) => discovered.push({ addresses, from }));
  return { t, clock, add, tickAt, discovered };
}

const none = (): boolean => false;
const dialled = (ip: string, port: number): PeerSocketAddress => ({ ip, listenPort: port, dialled: true });
const incoming = (ip: string, port?: number): PeerSocketAddress => ({ ip, listenPort: port, dialled: false });
const entry = (ip: string, port: number, flags = 0): PexPeer => ({ ip, port, flags });

test('first message: the peers we can vouch for; then every 60 s the difference, nothing when nothing changed', OPTS, async () => {
  const { t, add, tickAt } = setup();
  const a = add({ id: 'a', address: dialled('10.0.0.1', 6881), pex: true }); // a seed we dialled
  const b = add({ id: 'b', address: incoming('10.0.0.2', 7000), pex: true, has: none }); // incoming, said its port
  const c = add({ id: 'c', address: incoming('10.0.0.3'), pex: true, has: none }); // incoming, port unknown: never passed on
  add({ id: 'w', kind: 'webseed' }); // no socket address, no peer exchange
  await settle();
  tickAt(0);
  assert.deepEqual(a.pexSent, [{ added: [entry('10.0.0.2', 7000)], dropped: [] }], 'not a itself, not c (no port), not the web seed');
  assert.deepEqual(b.pexSent, [{ added: [entry('10.0.0.1', 6881, 0x02 | 0x10)], dropped: [] }], 'a is a seed we dialled: seed | connectable');
  assert.deepEqual(c.pexSent, [{ added: [entry('10.0.0.1', 6881, 0x12), entry('10.0.0.2', 7000)], dropped: [] }]);

  tickAt(30_000);
  const d = add({ id: 'd', address: dialled('10.0.0.4', 6881), has: none });
  b.drop();
  await settle();
  tickAt(59_999);
  assert.equal(a.pexSent.length, 1, 'not before 60 s');
  tickAt(60_000);
  assert.deepEqual(a.pexSent[1], { added: [entry('10.0.0.4', 6881, 0x10)], dropped: [entry('10.0.0.2', 7000)] });
  assert.deepEqual(c.pexSent[1], { added: [entry('10.0.0.4', 6881, 0x10)], dropped: [entry('10.0.0.2', 7000)] });
  assert.equal(d.exchangesPeers, false);
  tickAt(120_000);
  assert.equal(a.pexSent.length, 2, 'nothing changed: no message');
  assert.deepEqual(t.stats().pex, { sent: 5, received: 0, ignored: 0, learned: 0 });
  await t.close();
});

test('at most 50 added a message, the rest a minute later; a newcomer gets its first list at the next tick', OPTS, async () => {
  const { t, add, tickAt } = setup();
  const a = add({ address: dialled('10.1.0.1', 6881), pex: true, has: none });
  for (let i = 0; i < 60; i++) add({ address: dialled('10.2.0.1', 10_000 + i), has: none });
  await settle();
  tickAt(0);
  assert.equal(a.pexSent[0]!.added.length, 50);
  tickAt(60_000);
  assert.equal(a.pexSent[1]!.added.length, 10);
  assert.equal(new Set([...a.pexSent[0]!.added, ...a.pexSent[1]!.added].map((e) => e.port)).size, 60, 'every peer told once');
  const late = add({ address: dialled('10.1.0.2', 6881), pex: true, has: none });
  await settle();
  tickAt(60_250);
  assert.equal(late.pexSent.length, 1);
  assert.equal(late.pexSent[0]!.added.length, 50);
  await t.close();
});

test('received addresses go to the dial queue: local ones only from local peers, nowhere-addresses never, at most 50', OPTS, async () => {
  const { t, add, tickAt, discovered } = setup();
  const told = [
    entry('8.8.8.8', 1),
    entry('127.0.0.9', 2),
    entry('192.168.1.1', 3),
    entry('224.0.0.1', 4),
    entry('0.0.0.0', 5),
    entry('::1', 6),
    entry('fe80::1', 7),
    entry('2606:4700::1111', 8),
    entry('255.255.255.255', 9),
  ];
  const loop = add({ address: dialled('127.0.0.1', 6881), pex: true, has: none });
  const pub = add({ address: dialled('1.2.3.4', 6881), pex: true, has: none });
  const lan = add({ address: incoming('192.168.1.5'), pex: true, has: none }); // its port unknown: its word counts all the same
  await settle();
  tickAt(0);
  loop.tell(told);
  pub.tell(told);
  lan.tell(told);
  assert.deepEqual(
    discovered.map((d) => d.addresses),
    [
      ['8.8.8.8:1', '127.0.0.9:2', '192.168.1.1:3', '[::1]:6', '[fe80::1]:7', '[2606:4700::1111]:8'],
      ['8.8.8.8:1', '[2606:4700::1111]:8'],
      ['8.8.8.8:1', '192.168.1.1:3', '[fe80::1]:7', '[2606:4700::1111]:8'],
    ],
  );
  assert.deepEqual(discovered.map((d) => d.from), [loop, pub, lan]);
  const many = add({ address: dialled('5.6.7.8', 6881), pex: true, has: none });
  await settle();
  many.tell(Array.from({ length: 120 }, (_, i) => entry('9.9.9.9', 1000 + i)));
  assert.equal(discovered.at(-1)!.addresses.length, 50);
  assert.deepEqual(t.stats().pex, { sent: 3, received: 4, ignored: 0, learned: 6 + 2 + 4 + 50 });
  await t.close();
});

test('a flood: one message per 45 s is honoured, the rest ignored; past 3 ignored the flooder alone is closed', OPTS, async () => {
  const { t, add, tickAt, discovered } = setup();
  const a = add({ id: 'a', address: dialled('127.0.0.1', 6881), pex: true, has: none });
  const b = add({ id: 'b', address: dialled('127.0.0.2', 6881), pex: true, has: none });
  await settle();
  tickAt(0);
  a.tell([entry('8.8.8.1', 1)]);
  for (const ms of [1000, 2000, 3000]) {
    tickAt(ms);
    a.tell([entry('8.8.8.2', ms)]);
  }
  assert.equal(discovered.length, 1, 'only the first honoured');
  assert.equal(a.closed, false, 'three ignored: still connected');
  assert.deepEqual(t.stats().pex, { sent: 2, received: 1, ignored: 3, learned: 1 });
  tickAt(4000);
  a.tell([entry('8.8.8.3', 1)]);
  await settle();
  assert.equal(a.closed, true);
  assert.equal((a.closeReason as TorrenttpError).code, 'ENGINE_PEX_FLOOD');
  b.tell([entry('8.8.8.4', 1)]);
  assert.equal(b.closed, false);
  assert.deepEqual(discovered.at(-1)!.addresses, ['8.8.8.4:1'], 'another peer is heard as before');
  tickAt(44_999);
  b.tell([entry('8.8.8.5', 1)]);
  tickAt(49_000);
  b.tell([entry('8.8.8.6', 1)]);
  assert.deepEqual(discovered.at(-1)!.addresses, ['8.8.8.6:1'], '45 s after the last honoured one, heard again');
  await t.close();
});

test('a private torrent (BEP 27) or pex: false never offers, sends or honours peer exchange', OPTS, async () => {
  for (const [what, s] of [
    ['private', setup({}, privateMetainfo)],
    ['pex: false', setup({ pex: false })],
  ] as const) {
    const { t, add, tickAt, discovered } = s;
    assert.equal(t.exchangesPeers, false, what);
    // A link that claims the exchange anyway (it cannot: the wire link offers only for `exchangesPeers`).
    const a = add({ address: dialled('127.0.0.1', 6881), pex: true, has: none });
    add({ address: dialled('127.0.0.2', 6881), pex: true, has: none });
    await settle();
    tickAt(0);
    tickAt(60_000);
    a.tell([entry('8.8.8.8', 1)]);
    assert.deepEqual(a.pexSent, [], what);
    assert.deepEqual(discovered, [], what);
    assert.equal(t.stats().pex, undefined, what);
    await t.close();
  }
  assert.equal(setup().t.exchangesPeers, true, 'on by default');
});

test('the defaults are BEP 11\'s: a message a minute, one honoured per 45 s, three ignored, 50 added', () => {
  assert.deepEqual(PEX_DEFAULTS, { intervalMs: 60_000, minReceiveIntervalMs: 45_000, maxIgnored: 3, maxAddedPerMessage: 50 });
});

test('at most 50 dropped a message, without flags, the rest a minute later; a peer that comes back is told of again', OPTS, async () => {
  const { t, add, tickAt } = setup();
  const a = add({ address: dialled('10.1.0.1', 6881), pex: true, has: none });
  const others = Array.from({ length: 60 }, (_, i) => add({ address: dialled('10.2.0.1', 10_000 + i) })); // seeds we dialled
  await settle();
  tickAt(0);
  tickAt(60_000);
  assert.deepEqual(
    a.pexSent.flatMap((m) => m.added),
    others.map((_, i) => entry('10.2.0.1', 10_000 + i, 0x12)),
  );
  for (const o of others) o.drop();
  await settle();
  tickAt(120_000);
  assert.deepEqual(a.pexSent[2], { added: [], dropped: others.slice(0, 50).map((_, i) => entry('10.2.0.1', 10_000 + i)) }, 'flags only in added');
  tickAt(180_000);
  assert.deepEqual(a.pexSent[3], { added: [], dropped: others.slice(50).map((_, i) => entry('10.2.0.1', 10_050 + i)) });
  tickAt(240_000);
  assert.equal(a.pexSent.length, 4, 'all told: nothing to send');
  add({ address: incoming('10.2.0.1', 10_007), encrypted: true, has: none });
  await settle();
  tickAt(300_000);
  assert.deepEqual(a.pexSent[4], { added: [entry('10.2.0.1', 10_007, 0x01)], dropped: [] }, 'back, now incoming and encrypted');
  await t.close();
});

test('the first message goes even when there is nobody to tell of; a peer at no usable address is never passed on', OPTS, async () => {
  const { t, add, tickAt } = setup();
  const a = add({ address: dialled('10.1.0.1', 6881), pex: true, has: none });
  add({ address: dialled('not-an-ip', 6881), has: none });
  add({ address: dialled('0.0.0.0', 6881), has: none }); // unspecified: still an address we connected to
  await settle();
  tickAt(0);
  assert.deepEqual(a.pexSent, [{ added: [entry('0.0.0.0', 6881, 0x10)], dropped: [] }]);
  const b = add({ address: dialled('10.1.0.2', 6881), pex: true, has: none });
  await settle();
  tickAt(250);
  assert.deepEqual(b.pexSent, [{ added: [entry('10.1.0.1', 6881, 0x10), entry('0.0.0.0', 6881, 0x10)], dropped: [] }], 'in connection order');
  const alone = setup();
  const c = alone.add({ address: dialled('10.1.0.3', 6881), pex: true, has: none });
  await settle();
  alone.tickAt(0);
  assert.deepEqual(c.pexSent, [{ added: [], dropped: [] }], 'the first message, empty');
  alone.tickAt(60_000);
  assert.equal(c.pexSent.length, 1, 'then only differences');
  assert.equal(alone.t.stats().pex!.sent, 1);
  await alone.t.close();
  await t.close();
});

/** A link that says it exchanges peers but has no way to send them. */
class MuteLink extends FakeLink {
  readonly exchangesPeers = true;
}

test('a link that exchanges peers but cannot send is passed over', OPTS, async () => {
  const { t, add, tickAt } = setup();
  t.addPeer((onEvent) => new MuteLink(data, metainfo, onEvent, { stall: true, address: dialled('10.1.0.9', 6881), has: none }));
  const a = add({ address: dialled('10.1.0.1', 6881), pex: true, has: none });
  await settle();
  tickAt(0);
  assert.deepEqual(a.pexSent, [{ added: [entry('10.1.0.9', 6881, 0x10)], dropped: [] }]);
  assert.equal(t.stats().pex!.sent, 1);
  await t.close();
});

test('received: honoured again exactly 45 s after the last honoured one, which forgives the ignored ones', OPTS, async () => {
  const { t, add, tickAt, discovered } = setup();
  const a = add({ address: dialled('127.0.0.1', 6881), pex: true, has: none });
  await settle();
  tickAt(10_000);
  a.tell([entry('8.8.8.1', 1)]);
  for (const ms of [11_000, 12_000, 13_000]) {
    tickAt(ms);
    a.tell([entry('8.8.8.2', 1)]);
  }
  tickAt(55_000);
  a.tell([entry('8.8.8.3', 1)]);
  assert.deepEqual(discovered.at(-1)!.addresses, ['8.8.8.3:1'], 'exactly 45 s later');
  for (const ms of [56_000, 57_000, 58_000]) {
    tickAt(ms);
    a.tell([entry('8.8.8.4', 1)]);
  }
  await settle();
  assert.equal(a.closed, false, 'three ignored since the last honoured one: still connected');
  assert.deepEqual(t.stats().pex, { sent: 1, received: 2, ignored: 6, learned: 2 });
  tickAt(59_000);
  a.tell([entry('8.8.8.5', 1)]);
  await settle();
  assert.equal((a.closeReason as TorrenttpError).code, 'ENGINE_PEX_FLOOD');
  assert.match((a.closeReason as TorrenttpError).message, /4 ut_pex messages too soon/);
  await t.close();
});

test('received: port 0 is skipped; a peer whose address we do not know is believed only about public addresses', OPTS, async () => {
  const { t, add, tickAt, discovered } = setup();
  const a = add({ address: dialled('127.0.0.1', 6881), pex: true, has: none });
  const anon = add({ pex: true, has: none });
  await settle();
  tickAt(0);
  a.tell([entry('8.8.8.8', 0), entry('8.8.4.4', 53)]);
  anon.tell([entry('9.9.9.9', 9), entry('127.0.0.5', 5), entry('10.0.0.5', 5)]);
  assert.deepEqual(
    discovered.map((d) => d.addresses),
    [['8.8.4.4:53'], ['9.9.9.9:9']],
  );
  assert.equal(t.stats().pex!.learned, 2);
  await t.close();
});

test('options: the interval, the receive interval, the ignored allowance and the added per message are the torrent\'s', OPTS, async () => {
  const { t, add, tickAt, discovered } = setup({ pex: { intervalMs: 1000, minReceiveIntervalMs: 100, maxIgnored: 0, maxAddedPerMessage: 2 } });
  const a = add({ address: dialled('127.0.0.1', 6881), pex: true, has: none });
  await settle();
  tickAt(0);
  add({ address: dialled('10.3.0.1', 1), has: none });
  await settle();
  tickAt(999);
  assert.equal(a.pexSent.length, 1);
  tickAt(1000);
  assert.deepEqual(a.pexSent[1], { added: [entry('10.3.0.1', 1, 0x10)], dropped: [] });
  a.tell([entry('8.8.8.1', 1), entry('8.8.8.2', 2), entry('8.8.8.3', 3)]);
  assert.deepEqual(discovered.at(-1)!.addresses, ['8.8.8.1:1', '8.8.8.2:2']);
  tickAt(1100);
  a.tell([entry('8.8.8.4', 4)]);
  assert.deepEqual(discovered.at(-1)!.addresses, ['8.8.8.4:4'], '100 ms later');
  tickAt(1150);
  a.tell([entry('8.8.8.5', 5)]);
  await settle();
  assert.equal((a.closeReason as TorrenttpError).code, 'ENGINE_PEX_FLOOD', 'no ignored message allowed');
  await t.close();
});

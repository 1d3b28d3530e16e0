/**
 * From a magnet link to verified metadata (`fetchMetadata`, magnet.ts) with fake metadata
 * peers (`ctx.connect`), a fake DHT node and node:test's mocked `setInterval` and `Date`: no
 * sockets, no waiting. Covers which addresses are dialled and how many at once, how the BEP 9
 * pieces are spread and re-asked, and each way the fetch ends (verified dict, timeout, every
 * peer refusing, offers too large, lying peers, abort).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EngineError, fetchMetadata, MAGNET_DEFAULTS, splitHostPort, type FetchedMetadata, type FetchMetadataOptions, type MetadataProgress } from '../../src/engine/index.js';
import type { TorrenttpError } from '../../src/errors/index.js';
import { infoHashOf, infoHashToBytes, parseMagnet, parseTorrent } from '../../src/metainfo/index.js';
import { TransportError, type MetadataPeer, type MetadataPeerOptions } from '../../src/transport/index.js';
import type { PeerAddr } from '../../src/dht/index.js';
import { bytes, torrentBytes } from '../helpers/torrents.js';

const KIB16 = 16 * 1024;
/** An info dict of about 40 KB: three metadata pieces. */
const dict = parseTorrent(torrentBytes({ name: 'm', 'piece length': KIB16, length: 2000 * KIB16, pieces: bytes(2000 * 20, 9) })).infoBytes;
const hash = infoHashOf(dict);
const SIZE = dict.length;
const piece = (i: number, d: Uint8Array = dict): Uint8Array => d.slice(i * KIB16, Math.min(d.length, (i + 1) * KIB16));
const PEER_ID = new Uint8Array(20).fill(7);
const SELF = '10.9.9.9:6881';

/** A metadata-only connection as the transport's: `close` reports `closed` in a microtask. */
class FakePeer implements MetadataPeer {
  readonly requests: number[] = [];
  closed = false;
  closeReason: TorrenttpError | undefined;

  constructor(
    readonly id: string,
    readonly opts: MetadataPeerOptions,
  ) {}

  request(p: number): void {
    if (!this.closed) this.requests.push(p);
  }

  close(reason?: TorrenttpError): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    queueMicrotask(() => this.opts.onEvent(reason === undefined ? { type: 'closed' } : { type: 'closed', reason }));
  }

  // ── test controls: the remote peer's doing ──
  ready(metadataSize = SIZE): void {
    this.opts.onEvent({ type: 'ready', metadataSize });
  }

  send(p: number, d: Uint8Array = dict): void {
    this.opts.onEvent({ type: 'piece', piece: p, data: piece(p, d) });
  }

  reject(p: number): void {
    this.opts.onEvent({ type: 'rejected', piece: p });
  }

  drop(reason?: TorrenttpError): void {
    this.closed = true;
    this.opts.onEvent(reason === undefined ? { type: 'closed' } : { type: 'closed', reason });
  }
}

class FakeDht {
  readonly tracked: Uint8Array[] = [];
  untracked = 0;
  onPeers: ((peers: readonly PeerAddr[]) => void) | undefined;
  readonly lookups: { resolve: () => void; reject: (e: Error) => void; onPeers: ((peers: readonly PeerAddr[]) => void) | undefined }[] = [];

  track(infoHash: Uint8Array, _opts: { port?: number } = {}, onPeers?: (peers: readonly PeerAddr[]) => void): () => void {
    this.tracked.push(infoHash);
    this.onPeers = onPeers;
    return () => void this.untracked++;
  }

  getPeers(_infoHash: Uint8Array, onPeers?: (peers: readonly PeerAddr[]) => void): Promise<never> {
    return new Promise((resolve, reject) => this.lookups.push({ resolve: () => resolve(undefined as never), reject, onPeers }));
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

type Outcome = { ok: FetchedMetadata } | { err: TorrenttpError };

function start(t: TestContext, query: string, opts: FetchMetadataOptions = {}, dht?: FakeDht) {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
  const peers = new Map<string, FakePeer>();
  const dialled: string[] = [];
  const errors: [string, string][] = [];
  const progress: MetadataProgress[] = [];
  let settled: Outcome | undefined;
  const stopper = new AbortController();
  const promise = fetchMetadata(
    parseMagnet(`magnet:?xt=urn:btih:${hash}${query}`),
    {
      peerId: PEER_ID,
      listenPort: 6881,
      isSelf: (a) => a === SELF,
      splitHostPort,
      ...(dht === undefined ? {} : { dht }),
      connect: (host, port, o) => {
        const p = new FakePeer(`${host.includes(':') ? `[${host}]` : host}:${port}`, o);
        assert.deepEqual(o.infoHash, infoHashToBytes(hash));
        assert.deepEqual(o.peerId, PEER_ID);
        assert.equal(o.listenPort, 6881);
        dialled.push(p.id);
        peers.set(p.id, p);
        return p;
      },
    },
    { onPeerError: (a, e) => errors.push([a, e.code]), onProgress: (p) => progress.push(p), signal: stopper.signal, ...opts },
  );
  promise.then(
    (ok) => (settled = { ok }),
    (err: TorrenttpError) => (settled = { err }),
  );
  const peer = (id: string): FakePeer => {
    const p = peers.get(id);
    assert.ok(p !== undefined, `${id} was dialled`);
    return p;
  };
  return {
    peers,
    dialled,
    errors,
    progress,
    peer,
    outcome: async (): Promise<Outcome | undefined> => {
      await settle();
      return settled;
    },
    tick: (ms: number): void => t.mock.timers.tick(ms),
    /** Ends a fetch the test leaves unsettled. */
    stop: async (): Promise<void> => {
      stopper.abort();
      await settle();
    },
  };
}

async function failure(s: { outcome: () => Promise<Outcome | undefined> }): Promise<TorrenttpError> {
  const o = await s.outcome();
  assert.ok(o !== undefined && 'err' in o, `failed: ${JSON.stringify(o)}`);
  return o.err;
}

test('the dict from two peers: pieces spread over both, verified, every connection closed, every address kept', async (t) => {
  const s = start(t, '&dn=m&tr=wss%3A%2F%2Ft.example%2Fa&ws=http%3A%2F%2Fws.example%2Fm&x.pe=10.0.0.1:6881&x.pe=10.0.0.2:6881', {
    peers: ['10.0.0.3:6881', '10.0.0.1:6881', SELF],
  });
  assert.deepEqual(s.dialled, ['10.0.0.1:6881', '10.0.0.2:6881', '10.0.0.3:6881'], 'x.pe first, then the extra peers; each once; never ourselves');
  assert.deepEqual(s.errors, [['wss://t.example/a', 'TRACKER_UNSUPPORTED_URL']], 'a tracker nobody speaks is said');
  const [a, b, c] = ['10.0.0.1:6881', '10.0.0.2:6881', '10.0.0.3:6881'].map(s.peer) as [FakePeer, FakePeer, FakePeer];
  a.ready();
  assert.deepEqual(a.requests, [0, 1], 'two pieces a peer');
  b.ready();
  assert.deepEqual(b.requests, [2, 0], 'the free piece, then endgame');
  a.send(0);
  assert.deepEqual(a.requests, [0, 1, 2], 'a has room again: piece 2 (endgame)');
  a.send(1);
  assert.equal(await s.outcome(), undefined, 'not before the last piece');
  b.send(2);
  const o = await s.outcome();
  assert.ok(o !== undefined && 'ok' in o);
  assert.deepEqual(o.ok.metainfo.infoBytes, dict);
  assert.equal(o.ok.metainfo.infoHash, hash);
  assert.equal(o.ok.metainfo.name, 'm');
  assert.deepEqual(o.ok.metainfo.announceList, [['wss://t.example/a']], "the link's trackers");
  assert.deepEqual(o.ok.metainfo.urlList, ['http://ws.example/m'], "the link's web seeds");
  assert.deepEqual(o.ok.peers, ['10.0.0.1:6881', '10.0.0.2:6881', '10.0.0.3:6881'], 'every address heard of, for the download');
  assert.deepEqual([a.closed, b.closed, c.closed], [true, true, true], 'the metadata connections end first');
  assert.deepEqual(s.progress, [
    { peers: 3, offering: 0, receivedBytes: 0 },
    { peers: 3, offering: 1, receivedBytes: 0, metadataSize: SIZE },
    { peers: 3, offering: 2, receivedBytes: 0, metadataSize: SIZE },
    { peers: 3, offering: 2, receivedBytes: KIB16, metadataSize: SIZE },
    { peers: 3, offering: 2, receivedBytes: 2 * KIB16, metadataSize: SIZE },
  ]);
  b.send(0); // a straggler after the end
  assert.equal(s.progress.length, 5, 'nothing after the end');
});

test('at most maxConnections at once: a closed connection makes room for the next address; its reason is reported', async (t) => {
  const s = start(t, '&x.pe=192.0.2.1:1&x.pe=nonsense&x.pe=192.0.2.2:2', { peers: ['192.0.2.3:3', '192.0.2.4:4'], maxConnections: 2, timeoutMs: 1000 });
  assert.deepEqual(s.dialled, ['192.0.2.1:1', '192.0.2.2:2']);
  assert.deepEqual(s.errors, [['nonsense', 'ENGINE_BAD_PEER_ADDRESS']], 'an address that is no host:port costs only itself');
  assert.deepEqual(s.progress, [{ peers: 2, offering: 0, receivedBytes: 0 }]);
  s.peer('192.0.2.1:1').drop(new TransportError('TRANSPORT_CONNECT_FAILED', { detail: 'refused' }));
  assert.deepEqual(s.dialled, ['192.0.2.1:1', '192.0.2.2:2', '192.0.2.3:3']);
  assert.deepEqual(s.errors.at(-1), ['192.0.2.1:1', 'TRANSPORT_CONNECT_FAILED']);
  s.peer('192.0.2.2:2').drop(); // closed without a reason: nothing to report
  assert.deepEqual(s.dialled, ['192.0.2.1:1', '192.0.2.2:2', '192.0.2.3:3', '192.0.2.4:4']);
  assert.equal(s.errors.length, 2);
  s.peer('192.0.2.3:3').drop(new TransportError('TRANSPORT_CONNECT_FAILED', { detail: 'refused' }));
  s.peer('192.0.2.4:4').drop(new TransportError('TRANSPORT_PEER_CLOSED', { detail: 'bye' }));
  assert.equal(s.dialled.length, 4, 'nobody left to dial');
  await settle();
  assert.deepEqual(
    s.progress,
    [
      { peers: 2, offering: 0, receivedBytes: 0 },
      { peers: 1, offering: 0, receivedBytes: 0 },
      { peers: 0, offering: 0, receivedBytes: 0 },
    ],
    'each change once',
  );
  s.tick(750);
  assert.equal(await s.outcome(), undefined, 'not before the timeout');
  s.tick(250);
  const err = await failure(s);
  assert.equal(err.code, 'ENGINE_METADATA_TIMEOUT');
  assert.equal(err.detail, `${hash} after 1 s: 5 peers heard of (2 × TRANSPORT_CONNECT_FAILED, 1 × TRANSPORT_PEER_CLOSED)`);
  assert.ok(err instanceof EngineError);
  assert.equal(err.name, 'EngineError', 'named by its class');
});

test('one learn takes at most 200 addresses', async (t) => {
  const many = Array.from({ length: 250 }, (_, i) => `198.18.${i >> 8}.${i & 255}:1`);
  const s = start(t, '', { peers: many, maxConnections: 1000 });
  assert.equal(s.dialled.length, 200);
  assert.deepEqual(s.dialled, many.slice(0, 200));
  await s.stop();
});

test('the timeout names what the peers said; by default after 120 s', async (t) => {
  assert.equal(MAGNET_DEFAULTS.timeoutMs, 120_000);
  assert.equal(MAGNET_DEFAULTS.maxConnections, 8);
  const s = start(t, '&x.pe=192.0.2.1:1');
  s.peer('192.0.2.1:1').ready();
  s.tick(119_750);
  assert.equal(await s.outcome(), undefined);
  s.tick(250);
  const err = await failure(s);
  assert.equal(err.code, 'ENGINE_METADATA_TIMEOUT', 'a peer offered the dict: a plain timeout');
  assert.equal(err.detail, `${hash} after 120 s: 1 peer heard of`);
  assert.equal(s.peer('192.0.2.1:1').closed, true);
});

test('eight connections by default', async (t) => {
  const s = start(t, '', { peers: Array.from({ length: 10 }, (_, i) => `198.51.100.${i}:1`) });
  assert.equal(s.dialled.length, 8);
  await s.stop();
});

test('a request unanswered for 10 s is asked again', async (t) => {
  const s = start(t, '&x.pe=192.0.2.1:1');
  const a = s.peer('192.0.2.1:1');
  a.ready();
  assert.deepEqual(a.requests, [0, 1]);
  s.tick(9750);
  assert.deepEqual(a.requests, [0, 1]);
  s.tick(250);
  assert.deepEqual(a.requests, [0, 1, 0, 1]);
  await s.stop();
});

test('offers over the limit cost their peer; with no other offer the fetch fails as too large', async (t) => {
  const s = start(t, '&x.pe=192.0.2.1:1&x.pe=192.0.2.2:2', { maxMetadataBytes: 1000, timeoutMs: 500 });
  const a = s.peer('192.0.2.1:1');
  a.ready(5000);
  assert.equal(a.closed, true);
  assert.equal(a.closeReason?.code, 'ENGINE_METADATA_TOO_LARGE');
  assert.equal(a.closeReason!.detail, '192.0.2.1:1: 5000 bytes (limit 1000)');
  assert.deepEqual(a.requests, []);
  await settle();
  s.tick(500);
  const err = await failure(s);
  assert.equal(err.code, 'ENGINE_METADATA_TOO_LARGE');
  assert.deepEqual(s.errors, [['192.0.2.1:1', 'ENGINE_METADATA_TOO_LARGE']], 'its close is reported like any other');
});

test('an offer too large next to a good one: the timeout is a plain one', async (t) => {
  const s = start(t, '&x.pe=192.0.2.1:1&x.pe=192.0.2.2:2', { maxMetadataBytes: SIZE, timeoutMs: 500 });
  s.peer('192.0.2.1:1').ready(SIZE + 1);
  s.peer('192.0.2.2:2').ready(SIZE);
  s.tick(500);
  assert.equal((await failure(s)).code, 'ENGINE_METADATA_TIMEOUT');
});

test('a liar: its pieces fail the hash, it is closed, and the honest peer is asked everything again', async (t) => {
  const bad = dict.slice();
  bad[100]! ^= 0xff;
  const s = start(t, '&x.pe=192.0.2.1:1&x.pe=192.0.2.2:2', { maxRequestsPerPeer: 3 });
  const [liar, honest] = [s.peer('192.0.2.1:1'), s.peer('192.0.2.2:2')];
  liar.ready();
  honest.ready();
  assert.deepEqual(honest.requests, [0, 1, 2], 'endgame from the start');
  for (const i of [0, 1, 2]) liar.send(i, bad);
  assert.equal(liar.closeReason?.code, 'ENGINE_METADATA_HASH_MISMATCH');
  assert.equal(liar.closeReason!.detail, `192.0.2.1:1 sent pieces of a dict that does not hash to ${hash}`);
  assert.equal(honest.closed, false);
  assert.deepEqual(honest.requests, [0, 1, 2, 0, 1, 2], 'asked again at once');
  for (const i of [0, 1, 2]) honest.send(i);
  const o = await s.outcome();
  assert.ok(o !== undefined && 'ok' in o);
  assert.deepEqual(o.ok.metainfo.infoBytes, dict);
});

test('only liars: the fetch fails with a hash mismatch', async (t) => {
  const bad = dict.slice();
  bad[0]! ^= 1;
  const s = start(t, '&x.pe=192.0.2.1:1', { maxRequestsPerPeer: 3, timeoutMs: 250 });
  const liar = s.peer('192.0.2.1:1');
  liar.ready();
  for (const i of [0, 1, 2]) liar.send(i, bad);
  s.tick(250);
  assert.equal((await failure(s)).code, 'ENGINE_METADATA_HASH_MISMATCH');
});

test('every peer that has the dict refuses it: the fetch fails at the next tick, once nobody is left to dial', async (t) => {
  const s = start(t, '&x.pe=192.0.2.1:1&x.pe=192.0.2.2:2', { maxConnections: 1 });
  const a = s.peer('192.0.2.1:1');
  a.ready();
  a.reject(0);
  assert.deepEqual(a.requests, [0, 1], 'never asked again');
  s.tick(1000);
  assert.equal(await s.outcome(), undefined, '192.0.2.2 is still to be dialled');
  a.drop();
  await new Promise((r) => setImmediate(r));
  const b = s.peer('192.0.2.2:2');
  b.ready();
  b.reject(1);
  assert.equal(await s.outcome(), undefined, 'not before the tick');
  s.tick(250);
  const err = await failure(s);
  assert.equal(err.code, 'ENGINE_METADATA_REJECTED');
  assert.equal(err.detail, `${hash}: every peer that has it refused to send it`);
});

test('a reject frees the piece for the other peers', async (t) => {
  const s = start(t, '&x.pe=192.0.2.1:1&x.pe=192.0.2.2:2');
  const [a, b] = [s.peer('192.0.2.1:1'), s.peer('192.0.2.2:2')];
  a.ready();
  b.ready();
  assert.deepEqual(b.requests, [2, 0]);
  a.reject(1);
  assert.deepEqual(b.requests, [2, 0], 'b is full');
  b.send(2);
  assert.deepEqual(b.requests, [2, 0, 1], 'piece 1 is free again');
  await s.stop();
});

test('a closed peer frees its pieces for the others', async (t) => {
  const s = start(t, '&x.pe=192.0.2.1:1&x.pe=192.0.2.2:2&x.pe=192.0.2.3:3', { maxRequestsPerPeer: 1 });
  const [a, b, c] = [s.peer('192.0.2.1:1'), s.peer('192.0.2.2:2'), s.peer('192.0.2.3:3')];
  a.ready();
  b.ready();
  c.ready();
  assert.deepEqual([a.requests, b.requests, c.requests], [[0], [1], [2]]);
  c.send(2);
  assert.deepEqual(c.requests, [2, 0], 'endgame: 0, asked of a too');
  b.send(1);
  assert.deepEqual(b.requests, [1], 'piece 0 is asked of two peers already');
  a.drop();
  assert.deepEqual(b.requests, [1, 0], "a's request is freed: b may have it");
  b.send(0);
  const o = await s.outcome();
  assert.ok(o !== undefined && 'ok' in o);
});

test('a dict that hashes right but is no info dict fails the fetch with a typed error', async (t) => {
  const junk = bytes(100, 4);
  const junkHash = createHash('sha1').update(junk).digest('hex');
  t.mock.timers.enable({ apis: ['setInterval', 'Date'] });
  let peer: FakePeer | undefined;
  const p = fetchMetadata(parseMagnet(`magnet:?xt=urn:btih:${junkHash}&x.pe=192.0.2.1:1`), {
    peerId: PEER_ID,
    listenPort: 1,
    isSelf: () => false,
    splitHostPort,
    connect: (host, port, o) => (peer = new FakePeer(`${host}:${port}`, o)),
  });
  peer!.ready(100);
  assert.deepEqual(peer!.requests, [0]);
  peer!.opts.onEvent({ type: 'piece', piece: 0, data: junk });
  const err = await p.then(
    () => assert.fail('resolved'),
    (e: TorrenttpError) => e,
  );
  assert.match(err.code, /^(BENCODE|METAINFO)_/);
  assert.equal(peer!.closed, true);
});

test('aborted before the start: nothing is dialled', async (t) => {
  const ac = new AbortController();
  ac.abort(new Error('no'));
  const s = start(t, '&x.pe=192.0.2.1:1', { signal: ac.signal });
  const err = await failure(s);
  assert.equal(err.code, 'ENGINE_CLOSED');
  assert.deepEqual(s.dialled, []);
});

test('aborted while fetching: every connection closed, the abort reason kept, later events ignored', async (t) => {
  const ac = new AbortController();
  const s = start(t, '&x.pe=192.0.2.1:1&x.pe=192.0.2.2:2', { signal: ac.signal });
  const a = s.peer('192.0.2.1:1');
  a.ready();
  const why = new Error('user');
  ac.abort(why);
  const err = await failure(s);
  assert.equal(err.code, 'ENGINE_CLOSED');
  assert.equal(err.cause, why);
  assert.equal(err.detail, 'metadata fetch aborted');
  assert.deepEqual([a.closed, s.peer('192.0.2.2:2').closed], [true, true]);
  const progressed = s.progress.length;
  s.peer('192.0.2.2:2').ready();
  assert.deepEqual(s.peer('192.0.2.2:2').requests, [], 'a late offer is not asked');
  assert.equal(s.progress.length, progressed);
});

test('an abort after the end changes nothing', async (t) => {
  const ac = new AbortController();
  const s = start(t, '&x.pe=192.0.2.1:1', { signal: ac.signal, maxRequestsPerPeer: 3 });
  const a = s.peer('192.0.2.1:1');
  a.ready();
  for (const i of [0, 1, 2]) a.send(i);
  ac.abort();
  const o = await s.outcome();
  assert.ok(o !== undefined && 'ok' in o, 'resolved, not rejected');
});

test('trackers: false leaves the link’s trackers alone', async (t) => {
  const s = start(t, '&tr=wss%3A%2F%2Ft.example%2Fa', { trackers: false });
  assert.deepEqual(s.errors, []);
  await s.stop();
});

test('the DHT: tracked until the end, its peers dialled, looked up again every 15 s while nobody offers the dict', async (t) => {
  const dht = new FakeDht();
  const s = start(t, '&x.pe=192.0.2.1:1', { maxRequestsPerPeer: 3, timeoutMs: 600_000 }, dht);
  assert.deepEqual(dht.tracked, [infoHashToBytes(hash)]);
  dht.onPeers!([
    { ip: '203.0.113.1', port: 4 },
    { ip: '192.0.2.1', port: 1 },
    { ip: '2001:db8::5', port: 5 },
  ]);
  assert.deepEqual(s.dialled, ['192.0.2.1:1', '203.0.113.1:4', '[2001:db8::5]:5'], 'new addresses only');
  s.tick(14_750);
  assert.equal(dht.lookups.length, 0);
  s.tick(250);
  assert.equal(dht.lookups.length, 1, 'nobody offered in 15 s: asked again');
  dht.lookups[0]!.onPeers!([{ ip: '203.0.113.2', port: 4 }]);
  assert.equal(s.dialled.at(-1), '203.0.113.2:4');
  s.tick(30_000);
  assert.equal(dht.lookups.length, 1, 'not while one is under way');
  dht.lookups[0]!.resolve();
  await settle();
  s.tick(250);
  assert.equal(dht.lookups.length, 2, 'due since long');
  dht.lookups[1]!.reject(new Error('dht down'));
  await settle();
  s.tick(14_750);
  assert.equal(dht.lookups.length, 2);
  s.tick(250);
  assert.equal(dht.lookups.length, 3, 'a failed lookup is retried 15 s later');
  dht.lookups[2]!.resolve();
  await settle();
  const a = s.peer('192.0.2.1:1');
  a.ready();
  s.tick(60_000);
  assert.equal(dht.lookups.length, 3, 'someone offers the dict: no more lookups');
  assert.equal(dht.untracked, 0);
  for (const i of [0, 1, 2]) a.send(i);
  assert.ok((await s.outcome()) !== undefined);
  assert.equal(dht.untracked, 1, 'untracked at the end');
  dht.onPeers!([{ ip: '203.0.113.9', port: 4 }]);
  assert.ok(!s.dialled.includes('203.0.113.9:4'), 'no dial after the end');
});

test('a reject is passed on at once to a peer with room', async (t) => {
  const s = start(t, ['1', '2', '3', '4', '5', '6', '7'].map((n) => `&x.pe=192.0.2.${n}:1`).join(''), { maxRequestsPerPeer: 1 });
  const ps = s.dialled.map(s.peer);
  for (const p of ps) p.ready();
  assert.deepEqual(
    ps.map((p) => p.requests),
    [[0], [1], [2], [0], [1], [2], []],
    'every piece asked twice: the seventh peer waits',
  );
  ps[0]!.reject(0);
  assert.deepEqual(ps[6]!.requests, [0]);
  await s.stop();
});

test('the timer ends with the fetch: no DHT lookup after an abort', async (t) => {
  const dht = new FakeDht();
  const ac = new AbortController();
  const s = start(t, '', { signal: ac.signal }, dht);
  s.tick(14_000);
  ac.abort();
  assert.equal((await failure(s)).code, 'ENGINE_CLOSED');
  assert.equal(dht.untracked, 1);
  s.tick(60_000);
  assert.equal(dht.lookups.length, 0);
});

test('no DHT node: a fetch nobody answers just times out', async (t) => {
  const s = start(t, '&x.pe=192.0.2.1:1', { timeoutMs: 30_000 });
  s.tick(30_000);
  const err = await failure(s);
  assert.equal(err.code, 'ENGINE_METADATA_TIMEOUT');
  assert.equal(err.detail, `${hash} after 30 s: 1 peer heard of`);
});

test('a liar next to a peer that offered another size: after the mismatch that size is fetched, and the timeout is a plain one', async (t) => {
  const bad = dict.slice();
  bad[0]! ^= 1;
  const s = start(t, '&x.pe=192.0.2.1:1&x.pe=192.0.2.2:2', { maxRequestsPerPeer: 3, timeoutMs: 1000 });
  const [liar, other] = [s.peer('192.0.2.1:1'), s.peer('192.0.2.2:2')];
  liar.ready();
  other.ready(SIZE + 5);
  assert.deepEqual(other.requests, [], 'another size: waits aside');
  for (const i of [0, 1, 2]) liar.send(i, bad);
  assert.deepEqual(other.requests, [0, 1, 2], 'its size now');
  s.tick(1000);
  assert.equal((await failure(s)).code, 'ENGINE_METADATA_TIMEOUT');
});

test('a sender that already left is among the suspects: the others are closed all the same', async (t) => {
  const bad = dict.slice();
  bad[0]! ^= 1;
  const s = start(t, '&x.pe=192.0.2.1:1&x.pe=192.0.2.2:2', { maxRequestsPerPeer: 3 });
  const [a, b] = [s.peer('192.0.2.1:1'), s.peer('192.0.2.2:2')];
  a.ready();
  b.ready();
  a.send(0, bad);
  a.drop();
  b.send(1);
  b.send(2);
  assert.equal(b.closeReason?.code, 'ENGINE_METADATA_HASH_MISMATCH');
  await s.stop();
});

test('without callbacks: peer failures and bad addresses are dropped quietly', async (t) => {
  const s = start(t, '&x.pe=nonsense&x.pe=192.0.2.1:1&tr=wss%3A%2F%2Ft.example%2Fa', { onPeerError: undefined, onProgress: undefined, timeoutMs: 500 });
  s.peer('192.0.2.1:1').drop(new TransportError('TRANSPORT_CONNECT_FAILED', { detail: 'refused' }));
  s.tick(500);
  const err = await failure(s);
  assert.equal(err.detail, `${hash} after 1 s: 2 peers heard of (1 × TRANSPORT_CONNECT_FAILED)`);
  assert.deepEqual(s.errors, []);
});

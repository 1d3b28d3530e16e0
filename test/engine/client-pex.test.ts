/**
 * Peer exchange between three torrenttp Clients on loopback, no tracker, no DHT: a seed S, a
 * leecher A given S, a leecher B given only A. A tells B of S (BEP 11), B dials S and completes.
 * For a private torrent, or with `pex: false`, nobody offers ut_pex and B never hears of S.
 *
 * Fault injected once: the engine's first message left empty (pex.ts `added.push` skipped):
 * "B to dial S…" times out.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type ClientOptions } from '../../src/engine/index.js';
import type { PeerLink } from '../../src/transport/index.js';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';

const PIECE = 64 * 1024;
const data = bytes(32 * PIECE, 21);

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** S seeding (slowly: nobody is done before B hears of it), A given S and connected to it, B given A; B's links as they come. */
async function swarm(t: TestContext, dir: string, isPrivate: boolean, bOpts: ClientOptions = {}) {
  const torrent = torrentBytes({ name: 'p.bin', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE), ...(isPrivate ? { private: 1 } : {}) });
  mkdirSync(join(dir, 's'), { recursive: true });
  writeFileSync(join(dir, 's', 'p.bin'), data);
  const client = (o: ClientOptions = {}): Client => {
    const c = new Client({ host: '127.0.0.1', ...o });
    t.after(() => c.close());
    return c;
  };
  const s = client({ uploadLimit: 256 * 1024 });
  const seed = await s.add(torrent, { path: join(dir, 's'), trackers: false });
  const a = client();
  const aLinks: PeerLink[] = [];
  a.on('torrent', (tor) => tor.on('peer', (l) => aLinks.push(l)));
  await a.add(torrent, { path: join(dir, 'a'), trackers: false, peers: [`127.0.0.1:${s.port}`] });
  await until('A to connect to S', () => seed.peerCount === 1);
  const b = client(bOpts);
  const bLinks: PeerLink[] = [];
  b.on('torrent', (tor) => tor.on('peer', (l) => bLinks.push(l)));
  const leech = await b.add(torrent, { path: join(dir, 'b'), trackers: false, peers: [`127.0.0.1:${a.port}`] });
  return { s, a, b, seed, leech, aLinks, bLinks, sAddress: `127.0.0.1:${s.port}` };
}

test('B, given only A, learns S through A and completes from both', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const w = await swarm(t, dir, false);
    await until('B to dial S, learned through peer exchange', () => w.bLinks.some((l) => l.id === w.sAddress));
    const st = w.leech.stats();
    assert.deepEqual({ pex: st.peersBySource.pex, given: st.peersBySource.given }, { pex: 1, given: 1 });
    assert.ok(st.pex !== undefined && st.pex.received >= 1 && st.pex.learned >= 1, JSON.stringify(st.pex));
    await w.leech.done;
    assert.deepEqual(readFileSync(join(dir, 'b', 'p.bin')), Buffer.from(data));
  }));

test('a private torrent (BEP 27), or pex: false, offers no ut_pex: B never hears of S', { timeout: 60_000 }, async (t) => {
  for (const [what, isPrivate, bOpts] of [
    ['private', true, {}],
    ['pex: false', false, { pex: false }],
  ] as const) {
    await t.test(what, (tt) =>
      withTempDir(tt, async (dir) => {
        const w = await swarm(tt, dir, isPrivate, bOpts);
        // A's link from B has B's BEP 10 handshake once it knows B's listen port (`p`).
        const fromB = (): PeerLink | undefined => w.aLinks.find((l) => l.address?.dialled === false && l.address.listenPort === w.b.port);
        await until("A to read B's extension handshake", () => fromB() !== undefined);
        assert.equal(fromB()!.exchangesPeers, false, 'no ut_pex between A and B');
        const toA = w.bLinks.find((l) => l.id === `127.0.0.1:${w.a.port}`);
        assert.equal(toA?.exchangesPeers, false);
        assert.equal(w.leech.stats().pex, undefined);
        assert.equal(w.leech.exchangesPeers, false);
        assert.ok(!w.bLinks.some((l) => l.id === w.sAddress));
      }),
    );
  }
});

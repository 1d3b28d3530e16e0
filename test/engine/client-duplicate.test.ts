/**
 * Two torrenttp Clients on loopback that dial each other at once (as serve's seed dials every
 * get that announces while the get dials the seed): each pair of peers keeps one connection.
 * Both ends close the same one (the connection the lower peer id dialled stays), the closed
 * address is not dialled again while the kept connection lives, and the download completes.
 *
 * Fault injected once: the duplicate check skipped in `Torrent`'s attach (`twin` always
 * undefined): "each end keeps one connection…" times out waiting for a duplicate closed.
 * Each end is asked to keep one connection, not to find the duplicate itself: the end that sees
 * both first closes one, and the other may see that close before its second handshake ends
 * (RC4 on the cipher thread made that order common).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import type { PeerLink } from '../../src/transport/index.js';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';

const PIECE = 64 * 1024;
const data = bytes(32 * PIECE, 33);

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const [what, seedId, leechId] of [
  ['the seed has the lower peer id', 0x11, 0x22],
  ['the leecher has the lower peer id', 0x22, 0x11],
] as const) {
  test(`each end keeps one connection when both dial each other, the same one, and the download completes (${what})`, { timeout: 60_000 }, (t) =>
    withTempDir(t, async (dir) => {
      const torrent = torrentBytes({ name: 'd.bin', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) });
      mkdirSync(join(dir, 's'), { recursive: true });
      writeFileSync(join(dir, 's', 'd.bin'), data);
      const peerId = (b: number) => new Uint8Array(20).fill(b);
      // The seed uploads slowly, so both connections are up long before the download ends.
      const s = new Client({ host: '127.0.0.1', peerId: peerId(seedId), uploadLimit: 512 * 1024 });
      const l = new Client({ host: '127.0.0.1', peerId: peerId(leechId) });
      t.after(() => Promise.all([s.close(), l.close()]));
      const seed = await s.add(torrent, { path: join(dir, 's'), trackers: false });
      const leech = await l.add(torrent, { path: join(dir, 'l'), trackers: false });
      const links = { s: [] as PeerLink[], l: [] as PeerLink[] };
      const closed = { s: new Map<PeerLink, string | undefined>(), l: new Map<PeerLink, string | undefined>() };
      for (const [k, tor] of [['s', seed], ['l', leech]] as const) {
        tor.on('peer', (link: PeerLink) => links[k].push(link));
        tor.on('peerClosed', (link: PeerLink, reason?: { code: string }) => closed[k].set(link, reason?.code));
      }
      s.introduce(seed.infoHash, `127.0.0.1:${l.port}`);
      l.introduce(leech.infoHash, `127.0.0.1:${s.port}`);
      // The end that sees both connections first closes one as a duplicate; the other end may see
      // that close before its own second handshake ends (then that connection never reaches its
      // engine, or reaches it closed already): each end is asked to keep one, the same one.
      const dup = () => [...closed.s.values(), ...closed.l.values()].includes('ENGINE_DUPLICATE_PEER');
      const open = (k: 's' | 'l') => links[k].filter((x) => !closed[k].has(x));
      await until('a duplicate closed and one connection open at each end', () => dup() && open('s').length === 1 && open('l').length === 1 && (links.s.length === 2 || links.l.length === 2));
      await new Promise((r) => setTimeout(r, 200)); // anything more would show now
      assert.equal(seed.peerCount, 1, 'the seed keeps one connection to the leecher');
      assert.equal(leech.peerCount, 1, 'the leecher keeps one connection to the seed');
      assert.ok(links.s.length <= 2 && links.l.length <= 2, 'no third connection');
      const reasons = [...closed.s.values(), ...closed.l.values()];
      assert.ok(reasons.every((r) => r === 'ENGINE_DUPLICATE_PEER' || r === 'TRANSPORT_PEER_CLOSED'), `nothing else was closed (${reasons.join(', ')})`);
      // The same TCP connection at both ends: the one the lower id dialled.
      const keptS = open('s')[0]!;
      const keptL = open('l')[0]!;
      const seedDialled = seedId < leechId;
      assert.equal(keptS.address?.dialled, seedDialled, 'the seed kept the connection the lower id dialled');
      assert.equal(keptL.address?.dialled, !seedDialled, 'the leecher kept the same connection');
      // The end whose dial was closed does not dial that address again while the kept one lives.
      if (seedDialled) assert.equal(leech.accepts(`127.0.0.1:${s.port}`), false, "the leecher's closed dial is not retried");
      else assert.equal(seed.accepts(`127.0.0.1:${l.port}`), false, "the seed's closed dial is not retried");
      await leech.done;
      assert.deepEqual(readFileSync(join(dir, 'l', 'd.bin')), Buffer.from(data));
    }));
}

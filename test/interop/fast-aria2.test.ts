/**
 * BEP 6 (fast extension) with a real peer choking us mid-transfer: aria2c seeds with its upload
 * limited (100 KB/s, so requests stay outstanding) to six wire links of ours, which keep 16
 * requests each outstanding. aria2 unchokes four at a time and re-ranks every 10 s, so one of them
 * is soon choked with requests outstanding. Every request outstanding at that choke ends at
 * once: outside the allowed-fast pieces the link rejects it with the choke, inside them aria2
 * sends the block or its `reject`. The request timeout is 60 s, so nothing here is freed by a
 * timer. (Asking only outside the allowed-fast set, to make every request one the choke ends,
 * was tried: requests sent as aria2's first unchoke was delivered came back rejected at once, not
 * understood in the time there was.) (Transmission 3.00 cannot be made to choke one peer here: with its upload limit at 0
 * it just stops sending, and a lone loopback peer keeps its slot.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTorrent } from '../../src/metainfo/index.js';
import type { WirePeerLink } from '../../src/transport/index.js';
import { connectWirePeer } from '../../src/transport/index.js';
import { supportsFastExtension } from '../../src/wire/index.js';
import { until } from '../helpers/processes.js';
import { ariaSeed } from '../helpers/swarm.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { allBlocks, peerId, Recorder, wireTorrent } from '../transport/helpers.js';

const LINKS = 6;
const DEPTH = 16;

test('BEP 6 with aria2: a choke during a transfer frees every outstanding request at once (locally, or by its reject for an allowed-fast piece), none waits for the 60 s timeout', { timeout: 150_000 }, (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, 'seed'));
    writeFileSync(join(dir, 'seed', 'payload.bin'), bytes(8 * 1024 * 1024, 41));
    const { torrent, metainfo } = await createTorrent(join(dir, 'seed', 'payload.bin'), { pieceLength: 256 * 1024, creationDate: null });
    writeFileSync(join(dir, 'x.torrent'), torrent);
    const seed = await ariaSeed(t, join(dir, 'x.torrent'), join(dir, 'seed'), ['--max-upload-limit=100K']);

    const blocks = allBlocks(metainfo);
    let next = 0;
    interface Peer { readonly link: WirePeerLink; readonly rec: Recorder; requested: number }
    const ended = (p: Peer, upTo = p.rec.events.length) => p.rec.events.slice(0, upTo).filter((e) => e.type === 'block' || e.type === 'rejected').length;
    let hit: { peer: Peer; at: number; outstanding: number; when: number } | undefined;
    const peers: Peer[] = [];
    // Keep DEPTH outstanding while interested and unchoked; nothing new once choked (a request then is refused at once).
    const topUp = (p: Peer): void => {
      if (!p.link.amInterested || p.link.peerChoking || hit?.peer === p) return;
      while (p.requested - ended(p) < DEPTH && next < blocks.length) {
        p.link.request(blocks[next++]!);
        p.requested++;
      }
    };
    for (let i = 0; i < LINKS; i++) {
      const rec = new Recorder();
      const link = await connectWirePeer('127.0.0.1', seed.port, wireTorrent(metainfo, false), { peerId: peerId(`fast-${i}`), onEvent: rec.handler, requestTimeoutMs: 60_000 });
      t.after(() => link.close());
      const p: Peer = { link, rec, requested: 0 };
      peers.push(p);
      rec.on((e) => {
        if (e.type === 'choke' && hit === undefined && hit !== null) {
          const at = rec.events.length - 1;
          const outstanding = p.requested - ended(p, at);
          if (outstanding > 0) hit = { peer: p, at, outstanding, when: Date.now() };
        }
        if (e.type === 'unchoke' || e.type === 'block') topUp(p);
      });
      assert.ok(supportsFastExtension(link.handshake.reserved), 'aria2 speaks BEP 6');
    }
    for (const p of peers) {
      p.link.setInterested(true);
      topUp(p); // aria2 may have unchoked it already
    }
    const tally = () => peers.map((p, i) => `${i}: ${p.rec.events.filter((e) => e.type !== 'bytes').map((e) => e.type[0]! + e.type[1]!).join('').replace(/(bl)+/g, 'B').replace(/(re)+/g, 'R')}, requested ${p.requested}`).join('\n');
    await until('aria2 to choke a link with requests outstanding', () => hit !== undefined, 100_000).catch((e: Error) => assert.fail(`${e.message}\n${tally()}`));
    const { peer, at, outstanding, when } = hit!;
    // A condition, not a clock: every request ends; the bound only keeps a broken run from waiting on the 60 s timeout.
    await until('every request outstanding at the choke to end', () => ended(peer) === peer.requested, 20_000, seed.proc);
    const freedIn = Date.now() - when;
    const after = peer.rec.events.slice(at + 1);
    const allowed = peer.link.allowedFast ?? new Set<number>();
    const locally = after.filter((e) => e.type === 'rejected' && !allowed.has(e.req.index)).length;
    t.diagnostic(`${outstanding} outstanding at the choke: ${locally} rejected by the link (outside allowed-fast pieces), ${peer.link.stats().rejectedByPeer} by aria2's reject, ${after.filter((e) => e.type === 'block').length} blocks after it (allowed fast: ${[...allowed].join(',') || 'none'}), all ended within ${freedIn} ms`);
    assert.ok(freedIn < 20_000, 'freed by the protocol, not by the 60 s request timeout');
    assert.equal(peer.link.snubbed, false, 'no request timed out');
    assert.equal(peer.rec.of('closed').length, 0, 'the link stays up');
  }));

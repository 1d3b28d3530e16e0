/**
 * BEP 11 with aria2 in the swarm: a torrenttp seed S is in our tracker's swarm; an aria2c
 * leecher A (`--enable-peer-exchange=true`, DHT and LPD off) learns S from the tracker and dials
 * it; a torrenttp leecher B knows only A (no tracker, no DHT) and learns S through A's ut_pex
 * message, dials it and completes byte-identical.
 *
 * What aria2 1.36 passes on (seen in its debug log): only peers it dialled within the last minute,
 * and never one at the IP address of the peer it tells. On loopback every peer is 127.0.0.1, so
 * S listens on 127.0.0.2 and is announced there by hand (the tracker trusts `ip=`), and S has no
 * tracker itself: it would dial aria2 first, and a peer that dialled aria2 is never passed on.
 *
 * The other way: a torrenttp peer A, connected to S, is all aria2 hears of from the tracker; A's
 * first ut_pex message names S, and aria2 dials S (its peer id, `A2-…`, shows up at S).
 *
 * Faults injected once: the Client not queueing what peer exchange learned (`discovered` not
 * listened to): "B to dial S…" times out; A with `pex: false`: "aria2 to dial S…" times out.
 * aria2c and mktorrent are required (.ci/run).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { infoHashToBytes } from '../../src/metainfo/index.js';
import { percentEncode, TrackerServer } from '../../src/tracker/index.js';
import type { PeerLink, WirePeerLink } from '../../src/transport/index.js';
import { freePort, requireTool, run, until } from '../helpers/processes.js';
import { ARIA_QUIET } from '../helpers/swarm.js';
import { withTempDir } from '../helpers/torrents.js';

const TIMEOUT = { timeout: 120_000 };
const PAYLOAD = 4 * 1024 * 1024;

/**
 * Both cases' start: a 4 MiB payload in `seed/`, our tracker (`trustIp`: S is announced by hand
 * at 127.0.0.2, see above) and mktorrent's torrent of the payload announcing to it.
 */
async function pexSwarm(t: TestContext, dir: string) {
  requireTool('aria2c', ['--version']);
  requireTool('mktorrent', ['-v']);
  const seedDir = join(dir, 'seed');
  mkdirSync(seedDir, { recursive: true });
  const payload = randomBytes(PAYLOAD);
  writeFileSync(join(seedDir, 'payload.bin'), payload);
  const tracker = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 60, trustIp: true });
  const { port: trackerPort } = await tracker.listen();
  t.after(() => tracker.close());
  const torrent = join(dir, 'x.torrent');
  const mk = spawnSync('mktorrent', ['-l', '18', '-d', '-a', `http://127.0.0.1:${trackerPort}/announce`, '-n', 'payload.bin', '-o', torrent, join(seedDir, 'payload.bin')], { encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  return { seedDir, payload, trackerPort, torrent, torrentBytes: readFileSync(torrent) };
}

test('a torrenttp leecher that knows only an aria2 peer learns the seed through its ut_pex and completes', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { seedDir, payload, trackerPort, torrent, torrentBytes } = await pexSwarm(t, dir);

    // S: no tracker of its own (it would dial aria2 first); slow enough (1 MiB/s) that nobody is
    // done before B has heard of it.
    const s = new Client({ host: '127.0.0.2', uploadLimit: 1024 * 1024 });
    t.after(() => s.close());
    const seed = await s.add(torrentBytes, { path: seedDir, trackers: false });
    assert.ok(seed.complete);
    const sAddress = `127.0.0.2:${s.port}`;
    const q = `info_hash=${percentEncode(infoHashToBytes(seed.metainfo.infoHash))}&peer_id=-TT0010-pexpexpexpex&port=${s.port}&ip=127.0.0.2&uploaded=0&downloaded=0&left=0&compact=1&event=started`;
    const res = await fetch(`http://127.0.0.1:${trackerPort}/announce?${q}`);
    assert.equal(res.status, 200, await res.text());

    // A: aria2 with peer exchange on (after ARIA_QUIET, which turns it off: the later flag wins).
    const aPort = await freePort();
    const aria = run(t, 'aria2c', [...ARIA_QUIET, '--enable-peer-exchange=true', '--no-conf=true', `--dir=${join(dir, 'aria')}`, '--seed-ratio=0.0', `--listen-port=${aPort}`, torrent]);
    await until('aria2c to connect to the seed', () => seed.peerCount >= 1, 20_000, aria);

    // B: no tracker, no DHT, only A.
    const b = new Client({ host: '127.0.0.1' });
    t.after(() => b.close());
    const bDir = join(dir, 'b');
    const seen: PeerLink[] = [];
    b.on('torrent', (tor) => tor.on('peer', (link) => seen.push(link)));
    const leech = await b.add(torrentBytes, { path: bDir, trackers: false, peers: [`127.0.0.1:${aPort}`] });
    assert.equal(leech.exchangesPeers, true);
    await until('B to dial S, learned from aria2 through peer exchange', () => seen.some((l) => l.id === sAddress), 30_000, aria);
    const st = leech.stats();
    assert.ok((st.pex?.received ?? 0) >= 1, `B honoured a ut_pex message: ${JSON.stringify(st.pex)}`);
    assert.ok((st.pex?.learned ?? 0) >= 1);
    assert.equal(st.peersBySource.pex, 1, `S came from peer exchange: ${JSON.stringify(st.peersBySource)}`);
    assert.equal(st.peersBySource.given, 1, 'A was given');

    await Promise.race([leech.done, new Promise((_, reject) => setTimeout(() => reject(new Error(`B not done in 60 s; aria2c:\n${aria.output.slice(-2000)}`)), 60_000).unref())]);
    assert.deepEqual(readFileSync(join(bDir, 'payload.bin')), Buffer.from(payload));
  }));

test('the other way: aria2, told only of a torrenttp peer, learns the seed from our ut_pex and dials it', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { seedDir, trackerPort, torrent, torrentBytes } = await pexSwarm(t, dir);

    // S at 127.0.0.2 (aria2 would not dial a peer at the IP of the peer that told it), no tracker.
    const s = new Client({ host: '127.0.0.2', uploadLimit: 1024 * 1024 });
    t.after(() => s.close());
    const seed = await s.add(torrentBytes, { path: seedDir, trackers: false });
    const sLinks: PeerLink[] = [];
    seed.on('peer', (l) => sLinks.push(l));
    // A: torrenttp, given S, no tracker; in the tracker's swarm by hand, so aria2 hears of A only.
    const a = new Client({ host: '127.0.0.1' });
    t.after(() => a.close());
    const leech = await a.add(torrentBytes, { path: join(dir, 'a'), trackers: false, peers: [`127.0.0.2:${s.port}`] });
    await until('A to connect to S', () => seed.peerCount === 1, 10_000);
    const q = `info_hash=${percentEncode(infoHashToBytes(leech.metainfo.infoHash))}&peer_id=-TT0010-pexpexpexpex&port=${a.port}&ip=127.0.0.1&uploaded=0&downloaded=0&left=${PAYLOAD}&compact=1&event=started`;
    const res = await fetch(`http://127.0.0.1:${trackerPort}/announce?${q}`);
    assert.equal(res.status, 200, await res.text());

    const aria = run(t, 'aria2c', [...ARIA_QUIET, '--enable-peer-exchange=true', '--no-conf=true', `--dir=${join(dir, 'aria')}`, '--seed-ratio=0.0', `--listen-port=${await freePort()}`, torrent]);
    const fromAria = (): boolean => sLinks.some((l) => new TextDecoder().decode((l as WirePeerLink).handshake.peerId.subarray(0, 3)) === 'A2-');
    await until('aria2 to dial S, which it heard of only from our ut_pex', fromAria, 30_000, aria);
    assert.ok((leech.stats().pex?.sent ?? 0) >= 1);
  }));

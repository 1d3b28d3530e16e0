/**
 * Interop: our `Client` moves a torrent to and from a real Transmission 3.00 daemon (Debian
 * packages `transmission-daemon` and `transmission-cli`, installed by .ci/run), all on 127.0.0.1.
 *
 * Transmission drops loopback peers it hears of from trackers and has no RPC call to add a peer,
 * so in both directions our side dials Transmission's peer port (/work/shared/PEERS.md). Each
 * test gets a fresh config dir (Transmission keeps known peers and resume state there) with DHT,
 * LPD, uTP and PEX off. Transmission sends `interested` and unchokes only on its 10-second
 * rechoke pulse, so a transfer starts about 10 s in: the payload is kept small.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type Torrent } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { requireTool, until } from '../helpers/processes.js';
import { percentDone, startTransmission, stop } from '../helpers/transmission.js';
import { bytes, sha1Hex } from '../helpers/torrents.js';

const PAYLOAD_BYTES = 12 * 1024 * 1024 + 12_345; // a short last piece too
const PIECE_LENGTH = 256 * 1024;
const TRANSFER_TIMEOUT_MS = 60_000;

/** Our side of the story for failure messages: connections, closes with their reasons, warnings. */
function recordPeers(client: Client, torrent: Torrent): string[] {
  const t0 = performance.now();
  const events: string[] = [];
  const at = (): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  client.on('warning', (m) => events.push(`${at()} warning ${m}`));
  torrent.on('peer', (l) => events.push(`${at()} connected ${l.id}`));
  torrent.on('peerClosed', (l, r) => events.push(`${at()} closed ${l.id}: ${r?.code ?? ''} ${r?.message ?? ''} (its pieces ${l.bitfield.count}, canUpload ${l.canUpload}, listen ${l.address?.listenPort})`));
  return events;
}

function tempRoot(name: string): string {
  return mkdtempSync(join(tmpdir(), `torrenttp-transmission-${name}-`));
}

/** A payload file under `dir/name` and its torrent (no trackers: peers are dialled by hand). */
async function makeTorrent(dir: string): Promise<{ payload: Uint8Array; torrentPath: string; torrent: Uint8Array }> {
  const payload = bytes(PAYLOAD_BYTES, 7);
  writeFileSync(join(dir, 'payload.bin'), payload);
  const { torrent } = await createTorrent(join(dir, 'payload.bin'), { pieceLength: PIECE_LENGTH, creationDate: null });
  const torrentPath = join(dir, 'payload.torrent');
  writeFileSync(torrentPath, torrent);
  return { payload, torrentPath, torrent };
}

test('torrenttp seed → Transmission leech (we dial its peer port)', { timeout: 90_000 }, async (t) => {
  requireTool('transmission-daemon', ['--version']);
  requireTool('transmission-remote', ['--version']);
  const root = tempRoot('leech');
  const seedDir = join(root, 'seed');
  mkdirSync(seedDir);
  const { payload, torrentPath, torrent } = await makeTorrent(seedDir);
  const tr = await startTransmission(t, root);
  const client = new Client({ port: 0, host: '127.0.0.1', allowLoopbackPeers: true });
  try {
    await tr.remote('-a', torrentPath, '-w', tr.downloadDir);
    const seed = await client.add(torrent, { path: seedDir, peers: [`127.0.0.1:${tr.peerPort}`], trackers: false, webSeeds: false });
    assert.equal(seed.complete, true, 'our seed verified its data');
    const events = recordPeers(client, seed);
    await until(
      'Transmission to reach 100%',
      async () => (await percentDone(tr)) === '100%',
      TRANSFER_TIMEOUT_MS,
      tr.proc,
    ).catch(async (err: unknown) => {
      const peers = await tr.remote('-t', 'all', '-ip').catch(() => '');
      throw new Error(`${String(err)}\nTransmission's peers:\n${peers}\nour stats: ${JSON.stringify(seed.stats())}\nour peers:\n${events.join('\n')}\nlog:\n${tr.log()}`);
    });
    const got = readFileSync(join(tr.downloadDir, 'payload.bin'));
    assert.equal(got.length, payload.length);
    assert.equal(sha1Hex(got), sha1Hex(payload), 'Transmission has byte-identical data');
    assert.ok(seed.stats().uploaded >= payload.length, 'the bytes came from us');
  } finally {
    await client.close();
    await stop(tr.proc);
    rmSync(root, { recursive: true, force: true });
  }
});

test('torrenttp seed → Transmission leech: once Transmission is complete, the seed does not dial it again (two seeds have nothing to trade)', { timeout: 90_000 }, async (t) => {
  requireTool('transmission-daemon', ['--version']);
  requireTool('transmission-remote', ['--version']);
  const root = tempRoot('redial');
  const seedDir = join(root, 'seed');
  mkdirSync(seedDir);
  const { torrentPath, torrent } = await makeTorrent(seedDir);
  const tr = await startTransmission(t, root);
  const client = new Client({ port: 0, host: '127.0.0.1', allowLoopbackPeers: true });
  try {
    await tr.remote('-a', torrentPath, '-w', tr.downloadDir);
    const seed = await client.add(torrent, { path: seedDir, peers: [`127.0.0.1:${tr.peerPort}`], trackers: false, webSeeds: false });
    const events = recordPeers(client, seed);
    const sources: string[] = [];
    client.on('source', (s) => sources.push(`${s.id} ${s.ok ? 'ok' : s.error?.code ?? ''} ${s.error?.message ?? ''}`));
    await until('Transmission to reach 100%', async () => (await percentDone(tr)) === '100%', TRANSFER_TIMEOUT_MS, tr.proc);
    // The link to Transmission ends (one side closes: two seeds); the hand-given peer's redial (every 5 s) must not bring it back.
    await until('the link to Transmission to close', () => seed.peerCount === 0, 30_000);
    const dialsBefore = events.filter((e) => / connected /.test(e)).length;
    const failuresBefore = sources.length;
    await new Promise((r) => setTimeout(r, 12_000)); // two redial periods: nothing may happen in them
    const detail = `our peers:\n${events.join('\n')}\nsources:\n${sources.join('\n')}`;
    assert.equal(events.filter((e) => / connected /.test(e)).length, dialsBefore, `no new connection to a complete peer\n${detail}`);
    assert.deepEqual(sources.slice(failuresBefore), [], `no failed dial of it either\n${detail}`);
  } finally {
    await client.close();
    await stop(tr.proc);
    rmSync(root, { recursive: true, force: true });
  }
});

test('Transmission seed → torrenttp leech (we dial its peer port)', { timeout: 90_000 }, async (t) => {
  requireTool('transmission-daemon', ['--version']);
  requireTool('transmission-remote', ['--version']);
  const root = tempRoot('seed');
  const srcDir = join(root, 'src');
  const dlDir = join(root, 'dl');
  mkdirSync(srcDir);
  mkdirSync(dlDir);
  const { payload, torrentPath, torrent } = await makeTorrent(srcDir);
  const tr = await startTransmission(t, root);
  const client = new Client({ port: 0, host: '127.0.0.1', allowLoopbackPeers: true });
  try {
    writeFileSync(join(tr.downloadDir, 'payload.bin'), payload);
    await tr.remote('-a', torrentPath, '-w', tr.downloadDir); // verifies the data on add
    await until('Transmission to verify its data', async () => (await percentDone(tr)) === '100%', 20_000, tr.proc);
    const leech = await client.add(torrent, { path: dlDir, peers: [`127.0.0.1:${tr.peerPort}`], trackers: false, webSeeds: false });
    const events = recordPeers(client, leech);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        void tr.remote('-t', 'all', '-ip').catch(() => '').then((peers) =>
          reject(new Error(`timed out leeching from Transmission\nTransmission's peers:\n${peers}\nour stats: ${JSON.stringify(leech.stats())}\nour peers:\n${events.join('\n')}\nlog:\n${tr.log()}`)),
        );
      }, TRANSFER_TIMEOUT_MS);
    });
    try {
      await Promise.race([leech.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
    assert.equal(leech.stats().verifiedBytes, payload.length);
    await client.close(); // flushes and closes the files
    const got = readFileSync(join(dlDir, 'payload.bin'));
    assert.equal(sha1Hex(got), sha1Hex(payload), 'we have byte-identical data');
  } finally {
    await client.close();
    await stop(tr.proc);
    rmSync(root, { recursive: true, force: true });
  }
});

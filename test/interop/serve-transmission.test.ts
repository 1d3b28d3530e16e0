/**
 * Transmission 3.00 given the torrent `serve` hands out completes from the gateway, byte for byte
 * (issue 15's acceptance). Transmission never dials a peer a tracker names at a loopback address
 * (/work/shared/PEERS.md), so on one machine the wire transfer works only because the server's
 * seed dials every leecher that announces to the embedded tracker. Two runs: the torrent as
 * served (tracker + wire seed + web seed), and the same torrent without its `url-list`, where
 * the wire seed is the only source.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { encodeTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { requireTool, until } from '../helpers/processes.js';
import { bytes, sha1Hex, withTempDir } from '../helpers/torrents.js';
import { percentDone, startTransmission } from '../helpers/transmission.js';
import { startGateway } from '../gateway/helpers.js';

const PAYLOAD_BYTES = 6 * 1024 * 1024 + 4321;

async function fromServe(t: TestContext, dir: string, webSeed: boolean): Promise<void> {
  requireTool('transmission-daemon', ['--version']);
  requireTool('transmission-remote', ['--version']);
  const root = join(dir, 'www');
  mkdirSync(root);
  const payload = bytes(PAYLOAD_BYTES, 61);
  writeFileSync(join(root, 'payload.bin'), payload);
  const g = await startGateway(t, { root, pieceLength: 256 * 1024 });
  let served: Uint8Array | undefined;
  while (served === undefined) {
    const r = await request(`${g.url}/payload.bin`, { headers: { accept: 'application/x-bittorrent' } });
    if (r.statusCode === 200) served = new Uint8Array(await r.body.arrayBuffer());
    else {
      await r.body.dump();
      await g.swarm.settled();
    }
  }
  const m = parseTorrent(served);
  const torrent = webSeed ? served : encodeTorrent(m.infoBytes, { announceList: m.announceList });
  if (!webSeed) assert.deepEqual(parseTorrent(torrent).urlList, []);
  const torrentPath = join(dir, 'payload.torrent');
  writeFileSync(torrentPath, torrent);

  const tr = await startTransmission(t, dir);
  await tr.remote('-a', torrentPath, '-w', tr.downloadDir);
  await until('Transmission to reach 100%', async () => (await percentDone(tr)) === '100%', 75_000, tr.proc).catch(async (err: unknown) => {
    const peers = await tr.remote('-t', 'all', '-ip').catch(() => '');
    throw new Error(`${String(err)}\nTransmission's peers:\n${peers}\nlog:\n${tr.log()}`);
  });
  const got = readFileSync(join(tr.downloadDir, 'payload.bin'));
  assert.equal(got.length, payload.length);
  assert.equal(sha1Hex(got), sha1Hex(payload), 'Transmission has byte-identical data');
  rmSync(tr.downloadDir, { recursive: true, force: true });
}

test('Transmission completes from serve with the torrent as served', { timeout: 120_000 }, (t) => withTempDir((dir) => fromServe(t, dir, true)));

test('Transmission completes from serve\'s wire seed alone (no url-list): the seed dials it', { timeout: 120_000 }, (t) => withTempDir((dir) => fromServe(t, dir, false)));

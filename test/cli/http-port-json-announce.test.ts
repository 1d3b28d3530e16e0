/**
 * `--http-port` turns JSON announces on: `serve`'s embedded tracker (a real `torrenttp serve`
 * process) learns the downloader's TorrentTTP URL, and lists it to a URL-only JSON announce; a
 * downloader without `--http-port` announces the BEP 3 way, with no URL.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTorrent } from '../../src/metainfo/index.js';
import { jsonLines, spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

interface JsonPeer {
  readonly peerId: string;
  readonly ip?: string;
  readonly port?: number;
  readonly url?: string;
}

async function serve(t: TestContext, dir: string, root: string): Promise<string> {
  const p = spawnCli(t, dir, ['serve', root, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn']);
  await until('serve to print its start line', () => /serving .* at http:\/\/127\.0\.0\.1:\d+\//.test(p.stdout + p.stderr), 20_000);
  return /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(p.stdout + p.stderr)![1]!;
}

async function torrentOf(url: string): Promise<Uint8Array> {
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${url}?torrent`);
    if (res.status === 200) return new Uint8Array(await res.arrayBuffer());
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('no torrent after 20 s');
}

/** A URL-only JSON announce (an HTTP-only client, docs/torrenttp.md §10): the peers it is told of. */
async function jsonPeers(origin: string, infoHash: string): Promise<JsonPeer[]> {
  const res = await fetch(`${origin}/ttp/v1/announce`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ infoHash, peerId: 'ab'.repeat(20), url: `http://127.0.0.1:9/ttp/v1/torrents/${infoHash}`, uploaded: 0, downloaded: 0, left: 1, numwant: 50 }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { peers: JsonPeer[] }).peers;
}

test('download --http-port announces its TorrentTTP URL to serve\'s tracker in JSON; without it, no URL', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(2 * 1024 * 1024 + 9, 91);
    writeFileSync(join(root, 'p.bin'), payload);
    const origin = await serve(t, dir, root);
    const torrent = await torrentOf(`${origin}/p.bin`);
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const { infoHash } = parseTorrent(torrent);

    const a = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'a', '--seed', '--no-dht', '--listen', '127.0.0.1', '--http-port', '0', '--json']);
    await until('A to complete', () => jsonLines(a).some((l) => l.event === 'seeding'), 30_000);
    assert.ok(readFileSync(join(dir, 'a', 'p.bin')).equals(Buffer.from(payload)));
    const url = String(jsonLines(a).find((l) => l.event === 'started')!['ttpUrl']);
    assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/ttp/v1/torrents/${infoHash}$`));
    // A's `completed` announce may be a moment behind its `seeding` line.
    let peers: JsonPeer[] = [];
    await until('the tracker to list A by URL', async () => (peers = await jsonPeers(origin, infoHash)).some((p) => p.url === url), 10_000);
    const listed = peers.find((p) => p.url === url)!;
    assert.equal(listed.ip, '127.0.0.1', 'A is listed with its wire address too');
    assert.equal(typeof listed.port, 'number');

    const b = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'b', '--seed', '--no-dht', '--listen', '127.0.0.1', '--json']);
    await until('B to complete', () => jsonLines(b).some((l) => l.event === 'seeding'), 30_000);
    assert.ok(readFileSync(join(dir, 'b', 'p.bin')).equals(Buffer.from(payload)));
    const bPort = jsonLines(b).find((l) => l.event === 'started')!['port'];
    await until('the tracker to list B', async () => (peers = await jsonPeers(origin, infoHash)).some((p) => p.port === bPort), 10_000);
    assert.equal(peers.find((p) => p.port === bPort)!.url, undefined, `B (no --http-port) announced no URL: ${JSON.stringify(peers)}`);
    for (const p of [a, b]) {
      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0, p.stderr);
    }
  }));

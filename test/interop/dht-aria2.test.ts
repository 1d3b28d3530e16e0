/**
 * DHT (BEP 5) with aria2c (Debian's aria2 1.36), loopback only, torrents with no tracker: a
 * torrenttp DHT node in the test is the only bootstrap node (aria2 `--dht-entry-point`, ours
 * `--dht-bootstrap`). aria2 finds a torrenttp seed through it, and torrenttp finds an aria2 seed;
 * both downloads byte-identical. aria2c is required (.ci/run). Transmission is not here: on
 * loopback it drops every 127/8 peer that did not connect to it, DHT peers included (docs/dht.md).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DhtNode } from '../../src/dht/index.js';
import { createTorrent, infoHashFromHex, infoHashToBytes } from '../../src/metainfo/index.js';
import { spawnCli } from '../helpers/cli.js';
import { freePort, until } from '../helpers/processes.js';
import { ariaLeech, ariaSeed } from '../helpers/swarm.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const TIMEOUT = { timeout: 120_000 };

async function ariaDhtArgs(dir: string, name: string, entry: number): Promise<string[]> {
  return ['--enable-dht=true', `--dht-listen-port=${await freePort()}`, `--dht-file-path=${join(dir, `${name}-dht.dat`)}`, `--dht-entry-point=127.0.0.1:${entry}`];
}

async function bootstrapNode(t: TestContext): Promise<DhtNode> {
  const node = new DhtNode({ host: '127.0.0.1' });
  await node.start();
  t.after(() => node.close());
  return node;
}

async function trackerless(dir: string, seedValue: number) {
  const data = join(dir, 'seed');
  mkdirSync(data, { recursive: true });
  const payload = bytes(4 * 1024 * 1024 + 999, seedValue);
  writeFileSync(join(data, 'payload.bin'), payload);
  const { torrent, metainfo } = await createTorrent(join(data, 'payload.bin'), { pieceLength: 256 * 1024, creationDate: null });
  writeFileSync(join(dir, 'x.torrent'), torrent);
  return { data, payload, infoHash: infoHashToBytes(infoHashFromHex(metainfo.infoHash)) };
}

/** Polls the DHT (through a separate node) until someone announced `infoHash`. */
async function announced(t: TestContext, entry: number, infoHash: Uint8Array): Promise<void> {
  const probe = new DhtNode({ host: '127.0.0.1', bootstrap: [`127.0.0.1:${entry}`] });
  t.after(() => probe.close());
  await probe.start();
  await probe.whenReady();
  await until('the seed to announce on the DHT', async () => (await probe.getPeers(infoHash)).peers.length > 0, 30_000);
}

test('aria2 finds a torrenttp seed through the DHT (no tracker) and downloads it', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const entry = await bootstrapNode(t);
    const { data, payload, infoHash } = await trackerless(dir, 11);
    const seed = spawnCli(t, dir, ['seed', 'x.torrent', data, '--listen', '127.0.0.1', '--dht-bootstrap', `127.0.0.1:${entry.port}`]);
    await announced(t, entry.port, infoHash);
    await ariaLeech(t, join(dir, 'x.torrent'), join(dir, 'aria'), 60_000, await ariaDhtArgs(dir, 'leech', entry.port));
    assert.deepEqual(readFileSync(join(dir, 'aria', 'payload.bin')), Buffer.from(payload));
    const stopping = performance.now();
    seed.child.kill('SIGINT');
    assert.equal(await seed.exited, 0, seed.stderr);
    assert.ok(performance.now() - stopping < 2000, 'the DHT adds no delay to the stop');
    assert.ok(readFileSync(join(data, '.torrenttp', 'dht.dat')).length > 20, 'the seed saved its node table');
  }));

test('torrenttp finds an aria2 seed through the DHT (no tracker) and downloads it', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const entry = await bootstrapNode(t);
    const { data, payload, infoHash } = await trackerless(dir, 12);
    await ariaSeed(t, join(dir, 'x.torrent'), data, await ariaDhtArgs(dir, 'seed', entry.port));
    await announced(t, entry.port, infoHash);
    const dl = spawnCli(t, dir, ['download', 'x.torrent', '-o', 'dl', '--dht-bootstrap', `127.0.0.1:${entry.port}`]);
    const code = await Promise.race([dl.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000).unref())]);
    assert.equal(code, 0, `download ${code}:\n${dl.stderr.slice(-3000)}`);
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
  }));

/**
 * DHT (BEP 5) with aria2c (Debian's aria2 1.36), loopback only, torrents with no tracker: a
 * torrenttp DHT node in the test is the only bootstrap node (aria2 `--dht-entry-point`, ours
 * `--dht-bootstrap`). aria2 finds a torrenttp seed through it, and torrenttp finds an aria2 seed;
 * both downloads byte-identical. Then the same over IPv6 (BEP 32) on ::1: aria2's IPv6 DHT
 * (`--enable-dht6 --dht-listen-addr6=::1 --dht-entry-point6=[::1]:P`, its IPv4 DHT off) and the
 * CLI's IPv6 node; the peers meet over TCP on ::1. aria2c is required (.ci/run). Transmission is
 * not here: see dht-transmission.test.ts for why it cannot be, on loopback.
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

type Family = 4 | 6;
const LOOPBACK = { 4: '127.0.0.1', 6: '::1' } as const;
/** `host:port` as the CLI and aria2 take it. */
const hostPort = (family: Family, port: number): string => (family === 4 ? `127.0.0.1:${port}` : `[::1]:${port}`);

async function ariaDhtArgs(dir: string, name: string, entry: number, family: Family): Promise<string[]> {
  const port = `--dht-listen-port=${await freePort()}`;
  if (family === 4) return ['--enable-dht=true', port, `--dht-file-path=${join(dir, `${name}-dht.dat`)}`, `--dht-entry-point=${hostPort(4, entry)}`];
  return [
    '--enable-dht=false', '--enable-dht6=true', '--disable-ipv6=false', '--dht-listen-addr6=::1', port,
    `--dht-file-path6=${join(dir, `${name}-dht6.dat`)}`, `--dht-entry-point6=${hostPort(6, entry)}`,
  ];
}

async function bootstrapNode(t: TestContext, family: Family): Promise<DhtNode> {
  const node = new DhtNode({ host: LOOPBACK[family] });
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
  return { data, payload, infoHash: infoHashToBytes(infoHashFromHex(metainfo.infoHash)), magnet: `magnet:?xt=urn:btih:${metainfo.infoHash}` };
}

/** Polls the DHT (through a separate node) until someone announced `infoHash`. */
async function announced(t: TestContext, entry: number, infoHash: Uint8Array, family: Family): Promise<void> {
  const probe = new DhtNode({ host: LOOPBACK[family], bootstrap: [hostPort(family, entry)] });
  t.after(() => probe.close());
  await probe.start();
  await probe.whenReady();
  await until('the seed to announce on the DHT', async () => (await probe.getPeers(infoHash)).peers.length > 0, 30_000);
}

for (const family of [4, 6] as const) {
const over = family === 4 ? '' : ' over IPv6 (BEP 32, ::1)';

test(`aria2 finds a torrenttp seed through the DHT${over} (no tracker) and downloads it`, TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const entry = await bootstrapNode(t, family);
    const { data, payload, infoHash, magnet } = await trackerless(dir, 11);
    const seed = spawnCli(t, dir, ['seed', 'x.torrent', data, '--listen', LOOPBACK[family], '--dht-bootstrap', hostPort(family, entry.port)]);
    await announced(t, entry.port, infoHash, family);
    // IPv6: the magnet link alone (no tracker): the metadata too comes from the seed found on the DHT.
    const leech = await ariaLeech(t, family === 4 ? join(dir, 'x.torrent') : magnet, join(dir, 'aria'), 60_000, await ariaDhtArgs(dir, 'leech', entry.port, family));
    if (family === 6) assert.match(leech.output, /IPv6 DHT: listening/, 'aria2 ran its IPv6 DHT');
    assert.deepEqual(readFileSync(join(dir, 'aria', 'payload.bin')), Buffer.from(payload));
    const stopping = performance.now();
    seed.child.kill('SIGINT');
    assert.equal(await seed.exited, 0, seed.stderr);
    assert.ok(performance.now() - stopping < 2000, 'the DHT adds no delay to the stop');
    assert.ok(readFileSync(join(data, '.torrenttp', family === 4 ? 'dht.dat' : 'dht6.dat')).length > 20, 'the seed saved its node table');
  }));

test(`torrenttp finds an aria2 seed through the DHT${over} (no tracker) and downloads it`, TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const entry = await bootstrapNode(t, family);
    const { data, payload, infoHash, magnet } = await trackerless(dir, 12);
    await ariaSeed(t, join(dir, 'x.torrent'), data, await ariaDhtArgs(dir, 'seed', entry.port, family));
    await announced(t, entry.port, infoHash, family);
    const dl = spawnCli(t, dir, ['download', family === 4 ? 'x.torrent' : magnet, '-o', 'dl', '--dht-bootstrap', hostPort(family, entry.port)]);
    const code = await Promise.race([dl.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000).unref())]);
    assert.equal(code, 0, `download ${code}:\n${dl.stderr.slice(-3000)}`);
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
  }));
}

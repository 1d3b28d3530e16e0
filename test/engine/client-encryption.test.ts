/**
 * MSE/PE between two torrenttp clients, byte-identical files, through a loopback TCP relay that
 * records how each connection starts: "\x13BitTorrent protocol" is plain, anything else is an
 * encrypted handshake (Ya). The relay can also play a plain-only peer (it drops a connection
 * that does not start plain), which is what `prefer` must fall back from.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { TorrenttpError } from '../../src/errors/index.js';
import { Client } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const TIMEOUT = { timeout: 120_000 };
const PLAIN = Buffer.from('\x13BitTorrent protocol', 'latin1');

interface Relay {
  readonly port: number;
  /** One entry per connection: 'plain' or 'encrypted', by its first 20 bytes. */
  readonly starts: string[];
}

/** A relay on 127.0.0.1 to `target`; `plainOnly` drops connections that do not start plain. */
async function relay(t: TestContext, target: number, plainOnly = false): Promise<Relay> {
  const starts: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    sockets.add(inbound);
    inbound.on('close', () => sockets.delete(inbound));
    let head = Buffer.alloc(0);
    let outbound: Socket | undefined;
    inbound.on('error', () => outbound?.destroy());
    inbound.on('data', (chunk: Buffer) => {
      if (outbound !== undefined) return;
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PLAIN.length);
      const plain = head.subarray(0, n).equals(PLAIN.subarray(0, n));
      if (plain && n < PLAIN.length) return;
      starts.push(plain ? 'plain' : 'encrypted');
      if (!plain && plainOnly) return void inbound.destroy();
      inbound.pause();
      const out = connect(target, '127.0.0.1', () => {
        out.write(head);
        inbound.pipe(out);
        out.pipe(inbound);
        inbound.resume();
      });
      outbound = out;
      sockets.add(out);
      out.on('close', () => {
        sockets.delete(out);
        inbound.destroy();
      });
      out.on('error', () => inbound.destroy());
      inbound.on('close', () => out.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as { port: number }).port, starts };
}

async function seedAndTorrent(dir: string, size: number): Promise<{ torrent: Uint8Array; payload: Uint8Array }> {
  const data = join(dir, 'seed');
  mkdirSync(data, { recursive: true });
  const payload = bytes(size, 7);
  writeFileSync(join(data, 'payload.bin'), payload);
  const { torrent } = await createTorrent(join(data, 'payload.bin'), { pieceLength: 256 * 1024, creationDate: null });
  return { torrent, payload };
}

test('require on both sides: every connection starts encrypted, the file arrives byte-identical', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, payload } = await seedAndTorrent(dir, 8 * 1024 * 1024 + 4321);
    const seed = new Client({ encryption: 'require', host: '127.0.0.1' });
    t.after(() => seed.close());
    await seed.add(torrent, { path: join(dir, 'seed'), trackers: false, dht: false });
    const r = await relay(t, seed.port);
    const leech = new Client({ encryption: 'require', listen: false });
    t.after(() => leech.close());
    const tor = await leech.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${r.port}`], trackers: false, dht: false });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
    assert.ok(r.starts.length > 0);
    assert.deepEqual([...new Set(r.starts)], ['encrypted']);
  }));

test('off on both sides: plain BitTorrent, byte-identical', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, payload } = await seedAndTorrent(dir, 2 * 1024 * 1024);
    const seed = new Client({ encryption: 'off', host: '127.0.0.1' });
    t.after(() => seed.close());
    await seed.add(torrent, { path: join(dir, 'seed'), trackers: false, dht: false });
    const r = await relay(t, seed.port);
    const leech = new Client({ encryption: 'off', listen: false });
    t.after(() => leech.close());
    const tor = await leech.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${r.port}`], trackers: false, dht: false });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
    assert.deepEqual([...new Set(r.starts)], ['plain']);
  }));

test('prefer against a plain-only peer: the encrypted try is dropped, plain follows and completes', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, payload } = await seedAndTorrent(dir, 2 * 1024 * 1024);
    const seed = new Client({ encryption: 'off', host: '127.0.0.1' });
    t.after(() => seed.close());
    await seed.add(torrent, { path: join(dir, 'seed'), trackers: false, dht: false });
    const r = await relay(t, seed.port, true);
    const leech = new Client({ listen: false }); // the default: prefer
    t.after(() => leech.close());
    const tor = await leech.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${r.port}`], trackers: false, dht: false });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
    assert.deepEqual(r.starts.slice(0, 2), ['encrypted', 'plain']);
    assert.equal(r.starts.filter((s) => s === 'encrypted').length, 1, 'the address is remembered as plain');
  }));

test('require seed, off leech: the plain handshake is refused with TRANSPORT_ENCRYPTION_REQUIRED; a require leech against an off seed works (off still answers)', TIMEOUT, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, payload } = await seedAndTorrent(dir, 1024 * 1024);
    const seed = new Client({ encryption: 'require', host: '127.0.0.1' });
    t.after(() => seed.close());
    const refused: TorrenttpError[] = [];
    seed.on('peerError', (_peer, err) => refused.push(err));
    await seed.add(torrent, { path: join(dir, 'seed'), trackers: false, dht: false });
    const plainLeech = new Client({ encryption: 'off', listen: false });
    t.after(() => plainLeech.close());
    const failures: string[] = [];
    plainLeech.on('source', (s) => {
      if (!s.ok) failures.push(s.error!.code);
    });
    await plainLeech.add(torrent, { path: join(dir, 'dl-plain'), peers: [`127.0.0.1:${seed.port}`], trackers: false, dht: false });
    await until('the seed to refuse the plain handshake', () => refused.some((e) => e.code === 'TRANSPORT_ENCRYPTION_REQUIRED'), 20_000);
    await until('the leech to report the peer failed', () => failures.length > 0, 20_000);

    const offSeed = new Client({ encryption: 'off', host: '127.0.0.1' });
    t.after(() => offSeed.close());
    await offSeed.add(torrent, { path: join(dir, 'seed'), trackers: false, dht: false });
    const r = await relay(t, offSeed.port);
    const leech = new Client({ encryption: 'require', listen: false });
    t.after(() => leech.close());
    const tor = await leech.add(torrent, { path: join(dir, 'dl'), peers: [`127.0.0.1:${r.port}`], trackers: false, dht: false });
    await tor.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'payload.bin')), Buffer.from(payload));
    assert.deepEqual([...new Set(r.starts)], ['encrypted']);
  }));

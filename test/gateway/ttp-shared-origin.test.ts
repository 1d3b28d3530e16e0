/**
 * Many torrents from one TorrentTTP origin (a `proxy`, or a library user fetching several files of
 * one serve): their HTTP peers share the origin's pool of 4 connections (src/transport/http1-pool.ts),
 * and each keeps a have-set poll (docs/torrenttp.md §5.3), which the server holds silent for up to
 * `wait` seconds (30 here, the default). Those held polls must not take the connections piece GETs
 * need: a torrent added while five others wait on their polls downloads at once, not after `wait`.
 *
 * The seed is a real one (a Client with the project's TorrentTTP server). Between it and the leech, a
 * TCP forwarder that only watches: the request lines it carries and the connections open at once.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client, type Torrent } from '../../src/engine/index.js';
import { ttpServer } from '../../src/gateway/index.js';
import { createTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const PIECE = 64 * 1024;
/** Far below the poll's 30 s `wait`, and far above what 2 MiB takes on loopback. */
const BOUND_MS = 10_000;

interface Watch {
  readonly origin: string;
  /** Request lines (`GET target`), in the order they came. */
  readonly targets: string[];
  /** Most client connections open at once. */
  readonly mostConnections: () => number;
  /** Most long-polls (`wait=`) unanswered at once. */
  readonly mostHeld: () => number;
}

/** Forwards each connection to `port` and notes what the client asks. Closed when the test ends. */
async function watchingForwarder(t: TestContext, port: number): Promise<Watch> {
  const targets: string[] = [];
  const open = new Set<Socket>();
  let most = 0;
  const holding = new Set<Socket>();
  let mostHeld = 0;
  const server = createServer((client) => {
    open.add(client);
    most = Math.max(most, open.size);
    const upstream = connect(port, '127.0.0.1');
    let text = '';
    // One request at a time a connection (no pipelining): a long-poll is unanswered until the answer's first byte.
    upstream.on('data', () => holding.delete(client));
    client.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      let i: number;
      while ((i = text.indexOf('\r\n')) >= 0) {
        const line = text.slice(0, i);
        text = text.slice(i + 2);
        const m = /^GET (\S+) HTTP\/1\.1$/.exec(line);
        if (m === null) continue;
        targets.push(m[1]!);
        if (/[?&]wait=[1-9]/.test(m[1]!)) {
          holding.add(client);
          mostHeld = Math.max(mostHeld, holding.size);
        }
      }
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      open.delete(client);
      holding.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const s of open) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, targets, mostConnections: () => most, mostHeld: () => mostHeld };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

test('7 torrents from one origin: 5 wait on their have-set polls, 2 more still download at once; one long-poll and at most 4 connections to the origin', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const seedDir = join(dir, 'seed');
    mkdirSync(join(dir, 'full'));
    mkdirSync(seedDir);
    // Waiting torrents: the seed holds the first half of each (the rest of its copy is zeros, which
    // fail their hash), so the leech gets that half and then keeps polling for more.
    const waiting: { torrent: Uint8Array; infoHash: string }[] = [];
    for (let i = 0; i < 5; i++) {
      const name = `waiting-${i}.bin`;
      const payload = bytes(8 * PIECE, 60 + i);
      writeFileSync(join(dir, 'full', name), payload);
      const { torrent } = await createTorrent(join(dir, 'full', name), { pieceLength: PIECE, creationDate: null });
      const half = new Uint8Array(payload.length);
      half.set(payload.subarray(0, 4 * PIECE));
      writeFileSync(join(seedDir, name), half);
      waiting.push({ torrent, infoHash: parseTorrent(torrent).infoHash });
    }
    const fresh: Uint8Array[] = [];
    for (let i = 0; i < 2; i++) {
      const name = `fresh-${i}.bin`;
      writeFileSync(join(seedDir, name), bytes(16 * PIECE, 70 + i));
      fresh.push((await createTorrent(join(seedDir, name), { pieceLength: PIECE, creationDate: null })).torrent);
    }

    const server = ttpServer({ host: '127.0.0.1', port: 0 });
    const seed = new Client({ listen: false, httpServer: server });
    t.after(() => seed.close());
    for (const torrent of [...waiting.map((w) => w.torrent), ...fresh]) await seed.add(torrent, { path: seedDir, trackers: false });
    const watch = await watchingForwarder(t, server.address.port);
    const urlOf = (infoHash: string): string => `${watch.origin}/ttp/v1/torrents/${infoHash}`;

    const t0 = Date.now();
    const leech = new Client({ listen: false });
    t.after(() => leech.close());
    const out = join(dir, 'out');
    const held: Torrent[] = [];
    for (const w of waiting) held.push(await leech.add(w.torrent, { path: out, trackers: false, peers: [urlOf(w.infoHash)] }));
    // Each has the half the seed holds, and its link polls the have-set again (`since`: held for `wait`).
    await until('the waiting torrents got their half and poll again', () => {
      if (!held.every((tor) => tor.stats().downloaded >= 4 * PIECE)) return false;
      const polled = new Set(watch.targets.filter((x) => x.includes('/have?') && x.includes('since=')).map((x) => /torrents\/([0-9a-f]{40})/.exec(x)![1]));
      return polled.size >= 4;
    }, 20_000);

    t.diagnostic(`${Date.now() - t0} ms to the waiting torrents' second polls`);
    const started = Date.now();
    const tors = await Promise.all(fresh.map((torrent) => leech.add(torrent, { path: out, trackers: false, peers: [urlOf(parseTorrent(torrent).infoHash)] })));
    await within(Promise.all(tors.map((tor) => tor.done)), BOUND_MS, 'the fresh torrents, while the others wait on their polls');
    t.diagnostic(`fresh torrents done in ${Date.now() - started} ms`);
    for (const tor of tors) assert.equal(tor.stats().downloadedByKind.http, 16 * PIECE);
    for (const tor of held) assert.equal(tor.stats().done, false, 'the waiting torrents still wait');
    assert.ok(watch.mostConnections() <= 4, `${watch.mostConnections()} connections to one origin at once (4 at most, §7)`);
    assert.equal(watch.mostHeld(), 1, 'one long-poll at a time on the origin; the other torrents poll without wait');
  }));

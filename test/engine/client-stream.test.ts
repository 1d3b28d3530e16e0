/**
 * `AddOptions.streamWhenAlone`: a download whose first tracker answer names nobody streams its
 * web seed in ONE open-ended GET, every piece still checked by its hash; another peer showing up
 * ends the stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { TrackerServer } from '../../src/tracker/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const PIECE = 64 * 1024;
const SIZE = 40 * PIECE + 777;

interface Origin {
  readonly url: string;
  /** Each GET's `Range` header. */
  readonly ranges: string[];
  /** Resolves when a GET's answer was cut before its end (the client closed it). */
  readonly cut: Promise<void>;
  close(): Promise<void>;
}

/**
 * Serves `data` at `/payload.bin`: `bytes=N-M` and `bytes=N-`. `corrupt` (a file offset) flips
 * that byte in open-ended answers only; `holdAfter` (bytes) sends that much of an open-ended
 * answer and then nothing more.
 */
async function origin(data: Uint8Array, opts: { corrupt?: number; holdAfter?: number } = {}): Promise<Origin> {
  const ranges: string[] = [];
  let onCut!: () => void;
  const cut = new Promise<void>((r) => (onCut = r));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const range = req.headers.range ?? '';
    ranges.push(range);
    const m = /^bytes=(\d+)-(\d*)$/.exec(range);
    if (m === null) return void res.writeHead(200, { 'content-length': data.length }).end(data);
    const first = Number(m[1]);
    const last = m[2] === '' ? data.length - 1 : Math.min(Number(m[2]), data.length - 1);
    let body = data.subarray(first, last + 1);
    if (m[2] === '' && opts.corrupt !== undefined && opts.corrupt >= first) {
      body = body.slice();
      body[opts.corrupt - first]! ^= 0xff;
    }
    res.writeHead(206, { 'content-range': `bytes ${first}-${last}/${data.length}`, 'content-length': body.length, 'content-type': 'application/octet-stream' });
    res.on('close', () => {
      if (!res.writableFinished) onCut();
    });
    if (m[2] === '' && opts.holdAfter !== undefined) res.write(body.subarray(0, opts.holdAfter));
    else res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    ranges,
    cut,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function setup(dir: string, o: Origin | ((data: Uint8Array) => Promise<Origin>)) {
  const tracker = new TrackerServer({ host: '127.0.0.1', port: 0, intervalSec: 60 });
  const { port } = await tracker.listen();
  const src = join(dir, 'src');
  mkdirSync(src);
  const data = bytes(SIZE, 77);
  writeFileSync(join(src, 'payload.bin'), data);
  const web = typeof o === 'function' ? await o(data) : o;
  const { torrent } = await createTorrent(join(src, 'payload.bin'), { pieceLength: PIECE, creationDate: null, announceList: [[`http://127.0.0.1:${port}/announce`]], urlList: [web.url] });
  return { tracker, data, web, src, metainfo: parseTorrent(torrent) };
}

test('a lone download streams its web seed in one open-ended GET, byte-identical', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { tracker, data, web, metainfo } = await setup(dir, (d) => origin(d));
    t.after(() => web.close());
    t.after(() => tracker.close());
    const client = new Client({ port: 0 });
    t.after(() => client.close());
    const out = join(dir, 'out');
    const tor = await client.add(metainfo, { path: out, streamWhenAlone: true, webSeedFallbackMs: 60_000, dht: false });
    await tor.done;
    assert.deepEqual(web.ranges, ['bytes=0-']);
    assert.ok(Buffer.from(readFileSync(join(out, 'payload.bin'))).equals(data));
    assert.equal(tor.stats().downloadedByKind.webseed, SIZE);
  }),
);

test('a corrupted byte in the stream fails its piece, which is fetched again and stored right', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const bad = 7 * PIECE + 1000;
    const { tracker, data, web, metainfo } = await setup(dir, (d) => origin(d, { corrupt: bad }));
    t.after(() => web.close());
    t.after(() => tracker.close());
    const client = new Client({ port: 0 });
    t.after(() => client.close());
    const out = join(dir, 'out');
    const tor = await client.add(metainfo, { path: out, streamWhenAlone: true, webSeedFallbackMs: 60_000, dht: false });
    const failed: number[] = [];
    tor.on('hashFailed', (i) => failed.push(i));
    await tor.done;
    assert.deepEqual(failed, [7]);
    assert.equal(web.ranges[0], 'bytes=0-');
    assert.ok(web.ranges.includes(`bytes=${7 * PIECE}-${8 * PIECE - 1}`), `piece 7 asked again by range: ${web.ranges.join(', ')}`);
    assert.ok(Buffer.from(readFileSync(join(out, 'payload.bin'))).equals(data));
  }),
);

test('another peer connecting ends the stream; the download completes', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { tracker, data, web, src, metainfo } = await setup(dir, (d) => origin(d, { holdAfter: 3 * PIECE }));
    t.after(() => web.close());
    t.after(() => tracker.close());
    const leech = new Client({ port: 0 });
    t.after(() => leech.close());
    const out = join(dir, 'out');
    const tor = await leech.add(metainfo, { path: out, streamWhenAlone: true, webSeedFallbackMs: 60_000, dht: false });
    // The stream runs (and then hangs): some of it arrived.
    while (tor.stats().verifiedBytes < 2 * PIECE) await once(tor, 'piece');
    assert.deepEqual(web.ranges, ['bytes=0-']);
    const seed = new Client({ listen: false });
    t.after(() => seed.close());
    // Slow (1 MiB/s): the download is far from done when the stream should end.
    await seed.add(metainfo, { path: src, skipVerify: true, trackers: false, webSeeds: false, dht: false, uploadLimit: 1024 * 1024, peers: [`127.0.0.1:${leech.port}`] });
    await web.cut;
    assert.ok(!tor.stats().done, 'the stream ended when the other peer came, not with the download');
    await tor.done;
    assert.ok(Buffer.from(readFileSync(join(out, 'payload.bin'))).equals(data));
    assert.ok(tor.stats().downloadedByKind.wire > 0);
    // The web seed left with its stream: no second GET (a stream that only skipped ahead would open one).
    assert.deepEqual(web.ranges, ['bytes=0-']);
  }),
);

/**
 * Bad input (issue 15): huge or malformed `Accept`, `Range` and `If-*` headers, files being
 * written, truncated or replaced, 1,000 idle connections, announces for torrents not served.
 * Each gets a correct status or the right bytes, never wrong bytes, and the server goes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, renameSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { Client } from '../../src/engine/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { decodeAnnounceResponse, encodeAnnounceQuery, UdpTrackerClient } from '../../src/tracker/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { rawRequest, recordingLogger, startGateway } from './helpers.js';

const MIB = 1024 * 1024;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function site(dir: string): Promise<{ root: string; big: Uint8Array; small: Uint8Array }> {
  const root = join(dir, 'www');
  mkdirSync(root);
  const big = bytes(2 * MIB + 5, 31);
  const small = bytes(1000, 32);
  writeFileSync(join(root, 'a.bin'), big);
  writeFileSync(join(root, 's.bin'), small);
  return { root, big, small };
}

test('Accept: huge is 431, malformed or endless lists get the bytes, and the server keeps serving', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root, big } = await site(dir);
    const g = await startGateway(t, { root });
    const huge = await rawRequest(g.address.port, '/a.bin', { Accept: `application/x-bittorrent, ${'x/y;q=0.1, '.repeat(2000)}` });
    assert.equal(huge.status, 431);
    assert.equal(huge.body.length, 0);
    const malformed = [
      '',
      ',,,,',
      ';;;',
      '*/x-bittorrent',
      'application/x-bittorrent;q=2',
      'application/x-bittorrent;q=abc',
      'application/x-bittorrent;q=-1',
      'application/x-bittorrent;q=0.5, */*;q=0.9',
      '/x-bittorrent',
      `${'text/html;q=0.1, '.repeat(70)}application/x-bittorrent`, // past the 64 entries parsed
      `application/x-bittorrent;${' '.repeat(5000)}q=1`, // past the 4 KiB parsed
      'application/x-bittorrent;q=0, */*',
    ];
    for (const accept of malformed) {
      const r = await rawRequest(g.address.port, '/a.bin', { Accept: accept });
      assert.equal(r.status, 200, JSON.stringify(accept.slice(0, 40)));
      assert.equal(sha(r.body), sha(big), `bytes for ${JSON.stringify(accept.slice(0, 40))}`);
    }
    const ok = await rawRequest(g.address.port, '/a.bin');
    assert.equal(sha(ok.body), sha(big));
  }));

test('Range: many, overlapping, negative, past the end, malformed: 206 with the right bytes, the whole file, or 416', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root, big } = await site(dir);
    const g = await startGateway(t, { root });
    const n = big.length;
    const cases: [string, number, [number, number] | undefined][] = [
      ['bytes=0-0', 206, [0, 1]],
      ['bytes=-5', 206, [n - 5, n]],
      [`bytes=-${n + 100}`, 206, [0, n]],
      [`bytes=${n - 3}-${n + 1000}`, 206, [n - 3, n]],
      ['bytes=10-', 206, [10, n]],
      [`bytes=${n}-`, 416, undefined],
      [`bytes=${n + 1}-${n + 5}`, 416, undefined],
      ['bytes=-0', 416, undefined],
      ['bytes=0-10,5-15', 200, [0, n]], // overlapping
      ['bytes=0-1,0-1,0-1,0-1', 200, [0, n]],
      [`bytes=${Array.from({ length: 200 }, (_, i) => `${i}-${i}`).join(',')}`, 200, [0, n]], // many (and past 1 KiB)
      [`bytes=${'0-,'.repeat(300)}0-`, 200, [0, n]],
      ['bytes=5-3', 200, [0, n]],
      ['bytes=--5', 200, [0, n]],
      ['bytes=-5-3', 200, [0, n]],
      ['bytes=-', 200, [0, n]],
      ['bytes=abc', 200, [0, n]],
      ['bytes=1e3-2e3', 200, [0, n]],
      ['bytes=0x10-0x20', 200, [0, n]],
      ['bytes=99999999999999999999999-', 416, undefined], // past the end, however far (RFC 9110; nginx too)
      ['bytes=0-99999999999999999999999', 206, [0, n]],
      ['items=0-5', 200, [0, n]],
      ['bytes 0-5', 200, [0, n]],
      ['', 200, [0, n]],
    ];
    for (const [range, status, slice] of cases) {
      const r = await rawRequest(g.address.port, '/a.bin', { Range: range });
      const label = range.slice(0, 40);
      assert.equal(r.status, status, label);
      if (slice === undefined) {
        assert.match(r.head, new RegExp(`content-range: bytes \\*/${n}`, 'i'), label);
        continue;
      }
      assert.equal(sha(r.body), sha(big.subarray(slice[0], slice[1])), label);
      if (status === 206) assert.match(r.head, new RegExp(`content-range: bytes ${slice[0]}-${slice[1] - 1}/${n}`, 'i'), label);
    }
  }));

test('If-* headers: malformed, huge, contradictory: 200, 304, 412 or 431 by RFC 9110, never a wrong body', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root, big } = await site(dir);
    const g = await startGateway(t, { root });
    const first = await request(`${g.url}/a.bin`);
    await first.body.dump();
    const etag = String(first.headers.etag);
    const lastModified = String(first.headers['last-modified']);
    const cases: [Record<string, string>, number][] = [
      [{ 'If-None-Match': 'garbage' }, 200],
      [{ 'If-None-Match': `"nope", ${etag}` }, 304],
      [{ 'If-None-Match': `W/${etag}` }, 304],
      [{ 'If-None-Match': '*' }, 304],
      [{ 'If-None-Match': '"' }, 200],
      [{ 'If-Match': 'garbage' }, 412],
      [{ 'If-Match': `W/${etag}` }, 412], // If-Match compares strongly
      [{ 'If-Match': etag }, 200],
      [{ 'If-Modified-Since': 'yesterday-ish' }, 200],
      [{ 'If-Modified-Since': 'x'.repeat(5000) }, 200],
      [{ 'If-Modified-Since': lastModified }, 304],
      [{ 'If-Unmodified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' }, 412],
      [{ 'If-Unmodified-Since': 'not a date' }, 200],
      [{ 'If-Match': etag, 'If-None-Match': etag }, 304],
      [{ 'If-Match': '"other"', 'If-None-Match': etag }, 412], // If-Match is evaluated first
      [{ 'If-Range': 'garbage', Range: 'bytes=0-9' }, 200],
      [{ 'If-Range': `W/${etag}`, Range: 'bytes=0-9' }, 200],
      [{ 'If-Range': etag, Range: 'bytes=0-9' }, 206],
      [{ 'If-None-Match': `"${'a'.repeat(20_000)}"` }, 431],
    ];
    for (const [headers, status] of cases) {
      const r = await rawRequest(g.address.port, '/a.bin', headers);
      const label = JSON.stringify(headers).slice(0, 80);
      assert.equal(r.status, status, label);
      if (status === 200) assert.equal(sha(r.body), sha(big), label);
      if (status === 206) assert.equal(sha(r.body), sha(big.subarray(0, 10)), label);
      if (status === 304 || status === 412 || status === 431) assert.ok(r.body.length < 400, label);
    }
  }));

/** Sends `requests` pipelined on one connection, pauses after the first bytes, calls `meanwhile`, then reads all until the server closes. */
function pipelined(port: number, requests: string[], meanwhile: () => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let paused = false;
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      if (!paused) {
        paused = true;
        s.pause();
        setTimeout(() => {
          meanwhile();
          s.resume();
        }, 300);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.setTimeout(20_000, () => s.destroy());
    s.write(requests.map((r) => `GET ${r} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`).join(''));
  });
}

test('a file truncated while it is sent: the connection is cut, the client never gets other bytes as the rest of the file', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root } = await site(dir);
    const payload = randomBytes(32 * MIB);
    writeFileSync(join(root, 'grow.bin'), payload);
    const g = await startGateway(t, { root, minSizeBytes: 1e12 });
    const all = await pipelined(g.address.port, ['/grow.bin', '/s.bin'], () => truncateSync(join(root, 'grow.bin'), MIB));
    const split = all.indexOf('\r\n\r\n');
    const head = all.subarray(0, split).toString('latin1');
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, new RegExp(`content-length: ${32 * MIB}`, 'i'));
    const body = all.subarray(split + 4);
    assert.ok(body.length < 32 * MIB, `short body (${body.length} bytes)`);
    assert.ok(payload.subarray(0, body.length).equals(body), 'every byte received is the file\'s byte at that offset');
    // The server still serves, and serves the truncated file as it is now.
    const after = await rawRequest(g.address.port, '/grow.bin');
    assert.equal(after.status, 200);
    assert.ok(after.body.equals(payload.subarray(0, MIB)));
  }));

test('a file being written: each response is the file as it was when the request came, with its own validators', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root } = await site(dir);
    const path = join(root, 'log.bin');
    const part1 = bytes(300_000, 41);
    writeFileSync(path, part1);
    const g = await startGateway(t, { root, minSizeBytes: 1e12 });
    const a = await rawRequest(g.address.port, '/log.bin');
    assert.ok(a.body.equals(part1));
    const part2 = bytes(123_457, 42);
    appendFileSync(path, part2);
    const b = await rawRequest(g.address.port, '/log.bin', { 'If-None-Match': /etag: ("[^"]+")/i.exec(a.head)![1]! });
    assert.equal(b.status, 200, 'the old ETag no longer matches');
    assert.ok(b.body.equals(Buffer.concat([part1, part2])));
    const c = await rawRequest(g.address.port, '/log.bin', { Range: `bytes=${part1.length}-` });
    assert.equal(c.status, 206);
    assert.ok(c.body.equals(part2));
  }));

test('a small file kept in memory is never served once changed in place, replaced, removed or swapped for a symlink', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root } = await site(dir);
    const path = join(root, 'k.txt');
    const v1 = bytes(5000, 51);
    writeFileSync(path, v1);
    writeFileSync(join(dir, 'outside.txt'), bytes(5000, 59));
    const g = await startGateway(t, { root });
    const get = async (): Promise<{ status: number; body: Buffer }> => rawRequest(g.address.port, '/k.txt');
    await new Promise((r) => setTimeout(r, 1100)); // older than the racy window: it is kept from now on
    assert.ok((await get()).body.equals(v1));
    assert.ok((await get()).body.equals(v1));
    const v2 = bytes(5000, 52); // same size, same inode
    writeFileSync(path, v2);
    assert.ok((await get()).body.equals(v2), 'changed in place');
    const v3 = bytes(5000, 53); // written twice within the clock's grain: the racy window holds
    writeFileSync(path, v3);
    assert.ok((await get()).body.equals(v3), 'changed again at once');
    await new Promise((r) => setTimeout(r, 1100));
    assert.ok((await get()).body.equals(v3));
    const v4 = bytes(5000, 54);
    writeFileSync(join(dir, 'k.new'), v4);
    renameSync(join(dir, 'k.new'), path);
    assert.ok((await get()).body.equals(v4), 'replaced');
    await new Promise((r) => setTimeout(r, 1100));
    assert.ok((await get()).body.equals(v4));
    rmSync(path);
    assert.equal((await get()).status, 404, 'removed');
    symlinkSync(join(dir, 'outside.txt'), path);
    assert.equal((await get()).status, 403, 'a symlink out of the root');
  }));

test('a file replaced or truncated while its swarm runs: a new torrent, the old info-hash leaves the tracker', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root } = await site(dir);
    const g = await startGateway(t, { root });
    const torrentOf = async (): Promise<ReturnType<typeof parseTorrent>> => {
      for (;;) {
        const r = await request(`${g.url}/a.bin?torrent`);
        if (r.statusCode === 200) return parseTorrent(new Uint8Array(await r.body.arrayBuffer()));
        await r.body.dump();
        await g.swarm.settled();
      }
    };
    const announce = async (infoHash: string): Promise<string> => {
      const q = encodeAnnounceQuery({ infoHash: Uint8Array.from(Buffer.from(infoHash, 'hex')), peerId: randomBytes(20), port: 6881, uploaded: 0, downloaded: 0, left: 1, compact: true });
      return decodeAnnounceResponse(new Uint8Array(await (await request(`${g.url}/announce?${q}`)).body.arrayBuffer())).type;
    };
    const first = await torrentOf();
    assert.equal(await announce(first.infoHash), 'ok');
    // Replaced by rename (a new inode), as editors and deploys do.
    const replacement = bytes(3 * MIB, 43);
    writeFileSync(join(dir, 'new.bin'), replacement);
    renameSync(join(dir, 'new.bin'), join(root, 'a.bin'));
    await g.checkFiles();
    assert.equal(await announce(first.infoHash), 'failure', 'the retired torrent is no longer tracked');
    const plain = await request(`${g.url}/a.bin`);
    assert.equal(sha(new Uint8Array(await plain.body.arrayBuffer())), sha(replacement));
    const second = await torrentOf();
    assert.notEqual(second.infoHash, first.infoHash);
    assert.equal(second.length, replacement.length);
    // Truncated in place (same inode).
    truncateSync(join(root, 'a.bin'), 2 * MIB);
    await g.checkFiles();
    assert.equal(await announce(second.infoHash), 'failure');
    const third = await torrentOf();
    assert.equal(third.length, 2 * MIB);
    const web = await request(`${g.url}/a.bin`, { headers: { range: `bytes=${2 * MIB - 10}-${3 * MIB - 1}` } });
    assert.equal(web.statusCode, 206, 'a web seed of the old torrent asking past the new end gets only what exists');
    assert.equal((await web.body.arrayBuffer()).byteLength, 10);
  }));

test('1,000 idle connections: the server still answers, then closes them after the header timeout', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root, small } = await site(dir);
    const g = await startGateway(t, { root, headersTimeoutMs: 1500 });
    const idle: Socket[] = [];
    const closed: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) {
      const s = connect(g.address.port, '127.0.0.1');
      s.on('error', () => {});
      closed.push(new Promise((resolve) => s.on('close', () => resolve())));
      idle.push(s);
    }
    t.after(() => idle.forEach((s) => s.destroy()));
    await Promise.all(idle.map((s) => new Promise((resolve) => (s.readyState === 'open' ? resolve(undefined) : s.once('connect', resolve)))));
    const r = await rawRequest(g.address.port, '/s.bin');
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(small));
    // A head that never ends gets 408; silent connections are just closed (as nginx does).
    const partial = connect(g.address.port, '127.0.0.1');
    const partialReply = new Promise<string>((resolve) => {
      let got = '';
      partial.on('data', (c: Buffer) => (got += c.toString('latin1')));
      partial.on('close', () => resolve(got));
    });
    partial.write('GET /s.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const started = Date.now();
    await Promise.all(closed);
    assert.ok(Date.now() - started < 10_000, 'idle connections closed within a few header timeouts');
    assert.match(await partialReply, /^HTTP\/1\.1 408/);
    const again = await rawRequest(g.address.port, '/s.bin');
    assert.ok(again.body.equals(small));
  }));

test('announces for info-hashes the server does not serve are refused over HTTP and UDP, unless --open-tracker', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { root } = await site(dir);
    const closedTracker = await startGateway(t, { root });
    const openTracker = await startGateway(t, { root, openTracker: true, cacheDir: join(dir, 'cache2') });
    const foreign = { infoHash: randomBytes(20), peerId: randomBytes(20), port: 6881, uploaded: 0, downloaded: 0, left: 1, compact: true };
    const http = async (g: typeof closedTracker): Promise<string> =>
      decodeAnnounceResponse(new Uint8Array(await (await request(`${g.url}/announce?${encodeAnnounceQuery(foreign)}`)).body.arrayBuffer())).type;
    const udp = (g: typeof closedTracker) => new UdpTrackerClient(`udp://127.0.0.1:${g.address.port}`, { baseTimeoutMs: 1000 }).announce({ ...foreign, peerId: randomBytes(20) });
    assert.equal(await http(closedTracker), 'failure');
    await assert.rejects(udp(closedTracker), { code: 'TRACKER_FAILURE' });
    assert.equal(await http(openTracker), 'ok');
    assert.equal((await udp(openTracker)).peers.length, 1, 'the open tracker tracks it (and lists the HTTP announcer)');
  }));

test('a long URL is cut in the request log with a mark (…), never as if it were the whole', (t) =>
  withTempDir(t, async (dir) => {
    const { root } = await site(dir);
    const log = recordingLogger();
    const g = await startGateway(t, { root, logger: log });
    const long = `/${'x'.repeat(5000)}`;
    assert.equal((await rawRequest(g.address.port, long)).status, 404);
    assert.equal((await rawRequest(g.address.port, '/short')).status, 404);
    const urls = log.entries.filter((e) => e.msg === 'request refused').map((e) => (e.obj as { url: string }).url);
    assert.equal(urls.length, 2);
    assert.equal(urls[0], `${long.slice(0, 199)}…`);
    assert.equal(urls[1], '/short', 'a short URL is logged whole, unmarked');
  }));

/**
 * A file replaced between its hashing and its seeding by another of the same size (renamed over
 * it, or rewritten in place) passes the storage's size check: the seed compares the file's
 * identity (device, inode, size, mtime: what the metainfo cache is keyed by) once its storage
 * has opened, and refuses the torrent at once, so the old pieces are never offered for the
 * new bytes (peers would reject them, but the seed would trust them until the periodic check).
 * The next request hashes the new file.
 */
for (const [what, change] of [
  ['replaced by another file of the same size', (path: string) => {
    writeFileSync(`${path}.new`, bytes(statSync(path).size, 77));
    renameSync(`${path}.new`, path);
  }],
  ['rewritten in place, same size', (path: string) => {
    writeFileSync(path, bytes(statSync(path).size, 78));
    utimesSync(path, 1_600_000_000, 1_600_000_000); // its mtime moved, whatever the kernel's clock tick
  }],
] as const) {
  for (const when of ['before', 'after'] as const) {
    test(`a file ${what} ${when} the seed's storage opened it is refused by the seed at once`, { timeout: 60_000 }, (t) =>
      withTempDir(t, async (dir) => {
        const { root } = await site(dir);
        const path = join(root, 'a.bin');
        const log = recordingLogger();
        const add = Client.prototype.add;
        t.mock.method(Client.prototype, 'add', async function (this: Client, ...args: Parameters<Client['add']>) {
          if (when === 'before') change(path);
          const added = await add.apply(this, args);
          if (when === 'after') change(path);
          return added;
        });
        const g = await startGateway(t, { root, logger: log, checkEveryMs: 0 });
        await (await request(`${g.url}/a.bin?torrent`)).body.dump();
        await g.swarm.settled();
        assert.deepEqual(g.swarm.infoHashes(), [], 'no info-hash served');
        const failed = log.entries.find((e) => e.msg === 'making the torrent failed');
        assert.equal((failed?.obj as { err?: { code?: string } } | undefined)?.err?.code, 'GATEWAY_FILE_CHANGED');
        t.mock.restoreAll();
        // The new bytes get their own torrent.
        let torrent: Uint8Array | undefined;
        for (let k = 0; k < 100 && torrent === undefined; k++) {
          const r = await request(`${g.url}/a.bin?torrent`);
          const body = new Uint8Array(await r.body.arrayBuffer());
          if (r.statusCode === 200) torrent = body;
          else await g.swarm.settled();
        }
        assert.ok(torrent !== undefined, 'a torrent of the new file');
        const m = parseTorrent(torrent);
        assert.equal(createHash('sha1').update(readFileSync(path).subarray(0, m.pieceLength)).digest('hex'), Buffer.from(m.pieceHashes.subarray(0, 20)).toString('hex'), 'of the new bytes');
        assert.deepEqual(g.swarm.infoHashes(), [m.infoHash]);
      }));
  }
}

/**
 * The seed opens its storage after the file is hashed: a file deleted or truncated in between is
 * one the swarm cannot seed. The seed's storage must neither create it again (empty and sparse)
 * nor extend it: nothing is ever written in the served folder. The torrent is refused, the
 * info-hash never served, and a plain GET answers as for any missing file (404).
 */
for (const [what, change] of [
  ['deleted', (path: string) => rmSync(path)],
  ['truncated', (path: string) => truncateSync(path, MIB)],
] as const) {
  test(`a file ${what} between its hashing and its seeding is not recreated nor extended by the seed`, { timeout: 60_000 }, (t) =>
    withTempDir(t, async (dir) => {
      const { root } = await site(dir);
      const path = join(root, 'a.bin');
      const log = recordingLogger();
      const add = Client.prototype.add;
      t.mock.method(Client.prototype, 'add', function (this: Client, ...args: Parameters<Client['add']>) {
        change(path);
        return add.apply(this, args);
      });
      const g = await startGateway(t, { root, logger: log, checkEveryMs: 0 });
      await (await request(`${g.url}/a.bin?torrent`)).body.dump();
      await g.swarm.settled();
      if (what === 'deleted') assert.equal(existsSync(path), false, 'not made again');
      else assert.equal(statSync(path).size, MIB, 'not extended');
      assert.deepEqual(g.swarm.infoHashes(), [], 'no info-hash served');
      const failed = log.entries.find((e) => e.msg === 'making the torrent failed');
      assert.equal((failed?.obj as { err?: { code?: string } } | undefined)?.err?.code, 'STORAGE_FILE_INCOMPLETE');
      const r = await request(`${g.url}/a.bin?torrent`);
      await r.body.dump();
      assert.equal(r.statusCode, what === 'deleted' ? 404 : 503, 'a missing file is 404; a changed one is hashed again');
    }));
}

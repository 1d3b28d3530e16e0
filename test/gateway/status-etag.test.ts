/**
 * Repeated `/.torrenttp/status.json` requests when nothing changed: the answer carries a weak
 * ETag that stays the same while every field but `time` does, and a request naming it in
 * If-None-Match gets `304` with no body (the page's `cache: 'no-cache'` fetch). A file that comes
 * or goes, bytes sent (the totals), an announce that changes the tracker's counts or a link of
 * the seed that opens or closes give a new ETag and show in the very next answer; only a row's
 * byte counter may lag the totals, by STATUS_COUNTERS_MAX_AGE_MS (serve reuses the lists'
 * serialization meanwhile). Time is an injected clock, which the second test never moves: what
 * it sees fresh is made fresh by the event, not by an age. Faults checked once (dist copy of
 * status.ts): without the tracker-version comparison, or without the links comparison, the
 * second test fails at the first answer after the announce, or after the link.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/index.js';
import { STATUS_COUNTERS_MAX_AGE_MS, type StatusDocument } from '../../src/gateway/status.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { decodeAnnounceResponse, encodeAnnounceQuery } from '../../src/tracker/index.js';
import { encodeHandshake } from '../../src/wire/index.js';
import { freePort, until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';

interface Answer {
  status: number;
  etag: string;
  doc: StatusDocument | undefined;
}

async function status(g: Gateway, ifNoneMatch?: string): Promise<Answer> {
  const r = await request(`${g.url}/.torrenttp/status.json`, { headers: ifNoneMatch === undefined ? {} : { 'if-none-match': ifNoneMatch } });
  const text = await r.body.text();
  assert.equal(r.headers['cache-control'], 'no-cache');
  const etag = String(r.headers['etag']);
  assert.match(etag, /^W\/"[^"]+"$/);
  if (r.statusCode === 304) assert.equal(text, '', '304 has no body');
  return { status: r.statusCode, etag, doc: r.statusCode === 200 ? (JSON.parse(text) as StatusDocument) : undefined };
}

test('status.json: 304 for its ETag while nothing shown changed; a new ETag when a file comes or goes or bytes are sent', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'a.bin'), bytes(2048, 1));
    writeFileSync(join(root, 'b.bin'), bytes(2048, 2));
    let clock = 1_700_000_000_000;
    const g = await startGateway(t, { root, minSizeBytes: 1024, now: () => clock });
    await torrentOf(`${g.url}/a.bin`);

    const first = await status(g);
    assert.equal(first.status, 200);
    assert.deepEqual(first.doc?.files.map((f) => [f.path, f.state]), [['/a.bin', 'ready']]);
    // The same document as a fresh one, key for key (the body is assembled from cached pieces).
    const fresh = await g.statusDocument();
    assert.deepEqual(Object.keys(first.doc ?? {}), Object.keys(fresh));
    assert.deepEqual(first.doc?.files, fresh.files);
    assert.deepEqual(first.doc?.totals, fresh.totals);

    // Nothing changed: the same ETag, and 304 for it (a plain GET still gets the whole body).
    const again = await status(g, first.etag);
    assert.equal(again.status, 304);
    assert.equal(again.etag, first.etag);
    clock += 1;
    assert.equal((await status(g, `"x", ${first.etag}`)).status, 304, 'one tag of a list');
    const plain = await status(g);
    assert.equal(plain.status, 200);
    assert.equal(plain.etag, first.etag);
    assert.deepEqual({ ...plain.doc, time: 0 }, { ...first.doc, time: 0 }, 'the same but for time');

    // A file offered since: a new ETag at once, and the file in the answer.
    await torrentOf(`${g.url}/b.bin`);
    const offered = await status(g, first.etag);
    assert.equal(offered.status, 200);
    assert.notEqual(offered.etag, first.etag);
    assert.deepEqual(offered.doc?.files.map((f) => [f.path, f.state]), [['/a.bin', 'ready'], ['/b.bin', 'ready']]);
    assert.equal((await status(g, offered.etag)).status, 304);

    // Bytes sent: the totals (and the ETag) at once. A file's first plain bytes add its row at
    // once; more bytes to a row already there show in it within STATUS_COUNTERS_MAX_AGE_MS.
    await (await request(`${g.url}/a.bin`)).body.arrayBuffer();
    const sent = await status(g, offered.etag);
    assert.equal(sent.status, 200);
    assert.notEqual(sent.etag, offered.etag);
    assert.equal(sent.doc?.totals.plainBytes, 2048);
    assert.equal(sent.doc?.files.find((f) => f.path === '/a.bin')?.plainBytes, 2048);
    await (await request(`${g.url}/a.bin`)).body.arrayBuffer();
    const more = await status(g, sent.etag);
    assert.equal(more.status, 200);
    assert.notEqual(more.etag, sent.etag);
    assert.equal(more.doc?.totals.plainBytes, 4096);
    assert.equal(more.doc?.files.find((f) => f.path === '/a.bin')?.plainBytes, 2048, 'the row lags');
    clock += STATUS_COUNTERS_MAX_AGE_MS;
    const row = await status(g, more.etag);
    assert.equal(row.status, 200, 'the row caught up: a new ETag');
    assert.equal(row.doc?.files.find((f) => f.path === '/a.bin')?.plainBytes, 4096);
    assert.equal((await status(g, row.etag)).status, 304);

    // A file gone (a request found it deleted and retired its torrent): a new ETag at once.
    rmSync(join(root, 'b.bin'));
    await (await request(`${g.url}/b.bin`)).body.dump();
    const gone = await status(g, row.etag);
    assert.equal(gone.status, 200);
    assert.notEqual(gone.etag, row.etag);
    assert.deepEqual(gone.doc?.files.map((f) => f.path), ['/a.bin']);
    assert.deepEqual(gone.doc?.swarms.flatMap((s) => s.paths), ['/a.bin']);
  }));

test('status.json: a leecher that announces, completes or stops, and a link to the seed that opens or closes, are in the very next answer, with a new ETag (the clock never moves)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'a.bin'), bytes(2048, 1));
    const g = await startGateway(t, { root, minSizeBytes: 1024, now: () => 1_700_000_000_000 });
    const { infoHash } = parseTorrent(await torrentOf(`${g.url}/a.bin`));
    const swarm = (a: Answer): StatusDocument['swarms'][number] | undefined => a.doc?.swarms.find((s) => s.infoHash === infoHash);
    // The seed's own first announce (UDP, to this tracker); then nothing moves.
    let last!: Answer;
    await until('the seed on its tracker', async () => ((swarm((last = await status(g))))?.seeds ?? 0) === 1, 20_000);
    assert.equal((await status(g, last.etag)).status, 304, 'nothing changed');

    // A leecher (no one listens at its port: the seed's dial back fails, and opens no link).
    const peerId = randomBytes(20);
    const port = await freePort();
    const announce = async (left: number, event?: 'started' | 'completed' | 'stopped'): Promise<void> => {
      const q = encodeAnnounceQuery({ infoHash: Buffer.from(infoHash, 'hex'), peerId, port, uploaded: 0, downloaded: 0, left, compact: true, ...(event === undefined ? {} : { event }) });
      const r = await request(`${g.url}/announce?${q}`);
      assert.equal(decodeAnnounceResponse(new Uint8Array(await r.body.arrayBuffer())).type, 'ok');
    };
    const next = async (what: string, want: { seeds: number; leechers: number; completed: number; peers: number }): Promise<void> => {
      const a = await status(g, last.etag);
      assert.equal(a.status, 200, `${what}: a new answer, not 304`);
      assert.notEqual(a.etag, last.etag, `${what}: a new ETag`);
      const s = swarm(a);
      assert.deepEqual({ seeds: s?.seeds, leechers: s?.leechers, completed: s?.completed, peers: s?.peers }, want, what);
      last = a;
      assert.equal((await status(g, a.etag)).status, 304, `${what}: then 304 again`);
    };
    await announce(2048, 'started');
    await next('a leecher announced', { seeds: 1, leechers: 1, completed: 0, peers: 0 });
    await announce(0, 'completed');
    await next('the leecher completed', { seeds: 2, leechers: 0, completed: 1, peers: 0 });
    await announce(0, 'stopped');
    await next('the peer stopped', { seeds: 1, leechers: 0, completed: 1, peers: 0 });

    // A link to the seed: a peer's handshake, then its socket closed.
    const sock = connect(g.peerPort, '127.0.0.1');
    t.after(() => sock.destroy());
    await once(sock, 'connect');
    sock.write(encodeHandshake({ infoHash: Buffer.from(infoHash, 'hex'), peerId: randomBytes(20) }));
    await once(sock, 'data'); // the seed's handshake: the link is attached once it answers
    await until('the link attached', async () => (await g.statusDocument()).swarms.some((s) => s.peers === 1), 20_000);
    await next('a link opened', { seeds: 1, leechers: 0, completed: 1, peers: 1 });
    sock.destroy();
    await until('the link closed', async () => (await g.statusDocument()).swarms.every((s) => s.peers === 0), 20_000);
    await next('the link closed', { seeds: 1, leechers: 0, completed: 1, peers: 0 });
  }));

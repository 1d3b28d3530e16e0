/**
 * Repeated `/.torrenttp/status.json` requests when nothing changed: the answer carries a weak
 * ETag that stays the same while every field but `time` does, and a request naming it in
 * If-None-Match gets `304` with no body (the page's `cache: 'no-cache'` fetch). A file that comes
 * or goes, or bytes sent (the totals), give a new ETag at once; a row's byte counter may lag the
 * totals by STATUS_COUNTERS_MAX_AGE_MS, the lists as a whole by STATUS_LISTS_MAX_AGE_MS (serve
 * reuses their serialization meanwhile). Time is an injected clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/index.js';
import { STATUS_COUNTERS_MAX_AGE_MS, type StatusDocument } from '../../src/gateway/status.js';
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

/**
 * What `/.torrenttp/status.json` costs under polling. Each document relies on an identity sweep
 * (a stat of every file with a torrent) no older than STATUS_CHECK_MAX_AGE_MS, but not on a new
 * one per request: an open status page, several, or a client asking in a loop cost at most one
 * sweep per that age, whatever the number of requests. A file changed on disk leaves the document
 * (its old swarm with it) within that age. Time is an injected clock; the cost is serve's own count
 * of the files its sweeps stat'ed (`Gateway.filesChecked`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/index.js';
import { STATUS_CHECK_MAX_AGE_MS } from '../../src/gateway/status.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from './helpers.js';

interface Doc {
  files: { path: string; state: string; infoHash: string | null }[];
  swarms: { infoHash: string; paths: string[] }[];
}

async function status(g: Gateway): Promise<Doc> {
  const r = await request(`${g.url}/.torrenttp/status.json`);
  assert.equal(r.statusCode, 200);
  return (await r.body.json()) as Doc;
}

const FILES = 100;

test(`status.json polled: at most one identity sweep of the ${FILES} offered files per ${STATUS_CHECK_MAX_AGE_MS} ms, however many requests; a changed file leaves within that`, { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const name = (i: number): string => `f${String(i).padStart(3, '0')}.bin`;
    for (let i = 0; i < FILES; i++) writeFileSync(join(root, name(i)), bytes(2048, i + 1));
    let clock = 1_700_000_000_000;
    const g = await startGateway(t, { root, minSizeBytes: 1024, now: () => clock }); // checkEveryMs: 0, the timer off
    for (let i = 0; i < FILES; i += 10) await Promise.all(Array.from({ length: 10 }, (_, k) => torrentOf(`${g.url}/${name(i + k)}`)));

    // The first document sweeps; the next ones, one after another and at once, rely on it.
    const start = g.filesChecked;
    const first = await status(g);
    assert.equal(first.swarms.length, FILES);
    assert.equal(g.filesChecked - start, FILES, 'the first document sweeps once');
    for (let i = 0; i < 20; i++) await status(g);
    await Promise.all(Array.from({ length: 20 }, () => status(g)));
    clock += STATUS_CHECK_MAX_AGE_MS - 1;
    for (let i = 0; i < 5; i++) await status(g);
    assert.equal(g.filesChecked - start, FILES, `46 documents within ${STATUS_CHECK_MAX_AGE_MS} ms: still one sweep`);

    // Once the sweep is that old, the next document makes a new one, and only one.
    clock += 1;
    await Promise.all(Array.from({ length: 10 }, () => status(g)));
    for (let i = 0; i < 10; i++) await status(g);
    assert.equal(g.filesChecked - start, 2 * FILES, 'a second sweep at the age, not one per request');

    // A file changed on disk (and not asked for since) is gone from the document, its swarm with
    // it, once the last sweep is that old: never reported with its old swarm for longer.
    const changed = first.files.find((f) => f.path === `/${name(7)}`);
    assert.equal(changed?.state, 'ready');
    writeFileSync(join(root, name(7)), bytes(3000, 999));
    clock += STATUS_CHECK_MAX_AGE_MS;
    const after = await status(g);
    assert.equal(g.filesChecked - start, 3 * FILES);
    assert.equal(after.files.find((f) => f.path === `/${name(7)}`), undefined, 'the changed file is not listed ready');
    assert.equal(after.swarms.length, FILES - 1);
    assert.ok(!after.swarms.some((s) => s.infoHash === changed?.infoHash), 'its old swarm is gone');

    // A clock that steps back does not make the last sweep young for ever.
    clock -= 60_000;
    await status(g);
    assert.equal(g.filesChecked - start, 4 * FILES - 1, 'a sweep after the clock stepped back');
  }));

/**
 * `serve`'s shutdown does not wait for a whole-file SHA-256 under way (~0.7 s per GiB): the job
 * is given up, its digest dropped, and no metainfo cache entry is written for it, then or later.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { request } from 'undici';
import { BITTORRENT_MEDIA_TYPE as BT, Gateway } from '../../src/gateway/index.js';
import { identityOf, SwarmFiles, unlessAborted } from '../../src/gateway/swarm-files.js';
import type { Client } from '../../src/engine/index.js';
import { HashPool } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { recordingLogger } from './helpers.js';

const MIB = 1024 * 1024;

test('close does not wait for a whole-file SHA-256 under way; no cache entry is written for it', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'f.bin'), bytes(3 * MIB, 9));
    // The injected hasher: the SHA-256 job starts and is held until the test lets it go.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const digestStarted = new Promise<void>((r) => (started = r));
    t.after(() => release());
    const original = HashPool.prototype.sha256File;
    const hasher = t.mock.method(HashPool.prototype, 'sha256File', async function (this: HashPool, ...args: Parameters<HashPool['sha256File']>) {
      started();
      await gate;
      return original.apply(this, args);
    });
    const cacheDir = join(dir, 'cache');
    const logger = recordingLogger();
    const g = await Gateway.start({ host: '127.0.0.1', port: 0, checkEveryMs: 0, hashThreads: 2, root, cacheDir, logger });
    const r = await request(`${g.url}/f.bin`, { headers: { accept: BT } });
    await r.body.dump();
    await digestStarted; // the pieces are hashed and the torrent is ready; the SHA-256 is held

    // Without the fix this waits for the held SHA-256 for ever (the test's timeout).
    await g.close();
    const meta = (): string[] => (existsSync(join(cacheDir, 'meta')) ? readdirSync(join(cacheDir, 'meta')) : []);
    assert.deepEqual(meta(), [], 'no cache entry at close');

    // The held job ends after the close (on a closed pool): still nothing is written, nothing is logged as a failure.
    release();
    await (hasher.mock.calls[0]!.result as Promise<unknown>).catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(meta(), [], 'no cache entry after the job ended');
    assert.deepEqual(logger.entries.filter((e) => e.level === 'warn' || e.level === 'error').map((e) => e.msg), []);
  }));

test('unlessAborted: a settled call leaves nothing on the signal (a race against one promise living until close kept every digest: ~0.5 KB per file hashed)', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const ac = new AbortController();
  const refs: WeakRef<Uint8Array>[] = [];
  const one = async (): Promise<void> => {
    const digest = new Uint8Array(32);
    refs.push(new WeakRef(digest));
    assert.equal(await unlessAborted(Promise.resolve(digest), ac.signal), digest);
  };
  for (let i = 0; i < 50; i++) await one();
  await assert.rejects(unlessAborted(Promise.reject(new Error('hash failed')), ac.signal), /hash failed/);
  await new Promise((r) => setImmediate(r)); // WeakRefs made in a job are kept until it ends
  gc();
  assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0, 'every result collected while the signal lives');
  // Aborted: undefined at once for work still under way, and for work given after.
  const held = unlessAborted(new Promise<Uint8Array>(() => undefined), ac.signal);
  ac.abort();
  assert.equal(await held, undefined);
  assert.equal(await unlessAborted(Promise.reject(new Error('late')), ac.signal), undefined);
});

test('a file the seed refuses (not under the served folder) leaves no info-hash served behind', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, 'www'));
    mkdirSync(join(dir, 'elsewhere'));
    const file = join(dir, 'elsewhere', 'f.bin');
    writeFileSync(file, bytes(64 * 1024, 3));
    const pool = new HashPool({ threads: 1 });
    t.after(() => pool.close());
    const announced: (readonly string[])[] = [];
    const logger = recordingLogger();
    let added = 0;
    const client = { add: async () => void added++ } as unknown as Client; // never reached: the path is refused first
    const files = new SwarmFiles({ root: join(dir, 'www'), cacheDir: join(dir, 'cache'), pool, client, internalAnnounce: () => 'http://127.0.0.1:1/announce', onInfoHashes: (h) => void announced.push(h), logger });
    files.want(file, identityOf(statSync(file, { bigint: true })));
    await files.settled();
    assert.ok(logger.entries.some((e) => e.level === 'warn' && (e.obj as { err?: { code?: string } }).err?.code === 'GATEWAY_FORBIDDEN'), 'refused');
    assert.equal(added, 0);
    assert.deepEqual(files.infoHashes(), [], 'no info-hash left served');
    assert.deepEqual(announced.at(-1) ?? [], [], 'nor told to the tracker');
    await files.close();
  }));

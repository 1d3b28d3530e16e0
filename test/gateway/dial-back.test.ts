/**
 * One connection between serve's seed and a `torrenttp get` (issue 15): the get dials the seed
 * named by `TorrentTTP-Seed` as it announces to serve's tracker, and the seed, which dials back
 * announcing leechers (gateway.ts `dialBack`), must not dial a leecher it is, or was since its
 * announce, connected to. The get holds its output (a stream that is not drained) so that it stays
 * up, listening, well past the dial-back delay: a dial back would connect and be counted. The
 * seed's debug log names every link it attaches and closes. Faults checked once: `dialBack`
 * calling `introduce` at once (no wait, no checks) makes the seed open a second connection,
 * closed as ENGINE_DUPLICATE_PEER; without the call-off on attach (`linked`), the seed dials the
 * get again after its 4 MiB are done and its link closed (two links); without `noteSeed` in
 * torrent.ts `leave`, the finished get redials the seed 5 s later (two links, the second closed
 * at once: two seeds have nothing to trade).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { getUrl } from '../../src/gateway/index.js';
import { DIAL_BACK_DELAY_MS } from '../../src/gateway/gateway.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { recordingLogger, startGateway, torrentOf } from './helpers.js';

const MIB = 1024 * 1024;
/** The get redials its given peers (the seed) this often while not connected (client.ts REDIAL_MS). */
const GET_REDIAL_MS = 5000;

async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await cond()) return;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('serve + get: one connection between the seed and the get for the whole download, no dial back, no duplicate', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(4 * MIB, 15);
    writeFileSync(join(root, 'big.bin'), payload);
    const logger = recordingLogger();
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache'), pieceLength: 64 * 1024, logger });
    const url = `${g.url}/big.bin`;
    await torrentOf(url);
    await until('the seed header', async () => {
      const r = await request(`${url}?torrent`);
      await r.body.dump();
      return r.headers['torrenttp-seed'] !== undefined;
    });
    // The seed's own first announce (UDP, to its tracker) in before the get's: answered after it, it
    // would list the get, and the seed would dial the get once it is done and gone (the get's link
    // closes with its bitfield short of complete as the seed saw it: no `noteSeed`), a second link
    // that is no dial back (seen with a 3 s delay injected into the UDP tracker client's announce).
    await until('the seed on its tracker', async () => {
      const r = await request(`${g.url}/.torrenttp/status.json`);
      const doc = (await r.body.json()) as { swarms: { seeds: number | null }[] };
      return (doc.swarms[0]?.seeds ?? 0) >= 1;
    });
    const seedLog = (msg: string): { peer: string; code?: string }[] => logger.entries.filter((e) => e.msg === msg).map((e) => e.obj as { peer: string; code?: string });

    // The get's output takes nothing until released: its link to the seed stays open meanwhile.
    const chunks: Buffer[] = [];
    let release!: () => void;
    const released = new Promise<void>((res) => (release = res));
    t.after(() => release()); // a failed wait below must not leave the get (and this process) held
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        void released.then(() => cb());
      },
    });
    // Over the wire (alone, a get would stream the origin instead: lone-stream.test.ts).
    const got = getUrl({ url, output: { kind: 'stream', stream: out }, stallMs: 30_000, loneStream: false });
    got.catch(() => undefined);

    // The tracker heard the get (a leecher in the swarm) and the seed has its link; a dial back
    // is made DIAL_BACK_DELAY_MS after the announce, and the get (done and away from the seed
    // within that, here) would redial the seed it was given after REDIAL_MS: wait past both.
    await until('the announce and the link', async () => {
      const r = await request(`${g.url}/.torrenttp/status.json`);
      const doc = (await r.body.json()) as { swarms: { leechers: number | null }[] };
      return (doc.swarms[0]?.leechers ?? 0) >= 1 && seedLog('seed peer connected').length >= 1;
    });
    await new Promise((res) => setTimeout(res, Math.max(3 * DIAL_BACK_DELAY_MS, GET_REDIAL_MS + 1500)));
    const during = seedLog('seed peer connected');
    release();
    const result = await got;
    out.end();

    assert.equal(result.mode, 'swarm');
    assert.equal(result.status, 'complete');
    assert.ok(Buffer.concat(chunks).equals(Buffer.from(payload)), 'byte-identical');
    assert.equal(result.sources.wire, payload.length, 'every byte from the seed, over the wire');
    assert.equal(during.length, 1, `one link while downloading, not ${JSON.stringify(during)} (closed: ${JSON.stringify(seedLog('seed peer closed'))})`);
    assert.deepEqual(seedLog('seed peer connected'), during, 'no link after');
    assert.deepEqual(seedLog('seed peer closed').filter((c) => c.code === 'ENGINE_DUPLICATE_PEER'), [], 'no duplicate closed');
  }),
);

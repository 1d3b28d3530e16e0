/**
 * `Client.close(stopTimeoutMs)`: the `stopped` announce still goes out, but a tracker that never
 * answers it holds the close for at most `stopTimeoutMs`, not the announcer's 3 s (a get that ends
 * early passes 1 s, swarm-get.ts `EARLY_STOP_MS`, so a Ctrl-C or a closed pipe exits promptly).
 * Fault checked once: `remove` not passing `stopTimeoutMs` to `Announcer.stop` (the close took 3 s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { encodeAnnounceResponse } from '../../src/tracker/index.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

/** The announcer's own bound on `stopped` when none is given. */
const ANNOUNCER_STOP_MS = 3000;

test('Client.close(stopTimeoutMs): `stopped` is sent, and a tracker that never answers it holds the close for stopTimeoutMs only', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const events: string[] = [];
    const held: ServerResponse[] = [];
    const tracker = createServer((req, res) => {
      const event = new URL(req.url ?? '/', 'http://x').searchParams.get('event') ?? '';
      events.push(event);
      if (event === 'stopped') {
        held.push(res); // never answered
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(encodeAnnounceResponse({ intervalSec: 1800, peers: new Uint8Array(0) }));
    });
    await new Promise<void>((r) => tracker.listen(0, '127.0.0.1', r));
    t.after(() => {
      tracker.closeAllConnections();
      tracker.close();
    });
    const port = (tracker.address() as { port: number }).port;
    writeFileSync(join(dir, 'src.bin'), bytes(64 * 1024));
    const { torrent } = await createTorrent(join(dir, 'src.bin'), { announceList: [[`http://127.0.0.1:${port}/announce`]], creationDate: null });

    const client = new Client({ host: '127.0.0.1' });
    await client.add(torrent, { path: join(dir, 'dl') });
    await until('the started announce', () => events.includes('started'), 10_000);
    const started = performance.now();
    await client.close(200);
    const ms = performance.now() - started;
    assert.ok(events.includes('stopped'), `stopped sent: ${events.join(', ')}`);
    assert.equal(held.length, 1);
    assert.ok(ms < ANNOUNCER_STOP_MS - 500, `the close took ${ms.toFixed(0)} ms, as long as without a bound`);
  }),
);

/**
 * The proxy's warm-up (proxy-offer.ts `warmUp`): while it starts, two whole cold-fetch offers are
 * negotiated with a throwaway loopback origin, so that a program's first cold fetch does not
 * compile the path: the torrent request (with `TorrentTTP-Join`), the first piece's ranged `GET`
 * (its SHA-1 checked), once taken on the torrent's announced head and once on the piece's, and a
 * `HEAD`; then one whole cold fetch of that origin's file through the proxy's own server
 * (`through`), which leaves nothing behind: no log line, no torrent, no folder in the cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, type Dispatcher } from 'undici';
import { readdir } from 'node:fs/promises';
import { warmUp } from '../../src/gateway/proxy-offer.js';
import { withTempDir } from '../helpers/torrents.js';
import { startProxy } from './proxy-helpers.js';

/** An undici Agent that records each request's method, `Accept`, `Range` and `TorrentTTP-Join`. */
class Recording extends Agent {
  readonly seen: string[] = [];
  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const flat = Array.isArray(opts.headers) ? (opts.headers as string[]) : [];
    const h = (name: string): string => {
      for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i]!.toLowerCase() === name) return flat[i + 1]!;
      return '-';
    };
    this.seen.push(`${opts.method} accept=${h('accept').split(',')[0]} range=${h('range')} join=${h('torrenttp-join')}`);
    return super.dispatch(opts, handler);
  }
}

test('the warm-up negotiates two whole offers: the torrent (joining), its first piece\'s range; then a HEAD', async () => {
  const d = new Recording();
  try {
    const through: string[] = [];
    await warmUp(d, async (url) => void through.push(url));
    const offer = ['GET accept=application/x-bittorrent range=- join=1', 'GET accept=*/* range=bytes=0-16383 join=-'];
    assert.deepEqual(d.seen, [...offer, ...offer, 'HEAD accept=*/* range=- join=-']);
    assert.equal(through.length, 1, 'then one fetch of the file through the proxy');
  } finally {
    await d.close();
  }
});

test("the proxy's start fetches the warm-up's file through its own server, whole, and keeps nothing of it", async (t) => {
  await withTempDir(t, async (dir) => {
    const { proxy, log } = await startProxy(t, { cacheDir: dir });
    // The fetch went the whole way: the torrent opened in the cache and its download completed
    // (the first piece from memory, the others streamed from the throwaway origin).
    const debug = log.entries.filter((e) => e.level === 'debug').map((e) => e.msg);
    assert.ok(debug.includes('streaming the origin while alone') && debug.includes('download done'), debug.join('; '));
    assert.deepEqual(log.entries.filter((e) => e.level !== 'debug').map((e) => e.msg), [], 'no request line, no warning');
    assert.deepEqual(proxy.cache.usage(), { torrents: 0, bytes: 0 });
    assert.deepEqual(await readdir(dir), []);
  });
});

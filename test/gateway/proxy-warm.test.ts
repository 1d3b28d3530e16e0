/**
 * The proxy's warm-up (proxy-offer.ts `warmUp`): while it starts, two whole cold-fetch offers are
 * negotiated with a throwaway loopback origin, so that a program's first cold fetch does not
 * compile the path: the torrent request (with `TorrentTTP-Join`), the first piece's ranged `GET`
 * (its SHA-1 checked), once taken on the torrent's announced head and once on the piece's, and a
 * `HEAD`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, type Dispatcher } from 'undici';
import { warmUp } from '../../src/gateway/proxy-offer.js';

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
    await warmUp(d);
    const offer = ['GET accept=application/x-bittorrent range=- join=1', 'GET accept=*/* range=bytes=0-0 join=-'];
    assert.deepEqual(d.seen, [...offer, ...offer, 'HEAD accept=*/* range=- join=-']);
  } finally {
    await d.close();
  }
});

/**
 * `torrenttp proxy` of an http: origin that names its seed (`TorrentTTP-Seed`): the seed is
 * dialled plain (AddOptions.plainPeers), as a relay in front of it sees. Fault checked once:
 * proxy-cache.ts passing no plainPeers makes the relay see an encrypted start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { relay, type Relay } from '../helpers/mse-relay.js';
import { withTempDir } from '../helpers/torrents.js';
import { curl, startProxy } from './proxy-helpers.js';
import { seedOnlyByHeader } from './seed-front.js';

test('the proxy dials the seed an http: origin names plain too', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    let r: Relay | undefined;
    const { frontUrl, payload } = await seedOnlyByHeader(t, dir, async (port) => {
      r = await relay(t, port);
      return `127.0.0.1:${r.port}`;
    });
    const { proxy } = await startProxy(t, { cacheDir: join(dir, 'pcache') });
    const out = join(dir, 'via-proxy.bin');
    const got = await curl(t, ['-x', proxy.url, frontUrl, '-o', out, '-w', '%{http_code}']);
    assert.equal(got.stdout.toString(), '200', got.stderr);
    assert.ok(readFileSync(out).equals(Buffer.from(payload)), 'byte-identical');
    assert.ok(r!.starts.length > 0, 'the proxy reached the seed through the relay');
    assert.deepEqual([...new Set(r!.starts)], ['plain']);
  }),
);


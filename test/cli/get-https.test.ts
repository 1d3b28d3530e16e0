/**
 * `torrenttp get https://…` of a file that `serve --cert --key` serves: alone, the get streams
 * the file over TLS in one GET (lone-stream.ts), as it does over http, with `--cacert`'s trust:
 * the bytes leave serve as its web seed's, none as plain HTTP and none from its wire seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { jsonLines, spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/processes.js';
import { selfSignedCert } from '../helpers/tls.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

interface Totals {
  readonly plainBytes: number;
  readonly peerBytes: number;
  readonly webSeedBytes: number;
}

/** GET `url` trusting `ca`: its status and body. */
function fetchTrusting(url: string, ca: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

test('get of an https URL from serve --cert streams it alone over TLS (--cacert): byte-identical, all as the web seed, none plain', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { cert, key } = selfSignedCert(dir, { ipSan: true });
    const ca = readFileSync(cert);
    mkdirSync(join(dir, 'www'));
    const payload = bytes(5_000_000, 33);
    writeFileSync(join(dir, 'www', 'f.bin'), payload);
    const serve = spawnCli(t, dir, ['serve', 'www', '--port', '0', '--host', '127.0.0.1', '--cert', cert, '--key', key, '--log-level', 'warn']);
    await until('serving HTTPS', () => /^serving .* at https:\/\/127\.0\.0\.1:\d+\/$/m.test(serve.stdout), 20_000);
    const base = /at (https:\/\/127\.0\.0\.1:\d+)\//.exec(serve.stdout)![1]!;
    const url = `${base}/f.bin`;
    // The first ask starts the hashing (503 until the torrent is made).
    for (let i = 0; (await fetchTrusting(`${url}?torrent`, ca)).status !== 200; i++) {
      assert.ok(i < 300, 'no torrent');
      await new Promise((r) => setTimeout(r, 100));
    }
    const totals = async (): Promise<Totals> => (JSON.parse((await fetchTrusting(`${base}/.torrenttp/status.json`, ca)).body.toString()) as { totals: Totals }).totals;
    const before = await totals();

    const get = spawnCli(t, dir, ['get', url, '--cacert', cert, '-o', 'out.bin', '--json', '-v']);
    assert.equal(await get.exited, 0, get.stderr);
    assert.ok(readFileSync(join(dir, 'out.bin')).equals(Buffer.from(payload)), 'byte-identical');
    const summary = jsonLines(get).find((e) => e.event === 'summary') as unknown as { mode: string; sources: Record<string, number> };
    assert.equal(summary.mode, 'swarm');
    assert.deepEqual(summary.sources, { plain: 0, wire: 0, webseed: payload.length, http: 0 }, 'streamed whole from the origin');
    assert.match(get.stderr, /alone in the swarm: streaming https:\/\/127\.0\.0\.1:\d+\/f\.bin in one GET/, get.stderr);
    const after = await totals();
    assert.equal(after.webSeedBytes - before.webSeedBytes, payload.length, `serve sent it as its web seed: ${JSON.stringify({ before, after })}`);
    assert.equal(after.plainBytes, before.plainBytes, 'no plain HTTP bytes');
    assert.equal(after.peerBytes, before.peerBytes, 'none from the wire seed');
  }));

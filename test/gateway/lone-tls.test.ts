/**
 * A lone stream over TLS (src/gateway/lone-stream.ts, a get of an `https:` web seed): the
 * connection has the trust of every other https connection of the process (`setClientTls`: get's
 * `--cacert`, `-k`), reads its decrypted bytes into the pieces, every piece verified; an origin
 * whose certificate is not trusted fails the stream before its request is sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import { setClientTls } from '../../src/gateway/client.js';
import { connectOrigin, loneStreamUrl, streamOrigin } from '../../src/gateway/lone-stream.js';
import { withTempDir } from '../helpers/torrents.js';
import { selfSignedHttps } from '../helpers/tls.js';
import { makeTorrent } from '../storage/helpers.js';

test('an https origin streams with the get\'s trust (--cacert; -k): one GET, early-connected or not, every piece verified; untrusted, it fails before its request, nothing stored', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // Several TLS records per piece and pieces across records; the end not on a piece boundary.
    const tt = makeTorrent(2 * 1024 * 1024 + 17, 64 * 1024, { seed: 9 });
    const ranges: string[] = [];
    const https = await selfSignedHttps(t, dir, (req, res) => {
      ranges.push(String(req.headers.range));
      res.writeHead(200, { 'content-length': String(tt.content.length) });
      // In chunks, so that the answer's head comes alone and the body in many reads.
      let at = 0;
      const more = (): void => {
        while (at < tt.content.length) {
          const ok = res.write(tt.content.subarray(at, at + 100_000));
          at += 100_000;
          if (!ok) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    t.after(() => setClientTls({}));
    const client = new Client({ listen: false });
    t.after(() => client.close());
    const fresh = async (name: string) => {
      const x = await client.add(tt.metainfo, { path: dir, storeAs: name, resumeDir: false, trackers: false, webSeeds: false, dht: false });
      x.downloadsHeld = true;
      return x;
    };
    const url = `${https.origin}/f.bin`;

    // Untrusted (node's CAs only): the handshake fails, the GET is never sent, nothing is stored.
    setClientTls({});
    const untrusted = await fresh('untrusted');
    const refused = await streamOrigin(untrusted, url, { idleMs: 60_000 }).over;
    assert.equal(refused.how, 'failed');
    assert.match((refused as { reason: string }).reason, /self-signed certificate/);
    assert.deepEqual(ranges, [], 'no request to an untrusted origin');
    assert.equal(untrusted.stats().verifiedBytes, 0);
    await client.remove(untrusted.infoHash);

    for (const [name, tls, early] of [
      ['cacert', { ca: readFileSync(https.cert) }, false],
      ['cacert-early', { ca: readFileSync(https.cert) }, true],
      ['insecure', { rejectUnauthorized: false }, false],
    ] as const) {
      setClientTls(tls);
      const tor = await fresh(name);
      const connection = early ? connectOrigin(tt.metainfo, url) : undefined;
      const end = await streamOrigin(tor, url, connection === undefined ? {} : { connection }).over;
      assert.deepEqual(end, { how: 'complete' }, name);
      assert.ok(tor.complete, name);
      assert.ok(Buffer.from(readFileSync(join(dir, name))).equals(Buffer.from(tt.content)), `${name}: byte-identical`);
      await client.remove(tor.infoHash);
    }
    assert.deepEqual(ranges, ['bytes=0-', 'bytes=0-', 'bytes=0-'], 'one GET of the whole file each');
  }));

test("loneStreamUrl: a get's (tls) takes the first http: or https: web seed, a proxy's only http:", () => {
  const tt = makeTorrent(100_000, 16 * 1024, { seed: 3 });
  const m = { ...tt.metainfo, urlList: ['ftp://x/f', 'https://a.example/f', 'http://b.example/f'] };
  assert.equal(loneStreamUrl(m, ['127.0.0.1:1'], undefined, 0, 0, true)?.url, 'https://a.example/f');
  assert.equal(loneStreamUrl(m, ['127.0.0.1:1'], undefined, 0)?.url, 'http://b.example/f');
  assert.equal(loneStreamUrl({ ...m, urlList: ['https://a.example/f'] }, ['127.0.0.1:1'], undefined, 0), undefined);
});

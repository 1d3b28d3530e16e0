/**
 * Small things a new user noticed (issue 13): a failing web seed is one line however often it is
 * retried, and a listen failure without --port does not name a port 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createTorrent } from '../../src/metainfo/index.js';
import { cli, spawnCli } from '../helpers/cli.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const count = (text: string, needle: string) => text.split(needle).length - 1;

test('a web seed that answers 404 to every range is one [WARN] line, not one per retry', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // From the second round of retries on, the round's first GET is answered last, so the
    // failure that makes the web seed back off names another byte range than the first time.
    let gets = 0;
    let lastMs = 0;
    let round = 0;
    let inRound = 0;
    const server = createServer((_req, res) => {
      gets++;
      const now = Date.now();
      if (now - lastMs > 500) {
        round++;
        inRound = 0;
      }
      lastMs = now;
      inRound++;
      setTimeout(() => {
        res.statusCode = 404;
        res.end('not here');
      }, round > 1 && inRound === 1 ? 400 : 0);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/p.bin`;
    writeFileSync(join(dir, 'p.bin'), bytes(16 * 1024 * 1024, 71)); // several 4 MiB runs: GETs of different ranges
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null, pieceLength: 256 * 1024, urlList: [url] });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--stop-timeout', '5']);
    assert.equal(await p.exited, 1, p.stderr);
    assert.ok(gets >= 2, `${gets} GETs: retried`);
    assert.equal(count(p.stderr, `[WARN] web seed ${url}:`), 1, p.stderr);
    assert.match(p.stderr, /\[TRANSPORT_HTTP_STATUS\]$/m);
  }));

test('cannot listen without --port: the message says "any port", not :0', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'p.bin'), bytes(50_000, 72));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is no address of this machine.
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--listen', '192.0.2.1']);
    assert.equal(await p.exited, 1, p.stderr);
    assert.match(p.stderr, /^torrenttp: cannot listen for peers on the address and port: 192\.0\.2\.1, any port: .*EADDRNOTAVAIL.* \[ENGINE_LISTEN_FAILED\]$/m);
    assert.doesNotMatch(p.stderr, /192\.0\.2\.1:0/);
  }));

test('seed x.torrent ./renamed.bin: the file is named as a file of another name, not as "renamed.bin/x.bin: not a folder"', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'p.bin'), bytes(50_000, 13));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    writeFileSync(join(dir, 'renamed.bin'), bytes(50_000, 13));
    const r = await cli(dir, ['seed', 'p.torrent', 'renamed.bin', '--no-dht', '--no-trackers']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^torrenttp: input not found: \S+\/renamed\.bin is a file, and the torrent's file is named p\.bin: give that file, or the folder that holds it \[CLI_INPUT_NOT_FOUND\]$/m);
  }));

test('info of a device that never ends (/dev/zero) stops at the metainfo limit: one line, exit 1 (it read for ever)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const r = await cli(dir, ['info', '/dev/zero']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^torrenttp: input is not a \.torrent, a magnet URI or a metainfo JSON document: \/dev\/zero is larger than any torrent \[CLI_UNKNOWN_INPUT\]$/m);
  }));

/**
 * What a new user met walking README.md, docs/cli.md, serve.md and proxy.md from a fresh clone
 * (session 19): `get -v`'s retry line in other words than the line `--retry` prints, `get --port
 * abc` not saying what is wrong, a start line's bare "port N", and a URL typed without its scheme;
 * then serve on a taken port logging "tracker listening"/"tracker closed" before its bind error,
 * `--no-swarm`'s nested brackets, and download's "↓ 8.02 MiB" for an 8.00 MiB file.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { CliContext } from '../../src/cli/context.js';
import { GetReporter } from '../../src/cli/get-report.js';
import { Reporter } from '../../src/cli/report.js';
import type { TorrentStats } from '../../src/engine/index.js';
import type { GetResult } from '../../src/gateway/index.js';
import { startGateway, torrentOf } from '../gateway/helpers.js';
import { cli, spawnCli } from '../helpers/cli.js';
import { httpOrigin } from '../helpers/origin.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('get -v --retry: the "* " line says the retry in the words and count of the line --retry prints (curl\'s)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    let n = 0;
    const url = await httpOrigin(t, (_req, res) => {
      if (++n <= 2) return void res.writeHead(503, { 'retry-after': '0' }).end('busy');
      res.end('ok\n');
    });
    const r = await cli(dir, ['get', `${url}/f`, '-o', 'f', '--retry', '2', '-v']);
    assert.equal(r.code, 0, r.stderr);
    const plain = r.stderr.split('\n').filter((l) => l.startsWith('torrenttp: ') && l.includes('Will retry'));
    const verbose = r.stderr.split('\n').filter((l) => l.startsWith('* ') && l.includes('503'));
    assert.equal(plain.length, 2, r.stderr);
    assert.deepEqual(verbose, plain.map((l) => `* ${l.slice('torrenttp: '.length)}`), r.stderr);
    assert.match(verbose[0]!, /\. Will retry in 0 seconds\. 2 retries left\.$/);
    // -sv hides the plain line; -v's still says it.
    n = 0;
    const quiet = await cli(dir, ['get', `${url}/f`, '-o', 'f', '--retry', '2', '-sv']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /^torrenttp: /m);
    assert.match(quiet.stderr, /^\* .*503.*\. Will retry in 0 seconds\. 1 retry left\.$/m, quiet.stderr);
  }));

test('get --port abc (or 99999): a usage error that names the option and what it takes, as every other command\'s --port', (t) =>
  withTempDir(t, async (dir) => {
    for (const value of ['abc', '99999', '-1x']) {
      const r = await cli(dir, ['get', '--port', value, 'http://127.0.0.1:1/x']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^error: option '--port <n>' argument '${value}' is invalid\\. not an integer from 0 to 65535$`, 'm'), r.stderr);
    }
  }));

test('get\'s start line of a swarm download says which port is the BitTorrent one ("BitTorrent port N", as -v says), not a bare "port N"; of a file already whole, "already complete", not "resuming at" its size', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(1024 * 1024, 191));
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentOf(`${g.url}/big.bin`);
    const r = await cli(dir, ['get', `${g.url}/big.bin`, '-o', 'big.bin']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\S+big\.bin: 1\.00 MiB from the swarm \(the server offered a torrent; [0-9a-f]{40}, BitTorrent port \d+\)$/m, r.stderr);
    // -C - of the whole file: "already complete", not "resuming at 1.00 MiB" (and plainly, not both).
    const again = await cli(dir, ['get', `${g.url}/big.bin`, '-o', 'big.bin', '-C', '-']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /^\S+big\.bin: 1\.00 MiB from the swarm \(the server offered a torrent; [0-9a-f]{40}, BitTorrent port \d+\), already complete$/m, again.stderr);
    writeFileSync(join(root, 'small.txt'), 'small\n');
    for (let i = 0; i < 2; i++) {
      const plain = await cli(dir, ['get', `${g.url}/small.txt`, '-o', 'small.txt', '-C', '-']);
      assert.equal(plain.code, 0, plain.stderr);
      if (i === 1) assert.match(plain.stderr, /^\S+small\.txt: 6 B over plain HTTP \(already complete\)$/m, plain.stderr);
    }
  }));

test('get of a URL without its scheme (curl and wget would add http://) says which URL was meant; a file here is sent to download', (t) =>
  withTempDir(t, async (dir) => {
    const cases: [string, RegExp][] = [
      ['example.com', /"example\.com" is not a valid URL \(did you mean http:\/\/example\.com\?\)/],
      ['127.0.0.1:8080/big.iso', /"127\.0\.0\.1:8080\/big\.iso" is not a valid URL \(did you mean http:\/\/127\.0\.0\.1:8080\/big\.iso\?\)/],
      // WHATWG URL reads "localhost:" as a scheme.
      ['localhost:8080/big.iso', /"localhost:8080\/big\.iso" is not an http\(s\) URL \(did you mean http:\/\/localhost:8080\/big\.iso\?\)/],
      ['x.torrent', /"x\.torrent" is not a valid URL \(a file here: get takes a URL; for a \.torrent file, torrenttp download FILE\)/],
    ];
    writeFileSync(join(dir, 'x.torrent'), 'd4:infoe');
    for (const [url, said] of cases) {
      const r = await cli(dir, ['get', url]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, said, r.stderr);
    }
    // No guess where none fits.
    for (const url of ['ftp://x/y', '/no/such/file']) {
      const r = await cli(dir, ['get', url]);
      assert.equal(r.code, 2, r.stderr);
      assert.doesNotMatch(r.stderr, /did you mean|a file here/, r.stderr);
    }
  }));

/** A loopback port held by a listening server for the test's length (a port the CLI cannot have). */
async function takenPort(t: TestContext): Promise<string> {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  return String((blocker.address() as AddressInfo).port);
}

test('serve and proxy on a port that is taken say which flag picks another (npm start gives no other way to learn it)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const taken = await takenPort(t);
    const cases: [string[], RegExp][] = [
      [['serve', dir, '--host', '127.0.0.1', '--port', taken, '--cache', join(dir, 'c1')], new RegExp(`tcp 127\\.0\\.0\\.1:${taken}: in use \\(EADDRINUSE\\); choose another with --port N, or --port 0 for any free port \\[GATEWAY_BIND_FAILED\\]$`, 'm')],
      [['serve', dir, '--host', '127.0.0.1', '--port', '0', '--peer-port', taken, '--cache', join(dir, 'c2')], /: choose another with --peer-port N, or leave --peer-port out for any free port \[ENGINE_PORT_IN_USE\]$/m],
      [['proxy', '--port', taken, '--cache', join(dir, 'p')], new RegExp(`tcp 127\\.0\\.0\\.1:${taken}: in use \\(EADDRINUSE\\); choose another with --port N, or --port 0 for any free port \\[GATEWAY_BIND_FAILED\\]$`, 'm')],
    ];
    for (const [args, said] of cases) {
      const r = await cli(dir, [...args, '--log-format', 'json', '--log-level', 'warn']);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, said, args.join(' '));
      assert.doesNotMatch(r.stderr, /EADDRINUSE.*EADDRINUSE/, 'said once');
    }
  }));

test('serve whose port (or --peer-port) is taken says only the bind error: no "tracker listening" or "tracker closed" of a tracker that served nothing', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const taken = await takenPort(t);
    const cases: [string[], RegExp][] = [
      [['serve', dir, '--host', '127.0.0.1', '--port', taken, '--cache', join(dir, 'c1')], /\[GATEWAY_BIND_FAILED\]$/],
      [['serve', dir, '--host', '127.0.0.1', '--port', '0', '--peer-port', taken, '--cache', join(dir, 'c2')], /\[ENGINE_PORT_IN_USE\]$/],
      [['proxy', '--port', taken, '--cache', join(dir, 'p')], /\[GATEWAY_BIND_FAILED\]$/],
    ];
    for (const format of ['json', 'pretty']) {
      for (const [args, said] of cases) {
        // Spawned: the log goes to the process's stderr, not the in-process `cli`'s. The default
        // level (info), which shows the tracker's lines.
        const p = spawnCli(t, dir, [...args, '--log-format', format]);
        // 'close', not 'exit': stderr read to its end.
        const [code] = (await once(p.child, 'close')) as [number | null];
        assert.equal(code, 1, `${args.join(' ')}: ${p.stderr}`);
        const lines = p.stderr.split('\n').filter((l) => l !== '');
        assert.equal(lines.length, 1, `${format} ${args.join(' ')}: ${p.stderr}`);
        assert.match(lines[0]!, said, p.stderr);
      }
    }
  }));

test('get --no-swarm\'s start line (and -v\'s "* " line) gives the flag as its reason, in one pair of brackets', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const url = await httpOrigin(t, (_req, res) => void res.end('ok\n'));
    const r = await cli(dir, ['get', `${url}/f`, '-o', 'f', '--no-swarm']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\S+f: 3 B over plain HTTP \(--no-swarm\)$/m, r.stderr);
    const verbose = await cli(dir, ['get', `${url}/f`, '-o', 'f', '--no-swarm', '-sv']);
    assert.equal(verbose.code, 0, verbose.stderr);
    assert.match(verbose.stderr, /^\* over plain HTTP \(--no-swarm\)$/m, verbose.stderr);
    assert.doesNotMatch(r.stderr + verbose.stderr, /\([^()]*\(/, 'no nested brackets');
  }));

/** A CLI context whose streams are kept as text. */
function captured(): { ctx: CliContext; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (add: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        add(chunk.toString());
        cb();
      },
    });
  return { ctx: { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), cwd: '/' }, out: () => out, err: () => err };
}

test('download\'s and get\'s summaries: ↓ is the payload the file got (8.00 MiB of an 8.00 MiB file), blocks received twice or failed their hash said apart as "+… wasted"', () => {
  const MiB = 1024 * 1024;
  const stats = (wasted: number): TorrentStats => ({
    infoHash: '0'.repeat(40), name: 'big.bin', length: 8 * MiB, verifiedBytes: 8 * MiB, totalLength: 8 * MiB, selectedFiles: 1, fileCount: 1, progress: 1,
    downloaded: 8 * MiB + wasted, wasted, uploaded: 0, downloadRate: 0, uploadRate: 0, peers: 1,
    peersByKind: { wire: 1, webseed: 0, http: 0 }, peersBySource: { tracker: 1, dht: 0, pex: 0, given: 0, incoming: 0 }, pex: undefined,
    downloadedByKind: { wire: 8 * MiB + wasted, webseed: 0, http: 0 }, etaSec: undefined, done: true,
  });
  const download = (wasted: number): string => {
    const c = captured();
    new Reporter(c.ctx, { json: false, jsonIntervalMs: 1000, sources: new Set() }).summary(stats(wasted), 2, 'complete');
    return c.out();
  };
  assert.equal(download(16 * 1024), 'complete: big.bin 100.0% in 2.0 s, ↓ 8.00 MiB (4.00 MiB/s, +16.0 KiB wasted) ↑ 0 B\n');
  assert.equal(download(0), 'complete: big.bin 100.0% in 2.0 s, ↓ 8.00 MiB (4.00 MiB/s) ↑ 0 B\n');
  const get = (r: GetResult): string => {
    const c = captured();
    new GetReporter(c.ctx, false, false, true).summary(r);
    return c.err();
  };
  const sources = { plain: 0, wire: 8 * MiB + 16 * 1024, webseed: 0, http: 0 };
  const r: GetResult = { mode: 'swarm', status: 'complete', name: 'big.bin', path: undefined, totalBytes: 8 * MiB, downloadedBytes: 8 * MiB, wastedBytes: 16 * 1024, sources, uploadedBytes: 0, seconds: 2 };
  assert.equal(get(r), 'saved: stdout 8.00 MiB in 2.0 s (4.00 MiB/s) (peers 8.02 MiB, web seed 0 B), ↑ 0 B, every piece verified, +16.0 KiB wasted\n');
  assert.doesNotMatch(get({ ...r, wastedBytes: 0 }), /wasted/);
});

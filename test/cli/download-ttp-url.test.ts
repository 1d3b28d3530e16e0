/**
 * The CLI and TorrentTTP peers: `download` and `info` take a TorrentTTP torrent URL
 * (`…/ttp/v1/torrents/<infohash>`), check that the metainfo served is that torrent's, and
 * `download` then fetches the pieces from that peer; `--peer URL` names a TorrentTTP peer
 * (`--peer host:port` stays a wire peer).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { encodeJsonAnnounceResponse } from '../../src/tracker/index.js';
import { createTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { CLI_BIN, cli, jsonLines, spawnCli } from '../helpers/cli.js';
import { startTtpPeerServer } from '../helpers/ttp-peer-server.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

async function setUp(dir: string) {
  mkdirSync(join(dir, 'src'));
  const payload = bytes(700_000, 61);
  writeFileSync(join(dir, 'src', 'p.bin'), payload);
  const { torrent } = await createTorrent(join(dir, 'src', 'p.bin'), { pieceLength: 64 * 1024, creationDate: null });
  return { payload, torrent, metainfo: parseTorrent(torrent) };
}

test('download <TorrentTTP torrent URL>: metainfo from the URL, pieces from that peer, byte-identical', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { payload, torrent, metainfo } = await setUp(dir);
    const server = await startTtpPeerServer({ metainfo, data: payload, torrent });
    t.after(() => server.close());
    const p = spawnCli(t, dir, ['download', server.url, '-o', 'out', '--no-trackers', '--json']);
    assert.equal(await p.exited, 0, p.stderr + p.stdout);
    assert.deepEqual(readFileSync(join(dir, 'out', 'p.bin')), Buffer.from(payload));
    assert.ok(server.requests.some((r) => r.target.endsWith('/pieces/0')), 'the pieces came from the peer at the URL');
    const sources = jsonLines(p).filter((l) => l.event === 'source');
    assert.ok(sources.some((l) => l['id'] === server.url && l['ok'] === true), p.stdout);
  }));

test('info <TorrentTTP torrent URL>; a peer that serves another torrent at that URL is refused (CLI_FETCH_FAILED)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { payload, torrent, metainfo } = await setUp(dir);
    const server = await startTtpPeerServer({ metainfo, data: payload, torrent });
    t.after(() => server.close());
    const info = await cli(dir, ['info', server.url, '--json']);
    assert.equal(info.code, 0, info.stderr);
    assert.equal((JSON.parse(info.stdout) as { infoHash: string }).infoHash, metainfo.infoHash);
    // The same torrent's metainfo at another info-hash's URL: a lying (or confused) peer.
    const other = 'f'.repeat(40);
    const liar = await startTtpPeerServer({
      metainfo,
      data: payload,
      torrent,
      hook: (req, res) => {
        if (req.url !== `/ttp/v1/torrents/${other}`) return false;
        res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': torrent.length }).end(torrent);
        return true;
      },
    });
    t.after(() => liar.close());
    const url = `${liar.origin}/ttp/v1/torrents/${other}`;
    const bad = await cli(dir, ['info', url]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /CLI_FETCH_FAILED/);
    assert.match(bad.stderr, new RegExp(`${metainfo.infoHash}, not the info-hash in the URL`));
    const dl = await cli(dir, ['download', url, '-o', 'out2', '--no-trackers']);
    assert.notEqual(dl.code, 0);
    assert.match(dl.stderr, /CLI_FETCH_FAILED/);
  }));

test('--peer URL is a TorrentTTP peer; a URL that is not a torrent URL is a usage error', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { payload, torrent, metainfo } = await setUp(dir);
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const server = await startTtpPeerServer({ metainfo, data: payload });
    t.after(() => server.close());
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'out', '--no-trackers', '--peer', server.url]);
    assert.equal(await p.exited, 0, p.stderr + p.stdout);
    assert.deepEqual(readFileSync(join(dir, 'out', 'p.bin')), Buffer.from(payload));
    const usage = await cli(dir, ['download', 'p.torrent', '--peer', `${server.url}/`]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /TorrentTTP torrent URL/);
  }));

/** Preloaded into a download: at exit, how many of undici's files node's CommonJS loader holds. */
const UNDICI_COUNT = `data:text/javascript,${encodeURIComponent(`
import { createRequire } from 'node:module';
import { writeSync } from 'node:fs';
const req = createRequire(process.cwd() + '/');
process.on('exit', () => writeSync(2, 'undici files: ' + Object.keys(req.cache).filter((k) => k.includes('/undici/')).length + '\\n'));
`)}`;

/** Runs the CLI with `UNDICI_COUNT` preloaded; its stderr once it exited 0. */
async function runCounting(t: TestContext, dir: string, args: readonly string[]): Promise<string> {
  const child = spawn(process.execPath, ['--import', UNDICI_COUNT, CLI_BIN, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, stderr);
  return stderr;
}

test('a TorrentTTP-only download loads no undici: the HTTP peer has its own HTTP/1.1 client, the metainfo GET is node\'s (--peer URL or a torrent URL, no trackers)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { payload, torrent, metainfo } = await setUp(dir);
    const server = await startTtpPeerServer({ metainfo, data: payload, torrent });
    t.after(() => server.close());
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const byPeer = await runCounting(t, dir, ['download', 'p.torrent', '-o', 'out', '--peer', server.url, '--no-trackers', '--no-dht']);
    assert.deepEqual(readFileSync(join(dir, 'out', 'p.bin')), Buffer.from(payload));
    assert.match(byPeer, /undici files: 0\n/);
    const byUrl = await runCounting(t, dir, ['download', server.url, '-o', 'out2', '--no-trackers', '--no-dht']);
    assert.deepEqual(readFileSync(join(dir, 'out2', 'p.bin')), Buffer.from(payload));
    assert.match(byUrl, /undici files: 0\n/);
  }));

test('a download from a web seed, announcing over JSON (--http-port), loads no undici: web seeds on the transport\'s own client, JSON announces on node\'s http', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, 'src'));
    const payload = bytes(700_000, 62);
    writeFileSync(join(dir, 'src', 'p.bin'), payload);
    const seen: string[] = [];
    // One server: the tracker's JSON side and the web seed.
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.method === 'POST' && req.url === '/ttp/v1/announce') {
        req.resume();
        req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(encodeJsonAnnounceResponse({ interval: 1800, minInterval: 60, complete: 1, incomplete: 1, peers: [] })));
        return;
      }
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (req.url !== '/p.bin' || m === null) return void res.writeHead(404).end();
      const first = Number(m[1]);
      const last = Math.min(Number(m[2]), payload.length - 1);
      res.writeHead(206, { 'content-range': `bytes ${first}-${last}/${payload.length}`, 'content-length': last - first + 1 }).end(payload.subarray(first, last + 1));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { torrent } = await createTorrent(join(dir, 'src', 'p.bin'), { pieceLength: 64 * 1024, creationDate: null, announceList: [[`${base}/announce`]], urlList: [`${base}/p.bin`] });
    writeFileSync(join(dir, 'w.torrent'), torrent);
    const out = await runCounting(t, dir, ['download', 'w.torrent', '-o', 'out', '--http-port', '0', '--listen', '127.0.0.1', '--no-dht']);
    assert.deepEqual(readFileSync(join(dir, 'out', 'p.bin')), Buffer.from(payload));
    assert.ok(seen.includes('POST /ttp/v1/announce'), `a JSON announce: ${seen.slice(0, 5).join(', ')}`);
    assert.ok(seen.some((s) => s === 'GET /p.bin'), 'the web seed sent the bytes');
    assert.match(out, /undici files: 0\n/);
  }));

/**
 * What a new user hit (issue 13), as a user runs the CLI: every failing source says why on its
 * own line, a summary line when none can be reached, --stop-timeout gives up with a clear error,
 * a port in use or a folder that cannot be made fail at once with their own codes, and an
 * unreachable Redis is one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { encode } from '../../src/bencode/index.js';
import { Client } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { TrackerServer } from '../../src/tracker/index.js';
import { CLI_BIN, jsonLines, spawnCli } from '../helpers/cli.js';
import { freePort, until } from '../helpers/processes.js';
import { bytes, torrentBytes, withTempDir } from '../helpers/torrents.js';

const count = (text: string, needle: string) => text.split(needle).length - 1;

test('unreachable and refusing sources: one [WARN] line each, a summary line, then --stop-timeout gives up', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // A tracker that answers, but refuses this torrent (private mode, empty allow list). Bound
    // first: a port 0 bind after freePort may get the port freePort just found free (once in
    // CI the two trackers were one URL).
    const refusing = new TrackerServer({ host: '127.0.0.1', port: 0, privateMode: true });
    const { port: refusingPort } = await refusing.listen();
    t.after(() => refusing.close());
    const ports = new Set([refusingPort]);
    while (ports.size < 4) ports.add(await freePort());
    const [, deadTracker, deadWebSeed, deadPeer] = [...ports] as [number, number, number, number];
    writeFileSync(join(dir, 'p.bin'), bytes(100_000, 5));
    const trackers = [`http://127.0.0.1:${deadTracker}/announce`, `http://127.0.0.1:${refusingPort}/announce`];
    const { torrent } = await createTorrent(join(dir, 'p.bin'), {
      creationDate: null,
      announceList: trackers.map((u) => [u]),
      urlList: [`http://127.0.0.1:${deadWebSeed}/`],
    });
    writeFileSync(join(dir, 'p.torrent'), torrent);

    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--peer', `127.0.0.1:${deadPeer}`, '--stop-timeout', '7']);
    assert.equal(await p.exited, 1, p.stderr);
    const err = p.stderr;
    assert.match(err, new RegExp(`^\\[WARN\\] tracker ${trackers[0]}: .*\\[TRACKER_UNREACHABLE\\]$`, 'm'));
    assert.match(err, new RegExp(`^\\[WARN\\] tracker ${trackers[1]}: tracker refused the request: .*\\[TRACKER_FAILURE\\]$`, 'm'));
    assert.match(err, new RegExp(`^\\[WARN\\] web seed http://127.0.0.1:${deadWebSeed}/: .*ECONNREFUSED.*\\[TRANSPORT_HTTP_FAILED\\]$`, 'm'));
    assert.match(err, new RegExp(`^\\[WARN\\] peer 127.0.0.1:${deadPeer}: .*\\[TRANSPORT_CONNECT_FAILED\\]$`, 'm'));
    // Retried (trackers after 5 s, the peer every 5 s) and failing the same way: no new line.
    assert.equal(count(err, `[WARN] peer 127.0.0.1:${deadPeer}`), 1, err);
    assert.equal(count(err, `[WARN] tracker ${trackers[0]}`), 1, err);
    assert.match(err, /^\[ERROR\] no source can be reached \(2 trackers, 1 web seed, 1 peer: all failing/m);
    assert.equal(count(err, 'no source can be reached'), 1, err);
    assert.match(err, /^torrenttp: no data arrived for the --stop-timeout: nothing received for 7s \(0 peers, 1 web seed\) \[CLI_STOP_TIMEOUT\]$/m);
    assert.match(p.stdout, /^gave up \(--stop-timeout\): p\.bin 0\.0%/m);
  }));

test('--json reports each source change as a `source` event', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const dead = await freePort();
    writeFileSync(join(dir, 'p.bin'), bytes(50_000, 6));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null, announceList: [[`http://127.0.0.1:${dead}/announce`]] });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--json', '--stop-timeout', '2']);
    assert.equal(await p.exited, 1, p.stderr);
    const sources = jsonLines(p).filter((l) => l.event === 'source');
    assert.deepEqual(
      sources.map((l) => [l['kind'], l['id'], l['ok'], l['code']]),
      [['tracker', `http://127.0.0.1:${dead}/announce`, false, 'TRACKER_UNREACHABLE']],
    );
    assert.equal(jsonLines(p).at(-1)?.['status'], 'gave up (--stop-timeout)');
  }));

test('no tracker, no web seed, no --peer: said up front', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'p.bin'), bytes(50_000, 7));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--stop-timeout', '1', '--no-dht']);
    assert.equal(await p.exited, 1, p.stderr);
    assert.match(p.stderr, /^\[WARN\] no tracker, no web seed and no --peer: nothing to download from unless a peer connects to port \d+$/m);
    assert.match(p.stderr, /\[CLI_STOP_TIMEOUT\]/);
    // With the DHT (the default) there is one source left, and the line says so.
    const d = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl2', '--stop-timeout', '1', '--dht-bootstrap', '127.0.0.1:9']);
    assert.equal(await d.exited, 1, d.stderr);
    assert.match(d.stderr, /^\[WARN\] no tracker, no web seed and no --peer: only the DHT can find peers \(or a peer that connects to port \d+\)$/m);
  }));

test("a tracker's warning message and the engine's warnings print as [WARN] lines in plain output", { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const http = createHttpServer((_req, res) => {
      res.end(encode(new Map<string, unknown>([['interval', 60], ['peers', new Uint8Array()], ['warning message', 'tracker moving soon']]) as never));
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    t.after(() => http.close());
    const url = `http://127.0.0.1:${(http.address() as { port: number }).port}/announce`;
    writeFileSync(join(dir, 'p.bin'), bytes(50_000, 8));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null, announceList: [[url]] });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', 'dl', '--stop-timeout', '2']);
    await p.exited;
    assert.match(p.stderr, new RegExp(`^\\[WARN\\] tracker ${url}: tracker moving soon$`, 'm'));
  }));

test('a port in use: its own code, the port and the --port flag', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '0.0.0.0', () => r()));
    t.after(() => holder.close());
    const port = (holder.address() as { port: number }).port;
    writeFileSync(join(dir, 'p.bin'), bytes(50_000, 9));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const p = spawnCli(t, dir, ['seed', 'p.torrent', 'p.bin', '--port', String(port)]);
    assert.equal(await p.exited, 1, p.stderr);
    assert.match(p.stderr, new RegExp(`^torrenttp: the port for incoming peers is already in use: 0\\.0\\.0\\.0:${port}: choose another with --port N.*\\[ENGINE_PORT_IN_USE\\]$`, 'm'));
  }));

test('serve on a port in use, or on a folder that is not there: the system\'s reason is named, not only the code', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    t.after(() => holder.close());
    const port = (holder.address() as { port: number }).port;
    const inUse = spawnCli(t, dir, ['serve', dir, '--port', String(port), '--host', '127.0.0.1']);
    assert.equal(await inUse.exited, 1, inUse.stderr);
    assert.match(inUse.stderr, new RegExp(`^torrenttp: cannot listen on the address and port: tcp 127\\.0\\.0\\.1:${port}: in use \\(EADDRINUSE\\); choose another with --port N, or --port 0 for any free port \\[GATEWAY_BIND_FAILED\\]$`, 'm'));
    const missing = spawnCli(t, dir, ['serve', join(dir, 'nothere'), '--port', '0', '--host', '127.0.0.1']);
    assert.equal(await missing.exited, 1, missing.stderr);
    assert.match(missing.stderr, /^torrenttp: the folder to serve cannot be read: .*nothere: no such file or folder \(ENOENT\) \[GATEWAY_ROOT_UNUSABLE\]$/m);
  }));

test('proxy on a port in use: GATEWAY_BIND_FAILED naming the address and the reason, as serve says it', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    t.after(() => holder.close());
    const port = (holder.address() as { port: number }).port;
    const inUse = spawnCli(t, dir, ['proxy', '--port', String(port), '--cache', join(dir, 'pcache')]);
    assert.equal(await inUse.exited, 1, inUse.stderr);
    assert.match(inUse.stderr, new RegExp(`^torrenttp: cannot listen on the address and port: tcp 127\\.0\\.0\\.1:${port}: in use \\(EADDRINUSE\\); choose another with --port N, or --port 0 for any free port \\[GATEWAY_BIND_FAILED\\]$`, 'm'));
  }));

test('--listen: the seed listens on that address only', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(300_000, 10);
    writeFileSync(join(dir, 'p.bin'), payload);
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const p = spawnCli(t, dir, ['seed', 'p.torrent', 'p.bin', '--listen', '::1', '--json']);
    await until('the seed to start', () => jsonLines(p).some((l) => l.event === 'seeding'), 20_000);
    const port = jsonLines(p).find((l) => l.event === 'started')!['port'] as number;
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.on('connect', () => (s.destroy(), resolve(false)));
      s.on('error', () => resolve(true));
    });
    assert.ok(refused, 'nothing listens on 127.0.0.1');
    const leech = new Client({ listen: false });
    t.after(() => leech.close());
    const tor = await leech.add(torrent, { path: join(dir, 'dl'), peers: [`[::1]:${port}`] });
    await tor.done;
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0, p.stderr);
  }));

test('download -o /proc/…: fails at once with a clear error instead of spinning', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'p.bin'), bytes(50_000, 11));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const started = Date.now();
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', '/proc/torrenttp-test/dl', '--no-trackers']);
    assert.equal(await p.exited, 1, p.stderr);
    assert.ok(Date.now() - started < 10_000, 'at once');
    assert.match(p.stderr, /^torrenttp: .*cannot create the folder \/proc\/torrenttp-test.*\[STORAGE_IO\]$/m);
  }));

test('get -o /proc/…: fails at once with a clear error instead of spinning (node\'s recursive mkdir never ends there)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const body = bytes(50_000, 13);
    const server = createHttpServer((_req, res) => res.end(body));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => server.close());
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/p.bin`;
    const started = Date.now();
    const p = spawnCli(t, dir, ['get', url, '-o', '/proc/torrenttp-test/p.bin']);
    assert.equal(await p.exited, 23, p.stderr); // the output cannot be written: curl's code
    assert.ok(Date.now() - started < 10_000, 'at once');
    assert.match(p.stderr, /^torrenttp: cannot write the download: \/proc\/torrenttp-test\/p\.bin.*\[GATEWAY_GET_OUTPUT\]$/m);
  }));

test('a read-only filesystem says EROFS, not ENOENT', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'p.bin'), bytes(50_000, 12));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    mkdirSync(join(dir, 'ro'));
    // A read-only tmpfs in a private mount namespace: nothing outside this process tree sees it.
    const script = `mount -t tmpfs -o ro tmpfs ro && exec "$0" "$@"`;
    const child = spawn('unshare', ['-m', 'sh', '-c', script, process.execPath, CLI_BIN, 'download', 'p.torrent', '-o', 'ro/a/b', '--no-trackers'], { cwd: dir });
    t.after(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /read-only.*EROFS.*\[STORAGE_READ_ONLY\]$/m);
    assert.doesNotMatch(stderr, /ENOENT/);
  }));

test('Ctrl-C while the data is being checked stops the command at once', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // 8 GiB of sparse zeros on disk and a torrent that says otherwise: hashing it all takes many
    // seconds, and the command must not wait for that to honour Ctrl-C.
    const pieceLength = 16 * 1024 * 1024;
    const length = 8 * 1024 ** 3;
    const pieces = randomBytes((length / pieceLength) * 20);
    writeFileSync(join(dir, 'big.torrent'), torrentBytes({ length, name: 'big.bin', 'piece length': pieceLength, pieces }));
    mkdirSync(join(dir, 'dl'));
    writeFileSync(join(dir, 'dl', 'big.bin'), '');
    truncateSync(join(dir, 'dl', 'big.bin'), length);
    const p = spawnCli(t, dir, ['download', 'big.torrent', '-o', 'dl', '--no-trackers', '--json']);
    await until('the check to start', () => jsonLines(p).some((l) => l.event === 'checking'), 20_000);
    const signalled = Date.now();
    p.child.kill('SIGINT');
    assert.equal(await p.exited, 130, p.stderr);
    assert.ok(Date.now() - signalled < 4000, `exited ${Date.now() - signalled} ms after SIGINT`);
    assert.ok(!jsonLines(p).some((l) => l.event === 'started'), 'stopped during the check');
    assert.equal(jsonLines(p).at(-1)?.['status'], 'stopped (SIGINT)');
  }));

test('an unreachable --redis is one clear line', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const port = await freePort();
    const p = spawnCli(t, dir, ['tracker', '--port', '0', '--host', '127.0.0.1', '--redis', `redis://127.0.0.1:${port}`]);
    assert.equal(await p.exited, 1, p.stderr);
    const lines = p.stderr.trim().split('\n');
    assert.equal(lines.length, 1, p.stderr);
    assert.match(lines[0]!, new RegExp(`^torrenttp: .*redis://127\\.0\\.0\\.1:${port} \\(connect ECONNREFUSED .*\\) \\[TRACKER_STORE_UNAVAILABLE\\]$`));
  }));

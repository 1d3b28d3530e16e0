/**
 * `torrenttp get` as a curl/wget user meets it (session 16's review): bad `-H` lines, an empty
 * `-o` and a URL that does not parse are usage errors (exit 2), not a failed request (exit 1);
 * a self-signed server certificate says how to trust it; `-o` naming an existing folder fails
 * before the swarm download, leaving no `FILE.part`; an interrupted swarm get names the
 * `FILE.part` that holds its bytes and says that `-C -` continues it; one interrupted before the
 * server answered says nothing was written (it said `interrupted: stdout 0 B`); the URL of a
 * `.torrent` file on a plain web server saves the payload under the torrent's name (as aria2), not
 * under `x.torrent`, and one that names no tracker, web seed or peer fails at once; `-H 'Range: …'`
 * gets those bytes (as curl), not the whole file from the swarm, and not a digest mismatch; a
 * `-H 'Accept: …'` is still sent, behind the swarm's media types (it was replaced by them); curl's
 * `-fsSLO` and wget's `-q` are accepted (they were unknown options, exit 2), wget's `-qO- URL` writes
 * to stdout (it wrote a file); `-C -` of a local file
 * longer than the server's says both sizes, and from the swarm names FILE (not the FILE.part it
 * was for a moment); `--seed`'s summary times the download, not the seeding after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { CLI_BIN, cli, spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/processes.js';
import { selfSignedHttps } from '../helpers/tls.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { digestReady, startGateway, torrentOf } from '../gateway/helpers.js';

const MIB = 1024 * 1024;

test('get usage errors exit 2 before any request: a -H that is not one header, -o "", a URL that does not parse', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // A refused port: had the request gone out, the exit would be 1 (GATEWAY_GET_FAILED).
    const url = 'http://127.0.0.1:1/x';
    for (const [args, said] of [
      [[url, '-H', 'Bad Name: x'], /-H "Bad Name: x" is not "Name: value"/],
      [[url, '-H', 'X-A: 1\r\nX-Injected: 2'], /is not "Name: value"/],
      [[url, '-o', ''], /-o needs a file name/],
      [['http://127.0.0.1:99999/x'], /is not a valid URL/],
    ] as const) {
      const r = await cli(dir, ['get', ...args]);
      assert.equal(r.code, 2, `${JSON.stringify(args)}: ${r.stderr}`);
      assert.match(r.stderr, said);
      assert.match(r.stderr, /get --help/);
    }
    assert.deepEqual(readdirSync(dir), [], 'nothing written');
  }));

test('get of an https URL whose certificate is self-signed names the reason and NODE_EXTRA_CA_CERTS', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { origin } = await selfSignedHttps(t, dir, (_req, res) => res.end('hi'));
    const r = await cli(dir, ['get', `${origin}/f.txt`, '-s']);
    assert.equal(r.code, 60, `curl's exit for a certificate not trusted: ${r.stderr}`);
    assert.match(r.stderr, /self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT; to trust the server's certificate or its CA, run with NODE_EXTRA_CA_CERTS=ca\.pem, or get --cacert ca\.pem\) \[GATEWAY_GET_FAILED\]$/m);
  }));

test('download of an https torrent URL whose certificate is self-signed names NODE_EXTRA_CA_CERTS, not a --cacert it does not have', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { origin } = await selfSignedHttps(t, dir, (_req, res) => res.end('hi'));
    const r = await cli(dir, ['download', `${origin}/x.torrent`, '-o', 'out']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /\(DEPTH_ZERO_SELF_SIGNED_CERT; to trust the server's certificate or its CA, run with NODE_EXTRA_CA_CERTS=ca\.pem\) \[[A-Z_]+\]$/m);
    assert.doesNotMatch(r.stderr, /--cacert/);
  }));

test('get -o FOLDER of a one-file torrent fails at once (EISDIR, exit 23): nothing downloaded, no FOLDER.part', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(4 * MIB, 71));
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentOf(`${g.url}/big.bin`);
    mkdirSync(join(dir, 'out'));
    const p = spawnCli(t, dir, ['get', `${g.url}/big.bin`, '-o', 'out']);
    assert.equal(await p.exited, 23, p.stderr);
    assert.match(p.stderr, /^torrenttp: cannot write the download: \S+\/out \(EISDIR\) \[GATEWAY_GET_OUTPUT\]$/m);
    assert.doesNotMatch(p.stderr, /from the swarm|over plain HTTP/, 'no start line: it fails before the download');
    assert.deepEqual(readdirSync(dir).sort(), ['cache', 'out', 'www'], 'no out.part left');
    assert.deepEqual(readdirSync(join(dir, 'out')), []);
  }));

test('get -o FOLDER of a plain file fails before its start line (EISDIR, exit 23)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const server = createHttpServer((_req, res) => res.end('hello\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    mkdirSync(join(dir, 'out'));
    const r = await cli(dir, ['get', `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.txt`, '-o', 'out']);
    assert.equal(r.code, 23, r.stderr);
    assert.equal(r.stderr.replace(/\S+\/out /, 'DIR/out '), 'torrenttp: cannot write the download: DIR/out (EISDIR) [GATEWAY_GET_OUTPUT]\n', 'the error alone: no start line');
    assert.deepEqual(readdirSync(join(dir, 'out')), []);
  }));

test('an interrupted swarm get names FILE.part, where its bytes are, and says -C - continues it', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(16 * MIB, 72));
    // 1 MiB/s: the download is still going when it is interrupted.
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache'), maxUploadRate: MIB });
    await torrentOf(`${g.url}/big.bin`);
    const child = spawn(process.execPath, [CLI_BIN, 'get', `${g.url}/big.bin`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => child.kill('SIGKILL')); // by pid, if still running
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await until('the swarm download started (its start line)', () => /from the swarm/.test(stderr), 20_000);
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.ok(statSync(join(dir, 'big.bin.part')).isFile(), 'the partial file stays for -C -');
    assert.match(stderr, /^interrupted: \S+\/big\.bin\.part .*; -C - continues it$/m);
  }));

test('a get interrupted before the server answered says nothing was written (not "stdout"), exit 130', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const sockets: Socket[] = [];
    const server = createTcpServer((s) => sockets.push(s)); // takes the connection, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`;
    for (const args of [[url], [url, '-o', 'named.bin']]) {
      const p = spawnCli(t, dir, ['get', ...args]);
      const before = sockets.length;
      await until('the get connected', () => sockets.length > before, 20_000);
      p.child.kill('SIGINT');
      assert.equal(await p.exited, 130, p.stderr);
      assert.match(p.stderr, /^interrupted after \d+\.\d s: nothing written$/m, `${args.join(' ')}: ${p.stderr}`);
      assert.deepEqual(readdirSync(dir), [], 'no file');
    }
  }));

test('get http://host/x.torrent (a plain web server): the payload under the torrent\'s name, not x.torrent; no source at all fails at once', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(300_000, 73);
    const www = join(dir, 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'p.bin'), payload);
    let base = '';
    const torrents: Record<string, Uint8Array> = {};
    const server = createHttpServer((req, res) => {
      const torrent = torrents[req.url ?? ''];
      if (torrent !== undefined) {
        res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': torrent.length }).end(torrent);
        return;
      }
      if (req.url === '/files/p.bin') {
        const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
        const body = m === null ? payload : payload.subarray(Number(m[1]), Number(m[2]) + 1);
        res.writeHead(m === null ? 200 : 206, { 'content-length': body.length, ...(m === null ? {} : { 'content-range': `bytes ${m[1]}-${m[2]}/${payload.length}` }) }).end(body);
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    torrents['/p.bin.torrent'] = (await createTorrent(join(www, 'p.bin'), { creationDate: null, urlList: [`${base}/files/p.bin`] })).torrent;
    torrents['/bare.torrent'] = (await createTorrent(join(www, 'p.bin'), { creationDate: null })).torrent;
    const out = join(dir, 'out');
    mkdirSync(out);

    const named = spawnCli(t, out, ['get', `${base}/p.bin.torrent`, '-s']);
    assert.equal(await named.exited, 0, named.stderr);
    assert.deepEqual(readdirSync(out), ['p.bin'], 'the payload under its own name');
    assert.ok(readFileSync(join(out, 'p.bin')).equals(Buffer.from(payload)));

    const started = Date.now();
    const bare = spawnCli(t, out, ['get', `${base}/bare.torrent`, '-o', 'bare.bin', '-s']);
    assert.equal(await bare.exited, 1, bare.stderr);
    assert.match(bare.stderr, /the torrent of \S+\/bare\.torrent names no tracker, web seed or peer to download p\.bin from \[GATEWAY_GET_FAILED\]$/m);
    assert.ok(Date.now() - started < 30_000, 'not after the 60 s stall');
    assert.deepEqual(readdirSync(out), ['p.bin'], 'no bare.bin.part');
  }));

test("get -H 'Range: bytes=…' writes those bytes, as curl: plainly, not the whole file from the swarm; the whole file's Repr-Digest is not held against them", { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = bytes(4 * MIB, 74);
    writeFileSync(join(root, 'big.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentOf(`${g.url}/big.bin`); // hashed: a torrent is offered
    await digestReady(`${g.url}/big.bin`); // and, after it, the whole file's Repr-Digest sent
    for (const extra of [[], ['--no-swarm']]) {
      const p = spawnCli(t, dir, ['get', `${g.url}/big.bin`, '-H', 'Range: bytes=100-199', '-o', 'r.bin', ...extra]);
      assert.equal(await p.exited, 0, `${extra.join(' ')}: ${p.stderr}`);
      assert.ok(readFileSync(join(dir, 'r.bin')).equals(Buffer.from(payload.subarray(100, 200))), `${extra.join(' ')}: bytes 100-199`);
      if (extra.length === 0) assert.match(p.stderr, /over plain HTTP \(a byte range was asked for \(Range\)\)/);
    }
    assert.equal((await cli(dir, ['get', `${g.url}/big.bin`, '-H', 'Range: bytes=0-9', '-C', '-'])).code, 2, '-C - and a Range: usage');
  }));

test("get -H 'Accept: application/json': the server still hears it, behind the swarm's media types, as the proxy sends a program's", { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const server = createHttpServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(String(req.headers.accept)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    const p = spawnCli(t, dir, ['get', url, '-H', 'Accept: application/json', '-', '-s']);
    assert.equal(await p.exited, 0, p.stderr);
    assert.equal(p.stdout, 'application/x-bittorrent, application/vnd.torrenttp.metainfo+json;q=0.9, application/json');
  }));

test("curl's -fsSLO and wget's -q and -qO-: accepted, quiet, the file named after the URL (wget's -O -: stdout); -f still fails on a 404", { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const server = createHttpServer((req, res) => {
      if (req.url === '/old') res.writeHead(302, { location: '/f.txt' }).end();
      else if (req.url === '/f.txt') res.writeHead(200, { 'content-type': 'text/plain' }).end('hello\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const curlish = await cli(dir, ['get', '-fsSLO', `${base}/old`]);
    assert.equal(curlish.code, 0, curlish.stderr);
    assert.equal(curlish.stderr, '');
    assert.equal(readFileSync(join(dir, 'old'), 'utf8'), 'hello\n', 'named after the URL asked for, as curl -O and wget');
    const wgetish = await cli(dir, ['get', '-q', `${base}/f.txt`]);
    assert.equal(wgetish.code, 0, wgetish.stderr);
    assert.equal(wgetish.stderr, '');
    assert.equal(readFileSync(join(dir, 'f.txt'), 'utf8'), 'hello\n');
    // wget's `-qO- URL` and `-O - URL`: the document to stdout (it wrote ./f.txt quietly).
    for (const args of [['-qO-', `${base}/f.txt`], ['-q', '-O', '-', `${base}/f.txt`], ['-q', `${base}/f.txt`, '-O', '-']]) {
      const toStdout = await cli(join(dir, 'out'), ['get', ...args]);
      assert.equal(toStdout.code, 0, `${args.join(' ')}: ${toStdout.stderr}`);
      assert.equal(toStdout.stdout, 'hello\n', args.join(' '));
    }
    assert.ok(!existsSync(join(dir, 'out')), 'no file written');
    const missing = await cli(dir, ['get', '-fsSL', `${base}/nope`]);
    assert.equal(missing.code, 22, missing.stderr);
    assert.match(missing.stderr, /404 Not Found .*\[GATEWAY_GET_HTTP_STATUS\]/);
  }));

test('get -C - of a local file longer than the server\'s: both sizes named, the file left alone, exit 33 (curl\'s range error)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'f.bin'), bytes(1000, 75));
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    const longer = Buffer.from(bytes(2000, 76));
    writeFileSync(join(dir, 'f.bin'), longer);
    const r = await cli(dir, ['get', `${g.url}/f.bin`, '-C', '-', '-s']);
    assert.equal(r.code, 33, r.stderr);
    assert.match(r.stderr, /416 for bytes=2000- of \S+: \S+\/f\.bin has 2000 bytes, the server's file 1000 \[GATEWAY_GET_BAD_ANSWER\]$/m);
    assert.ok(readFileSync(join(dir, 'f.bin')).equals(longer));
  }));

test('get -C - from the swarm of a local file longer than the torrent: the error names FILE, which stays as it was', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(2 * MIB, 77));
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentOf(`${g.url}/big.bin`);
    const longer = Buffer.from(bytes(3 * MIB, 78));
    writeFileSync(join(dir, 'big.bin'), longer);
    const r = await cli(dir, ['get', `${g.url}/big.bin`, '-C', '-', '-s']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /left untouched: \S+\/big\.bin has 3145728 bytes, the torrent says 2097152 \[STORAGE_FILE_TOO_LONG\]$/m);
    assert.deepEqual(readdirSync(dir).sort(), ['big.bin', 'cache', 'www']);
    assert.ok(readFileSync(join(dir, 'big.bin')).equals(longer));
  }));

test('get --seed: the summary\'s seconds (and rate) are the download\'s, not the seeding\'s after it', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(2 * MIB, 79));
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentOf(`${g.url}/big.bin`);
    const spawned = Date.now();
    const p = spawnCli(t, dir, ['get', `${g.url}/big.bin`, '--seed', '--json']);
    await until('seeding', () => p.stdout.includes('"event":"seeding"'), 30_000);
    const toSeeding = (Date.now() - spawned) / 1000;
    await new Promise((r) => setTimeout(r, 3000)); // seeding for a while
    p.child.kill('SIGINT');
    assert.equal(await p.exited, 0, p.stderr);
    const summary = JSON.parse(p.stdout.split('\n').find((l) => l.includes('"event":"summary"'))!) as { seconds: number; status: string };
    assert.equal(summary.status, 'complete');
    assert.ok(summary.seconds <= toSeeding, `download ${summary.seconds} s, seeding began ${toSeeding} s after the spawn`);
  }));

/**
 * `torrenttp get` with the flags a curl or wget user's fingers know (issue 15): `-r`, `-I`, `-A`,
 * `-e`, `-u`, `--compressed`, `--output-dir`/`--create-dirs`/`-P`, `-J`, `-D`, `-w`, `-v` and wget's
 * spellings (`-U`, `--user`/`--password`, `-t`, `-T`, `--no-check-certificate`, `--ca-certificate`),
 * each against a real server on loopback (`serve`'s gateway, or a small node server that records
 * what it heard). Gets that change TLS (process-wide) run as their own process.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { cli, spawnCli } from '../helpers/cli.js';
import { selfSignedHttps } from '../helpers/tls.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from '../gateway/helpers.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A node http server on loopback port 0 that keeps every request it got. */
async function origin(t: TestContext, handler: Handler): Promise<{ base: string; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/** `serve`'s gateway over a folder holding `big.bin` (hashed: a torrent is offered for it). */
async function served(t: TestContext, dir: string, payload: Uint8Array): Promise<string> {
  const root = join(dir, 'www');
  mkdirSync(root);
  writeFileSync(join(root, 'big.bin'), payload);
  const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
  await torrentOf(`${g.url}/big.bin`);
  return `${g.url}/big.bin`;
}

const MIB = 1024 * 1024;

test("get -r takes curl's ranges (0-499, 500-, -500) from serve's swarm-eligible file, plainly; a list is sent as it is; anything else is a usage error", { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = Buffer.from(bytes(2 * MIB, 91));
    const url = await served(t, dir, payload);
    for (const [range, want] of [
      ['0-499', payload.subarray(0, 500)],
      ['500-', payload.subarray(500)],
      ['-500', payload.subarray(payload.length - 500)],
    ] as const) {
      const r = await cli(dir, ['get', url, '-r', range, '-o', 'r.bin']);
      assert.equal(r.code, 0, `${range}: ${r.stderr}`);
      assert.ok(readFileSync(join(dir, 'r.bin')).equals(want), `-r ${range}: those bytes`);
      assert.match(r.stderr, /over plain HTTP \(a byte range was asked for \(Range\)\)/, range);
    }
    const heard: (string | undefined)[] = [];
    const o = await origin(t, (req, res) => {
      heard.push(req.headers.range);
      res.writeHead(206, { 'content-type': 'multipart/byteranges; boundary=B' }).end('--B\r\n\r\nab\r\n--B--\r\n');
    });
    const list = await cli(dir, ['get', `${o.base}/f`, '--range', '0-1,5-', '-o', 'm.bin']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(heard, ['bytes=0-1,5-']);
    assert.equal(readFileSync(join(dir, 'm.bin'), 'utf8'), '--B\r\n\r\nab\r\n--B--\r\n', 'the multipart answer, as curl writes it');
    for (const args of [['-r', '1-2-3'], ['-r', 'bytes=0-1'], ['-r', ''], ['-r', '0-1', '-C', '-'], ['-r', '0-1', '-H', 'Range: bytes=0-1']]) {
      const r = await cli(dir, ['get', `${o.base}/f`, '-o', 'u.bin', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.equal(heard.length, 1, 'no request for a usage error');
  }));

test("get -I prints each response's head to stdout as curl does and writes no file; serve's eligible file answers with the file's head, not its torrent's", { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = Buffer.from(bytes(2 * MIB, 92));
    const url = await served(t, dir, payload);
    const r = await cli(dir, ['get', '-I', url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(r.stdout, new RegExp(`\\r\\ncontent-length: ${payload.length}\\r\\n`, 'i'), 'the file\'s length');
    assert.match(r.stdout, /\r\ncontent-type: application\/octet-stream\r\n/i, 'not the torrent\'s head');
    assert.ok(r.stdout.endsWith('\r\n\r\n'));
    assert.equal(r.stderr, '', 'no progress, no summary');
    const o = await origin(t, (req, res) => {
      if (req.url === '/old') return void res.writeHead(302, { location: '/f', 'X-Hop': 'one' }).end();
      if (req.url === '/gone') return void res.writeHead(404).end('no');
      res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Kept-Case': 'yes', 'content-length': 3 }).end('abc');
    });
    const hops = await cli(dir, ['get', `${o.base}/old`, '--head']);
    assert.equal(hops.code, 0, hops.stderr);
    assert.match(hops.stdout, /^HTTP\/1\.1 302 Found\r\n[^]*X-Hop: one\r\n[^]*\r\n\r\nHTTP\/1\.1 200 OK\r\nContent-Type: text\/plain\r\nX-Kept-Case: yes\r\n/, hops.stdout);
    assert.deepEqual(o.requests.map((q) => q.method), ['HEAD', 'HEAD']);
    assert.deepEqual(o.requests.map((q) => q.headers.accept), ['*/*', '*/*'], "curl's Accept: not the swarm's");
    const missing = await cli(dir, ['get', `${o.base}/gone`, '-I']);
    assert.equal(missing.code, 22, 'an error status fails, as every get (curl -f)');
    assert.match(missing.stdout, /^HTTP\/1\.1 404 Not Found\r\n/, 'its head printed first');
    assert.equal((await cli(dir, ['get', `${o.base}/f`, '-I', '-o', 'x'])).code, 2, '-I -o FILE');
    assert.deepEqual(readdirSync(dir).sort(), ['cache', 'www'], 'no file written');
  }));

test('get -A, -e and -u send User-Agent, Referer and Basic Authorization; -u only to the URL\'s own origin, not to a redirect elsewhere; --compressed is accepted and asks for no encoding', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const other = await origin(t, (_req, res) => void res.end('there'));
    const o = await origin(t, (req, res) => {
      if (req.url === '/away') return void res.writeHead(302, { location: `${other.base}/f` }).end();
      res.end('here');
    });
    const flags = ['--compressed', '-A', 'Wget/1.21', '--referer', 'http://example.test/page', '-u', 'ann:s3cr:et', '-s'];
    const r = await cli(dir, ['get', `${o.base}/f`, '-o', 'f.txt', ...flags]);
    assert.equal(r.code, 0, r.stderr);
    const heard = o.requests[0]!.headers;
    assert.equal(heard['user-agent'], 'Wget/1.21');
    assert.equal(heard.referer, 'http://example.test/page');
    assert.equal(heard.authorization, `Basic ${Buffer.from('ann:s3cr:et').toString('base64')}`);
    assert.equal(heard['accept-encoding'], undefined, '--compressed accepted: the body as it is');
    assert.equal((await cli(dir, ['get', `${o.base}/away`, '-o', 'a.txt', ...flags])).code, 0);
    const there = other.requests[0]!.headers;
    assert.equal(there.authorization, undefined, 'no credentials to another origin');
    assert.equal(there['user-agent'], 'Wget/1.21', 'the rest still goes');
    assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), 'there');
    for (const args of [['-u', 'nocolon'], ['-A', 'a\r\nX-Injected: 1'], ['-e', 'x\ny']]) {
      const bad = await cli(dir, ['get', `${o.base}/f`, '-o', 'u.txt', ...args]);
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
    }
    assert.equal(o.requests.length, 2, 'no request for a usage error');
  }));

test('get --output-dir, -P (wget) and --create-dirs: the file (named, or -o) goes into the folder, made if missing, on the plain and the swarm path', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = Buffer.from(bytes(2 * MIB, 93));
    const url = await served(t, dir, payload);
    const swarm = await cli(dir, ['get', url, '--output-dir', 'a/b', '--create-dirs']);
    assert.equal(swarm.code, 0, swarm.stderr);
    assert.match(swarm.stderr, /from the swarm/);
    assert.ok(readFileSync(join(dir, 'a/b/big.bin')).equals(payload), 'swarm: a/b/big.bin');
    const plain = await cli(dir, ['get', url, '-P', 'c/d', '--no-swarm', '-s']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.ok(readFileSync(join(dir, 'c/d/big.bin')).equals(payload), 'plain: c/d/big.bin');
    const named = await cli(dir, ['get', url, '--output-dir', 'e', '-o', 'x.bin', '--no-swarm', '-s']);
    assert.equal(named.code, 0, named.stderr);
    assert.ok(readFileSync(join(dir, 'e/x.bin')).equals(payload), '-o inside --output-dir');
    assert.equal((await cli(dir, ['get', url, '--output-dir', 'e', '-P', 'f'])).code, 2, 'both: usage');
    assert.equal((await cli(dir, ['get', url, '-P', ''])).code, 2, 'no folder: usage');
  }));

test('get -J names the file after Content-Disposition (plain) or the torrent (swarm): only its last segment, no leading dots, never replacing a file', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const names: Record<string, string> = {
      '/a': 'attachment; filename="../../up/.evil.txt"',
      '/b': "attachment; filename=\"fallback.txt\"; filename*=UTF-8''na%C3%AFve%20one.txt",
      '/c': 'attachment; filename="/.."',
      '/d': 'inline; filename=C:\\temp\\win.txt',
    };
    const o = await origin(t, (req, res) => res.writeHead(200, { 'content-disposition': names[req.url!] ?? 'inline' }).end(`body of ${req.url}`));
    const out = join(dir, 'out');
    mkdirSync(out);
    for (const [path, want] of [['/a', 'evil.txt'], ['/b', 'naïve one.txt'], ['/c', 'c'], ['/d', 'win.txt']] as const) {
      const r = await cli(out, ['get', `${o.base}${path}`, '-J', '-s']);
      assert.equal(r.code, 0, `${path}: ${r.stderr}`);
      assert.equal(readFileSync(join(out, want), 'utf8'), `body of ${path}`, `${path} → ${want}`);
    }
    assert.deepEqual(readdirSync(out).sort(), ['c', 'evil.txt', 'naïve one.txt', 'win.txt'], 'nothing outside, nothing else');
    assert.deepEqual(readdirSync(dir).sort(), ['out'], 'nothing written above the folder');
    const again = await cli(out, ['get', `${o.base}/a`, '-J', '-s']);
    assert.equal(again.code, 23, 'a name the server chose never replaces a file (curl -J)');
    assert.match(again.stderr, /evil\.txt \(the name the server chose, Content-Disposition; -J\).*\[GATEWAY_GET_OUTPUT_EXISTS\]/);
    assert.equal(readFileSync(join(out, 'evil.txt'), 'utf8'), 'body of /a');
    assert.equal((await cli(out, ['get', `${o.base}/a`, '-J', '-C', '-'])).code, 2, '-J -C -: usage');
    // The swarm: the torrent's name, so a file of that name is not replaced (without -J it is).
    const payload = Buffer.from(bytes(1 * MIB, 94));
    const url = await served(t, dir, payload);
    writeFileSync(join(out, 'big.bin'), 'mine');
    const swarm = await cli(out, ['get', url, '-J', '-s']);
    assert.equal(swarm.code, 23, swarm.stderr);
    assert.match(swarm.stderr, /GATEWAY_GET_OUTPUT_EXISTS/);
    assert.equal(readFileSync(join(out, 'big.bin'), 'utf8'), 'mine');
  }));

test('get -D writes every response head that led to the body, as curl (a file, or stdout before the body); -w prints curl\'s variables at the end, done or failed, its format from -w @FILE or @- too', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const o = await origin(t, (req, res) => {
      if (req.url === '/old') return void res.writeHead(302, { location: '/f' }).end();
      if (req.url === '/gone') return void res.writeHead(404, { 'X-Why': 'gone' }).end('no');
      if (req.url === '/f') res.writeEarlyHints({ link: '</s.css>; rel=preload' });
      res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Final': 'yes' }).end('abc');
    });
    const w = '%{http_code} %{size_download} %{url_effective} %{exitcode} %{num_redirects} %{content_type} %{filename_effective}|%{time_total}|%{speed_download}|100%%\\n';
    const r = await cli(dir, ['get', `${o.base}/old`, '-o', 'f.txt', '-s', '-D', 'head.txt', '-w', w]);
    assert.equal(r.code, 0, r.stderr);
    const head = readFileSync(join(dir, 'head.txt'), 'utf8');
    // The redirect's head, the interim answer's, the final one's, in order (curl -L -D).
    assert.match(head, /^HTTP\/1\.1 302 Found\r\nlocation: \/f\r\n[^]*?\r\n\r\nHTTP\/1\.1 103 Early Hints\r\nLink: <\/s\.css>; rel=preload\r\n\r\nHTTP\/1\.1 200 OK\r\nContent-Type: text\/plain\r\nX-Final: yes\r\n[^]*\r\n\r\n$/, head);
    assert.equal(head.match(/^HTTP\//gm)?.length, 3, head);
    // -w @FILE (its line ends dropped, as curl) and @-: the same format.
    writeFileSync(join(dir, 'fmt.txt'), `${w}\n`);
    const fromFile = await cli(dir, ['get', `${o.base}/old`, '-o', 'f.txt', '-s', '-w', '@fmt.txt']);
    const fromStdin = await cli(dir, ['get', `${o.base}/old`, '-o', 'f.txt', '-s', '-w', '@-'], { stdin: w });
    for (const other of [fromFile, fromStdin]) assert.equal(other.stdout.split('|')[0], r.stdout.split('|')[0], other.stderr);
    assert.equal((await cli(dir, ['get', `${o.base}/f`, '-s', '-w', '@nope.txt'])).code, 2, 'an unreadable -w @FILE');
    const [fields, time, speed, pct] = r.stdout.split('|');
    assert.equal(fields, `200 3 ${o.base}/f 0 1 text/plain f.txt`, '%{filename_effective}: -o as given, as curl prints it');
    // -O and --output-dir: curl prints DIR/NAME, as given, not an absolute path.
    const named = await cli(dir, ['get', `${o.base}/f`, '-O', '--output-dir', 'sub', '-s', '-w', '%{filename_effective}']);
    assert.equal(named.code, 0, named.stderr);
    assert.equal(named.stdout, 'sub/f');
    assert.equal(readFileSync(join(dir, 'sub', 'f'), 'utf8'), 'abc');
    const inDir = await cli(dir, ['get', `${o.base}/f`, '-o', 'g.txt', '-P', './sub', '-s', '-w', '%{filename_effective}']);
    assert.equal(inDir.stdout, './sub/g.txt');
    const absolute = await cli(dir, ['get', `${o.base}/f`, '-o', join(dir, 'h.txt'), '-s', '-w', '%{filename_effective}']);
    assert.equal(absolute.stdout, join(dir, 'h.txt'));
    assert.match(time!, /^\d+\.\d{6}$/);
    assert.match(speed!, /^\d+$/);
    assert.equal(pct, '100%\n');
    const both = await cli(dir, ['get', `${o.base}/f`, '-', '-s', '-D', '-']);
    assert.match(both.stdout, /^HTTP\/1\.1 103 Early Hints\r\n[^]*\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nabc$/, 'the heads, then the body');
    // Failed: the error's head and the exit it ends with.
    const gone = await cli(dir, ['get', `${o.base}/gone`, '-o', 'g.txt', '-s', '-D', 'gone.txt', '-w', '%{http_code} %{exitcode} %{size_download} %{errormsg}']);
    assert.equal(gone.code, 22);
    assert.equal(gone.stdout, `404 22 0 server answered with an HTTP error: 404 Not Found for ${o.base}/gone`);
    assert.match(readFileSync(join(dir, 'gone.txt'), 'utf8'), /^HTTP\/1\.1 404 Not Found\r\nX-Why: gone\r\n/);
    const s = createServer();
    await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
    const refused = `http://127.0.0.1:${(s.address() as AddressInfo).port}/x`;
    await new Promise<void>((res) => s.close(() => res()));
    const none = await cli(dir, ['get', refused, '-o', 'n.txt', '-s', '-w', '%{http_code} %{exitcode} %{url_effective}']);
    assert.equal(none.code, 7);
    assert.equal(none.stdout, `000 7 ${refused}`);
    for (const bad of ['%{nope}', '%{toString}']) assert.equal((await cli(dir, ['get', `${o.base}/f`, '-w', bad])).code, 2, bad);
    // The swarm: the torrent's answer is the last head; the bytes are the swarm's.
    const payload = Buffer.from(bytes(1 * MIB, 95));
    const url = await served(t, dir, payload);
    const swarm = await cli(dir, ['get', url, '-o', 'big.bin', '-s', '-D', 'swarm-head.txt', '-w', '%{http_code} %{size_download} %{exitcode}']);
    assert.equal(swarm.code, 0, swarm.stderr);
    assert.equal(swarm.stdout, `200 ${payload.length} 0`);
    assert.match(readFileSync(join(dir, 'swarm-head.txt'), 'utf8'), /^HTTP\/1\.1 200 OK\r\n[^]*content-type: application\/x-bittorrent\r\n/i);
  }));

test('get -v: the request and response heads on stderr (credentials not shown), and where the bytes come from: plain, a lone stream, the swarm\'s peers', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const o = await origin(t, (_req, res) => res.writeHead(200, { 'X-Answer': 'yes' }).end('abc'));
    const r = await cli(dir, ['get', `${o.base}/f?q=1`, '-o', 'f.txt', '-s', '-v', '-u', 'ann:secret']);
    assert.equal(r.code, 0, r.stderr);
    const port = new URL(o.base).port;
    assert.match(r.stderr, new RegExp(`^> GET /f\\?q=1 HTTP/1\\.1\\n> Host: 127\\.0\\.0\\.1:${port}\\n`, 'm'));
    assert.match(r.stderr, /^> authorization: \(not shown\)$/m);
    assert.doesNotMatch(r.stderr, new RegExp(Buffer.from('ann:secret').toString('base64')));
    assert.match(r.stderr, /^< HTTP\/1\.1 200 OK\n[^]*^< X-Answer: yes$/m);
    assert.match(r.stderr, /^\* over plain HTTP \(the server offers no torrent for this URL\)$/m);
    assert.equal(r.stdout, '', 'nothing on stdout');
    const payload = Buffer.from(bytes(1 * MIB, 96));
    const url = await served(t, dir, payload);
    const lone = await cli(dir, ['get', url, '-o', 'a.bin', '-s', '-v']);
    assert.equal(lone.code, 0, lone.stderr);
    assert.match(lone.stderr, /^< content-type: application\/x-bittorrent$/im);
    assert.match(lone.stderr, /^\* alone in the swarm: streaming \S+\/big\.bin in one GET, each piece verified$/m);
    assert.match(lone.stderr, /^\* from the swarm \(the server offered a torrent; [0-9a-f]{40}, BitTorrent port \d+\)$/m);
    const peers = await cli(dir, ['get', url, '-o', 'b.bin', '-s', '-v', '--limit-rate', '100M']);
    assert.equal(peers.code, 0, peers.stderr);
    assert.match(peers.stderr, /^\* the swarm's peers and web seeds$/m);
    assert.ok(readFileSync(join(dir, 'b.bin')).equals(payload));
  }));

test("get takes wget's spellings: -U, --user/--password, -t (attempts), -T (connect and read timeout), --no-check-certificate, --ca-certificate", { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    let busy = 2;
    const o = await origin(t, (req, res) => {
      if (req.url === '/busy' && busy-- > 0) return void res.writeHead(502, { 'retry-after': '0' }).end();
      if (req.url === '/stall') return void res.writeHead(200, { 'content-length': 10 }).write('abc'); // then nothing
      res.end('ok');
    });
    const named = await cli(dir, ['get', `${o.base}/f`, '-o', 'f.txt', '-s', '-U', 'Wget/1.21', '--user', 'ann', '--password', 'pw']);
    assert.equal(named.code, 0, named.stderr);
    assert.equal(o.requests[0]!.headers['user-agent'], 'Wget/1.21');
    assert.equal(o.requests[0]!.headers.authorization, `Basic ${Buffer.from('ann:pw').toString('base64')}`);
    const tries = await cli(dir, ['get', `${o.base}/busy`, '-o', 'b.txt', '-s', '-t', '3']);
    assert.equal(tries.code, 0, tries.stderr);
    assert.equal(o.requests.filter((q) => q.url === '/busy').length, 3, 'three attempts');
    busy = 1;
    const once = await cli(dir, ['get', `${o.base}/busy`, '-o', 'c.txt', '-s', '--tries', '1']);
    assert.equal(once.code, 22, '-t 1: one attempt, no retry');
    const stalled = await cli(dir, ['get', `${o.base}/stall`, '-o', 's.txt', '-s', '-T', '0.5']);
    assert.equal(stalled.code, 28, stalled.stderr);
    assert.match(stalled.stderr, /no byte of the body for/);
    for (const args of [['--password', 'x'], ['--user', 'a:b', '--password', 'x'], ['-A', 'a', '-U', 'b'], ['-t', 'x'], ['-t', '2', '--retry', '1']]) {
      assert.equal((await cli(dir, ['get', `${o.base}/f`, '-o', 'u.txt', ...args])).code, 2, args.join(' '));
    }
    // TLS options are the process's: each get in its own.
    const https = await selfSignedHttps(t, dir, (_req, res) => res.end('secret\n'));
    const { cert } = https;
    const url = `${https.origin}/f.txt`;
    const insecure = spawnCli(t, dir, ['get', url, '-o', 'a.txt', '--no-check-certificate']);
    assert.equal(await insecure.exited, 0, insecure.stderr);
    assert.match(insecure.stderr, /not authenticated/);
    const trusted = spawnCli(t, dir, ['get', url, '-o', 'b.txt', '-s', '--ca-certificate', cert]);
    assert.equal(await trusted.exited, 0, trusted.stderr);
    assert.equal(readFileSync(join(dir, 'b.txt'), 'utf8'), 'secret\n');
  }));

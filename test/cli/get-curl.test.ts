/**
 * `torrenttp get` for a script written for curl: curl's exit codes where the failure means the
 * same (cli/get-exit.ts), and the flags a curl user reaches for: `--connect-timeout`, `-m`,
 * `--retry`, `--limit-rate`, `-k` and `--cacert`, each against a real server on loopback (a small
 * node server, or `serve`'s gateway for the swarm). Gets that change TLS (`-k`, `--cacert`: process-
 * wide, gateway/client.ts `setClientTls`) run as their own process; the others in this one.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { cli, jsonLines, spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/processes.js';
import { selfSignedHttps } from '../helpers/tls.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from '../gateway/helpers.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { GET_EXIT, getExitCode } from '../../src/cli/get-exit.js';
import { GatewayError } from '../../src/gateway/errors.js';
import { GetFailure } from '../../src/gateway/get-io.js';
import { TLS_HANDSHAKE_FAILED } from '../../src/gateway/client.js';
import { retryDelayMs, RETRY_MAX_DELAY_MS } from '../../src/gateway/get-retry.js';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

/** A node http server on loopback port 0; `handler` gets each request and its number (from 1). */
async function origin(t: TestContext, handler: Handler): Promise<{ base: string; requests: IncomingMessage[]; server: Server }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler(req, res, requests.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

/** A TCP port that refuses connections (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const PAYLOAD = Buffer.from(bytes(64 * 1024, 5));

/**
 * The payload, honouring `Range: bytes=N-` (206); `cutAt`: the first answer sends that many bytes,
 * then `cut` (the connection destroyed) or `stall`. A cut waits until the get has written those
 * bytes to `written`, its output file: a connection closed while the bytes still wait in the
 * get's response (a loaded machine; the output file still opening) takes them with it ("ended
 * after 0 of 65536 bytes"), where the test means a cut after the get had them.
 */
function payloadServer(opts: { cutAt?: number; then?: 'stall' } | { cutAt: number; then: 'cut'; written: string } = {}): Handler {
  return (req, res, n) => {
    res.setHeader('etag', '"v1"');
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m !== null) {
      const from = Number(m[1]);
      res.writeHead(206, { 'content-range': `bytes ${from}-${PAYLOAD.length - 1}/${PAYLOAD.length}`, 'content-length': PAYLOAD.length - from });
      res.end(PAYLOAD.subarray(from));
      return;
    }
    res.setHeader('content-length', PAYLOAD.length);
    if (n === 1 && opts.cutAt !== undefined) {
      res.write(PAYLOAD.subarray(0, opts.cutAt));
      if (opts.then === 'cut') void cutOnceWritten(res, opts.written, opts.cutAt);
      return; // stall: nothing more
    }
    res.end(PAYLOAD);
  };
}

/** Destroys `res`'s connection once the file at `path` holds `bytes` bytes (at most 30 s: then at once, and the test says what came). */
async function cutOnceWritten(res: ServerResponse, path: string, bytes: number): Promise<void> {
  const size = (): number => (existsSync(path) ? statSync(path).size : 0);
  for (const end = Date.now() + 30_000; size() < bytes && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
  res.socket?.destroy();
}

test('the exit code table: curl\'s codes from the error and its causes; the first row that matches wins', () => {
  const failed = (cause: unknown) => new GatewayError('GATEWAY_GET_FAILED', { detail: 'x', cause });
  const errno = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(getExitCode(failed(errno('ENOTFOUND'))), 6);
  assert.equal(getExitCode(failed(errno('ECONNREFUSED'))), 7);
  assert.equal(getExitCode(failed(new GetFailure('ETIMEDOUT', 'no connection'))), 28);
  assert.equal(getExitCode(failed(errno('DEPTH_ZERO_SELF_SIGNED_CERT'))), 60);
  assert.equal(getExitCode(failed(errno('ERR_TLS_CERT_ALTNAME_INVALID'))), 60);
  assert.equal(getExitCode(failed(errno('ERR_SSL_WRONG_VERSION_NUMBER'))), 35);
  assert.equal(getExitCode(failed(errno('ECONNRESET'))), 56);
  assert.equal(getExitCode(failed(Object.assign(new Error('TLS handshake: read ECONNRESET', { cause: errno('ECONNRESET') }), { code: TLS_HANDSHAKE_FAILED }))), 35, 'a reset in the handshake');
  const reset = Object.assign(errno('ECONNRESET'), { syscall: 'read' });
  assert.equal(getExitCode(new GatewayError('GATEWAY_GET_BAD_ANSWER', { cause: reset })), 56, 'a reset under the body');
  assert.equal(getExitCode(new GatewayError('GATEWAY_GET_BAD_ANSWER', { cause: new GetFailure('ERR_GET_RANGE', '416') })), 33);
  assert.equal(getExitCode(new GatewayError('GATEWAY_GET_BAD_ANSWER', { cause: new GetFailure('ERR_GET_PARTIAL', 'cut', { cause: errno('ECONNRESET') }) })), 18, 'partial before the reset under it');
  assert.equal(getExitCode(new GatewayError('GATEWAY_GET_BAD_ANSWER', { cause: new GetFailure('ERR_GET_REDIRECTS', 'loop') })), 47);
  assert.equal(getExitCode(new GatewayError('GATEWAY_GET_HTTP_STATUS', { cause: new GetFailure('ERR_GET_STATUS', '404', { status: 404 }) })), 22);
  assert.equal(getExitCode(new GatewayError('GATEWAY_GET_OUTPUT', { cause: errno('ENOSPC') })), 23);
  assert.equal(getExitCode(new GatewayError('GATEWAY_GET_NOT_ONE_FILE')), 23);
  assert.equal(getExitCode(new GatewayError('GATEWAY_TLS', { detail: '--cacert x' })), 77);
  assert.equal(getExitCode(new GatewayError('GATEWAY_GET_DIGEST_MISMATCH')), GET_EXIT.failed);
  assert.equal(getExitCode(new GatewayError('GATEWAY_GET_FAILED', { detail: 'names no tracker, web seed or peer' })), GET_EXIT.failed);
  assert.equal(getExitCode(new Error('anything else')), 1);
});

test('--retry back-off: 1 s doubling to 10 minutes, a transient status\'s Retry-After instead; never for a 404 or the output', () => {
  const status = (s: number, retryAfter?: string) => new GatewayError('GATEWAY_GET_HTTP_STATUS', { cause: new GetFailure('ERR_GET_STATUS', String(s), { status: s, ...(retryAfter === undefined ? {} : { retryAfter }) }) });
  const refused = new GatewayError('GATEWAY_GET_FAILED', { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) });
  assert.deepEqual([1, 2, 3, 4].map((a) => retryDelayMs(refused, a)), [1000, 2000, 4000, 8000]);
  assert.equal(retryDelayMs(refused, 20), RETRY_MAX_DELAY_MS);
  assert.equal(retryDelayMs(status(503), 2), 2000);
  assert.equal(retryDelayMs(status(503, '7'), 1), 7000);
  assert.equal(retryDelayMs(status(429, 'Thu, 01 Jan 1970 00:00:05 GMT'), 1, 1000), 4000, 'an HTTP-date');
  for (const s of [408, 429, 500, 502, 504]) assert.equal(retryDelayMs(status(s), 1), 1000, String(s));
  assert.equal(retryDelayMs(status(404), 1), undefined);
  assert.equal(retryDelayMs(new GatewayError('GATEWAY_GET_OUTPUT', { cause: Object.assign(new Error('pipe'), { code: 'EPIPE' }) }), 1), undefined);
  assert.equal(retryDelayMs(new GatewayError('GATEWAY_GET_FAILED', { cause: Object.assign(new Error('cert'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }) }), 1), undefined);
  // A handshake reset (exit 35, its ECONNRESET under it) is TLS: curl does not retry 35.
  const handshakeReset = Object.assign(new Error('TLS handshake: read ECONNRESET', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }), { code: TLS_HANDSHAKE_FAILED });
  assert.equal(retryDelayMs(new GatewayError('GATEWAY_GET_FAILED', { cause: handshakeReset }), 1), undefined, 'a reset in the TLS handshake');
  // A name that could not be resolved (exit 6): curl retries it always, as a timeout.
  assert.equal(retryDelayMs(new GatewayError('GATEWAY_GET_FAILED', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }) }), 1), 1000, 'a name not found');
});

test('get exits with curl\'s codes: 6 no such host, 7 refused, 18 body cut short, 22 HTTP error, 28 -m, 47 redirect loop', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const o = await origin(t, (req, res) => {
      if (req.url === '/404') return void res.writeHead(404).end('no');
      if (req.url!.startsWith('/loop')) return void res.writeHead(302, { location: `/loop${Math.random()}` }).end();
      if (req.url === '/cut') return payloadServer({ cutAt: 1000, then: 'cut', written: join(dir, 'x.bin') })(req, res, 1);
      if (req.url === '/hang') return; // never answers
      res.end('ok');
    });
    const cases: [string, number, RegExp][] = [
      ['http://no-such-host.invalid/x', 6, /ENOTFOUND|EAI_AGAIN/],
      [`http://127.0.0.1:${await closedPort()}/x`, 7, /ECONNREFUSED/],
      [`${o.base}/cut`, 18, /ended after 1000 of 65536 bytes.*\[GATEWAY_GET_BAD_ANSWER\]/],
      [`${o.base}/404`, 22, /404 Not Found .*\[GATEWAY_GET_HTTP_STATUS\]/],
      [`${o.base}/loop`, 47, /more than 20 redirects/],
    ];
    for (const [url, code, said] of cases) {
      const r = await cli(dir, ['get', url, '-o', 'x.bin', '-s']);
      assert.equal(r.code, code, `${url}: ${r.stderr}`);
      assert.match(r.stderr, said, url);
    }
    const slow = await cli(dir, ['get', `${o.base}/hang`, '-o', 'h.bin', '-s', '-m', '0.5']);
    assert.equal(slow.code, 28, slow.stderr);
    assert.match(slow.stderr, /operation timed out after 0\.5 s \(--max-time\) with 0 bytes received/);
  }));

test('a server that closes the connection without a byte of answer is curl\'s 52 (empty reply), a reset one 56; --retry tries both again', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const servers: Server[] = [];
    const listen = async (onData: (s: Socket) => void): Promise<string> => {
      const s = createTcpServer((c) => {
        c.on('error', () => {});
        c.once('data', () => onData(c));
      });
      servers.push(s);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}/x`;
    };
    t.after(() => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))));
    const empty = await listen((c) => c.end());
    const reset = await listen((c) => c.resetAndDestroy());
    const e = await cli(dir, ['get', empty, '-o', 'x', '-s']);
    assert.equal(e.code, 52, e.stderr);
    assert.match(e.stderr, /empty reply/);
    const r = await cli(dir, ['get', reset, '-o', 'x', '-s']);
    assert.equal(r.code, 56, r.stderr);
    const again = await cli(dir, ['get', empty, '-o', 'x', '--retry', '1']);
    assert.equal(again.code, 52, again.stderr);
    assert.match(again.stderr, /empty reply.*\. Will retry in 1 second\. 1 retry left\.$/m, 'curl counts the retry it announces');
  }));

test('-m ends a body that stalls with exit 28 and keeps the partial file; -C - then continues it', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const o = await origin(t, payloadServer({ cutAt: 20_000, then: 'stall' }));
    const r = await cli(dir, ['get', `${o.base}/p.bin`, '-o', 'p.bin', '-s', '--max-time', '1']);
    assert.equal(r.code, 28, r.stderr);
    assert.match(r.stderr, /with 20000 of 65536 bytes received/);
    assert.equal(readFileSync(join(dir, 'p.bin')).length, 20_000, 'the partial file stays');
    const again = await cli(dir, ['get', `${o.base}/p.bin`, '-o', 'p.bin', '-s', '-C', '-']);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(readFileSync(join(dir, 'p.bin')).equals(PAYLOAD));
    assert.equal(o.requests.at(-1)!.headers.range, 'bytes=20000-');
  }));

test('--connect-timeout: a server that takes the TCP connection and never does the TLS handshake fails with 28', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const held: Socket[] = [];
    const mute = createTcpServer((s) => held.push(s));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    t.after(() => {
      for (const s of held) s.destroy();
      return new Promise<void>((r) => mute.close(() => r()));
    });
    const started = Date.now();
    const r = await cli(dir, ['get', `https://127.0.0.1:${(mute.address() as AddressInfo).port}/x`, '-o', 'x', '-s', '--connect-timeout', '0.3']);
    assert.equal(r.code, 28, r.stderr);
    assert.match(r.stderr, /no connection within 0\.3 s \(--connect-timeout\) \(ETIMEDOUT\) \[GATEWAY_GET_FAILED\]/);
    assert.ok(Date.now() - started < 30_000, 'not the 60 s wait for an answer');
  }));

test('--retry: a 503 with Retry-After: 0 is tried again, a 404 is not; a body cut short is continued from its bytes (Range)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const busy = await origin(t, (req, res, n) => {
      if (req.url === '/404') return void res.writeHead(404).end();
      if (n <= 2) return void res.writeHead(503, { 'retry-after': '0' }).end('busy');
      res.end('ok\n');
    });
    const r = await cli(dir, ['get', `${busy.base}/f`, '-o', 'f', '--retry', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'ok\n');
    assert.match(r.stderr, /503 Service Unavailable .*\. Will retry in 0 seconds\. 2 retries left\.\n.*\. Will retry in 0 seconds\. 1 retry left\.$/m, 'curl --retry 2: 2 left, then 1');
    assert.equal(busy.requests.length, 3);
    const missing = await cli(dir, ['get', `${busy.base}/404`, '-o', 'm', '--retry', '3', '-s']);
    assert.equal(missing.code, 22, missing.stderr);
    assert.equal(busy.requests.length, 4, 'a 404 is not transient');

    const cut = await origin(t, payloadServer({ cutAt: 30_000, then: 'cut', written: join(dir, 'p.bin') }));
    const resumed = await cli(dir, ['get', `${cut.base}/p.bin`, '-o', 'p.bin', '-s', '--retry', '1']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.ok(readFileSync(join(dir, 'p.bin')).equals(PAYLOAD));
    // The retry's negotiation, then (as -C -) the rest of the file from the bytes on disk.
    assert.equal(cut.requests.length, 3);
    assert.match(cut.requests[2]!.headers.range ?? '', /^bytes=\d+-$/, 'the retry continues what the first attempt wrote');
    const without = await cli(dir, ['get', `${(await origin(t, payloadServer({ cutAt: 30_000, then: 'cut', written: join(dir, 'q.bin') }))).base}/p.bin`, '-o', 'q.bin', '-s']);
    assert.equal(without.code, 18, without.stderr);
  }));

test('--retry after a refused connection: 1 s later, the server that came up meanwhile answers', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const port = await closedPort();
    const p = spawnCli(t, dir, ['get', `http://127.0.0.1:${port}/f`, '-o', 'f', '--retry', '3']);
    await until('the first attempt refused', () => /Will retry in 1 second\. 3 retries left\./.test(p.stderr), 30_000);
    const server = createServer((_req, res) => res.end('up\n'));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    assert.equal(await p.exited, 0, p.stderr);
    assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'up\n');
    assert.match(p.stderr, /ECONNREFUSED/);
  }));

test('--limit-rate holds a plain body to the rate', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const o = await origin(t, payloadServer());
    const started = performance.now();
    const r = await cli(dir, ['get', `${o.base}/p.bin`, '-o', 'p.bin', '-s', '--limit-rate', '32K']);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(join(dir, 'p.bin')).equals(PAYLOAD));
    // 64 KiB at 32 KiB/s: 2 s (a lower bound only; the machine may make it slower).
    assert.ok(seconds >= 1.5, `${seconds.toFixed(2)} s`);
  }));

test('--limit-rate holds a swarm download to the rate from its start, as curl\'s average (the engine\'s limit, no lone stream, no first burst)', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const payload = Buffer.from(bytes(1024 * 1024, 9));
    writeFileSync(join(root, 'big.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentOf(`${g.url}/big.bin`);
    const rate = 256 * 1024;
    const p = spawnCli(t, dir, ['get', `${g.url}/big.bin`, '-o', 'big.bin', '--json', '--limit-rate', '256K']);
    // When each line came: a loaded machine only makes them later, which loosens the bounds below.
    const seen: { ms: number; event: string; doneBytes?: number }[] = [];
    let rest = '';
    p.child.stdout!.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop()!;
      for (const l of lines) if (l.startsWith('{')) seen.push({ ms: performance.now(), ...(JSON.parse(l) as { event: string; doneBytes?: number }) });
    });
    assert.equal(await p.exited, 0, p.stderr);
    const ended = performance.now();
    assert.ok(readFileSync(join(dir, 'big.bin')).equals(payload));
    const summary = jsonLines(p).find((e) => e.event === 'summary')!;
    assert.equal(summary.mode, 'swarm');
    const start = seen.find((e) => e.event === 'start')!.ms;
    // The bytes by any time are the rate's worth since the download began (after its start line), plus a block.
    for (const e of seen.filter((x) => x.event === 'progress')) {
      const allowed = (rate * (e.ms - start)) / 1000 + 16 * 1024;
      assert.ok(e.doneBytes! <= allowed, `${e.doneBytes} bytes ${((e.ms - start) / 1000).toFixed(2)} s after the start line: more than ${allowed.toFixed(0)}`);
    }
    // 1 MiB at 256 KiB/s: 4 s at least, less a block.
    const seconds = (ended - start) / 1000;
    assert.ok(seconds >= (payload.length - 16 * 1024) / rate, `${seconds.toFixed(2)} s`);
  }));

test('-k gets from a self-signed https server, with one warning; --cacert trusts it as curl\'s does; a --cacert that cannot be read is 77', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { origin, cert, key } = await selfSignedHttps(t, dir, (_req, res) => res.end('secret\n'));
    const url = `${origin}/f.txt`;
    const untrusted = spawnCli(t, dir, ['get', url, '-o', 'a.txt', '-s']);
    assert.equal(await untrusted.exited, 60, untrusted.stderr);
    const insecure = spawnCli(t, dir, ['get', url, '-o', 'a.txt', '-k']);
    assert.equal(await insecure.exited, 0, insecure.stderr);
    assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), 'secret\n');
    assert.equal(insecure.stderr.match(/not authenticated/g)?.length, 1, insecure.stderr);
    const trusted = spawnCli(t, dir, ['get', url, '-o', 'b.txt', '-s', '--cacert', cert]);
    assert.equal(await trusted.exited, 0, trusted.stderr);
    assert.equal(readFileSync(join(dir, 'b.txt'), 'utf8'), 'secret\n');
    const missing = spawnCli(t, dir, ['get', url, '-o', 'c.txt', '-s', '--cacert', 'nope.pem']);
    assert.equal(await missing.exited, 77, missing.stderr);
    assert.match(missing.stderr, /--cacert nope\.pem: no such file or folder \(ENOENT\) \[GATEWAY_TLS\]/);
    const notPem = spawnCli(t, dir, ['get', url, '-o', 'c.txt', '-s', '--cacert', key]);
    assert.equal(await notPem.exited, 77, notPem.stderr);
    assert.ok(!existsSync(join(dir, 'c.txt')));
  }));

test('a --cacert whose certificate does not parse is 77 (curl\'s), not trusted silently as none', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'bad.pem'), '-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n');
    const r = await cli(dir, ['get', `https://127.0.0.1:${await closedPort()}/x`, '-o', 'x', '-s', '--cacert', 'bad.pem']);
    assert.equal(r.code, 77, r.stderr);
    assert.match(r.stderr, /--cacert bad\.pem: .*certificate.*\[GATEWAY_TLS\]/);
  }));

test('-k and --cacert reach the swarm\'s web seed (undici\'s connections): a torrent whose only source is an https web seed', { timeout: 180_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = Buffer.from(bytes(1024 * 1024, 11));
    writeFileSync(join(dir, 'p.bin'), payload);
    let torrent: Uint8Array | undefined;
    const webSeedRanges: string[] = [];
    const { origin: base, cert } = await selfSignedHttps(t, dir, (req, res) => {
      if (req.url === '/p.bin.torrent') return void res.writeHead(200, { 'content-type': 'application/x-bittorrent' }).end(torrent);
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (req.url !== '/files/p.bin' || m === null) return void res.writeHead(404).end();
      webSeedRanges.push(req.headers.range!);
      const [first, last] = [Number(m[1]), Number(m[2])];
      res.writeHead(206, { 'content-range': `bytes ${first}-${last}/${payload.length}`, 'content-length': last - first + 1 });
      res.end(payload.subarray(first, last + 1));
    });
    torrent = (await createTorrent(join(dir, 'p.bin'), { creationDate: null, urlList: [`${base}/files/p.bin`] })).torrent;
    for (const [name, flags] of [['k.bin', ['-k']], ['ca.bin', ['--cacert', cert]]] as const) {
      const before = webSeedRanges.length;
      const p = spawnCli(t, dir, ['get', `${base}/p.bin.torrent`, '-o', name, '--json', ...flags]);
      assert.equal(await p.exited, 0, `${flags.join(' ')}: ${p.stderr}`);
      assert.ok(readFileSync(join(dir, name)).equals(payload), name);
      const summary = jsonLines(p).find((e) => e.event === 'summary')!;
      assert.equal(summary.mode, 'swarm', `${flags.join(' ')}: ${p.stdout}`);
      assert.ok(webSeedRanges.length > before, 'from the web seed');
    }
  }));

test('the new flags\' bad values are usage errors (exit 2)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    for (const args of [['--retry', 'x'], ['--retry', '-1'], ['--limit-rate', '0'], ['--limit-rate', 'fast'], ['-m', 'soon'], ['--connect-timeout', '-2']]) {
      const r = await cli(dir, ['get', 'http://127.0.0.1:1/x', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
    // get --help lists every exit code of the table.
    const help = await cli(dir, ['get', '--help']);
    for (const code of Object.values(GET_EXIT)) assert.match(help.stdout, new RegExp(`\\b${code} [a-zA-Z-]`), `exit ${code} in get --help:\n${help.stdout}`);
  }));

test('-m and --connect-timeout past what a node timer holds (24.8 days) are no limit, not a time-out at once', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const o = await origin(t, payloadServer());
    for (const flag of ['-m', '--connect-timeout']) {
      const r = await cli(dir, ['get', `${o.base}/p.bin`, '-o', 'p.bin', '-s', flag, '9999999']);
      assert.equal(r.code, 0, `${flag} 9999999: ${r.stderr}`);
      assert.ok(readFileSync(join(dir, 'p.bin')).equals(PAYLOAD), flag);
    }
  }));

test('-m on a swarm download: exit 28, the verified pieces stay in FILE.part, and -C - continues from them', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = Buffer.from(bytes(1024 * 1024, 13));
    writeFileSync(join(dir, 'p.bin'), payload);
    let torrent: Uint8Array | undefined;
    // The web seed answers its first two requests, then holds every other until `open`.
    let answered = 0;
    let open = false;
    const o = await origin(t, (req, res) => {
      if (req.url === '/p.bin.torrent') return void res.writeHead(200, { 'content-type': 'application/x-bittorrent' }).end(torrent);
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (req.url !== '/files/p.bin' || m === null) return void res.writeHead(404).end();
      if (!open && answered >= 2) return; // held
      answered++;
      const [first, last] = [Number(m[1]), Number(m[2])];
      res.writeHead(206, { 'content-range': `bytes ${first}-${last}/${payload.length}`, 'content-length': last - first + 1 });
      res.end(payload.subarray(first, last + 1));
    });
    torrent = (await createTorrent(join(dir, 'p.bin'), { creationDate: null, pieceLength: 64 * 1024, urlList: [`${o.base}/files/p.bin`] })).torrent;
    mkdirSync(join(dir, 'out'));
    // -m is the get's whole time, its start-up included: the held requests keep it running that
    // long whatever it is, and it must leave room for the first two answers (with -m 3 a get on a
    // loaded machine had not reached the web seed yet: 0 answers, nothing to continue from).
    const cut = spawnCli(t, join(dir, 'out'), ['get', `${o.base}/p.bin.torrent`, '-o', 'p.bin', '-s', '-m', '8']);
    assert.equal(await cut.exited, 28, cut.stderr);
    assert.match(cut.stderr, /operation timed out after 8 s \(--max-time\) with \d+ of 1048576 bytes received/);
    assert.ok(existsSync(join(dir, 'out', 'p.bin.part')) && !existsSync(join(dir, 'out', 'p.bin')), 'FILE.part stays, no FILE');
    open = true;
    const rest = spawnCli(t, join(dir, 'out'), ['get', `${o.base}/p.bin.torrent`, '-o', 'p.bin', '--json', '-C', '-']);
    assert.equal(await rest.exited, 0, rest.stderr);
    assert.ok(readFileSync(join(dir, 'out', 'p.bin')).equals(payload));
    const start = jsonLines(rest).find((e) => e.event === 'start')!;
    assert.ok((start.resumedBytes as number) > 0, `resumed from the .part: ${JSON.stringify(start)}`);
  }));

/** A TCP server on loopback that answers each connection's first bytes with `onData`; closed at the test's end. */
async function rawServer(t: TestContext, onData: (s: Socket) => void): Promise<number> {
  const s = createTcpServer((c) => {
    c.on('error', () => {});
    c.once('data', () => onData(c));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => s.close(() => r())));
  return (s.address() as AddressInfo).port;
}

test('curl\'s codes for a broken connection: reset or closed in the TLS handshake 35, reset under the body 56 (what came is kept), closed short of Content-Length 18', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n';
    const handshakeReset = await rawServer(t, (c) => c.resetAndDestroy());
    const handshakeClosed = await rawServer(t, (c) => c.end());
    const bodyReset = await rawServer(t, (c) => {
      c.write(head + 'x'.repeat(100));
      // Once the get has the 100 bytes: a reset.
      setTimeout(() => c.resetAndDestroy(), 200);
    });
    const bodyShort = await rawServer(t, (c) => c.end(head + 'x'.repeat(100)));
    for (const [port, said] of [[handshakeReset, /TLS handshake: read ECONNRESET/], [handshakeClosed, /TLS handshake: Client network socket disconnected/]] as const) {
      const r = await cli(dir, ['get', `https://127.0.0.1:${port}/x`, '-o', 'x', '-s']);
      assert.equal(r.code, 35, r.stderr);
      assert.match(r.stderr, said);
    }
    const reset = await cli(dir, ['get', `http://127.0.0.1:${bodyReset}/x`, '-o', 'reset.bin', '-s']);
    assert.equal(reset.code, 56, reset.stderr);
    assert.match(reset.stderr, /ended after 100 of 1000 bytes: read ECONNRESET/);
    assert.equal(readFileSync(join(dir, 'reset.bin'), 'utf8'), 'x'.repeat(100));
    const short = await cli(dir, ['get', `http://127.0.0.1:${bodyShort}/x`, '-o', 'short.bin', '-s']);
    assert.equal(short.code, 18, short.stderr);
  }));

test('-C - of a whole file: the server\'s 416 says it is, exit 0 (curl\'s), the file untouched (a longer file\'s 416 is 33: get-review.test.ts)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const o = await origin(t, (req, res) => {
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m !== null && Number(m[1]) >= PAYLOAD.length) return void res.writeHead(416, { 'content-range': `bytes */${PAYLOAD.length}` }).end();
      payloadServer()(req, res, 1);
    });
    writeFileSync(join(dir, 'whole.bin'), PAYLOAD);
    const whole = await cli(dir, ['get', `${o.base}/p.bin`, '-o', 'whole.bin', '-s', '-C', '-']);
    assert.equal(whole.code, 0, whole.stderr);
    assert.ok(readFileSync(join(dir, 'whole.bin')).equals(PAYLOAD));
    assert.equal(o.requests.at(-1)!.headers.range, `bytes=${PAYLOAD.length}-`);
  }));

test('-C - of a whole file from a server that ignores ranges: its 200 of the same length and validator is "complete", exit 0 (curl\'s); a changed file\'s 200 starts over', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // Ranges and If-Range ignored; the ETag is "v2" from the `changeAt`-th request on.
    const ignoring = (changeAt: number): Handler => (_req, res, n) => void res.writeHead(200, { etag: n >= changeAt ? '"v2"' : '"v1"', 'content-length': PAYLOAD.length }).end(PAYLOAD);
    // On disk: as long as the server's file, other bytes, so that a download again would show.
    const onDisk = Buffer.alloc(PAYLOAD.length, 7);
    const same = await origin(t, ignoring(Infinity));
    writeFileSync(join(dir, 'same.bin'), onDisk);
    const kept = await cli(dir, ['get', `${same.base}/p.bin`, '-o', 'same.bin', '-s', '-C', '-']);
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(same.requests.at(-1)!.headers['if-range'], '"v1"');
    assert.ok(readFileSync(join(dir, 'same.bin')).equals(onDisk), 'not downloaded again');
    // The file changed between the negotiating GET and the Range request: its 200 is the new file.
    const changed = await origin(t, ignoring(2));
    writeFileSync(join(dir, 'changed.bin'), onDisk);
    const again = await cli(dir, ['get', `${changed.base}/p.bin`, '-o', 'changed.bin', '-s', '-C', '-']);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(readFileSync(join(dir, 'changed.bin')).equals(PAYLOAD), 'downloaded again');
  }));

test('a short body that comes in the head\'s packet with the server\'s close is written, as curl: exit 18 with its bytes on disk; a whole one, exit 0', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const short = await rawServer(t, (c) => c.end(`HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(100)}`));
    const whole = await rawServer(t, (c) => c.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello'));
    const r = await cli(dir, ['get', `http://127.0.0.1:${short}/x`, '-o', 'short.bin', '-s']);
    assert.equal(r.code, 18, r.stderr);
    assert.match(r.stderr, /ended after 100 of 1000 bytes/);
    assert.equal(readFileSync(join(dir, 'short.bin'), 'utf8'), 'x'.repeat(100));
    const w = await cli(dir, ['get', `http://127.0.0.1:${whole}/x`, '-o', 'whole.bin', '-s']);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(readFileSync(join(dir, 'whole.bin'), 'utf8'), 'hello');
  }));

/**
 * A web page as a TorrentTTP client (issue 16, docs/torrenttp.md §9): examples/ttp-browser-client.html
 * in Debian's chromium, headless (playwright-core with `executablePath`, downloading nothing),
 * served by the test from one origin and reading a `torrenttp seed --http-port 0` on another, so
 * every request is cross-origin and works only by the server's CORS headers. The page checks the
 * JSON metainfo's info-hash (bencoding it again), fetches and SHA-1-checks every piece and shows
 * the SHA-256 of the torrent's data, which must be the files' own. A peer that sends a bad piece
 * makes the page fail and say so; pieces a peer gets later are waited for by have-set long-poll.
 * Chromium is required: without it this fails.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { Bitfield, createTorrent } from '../../src/metainfo/index.js';
import { jsonLines, spawnCli } from '../helpers/cli.js';
import { requireTool, run, until } from '../helpers/processes.js';
import { startTtpPeerServer } from '../helpers/ttp-peer-server.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const PAGE = readFileSync(join(ROOT, 'examples', 'ttp-browser-client.html'));
const CHROMIUM = '/usr/bin/chromium';
/** No network of its own, no first-run or component downloads: the test stays on loopback. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The example page at `http://127.0.0.1:N/ttp-browser-client.html`: an origin of its own. */
async function servePage(t: TestContext): Promise<string> {
  const server = createServer((req, res) => {
    if (req.url?.split('?')[0] !== '/ttp-browser-client.html') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': PAGE.length }).end(PAGE);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections(); // chromium keeps its connection open: close would wait for it
    return new Promise<void>((r) => server.close(() => r()));
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/ttp-browser-client.html`;
}

async function openPage(t: TestContext): Promise<{ page: Page; problems: string[] }> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is required for this test (apt-get install chromium; .ci/run does)`);
  const profile = mkdtempSync(join(tmpdir(), 'ttp-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(async () => {
    await context.close(); // ends the browser it started
    rmSync(profile, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { page, problems };
}

/** Opens the page on `torrentUrl` and waits for it to end: its state (`done`/`error`), status line and SHA-256. */
async function runPage(page: Page, pageUrl: string, torrentUrl: string): Promise<{ state: string; status: string; sha256: string }> {
  await page.goto(`${pageUrl}?torrent=${encodeURIComponent(torrentUrl)}`);
  await page.locator('body[data-state=done], body[data-state=error]').waitFor({ timeout: 60_000 });
  return {
    state: (await page.getAttribute('body', 'data-state')) ?? '',
    status: (await page.textContent('#status')) ?? '',
    sha256: (await page.textContent('#sha256')) ?? '',
  };
}

/**
 * The example page, served from an origin of its own, downloads torrent `share` from `torrentUrl`
 * (cross-origin) in the browser: done, its bytes' SHA-256 that of `whole`, every piece verified,
 * no console error. Resolves with the page, for more checks.
 */
async function downloadsShare(t: TestContext, torrentUrl: string, whole: Uint8Array, pieceCount: number): Promise<Page> {
  const pageUrl = await servePage(t);
  assert.notEqual(new URL(pageUrl).origin, new URL(torrentUrl).origin, 'cross-origin');
  const { page, problems } = await openPage(t);
  const result = await runPage(page, pageUrl, torrentUrl);
  assert.equal(result.state, 'done', result.status);
  assert.equal(result.sha256, createHash('sha256').update(whole).digest('hex'));
  assert.match(result.status, new RegExp(`done: share, ${whole.length} bytes, ${pieceCount} pieces verified`));
  assert.deepEqual(problems, []);
  return page;
}

test('examples/ttp-browser-client.html in chromium downloads a multi-file torrent from a torrenttp seed, cross-origin', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const share = join(dir, 'share');
    mkdirSync(join(share, 'sub'), { recursive: true });
    const files: [string, Uint8Array][] = [
      ['a.bin', bytes(3 * 1024 * 1024 + 5, 81)],
      ['sub/café ☕.txt', bytes(100_003, 82)], // a name in UTF-8, beyond the BMP: bencoded by raw bytes
      ['z-empty', new Uint8Array(0)],
    ];
    for (const [path, data] of files) writeFileSync(join(share, path), data);
    const { torrent, metainfo } = await createTorrent(share, { pieceLength: 64 * 1024, creationDate: null });
    writeFileSync(join(dir, 'share.torrent'), torrent);
    const whole = Buffer.concat(metainfo.files.map((f) => readFileSync(join(share, ...f.path))));
    assert.equal(whole.length, files.reduce((n, [, d]) => n + d.length, 0));

    const seed = spawnCli(t, dir, ['seed', 'share.torrent', share, '--listen', '127.0.0.1', '--http-port', '0', '--no-trackers', '--no-dht', '--json']);
    await until('the seed to start', () => jsonLines(seed).some((l) => l.event === 'seeding'), 30_000);
    const torrentUrl = String(jsonLines(seed).find((l) => l.event === 'started')!['ttpUrl']);
    const page = await downloadsShare(t, torrentUrl, whole, metainfo.pieceCount);
    assert.deepEqual(await page.$$eval('#files a', (as) => as.map((a) => a.textContent)), metainfo.files.map((f) => `${f.path.join('/')} (${f.length} bytes)`));

    seed.child.kill('SIGTERM');
    assert.equal(await seed.exited, 0, seed.stderr);
    const summary = jsonLines(seed).filter((l) => l.event === 'summary').at(-1)!;
    assert.ok((summary['uploaded'] as number) >= whole.length, `the seed served the page: ${JSON.stringify(summary)}`);
  }));

test('the page downloads from examples/ttp-server.py too: two programs written from docs/torrenttp.md alone, cross-origin', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('python3', ['--version']);
    const share = join(dir, 'share');
    mkdirSync(join(share, 'sub'), { recursive: true });
    const files: [string, Uint8Array][] = [
      ['a.bin', bytes(700_001, 85)],
      ['sub/café ☕.txt', bytes(30_003, 86)], // a UTF-8 name: the python server's paths and JSON
      ['z-empty', new Uint8Array(0)],
    ];
    for (const [path, data] of files) writeFileSync(join(share, path), data);
    const { torrent, metainfo } = await createTorrent(share, { pieceLength: 32 * 1024, creationDate: null });
    writeFileSync(join(dir, 'share.torrent'), torrent);
    const whole = Buffer.concat(metainfo.files.map((f) => readFileSync(join(share, ...f.path))));
    const server = run(t, 'python3', [join(ROOT, 'examples', 'ttp-server.py'), join(dir, 'share.torrent'), dir, '--port', '0']);
    await until('the python server to start', () => /\nserving share: \d+ of \d+ pieces verified/.test(server.output), 30_000, server);
    const torrentUrl = server.output.split('\n')[0]!;
    assert.match(server.output, new RegExp(`serving share: ${metainfo.pieceCount} of ${metainfo.pieceCount} pieces verified`));
    await downloadsShare(t, torrentUrl, whole, metainfo.pieceCount);
  }));

test('the page refuses a peer whose piece fails its SHA-1 check, and one whose metainfo is another torrent', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(500_000, 83);
    writeFileSync(join(dir, 'p.bin'), payload);
    const { torrent, metainfo } = await createTorrent(join(dir, 'p.bin'), { pieceLength: 64 * 1024, creationDate: null });
    const cors = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'Content-Length, Content-Range, ETag, Retry-After' };
    const liar = await startTtpPeerServer({
      metainfo,
      data: payload,
      torrent,
      hook: (req, res) => {
        if (!req.url!.endsWith('/pieces/2')) return false;
        const bad = Buffer.from(payload.subarray(2 * 65536, 3 * 65536));
        bad[100]! ^= 1;
        res.writeHead(200, { ...cors, 'content-type': 'application/octet-stream', 'content-length': bad.length }).end(bad);
        return true;
      },
    });
    t.after(() => liar.close());
    const pageUrl = await servePage(t);
    const { page } = await openPage(t);
    const bad = await runPage(page, pageUrl, liar.url);
    assert.equal(bad.state, 'error');
    assert.match(bad.status, /piece 2 failed its SHA-1 check/);
    assert.equal(bad.sha256, '');

    // The torrent's own metainfo, served at another info-hash's URL.
    const doc = Buffer.from(await (await fetch(`${liar.url}/metainfo.json`)).arrayBuffer());
    const other = 'e'.repeat(40);
    const wrong = await startTtpPeerServer({
      metainfo,
      data: payload,
      torrent,
      hook: (req, res) => {
        if (!req.url!.startsWith(`/ttp/v1/torrents/${other}`)) return false;
        res.writeHead(200, { ...cors, 'content-type': 'application/vnd.torrenttp.metainfo+json', 'content-length': doc.length }).end(doc);
        return true;
      },
    });
    t.after(() => wrong.close());
    const refused = await runPage(page, pageUrl, `${wrong.origin}/ttp/v1/torrents/${other}`);
    assert.equal(refused.state, 'error');
    assert.match(refused.status, new RegExp(`hashes to ${metainfo.infoHash}, not to the URL's ${other}`));
    assert.ok(!wrong.requests.some((r) => r.target.includes('/pieces/')), 'no piece asked for');
  }));

test('the page waits, by have-set long-poll, for pieces the peer gets later, then completes', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(400_000, 84);
    writeFileSync(join(dir, 'p.bin'), payload);
    const { torrent, metainfo } = await createTorrent(join(dir, 'p.bin'), { pieceLength: 64 * 1024, creationDate: null });
    const have = new Bitfield(metainfo.pieceCount);
    for (let i = 0; i < metainfo.pieceCount; i += 2) have.set(i); // the even pieces now, the odd ones later
    const peer = await startTtpPeerServer({ metainfo, data: payload, torrent, have });
    t.after(() => peer.close());
    const pageUrl = await servePage(t);
    const { page, problems } = await openPage(t);
    const running = runPage(page, pageUrl, peer.url);
    await until('the page to long-poll the have-set', () => peer.requests.some((r) => /\/have\?since=[^&]+&wait=30$/.test(r.target)), 30_000);
    assert.equal(await page.getAttribute('body', 'data-state'), 'running');
    for (let i = 1; i < metainfo.pieceCount; i += 2) peer.add(i);
    const result = await running;
    assert.equal(result.state, 'done', result.status);
    assert.equal(result.sha256, createHash('sha256').update(payload).digest('hex'));
    assert.deepEqual(problems, []);
  }));

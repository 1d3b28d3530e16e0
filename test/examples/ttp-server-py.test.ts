/**
 * examples/ttp-server.py, a TorrentTTP peer server in python3's standard library written from
 * docs/torrenttp.md alone: torrenttp's HTTP-only leech (`download --peer URL`, no wire peer, no
 * tracker) and the curl client example download a multi-file torrent from it byte-identical; its
 * answers to bad requests are the spec's statuses and codes; and when it is made to lie (one wrong
 * byte in a piece, a have-set with a spare bit) the leech bans it and completes nothing wrong.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { requireTool, run, until, type Proc } from '../helpers/processes.js';
import { jsonLines, spawnCli, type CliProcess } from '../helpers/cli.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { createTorrent, parseMetainfoJson } from '../../src/metainfo/index.js';
import { decodeHaveDocument, pieceEtag } from '../../src/tracker/index.js';
import { demoTorrent } from '../gateway/ttp-helpers.js';
import { httpBlocks, type Message } from '../helpers/http-blocks.js';

const root = resolve(fileURLToPath(import.meta.url), '../../../..');
const SERVER = join(root, 'examples/ttp-server.py');
const CURL_CLIENT = join(root, 'examples/ttp-curl-client.sh');
const SPEC = join(root, 'docs/torrenttp.md');
/** The `demo` torrent of docs/torrenttp.md §2. */
const DOC_HASH = '2560f1ee58d918a78b3dbf9cd217b0f90dd36cf8';

/** A multi-file torrent of 23 pieces of 16 KiB (the last short), its files under `dir/pair/`. */
async function pair(dir: string): Promise<{ files: Record<string, Buffer>; infoHash: string }> {
  const src = join(dir, 'pair');
  mkdirSync(join(src, 'sub'), { recursive: true });
  const files = { 'a.bin': Buffer.from(bytes(300_000, 1)), 'sub/b.bin': Buffer.from(bytes(70_001, 2)) };
  for (const [name, data] of Object.entries(files)) writeFileSync(join(src, name), data);
  const { torrent, metainfo } = await createTorrent(src, { creationDate: null, pieceLength: 16384 });
  writeFileSync(join(dir, 'pair.torrent'), torrent);
  return { files, infoHash: metainfo.infoHash };
}

/**
 * `python3 examples/ttp-server.py` on 127.0.0.1 port 0, stopped by pid when the test ends: its
 * torrent URL, once it printed that and the line saying how many pieces it verified.
 */
async function pyServer(t: TestContext, dir: string, extra: string[] = [], torrent = join(dir, 'pair.torrent'), verified = 'pair: 23 of 23'): Promise<{ proc: Proc; url: string }> {
  const proc = run(t, 'python3', [SERVER, torrent, dir, '--port', '0', ...extra]);
  await until('the python server printed its URL', () => /\nserving .*port \d+\n/.test(proc.output), 30_000, proc);
  const url = proc.output.split('\n')[0]!;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/ttp\/v1\/torrents\/[0-9a-f]{40}$/);
  assert.match(proc.output, new RegExp(`serving ${verified} pieces verified, port (\\d+)`));
  assert.equal(new URL(url).port, /port (\d+)/.exec(proc.output)![1]);
  return { proc, url };
}

function leech(t: TestContext, dir: string, out: string, url: string): CliProcess {
  return spawnCli(t, dir, ['download', 'pair.torrent', '-o', out, '--no-trackers', '--no-dht', '--no-web-seeds', '--listen', '127.0.0.1', '--peer', url, '--json']);
}

function curlClient(url: string, out: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile('bash', [CURL_CLIENT, url, out], { timeout: 120_000 }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

test('torrenttp download and the curl client get a multi-file torrent byte-identical from the python server alone', { timeout: 240_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('python3', ['--version']);
    const { files, infoHash } = await pair(dir);
    const { url } = await pyServer(t, dir);
    assert.match(url, new RegExp(`/ttp/v1/torrents/${infoHash}$`));

    const dl = leech(t, dir, 'out', url);
    // Done, or a peer refused (then it would wait for other sources forever): either ends the wait.
    await until('the leech finished or refused the python peer', () => dl.child.exitCode !== null || /"ok":false/.test(dl.stdout), 120_000);
    assert.equal(dl.child.exitCode, 0, dl.stdout + dl.stderr);
    const lines = jsonLines(dl);
    assert.ok(lines.some((l) => l.event === 'summary' && l['done'] === true), dl.stdout);
    // Every byte came over TorrentTTP from the one python peer.
    const summary = lines.find((l) => l.event === 'summary') as unknown as { downloadedByKind: { http: number; wire: number } };
    assert.equal(summary.downloadedByKind.wire, 0);
    assert.ok(summary.downloadedByKind.http >= 370_001);
    for (const [name, data] of Object.entries(files)) assert.deepEqual(readFileSync(join(dir, 'out', 'pair', name)), data, name);

    const c = await curlClient(url, join(dir, 'curl'));
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /downloaded pair \(370001 bytes, 23 pieces verified\)/);
    for (const [name, data] of Object.entries(files)) assert.deepEqual(readFileSync(join(dir, 'curl', 'pair', name)), data, name);
  }),
);

test("the python server answers as docs/torrenttp.md says: metainfo, have-set, ranges, errors, CORS", { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('python3', ['--version']);
    const { infoHash } = await pair(dir);
    const { url } = await pyServer(t, dir);
    const get = async (path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' | 'OPTIONS' | 'POST' = 'GET') => {
      const r = await request(url + path, { method, headers });
      const body = Buffer.from(await r.body.arrayBuffer());
      return { status: r.statusCode, headers: r.headers, body, code: r.headers['content-type'] === 'application/problem+json' ? (JSON.parse(body.toString()) as { code: string }).code : undefined };
    };
    // §4: JSON by default, the .torrent only when ranked higher; both the same info-hash.
    const meta = await get('');
    assert.equal(meta.headers['content-type'], 'application/vnd.torrenttp.metainfo+json');
    assert.equal(meta.headers['vary'], 'Accept');
    assert.equal(meta.headers['content-location'], `/ttp/v1/torrents/${infoHash}/metainfo.json`);
    assert.equal(parseMetainfoJson(meta.body.toString()).infoHash, infoHash);
    const bt = await get('', { accept: 'application/vnd.torrenttp.metainfo+json;q=0.5, application/x-bittorrent' });
    assert.equal(bt.headers['content-type'], 'application/x-bittorrent');
    assert.deepEqual(bt.body, readFileSync(join(dir, 'pair.torrent')));
    assert.equal((await get('', { accept: '*/*' })).headers['content-type'], 'application/vnd.torrenttp.metainfo+json');
    assert.equal((await get('/metainfo.torrent')).headers['vary'], undefined);
    // §5: the full have-set, 304 on its cursor.
    const have = await get('/have');
    const doc = decodeHaveDocument(have.body, { infoHash, pieceCount: 23 });
    assert.equal(have.headers['etag'], `"${doc.cursor}"`);
    assert.equal((await get('/have?wait=1', { 'if-none-match': `"${doc.cursor}"` })).status, 304);
    assert.equal((await get('/have?wait=1&wait=2')).code, 'TTP_BAD_QUERY');
    assert.equal((await get('/have?wait=1e3')).code, 'TTP_BAD_QUERY');
    // §5.3: any run of digits is a wait, clamped, never refused (answered at once: `since` is not current).
    for (const wait of ['1234567', '9'.repeat(5000)]) assert.equal((await get(`/have?since=nope.3&wait=${wait}`)).status, 200, `wait of ${wait.length} digits`);
    // §6: ranges and their errors; 23rd piece is 370001 − 22 × 16384 = 9553 bytes.
    const part = await get('/pieces/22', { range: 'bytes=4096-' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], 'bytes 4096-9552/9553');
    assert.equal(part.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(String(part.headers['etag']), /^"sha1-[0-9a-f]{40}"$/);
    assert.equal((await get('/pieces/22', { 'if-none-match': String(part.headers['etag']) })).status, 304);
    const cases: [string, Record<string, string>, number, string | undefined][] = [
      ['/pieces/22', { range: 'bytes=9553-' }, 416, 'TTP_RANGE_NOT_SATISFIABLE'],
      ['/pieces/22', { range: 'bytes=0-1,4-5' }, 400, 'TTP_BAD_RANGE'],
      ['/pieces/22', { range: 'bytes=9-1' }, 400, 'TTP_BAD_RANGE'],
      ['/pieces/22', { range: 'items=0-1' }, 200, undefined],
      ['/pieces/23', {}, 404, 'TTP_NO_SUCH_PIECE'],
      ['/pieces/01', {}, 404, 'TTP_NOT_FOUND'],
      ['/nothing', {}, 404, 'TTP_NOT_FOUND'],
    ];
    // §6.3: a Range under an If-Range that is not the piece's ETag is ignored, however malformed.
    for (const range of ['bytes=9-1', 'bytes=0-1,4-5', 'nonsense', 'bytes=9553-']) {
      cases.push(['/pieces/22', { range, 'if-range': '"other"' }, 200, undefined]);
      cases.push(['/pieces/22', { range, 'if-range': String(part.headers['etag']) }, range === 'bytes=9553-' ? 416 : 400, range === 'bytes=9553-' ? 'TTP_RANGE_NOT_SATISFIABLE' : 'TTP_BAD_RANGE']);
    }
    for (const [path, headers, status, code] of cases) {
      const r = await get(path, headers);
      assert.equal(r.status, status, `${path} ${JSON.stringify(headers)}`);
      assert.equal(r.code, code, `${path} ${JSON.stringify(headers)}`);
      assert.equal(r.headers['access-control-allow-origin'], '*');
      if (status >= 400) assert.equal(r.headers['cache-control'], 'no-store');
    }
    const upper = await request(url.replace(infoHash, infoHash.toUpperCase()) + '/have');
    assert.equal(upper.statusCode, 400);
    const problem = (await upper.body.json()) as Record<string, unknown>;
    assert.equal(problem['code'], 'TRACKER_BAD_INFO_HASH');
    assert.equal(problem['title'], ERROR_CODES.TRACKER_BAD_INFO_HASH.message, "§13's title, torrenttp's");
    assert.equal((await get('/have', {}, 'POST')).headers['allow'], 'GET, HEAD, OPTIONS');
    const pre = await get('/have', { origin: 'https://app.example', 'access-control-request-method': 'GET' }, 'OPTIONS');
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-headers'], 'Range, If-None-Match, If-Range, TorrentTTP-Peer-Id');
  }),
);

test('the leech bans a python server that sends one wrong byte, or a have-set with a spare bit, and completes nothing wrong', { timeout: 240_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('python3', ['--version']);
    const { files } = await pair(dir);
    const original = files['a.bin'];
    assert.ok(original !== undefined);
    const faults: [string, string, RegExp][] = [
      ['flip:1', 'bad-byte', /ENGINE_PEER_BANNED/],
      ['spare-bit', 'bad-have', /TTP_BAD_HAVE/],
    ];
    for (const [fault, out, seen] of faults) {
      const { proc, url } = await pyServer(t, dir, ['--fault', fault]);
      const dl = leech(t, dir, out, url);
      const done = (): boolean => jsonLines(dl).some((l) => l['done'] === true);
      await until(`the leech refused the peer (${fault})`, () => seen.test(dl.stdout) || done() || dl.child.exitCode !== null, 60_000);
      assert.ok(!done(), `${fault}: the leech must not complete`);
      assert.match(dl.stdout, seen);
      dl.child.kill('SIGTERM');
      await dl.exited;
      const summary = jsonLines(dl).find((l) => l.event === 'summary');
      assert.equal(summary?.['done'], false, dl.stdout);
      // Piece 1 (bytes 16384–32767 of a.bin) was never written with the peer's bytes.
      let got: Buffer = Buffer.alloc(0);
      try {
        got = readFileSync(join(dir, out, 'pair', 'a.bin'));
      } catch {
        // nothing written at all: fine
      }
      assert.notDeepEqual(got.subarray(16384, 32768), original.subarray(16384, 32768), `${fault}: piece 1 must not be on disk`);
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
    // The curl client refuses the wrong byte too.
    const { url } = await pyServer(t, dir, ['--fault', 'flip:1']);
    const c = await curlClient(url, join(dir, 'curl-bad'));
    assert.equal(c.code, 1);
    assert.match(c.stderr, /piece 1 fails its SHA-1/);
  }),
);

test("docs/torrenttp.md's example exchanges, replayed against the python server, get the documented answers", { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('python3', ['--version']);
    // The same layout as the document's `demo` (40,000 + 102 bytes, 16 KiB pieces: 3 pieces, the
    // last 7,334 bytes), other bytes: so another info-hash, put in place of the document's.
    const { metainfo, torrent } = await demoTorrent(dir);
    writeFileSync(join(dir, 'demo.torrent'), torrent);
    const full = await pyServer(t, dir, [], join(dir, 'demo.torrent'), 'demo: 3 of 3');
    // A second copy whose piece 1 is damaged on disk: a peer without piece 1, as §5.2 and §6.2 show.
    const partial = join(dir, 'partial');
    mkdirSync(join(partial, 'demo', 'docs'), { recursive: true });
    const data = readFileSync(join(dir, 'demo', 'docs', 'data.bin'));
    data[20_000] = data[20_000]! ^ 1;
    writeFileSync(join(partial, 'demo', 'docs', 'data.bin'), data);
    writeFileSync(join(partial, 'demo', 'readme.txt'), readFileSync(join(dir, 'demo', 'readme.txt')));
    const lacking = await pyServer(t, partial, [], join(dir, 'demo.torrent'), 'demo: 2 of 3');
    const ih = metainfo.infoHash;
    const ours = (text: string): string => text.replaceAll(DOC_HASH, ih).replaceAll(DOC_HASH.toUpperCase(), ih.toUpperCase());

    const blocks = httpBlocks(readFileSync(SPEC, 'utf8'));
    let req: Message | undefined;
    const replayed: string[] = [];
    for (const msg of blocks) {
      if (!msg.start.startsWith('HTTP/1.1 ')) {
        req = msg;
        continue;
      }
      const [method, target] = req!.start.split(' ') as [string, string];
      const at = `docs/torrenttp.md:${req!.line} ${method} ${target}`;
      const status = Number(msg.start.split(' ')[1]);
      // What depends on a peer's history (cursors it handed out, a choke) cannot be replayed.
      if (!target.toLowerCase().startsWith('/ttp/v1/torrents/') || req!.headers.has('if-none-match') || target.includes('?') || status === 429) continue;
      const problem = msg.headers.get('content-type') === 'application/problem+json' ? (JSON.parse(msg.body) as { code: string }) : undefined;
      const origin = new URL(problem?.code === 'STORAGE_NOT_VERIFIED' || target.endsWith('/have') ? lacking.url : full.url).origin;
      const headers: Record<string, string> = {};
      for (const [k, v] of req!.headers) if (k !== 'host') headers[k] = v;
      const r = await request(origin + ours(target), { method: method as 'GET', headers });
      const body = Buffer.from(await r.body.arrayBuffer());
      assert.equal(r.statusCode, status, `${at}: status\n${body.toString()}`);
      for (const [name, value] of msg.headers) {
        const got = r.headers[name];
        if (name === 'etag' && value.startsWith('"sha1-')) {
          const index = Number(/pieces\/(\d+)$/.exec(target)![1]);
          assert.equal(got, pieceEtag(metainfo.pieceHashes.subarray(index * 20, index * 20 + 20)), `${at}: ETag`);
        } else if (name === 'etag') {
          assert.match(String(got), /^"[A-Za-z0-9._~-]{1,64}"$/, `${at}: ETag`);
        } else if (name === 'content-length' && (msg.headers.get('content-type') ?? '').startsWith('application/vnd.torrenttp.') || name === 'content-length' && msg.headers.get('content-type') === 'application/x-bittorrent') {
          // The document's metainfo and have-set bodies are its own torrent's and cursors'.
        } else {
          assert.equal(got, ours(value), `${at}: ${name}`);
        }
      }
      if (problem !== undefined) assert.deepEqual(JSON.parse(body.toString()), JSON.parse(ours(msg.body)), `${at}: the problem document, title and detail too`);
      if (target.endsWith('/have') && status === 200) {
        const doc = JSON.parse(body.toString()) as { have: string; pieceCount: number };
        const want = JSON.parse(msg.body) as { have: string; pieceCount: number };
        assert.deepEqual([doc.have, doc.pieceCount], [want.have, want.pieceCount], `${at}: have-set`);
      }
      if (msg.headers.get('content-type') === 'application/vnd.torrenttp.metainfo+json') {
        const { pieces: _p, ...info } = (JSON.parse(body.toString()) as { info: Record<string, unknown> }).info;
        const { pieces: _q, ...docInfo } = (JSON.parse(msg.body) as { info: Record<string, unknown> }).info;
        assert.deepEqual(info, docInfo, `${at}: the info dict but its hashes`);
      }
      replayed.push(`${status} ${method} ${target.split('/').slice(5).join('/')}`);
    }
    // The metainfo in both forms, the have-set, 206/200/416/404 pieces, the 400 and the preflight.
    assert.ok(replayed.length >= 11, replayed.join('\n'));
  }),
);

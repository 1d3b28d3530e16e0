/**
 * TorrentTTP through a real HTTP cache (issue 16, docs/torrenttp.md §8): nginx as a caching
 * reverse proxy (`proxy_cache`) in front of a `torrenttp seed --http-port 0`. A piece fetched
 * twice by URL is a MISS then a HIT; a first leech downloads through nginx (its peer URL is
 * nginx's), a second leech downloads again and every piece it gets is a cache HIT, so the seed
 * sent the torrent once. Both files are byte-identical. nginx runs in the foreground from a temp
 * prefix (its own pid, config, logs, cache and temp folders) on a free port, and is stopped by
 * pid. nginx is required: CI installs it (.ci/run), and a missing one fails here.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTorrent } from '../../src/metainfo/index.js';
import { jsonLines, spawnCli } from '../helpers/cli.js';
import { freePort, requireTool, run, until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const PIECE = 256 * 1024;
const PAYLOAD_BYTES = 6 * 1024 * 1024 + 777;

/** nginx caching `upstream` (an origin, `http://127.0.0.1:N`) on a free port; its access log is `$uri $status $upstream_cache_status`. */
async function startNginxCache(t: TestContext, dir: string, upstream: string): Promise<{ origin: string; accessLog: string }> {
  requireTool('nginx', ['-v']);
  const prefix = join(dir, 'nginx');
  for (const sub of ['cache', 'tmp/body', 'tmp/proxy', 'tmp/fastcgi', 'tmp/uwsgi', 'tmp/scgi', 'logs']) mkdirSync(join(prefix, sub), { recursive: true });
  const port = await freePort();
  const accessLog = join(prefix, 'logs', 'access.log');
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `# One process, as the user running the test: nothing to chown, one pid to stop.
master_process off;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')} info;
events { worker_connections 256; }
http {
  client_body_temp_path ${join(prefix, 'tmp/body')};
  proxy_temp_path ${join(prefix, 'tmp/proxy')};
  fastcgi_temp_path ${join(prefix, 'tmp/fastcgi')};
  uwsgi_temp_path ${join(prefix, 'tmp/uwsgi')};
  scgi_temp_path ${join(prefix, 'tmp/scgi')};
  log_format ttp '$uri $status $upstream_cache_status';
  access_log ${accessLog} ttp;
  proxy_cache_path ${join(prefix, 'cache')} levels=1:2 keys_zone=ttp:10m max_size=256m inactive=60m use_temp_path=off;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # Pieces say "public, max-age=31536000, immutable"; have-sets and metainfo say no-cache
      # and are not stored. A miss fetches the whole piece (nginx drops Range upstream when
      # caching) and ranges are cut from the cached copy.
      proxy_cache ttp;
      proxy_cache_lock on;
      add_header X-Cache-Status $upstream_cache_status always;
    }
  }
}
`,
  );
  const proc = run(t, 'nginx', ['-p', prefix, '-e', join(prefix, 'logs', 'error.log'), '-c', conf, '-g', 'daemon off;']);
  const origin = `http://127.0.0.1:${port}`;
  await until('nginx to listen', async () => {
    try {
      await (await fetch(`${origin}/`)).arrayBuffer();
      return true;
    } catch {
      return false;
    }
  }, 10_000, proc);
  return { origin, accessLog };
}

async function get(url: string): Promise<{ status: number; cache: string | null; body: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, cache: res.headers.get('x-cache-status'), body: Buffer.from(await res.arrayBuffer()) };
}

test('nginx proxy_cache in front of a TorrentTTP seed: two leeches through it, the second served from the cache', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const data = join(dir, 'data');
    mkdirSync(data);
    const payload = Buffer.from(bytes(PAYLOAD_BYTES, 71));
    writeFileSync(join(data, 'p.bin'), payload);
    const { torrent, metainfo: { infoHash } } = await createTorrent(join(data, 'p.bin'), { pieceLength: PIECE, creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);

    const seed = spawnCli(t, dir, ['seed', 'p.torrent', join(data, 'p.bin'), '--listen', '127.0.0.1', '--http-port', '0', '--no-trackers', '--no-dht', '--json']);
    await until('the seed to start', () => jsonLines(seed).some((l) => l.event === 'seeding'), 30_000);
    const seedUrl = String(jsonLines(seed).find((l) => l.event === 'started')!['ttpUrl']);
    const upstream = new URL(seedUrl).origin;
    const { origin, accessLog } = await startNginxCache(t, dir, upstream);
    const viaCache = `${origin}/ttp/v1/torrents/${infoHash}`;

    // One piece by URL: a miss, then a hit, the same bytes as the file.
    const first = await get(`${viaCache}/pieces/3`);
    assert.equal(first.status, 200);
    assert.equal(first.cache, 'MISS');
    assert.ok(first.body.equals(payload.subarray(3 * PIECE, 4 * PIECE)));
    const again = await get(`${viaCache}/pieces/3`);
    assert.equal(again.cache, 'HIT');
    assert.ok(again.body.equals(first.body));
    // The have-set is revalidated, never stored.
    const have = await get(`${viaCache}/have`);
    assert.equal(have.status, 200);
    assert.notEqual(have.cache, 'HIT');

    const pieceCount = Math.ceil(PAYLOAD_BYTES / PIECE);
    const pieceLog = () =>
      readFileSync(accessLog, 'utf8').trim().split('\n').map((l) => l.split(' ')).filter(([uri]) => uri!.includes('/pieces/'));
    const cacheOf = (lines: string[][]) => lines.map(([, , cache]) => cache);
    const seen: Record<string, string[][]> = {};
    for (const name of ['one', 'two']) {
      const before = pieceLog().length;
      const leech = spawnCli(t, dir, ['download', 'p.torrent', '-o', name, '--no-trackers', '--no-dht', '--no-web-seeds', '--listen', '127.0.0.1', '--peer', viaCache, '--json']);
      assert.equal(await leech.exited, 0, `${name}:\n${leech.stdout}\n${leech.stderr}\n--- nginx:\n${readFileSync(accessLog, 'utf8').slice(-2000)}`);
      assert.ok(readFileSync(join(dir, name, 'p.bin')).equals(payload), `${name}: byte-identical`);
      seen[name] = pieceLog().slice(before);
    }
    // Leech one: every piece from the seed once, except piece 3, already cached.
    const oneMisses = seen['one']!.filter(([, , c]) => c === 'MISS').map(([uri]) => uri);
    assert.equal(new Set(oneMisses).size, oneMisses.length, `each piece came from the seed at most once: ${oneMisses.join(' ')}`);
    assert.ok(oneMisses.length <= pieceCount - 1, `${oneMisses.length} misses for ${pieceCount} pieces`);
    // Leech two: every piece from the cache.
    assert.ok(seen['two']!.length >= pieceCount, `leech two asked for ${seen['two']!.length} pieces`);
    assert.deepEqual(new Set(cacheOf(seen['two']!)), new Set(['HIT']), `leech two: ${cacheOf(seen['two']!).join(' ')}`);
    // A piece fetched again by URL now, after both leeches: a hit.
    assert.equal((await get(`${viaCache}/pieces/${pieceCount - 1}`)).cache, 'HIT');

    seed.child.kill('SIGTERM');
    assert.equal(await seed.exited, 0, seed.stderr);
    const summary = jsonLines(seed).filter((l) => l.event === 'summary').at(-1)!;
    // Two downloads, one copy from the seed.
    assert.ok((summary['uploaded'] as number) < 1.5 * PAYLOAD_BYTES, `the seed sent ${String(summary['uploaded'])} bytes for two downloads of ${PAYLOAD_BYTES}`);
  }));

/**
 * What a curl/wget/nginx/aria2 user met on a first try of the CLI: messages that name the wrong
 * server, option mistakes that were not usage errors, aria2's `--seed-time 0`, huge URLs repeated
 * in messages, and a `serve --cache` that cannot be used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { clipUrls, SHOWN_URL_CHARS } from '../../src/cli/format.js';
import { messageOnce } from '../../src/cli/logger.js';
import { Client } from '../../src/engine/index.js';
import { TorrenttpError } from '../../src/errors/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { cli, spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/processes.js';
import { selfSignedCert } from '../helpers/tls.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('GATEWAY_BIND_FAILED names no server: the proxy and the TorrentTTP server fail to bind too', () => {
  const message = new TorrenttpError('GATEWAY_BIND_FAILED', { detail: 'TorrentTTP tcp 127.0.0.1:1' }).message;
  assert.doesNotMatch(message, /web server/);
  assert.match(message, /cannot listen on the address and port: TorrentTTP tcp 127\.0\.0\.1:1/);
});

test('--cert without --key (or the reverse), or without --http-port: usage errors (exit 2), before the torrent is read', (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'c.pem'), 'not read');
    const cases: [string[], RegExp][] = [
      [['serve', '.', '--cert', 'c.pem'], /--cert needs --key/],
      [['serve', '.', '--key', 'c.pem'], /--key needs --cert/],
      [['download', 'missing.torrent', '--http-port', '0', '--cert', 'c.pem'], /--cert needs --key/],
      [['download', 'missing.torrent', '--cert', 'c.pem', '--key', 'c.pem'], /add --http-port N/],
      [['seed', 'missing.torrent', '.', '--key', 'c.pem'], /add --http-port N/],
    ];
    for (const [args, said] of cases) {
      const r = await cli(dir, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, said, args.join(' '));
      assert.ok(r.stderr.includes(`(run torrenttp ${args[0]} --help for usage)`), `${args.join(' ')}: ${r.stderr}`);
    }
  }));

test('download --seed-time 0 is aria2\'s "do not seed": it ends when the download completes, even with --seed', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(300_000, 16);
    writeFileSync(join(dir, 'p.bin'), payload);
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { pieceLength: 32 * 1024, creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const seeder = new Client({ host: '127.0.0.1' });
    try {
      await seeder.add(torrent, { path: dir });
      const port = await seeder.listen();
      for (const extra of [[], ['--seed'], ['--seed-ratio', '2']]) {
        const out = `dl${extra.length}`;
        const r = await cli(dir, ['download', 'p.torrent', '-o', out, '--peer', `127.0.0.1:${port}`, '--no-dht', '--json', '--seed-time', '0', ...extra]);
        assert.equal(r.code, 0, `${extra.join(' ')}: ${r.stderr}`);
        const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; status?: string });
        assert.ok(!events.some((e) => e.event === 'seeding'), `${extra.join(' ')}: no seeding`);
        assert.equal(events.at(-1)?.status, 'complete', extra.join(' '));
      }
      // `seed` is for seeding: no time at all is still refused there.
      const seed = await cli(dir, ['seed', 'p.torrent', 'p.bin', '--seed-time', '0']);
      assert.equal(seed.code, 2, seed.stderr);
      assert.match(seed.stderr, /--seed-time/);
    } finally {
      await seeder.close();
    }
  }));

test('a 20 KB URL refused with a 431 is named by its first 200 characters, not repeated whole', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const server = createServer((_req, res) => res.end('never'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const long = `${base}${'a'.repeat(20_000)}`;
      const r = await cli(dir, ['get', long, '-o', 'x']);
      assert.equal(r.code, 22, r.stderr);
      assert.match(r.stderr, /431/);
      assert.ok(r.stderr.includes(`${long.slice(0, SHOWN_URL_CHARS - 1)}…`), r.stderr.slice(0, 400));
      assert.ok(r.stderr.length < 1000, `${r.stderr.length} characters: ${r.stderr.slice(0, 400)}`);
      // The usage errors that repeat the URL, too.
      const bad = await cli(dir, ['get', `ftp://x/${'b'.repeat(20_000)}`]);
      assert.equal(bad.code, 2, bad.stderr.slice(0, 400));
      assert.ok(bad.stderr.length < 1000, `${bad.stderr.length} characters: ${bad.stderr.slice(0, 400)}`);
    } finally {
      server.close();
    }
  }));

test('clipUrls: only the long URLs in a message are cut, with an ellipsis', () => {
  const long = `http://h/${'c'.repeat(500)}`;
  const short = 'http://h/short';
  const said = clipUrls(`GET ${long} then ${short}: ${'x'.repeat(300)}`);
  assert.equal(said, `GET ${long.slice(0, SHOWN_URL_CHARS - 1)}… then ${short}: ${'x'.repeat(300)}`);
  assert.equal(clipUrls(`short ${short}`), `short ${short}`);
});

test('serve --cache on a file, or under one: GATEWAY_CACHE_IO at start (exit 1), nothing served; a missing folder is made', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'afile'), 'x');
    for (const cache of ['afile', join('afile', 'sub')]) {
      const r = await cli(dir, ['serve', '.', '--port', '0', '--host', '127.0.0.1', '--cache', cache]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^torrenttp: cannot read or write the metainfo cache: .*afile.* \[GATEWAY_CACHE_IO\]$/m, cache);
      assert.equal(r.stdout, '', 'no "serving …" line');
    }
    const g = await Gateway.start({ root: dir, host: '127.0.0.1', port: 0, peerPort: 0, cacheDir: join(dir, 'new', 'cache') });
    try {
      assert.ok(statSync(join(dir, 'new', 'cache')).isDirectory());
      assert.deepEqual(readdirSync(join(dir, 'new', 'cache')), [], 'the probe is gone');
    } finally {
      await g.close();
    }
  }));

test('serve logs a cache failure with the system\'s words once, not twice', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'big.bin'), bytes(1_200_000, 17));
    writeFileSync(join(dir, '.torrenttp'), 'the default cache folder is taken by a file');
    const serve = spawnCli(t, dir, ['serve', '.', '--port', '0', '--host', '127.0.0.1', '--log-format', 'json', '--no-status']);
    await until('serving', () => /at http:\/\/127\.0\.0\.1:\d+\//.test(serve.stdout), 20_000);
    const base = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(serve.stdout)![1]!;
    await until('the torrent and the warning', async () => (await fetch(`${base}/big.bin?torrent`)).status === 200 && serve.stderr.includes('cannot write the metainfo cache'), 30_000);
    const line = serve.stderr.split('\n').find((l) => l.includes('cannot write the metainfo cache'))!;
    const message = (JSON.parse(line) as { err: { message: string } }).err.message;
    assert.equal(message.split('ENOTDIR: not a directory').length, 2, message);
  }));

test('messageOnce: a cause\'s message is added only when the error does not quote it already', () => {
  const sys = new Error("ENOTDIR: not a directory, stat '/x'");
  assert.equal(messageOnce(new Error(`taken: /x: ${sys.message}`, { cause: sys })), `taken: /x: ${sys.message}`);
  assert.equal(messageOnce(new Error('taken', { cause: sys })), `taken: ${sys.message}`);
  // A storage error quotes an fs error without its path (`/proc/self/fd/N/name`): not added back.
  const held = Object.assign(new Error("ENAMETOOLONG: name too long, lstat '/proc/self/fd/9/x'"), { code: 'ENAMETOOLONG' });
  assert.equal(messageOnce(new Error('failed: /d/x: ENAMETOOLONG: name too long, lstat', { cause: held })), 'failed: /d/x: ENAMETOOLONG: name too long, lstat');
});

test('--cert with --key: serve and seed --http-port speak HTTPS', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { cert, key } = selfSignedCert(dir);
    writeFileSync(join(dir, 'p.bin'), bytes(100_000, 19));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const serve = spawnCli(t, dir, ['serve', '.', '--port', '0', '--host', '127.0.0.1', '--cert', cert, '--key', key]);
    await until('serving HTTPS', () => /^serving .* at https:\/\/127\.0\.0\.1:\d+\/$/m.test(serve.stdout), 20_000);
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.stderr);
    const seed = spawnCli(t, dir, ['seed', 'p.torrent', 'p.bin', '--listen', '127.0.0.1', '--http-port', '0', '--cert', cert, '--key', key, '--no-dht', '--no-trackers', '--seed-time', '1s']);
    assert.equal(await seed.exited, 0, seed.stderr);
    assert.match(seed.stderr, /TorrentTTP peer at https:\/\/127\.0\.0\.1:\d+\/ttp\/v1\/torrents\//, seed.stderr);
  }));

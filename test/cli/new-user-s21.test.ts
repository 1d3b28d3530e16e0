/**
 * What a new user met walking README.md and docs/*.md from a fresh clone (session 21), beside
 * curl, wget and aria2: a served file whose name is 251-255 bytes long, which curl and wget save,
 * failed `get`'s swarm download (its `NAME.part` was too long a name: ENAMETOOLONG, exit 23), and
 * `download MAGNET --save-torrent` of it failed before the download (`NAME.torrent`, the same);
 * `create` of it said node's message, the path twice, instead of the reason in words; `get
 * --port N` on a taken port did not say which flag picks another, as download's and seed's do;
 * `info` of an input it could not read said node's message, the path twice; `seed --seed-time 0`
 * was "not a duration"; `get URL -o new/` saved the file as `new`, where curl and wget fail;
 * serve's torrent had no `Content-Disposition`, so aria2c without `--follow-torrent=mem` saved it
 * as `big.bin` and then failed to download `big.bin` (and a browser, curl -OJ and wget
 * --content-disposition named it `big.bin` or `big.bin?torrent`); `create -o /proc/x.torrent` said
 * "the folder /proc does not exist"; a redirect to a Location that is no URL ended `get` with
 * node's bare "Invalid URL"; `get -r 99999999- URL` past the end saved serve's 416 problem
 * document as the file and exited 0, where every other error status exits 22 (curl -f's); a
 * swarm `get URL -o /dev/null` (curl's idiom) wrote /dev/null.part, unlinked /dev/null and renamed
 * the .part over it: as root, /dev/null became a regular file; and `-o LINK` (a symlink to a file)
 * replaced the link with the file, where curl and wget write through it; `get -o NAME` of a name
 * over 255 bytes said the bare code (ENAMETOOLONG), not the words every other command says, and
 * `proxy --cache NAME` said the path twice and node's message; `download -o NAME/x` warned twice
 * that the DHT could not lock its table in that folder before node's message.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, createReadStream, existsSync, linkSync, lstatSync, openSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { dispositionField, dispositionName } from '../../src/gateway/disposition.js';
import { partNameOf } from '../../src/gateway/get-io.js';
import { NAME_MAX_BYTES } from '../../src/storage/index.js';
import { Client } from '../../src/engine/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { rawRequest, startGateway, torrentOf } from '../gateway/helpers.js';
import { ariaLeech } from '../helpers/swarm.js';
import { cli, spawnCli } from '../helpers/cli.js';
import { httpOrigin } from '../helpers/origin.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('partNameOf: NAME.part while it fits in 255 bytes; else the name cut at a character, ~ and 8 hex of its SHA-1, .part', () => {
  assert.equal(partNameOf('big.iso'), 'big.iso.part');
  const fits = 'a'.repeat(NAME_MAX_BYTES - '.part'.length);
  assert.equal(partNameOf(fits), `${fits}.part`);
  // A name over 255 bytes itself: NAME.part, whose open fails before the download (ENAMETOOLONG).
  assert.equal(partNameOf('n'.repeat(300)), `${'n'.repeat(300)}.part`);
  for (const name of ['L'.repeat(250) + '.bin', 'ü'.repeat(127), '€'.repeat(85), 'a'.repeat(NAME_MAX_BYTES)]) {
    const part = partNameOf(name);
    assert.ok(Buffer.byteLength(part) <= NAME_MAX_BYTES, `${part.length} chars, ${Buffer.byteLength(part)} bytes`);
    assert.match(part, /~[0-9a-f]{8}\.part$/);
    assert.ok(name.startsWith(part.slice(0, part.lastIndexOf('~'))), 'a prefix of the name, cut between characters');
    assert.equal(partNameOf(name), part, 'the same name gives the same .part (-C - finds it again)');
  }
  // Two long names that start alike do not share one .part.
  assert.notEqual(partNameOf('x'.repeat(252) + '.a'), partNameOf('x'.repeat(252) + '.b'));
});

test('get of a served file whose name is 254 bytes: saved from the swarm under that name, as curl and wget save it (was: ENAMETOOLONG on NAME.part, exit 23)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const name = 'L'.repeat(250) + '.bin';
    const data = bytes(1024 * 1024, 211);
    writeFileSync(join(root, name), data);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentOf(`${g.url}/${name}`);
    const out = join(dir, 'out');
    mkdirSync(out);
    const r = await cli(out, ['get', `${g.url}/${name}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /from the swarm/, r.stderr);
    assert.deepEqual(readdirSync(out), [name]);
    assert.ok(Buffer.from(readFileSync(join(out, name))).equals(Buffer.from(data)));
  }));

test('download MAGNET --save-torrent of a payload named with 250 bytes: the torrent saved as <info-hash>.torrent (aria2\'s name), the payload downloaded (was: ENAMETOOLONG on NAME.torrent, exit 1)', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    mkdirSync(join(dir, 'seed'));
    const name = 'M'.repeat(250);
    const payload = bytes(300 * 1024 + 7, 23);
    writeFileSync(join(dir, 'seed', name), payload);
    const { torrent, metainfo } = await createTorrent(join(dir, 'seed', name), { pieceLength: 64 * 1024, creationDate: null });
    const seeder = new Client({ host: '127.0.0.1' });
    t.after(() => seeder.close());
    await seeder.add(torrent, { path: join(dir, 'seed') });
    const p = spawnCli(t, dir, ['download', `magnet:?xt=urn:btih:${metainfo.infoHash}&x.pe=127.0.0.1:${seeder.port}`, '-o', 'dl', '--save-torrent', '--no-dht', '--stop-timeout', '30']);
    assert.equal(await p.exited, 0, `${p.stdout}\n${p.stderr}`);
    assert.deepEqual(readdirSync(join(dir, 'dl')).filter((f) => !f.startsWith('.')).sort(), [`${metainfo.infoHash}.torrent`, name].sort());
    assert.ok(readFileSync(join(dir, 'dl', name)).equals(Buffer.from(payload)));
    assert.ok(readFileSync(join(dir, 'dl', `${metainfo.infoHash}.torrent`)).includes(Buffer.from(metainfo.infoBytes)));
  }));

test('create of a file named with 250 bytes, without -o (and serve of a folder named with 300): "file name too long (ENAMETOOLONG)", the path once (was node\'s message, the path twice; serve: the bare code)', (t) =>
  withTempDir(t, async (dir) => {
    const name = 'N'.repeat(250);
    writeFileSync(join(dir, name), 'x');
    const r = await cli(dir, ['create', name]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `torrenttp: the output file cannot be written: ${join(dir, name)}.torrent: file name too long (ENAMETOOLONG) [CLI_OUTPUT_UNWRITABLE]\n`);
    assert.equal((await cli(dir, ['create', name, '-o', 'short.torrent'])).code, 0);
    // Every command's system error in words: serve of a folder whose name is too long.
    const serve = await cli(dir, ['serve', 'F'.repeat(300), '--port', '0']);
    assert.equal(serve.code, 1, serve.stderr);
    assert.match(serve.stderr, /: file name too long \(ENAMETOOLONG\) \[GATEWAY_ROOT_UNUSABLE\]$/m, serve.stderr);
  }));

/** A loopback port held by a listening server for the test's length (a port the CLI cannot have). */
async function takenPort(t: TestContext): Promise<string> {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  return String((blocker.address() as AddressInfo).port);
}

test('get --port N on a taken port says which flag picks another, as download --port does (was: only "in use (EADDRINUSE)")', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(1024 * 1024, 5));
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentOf(`${g.url}/big.bin`);
    const taken = await takenPort(t);
    const r = await cli(dir, ['get', '--port', taken, `${g.url}/big.bin`, '-o', 'big.bin']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`:${taken}: choose another with --port N, or leave --port out for any free port \\[ENGINE_PORT_IN_USE\\]$`, 'm'), r.stderr);
  }));

test('info (download, seed, convert) of an input it cannot read: the system error in words, the path once (was node\'s message, the path twice)', (t) =>
  withTempDir(t, async (dir) => {
    const long = 'b'.repeat(300) + '.torrent';
    const r = await cli(dir, ['info', long]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `torrenttp: cannot read the input: ${join(dir, long)}: file name too long (ENAMETOOLONG) [CLI_INPUT_UNREADABLE]\n`);
    symlinkSync('loop2', join(dir, 'loop1'));
    symlinkSync('loop1', join(dir, 'loop2'));
    const loop = await cli(dir, ['download', 'loop1']);
    assert.equal(loop.code, 1, loop.stderr);
    assert.equal(loop.stderr, `torrenttp: cannot read the input: ${join(dir, 'loop1')}: a loop of symbolic links (ELOOP) [CLI_INPUT_UNREADABLE]\n`);
  }));

test('seed --seed-time 0 (0s, 0m0s): "not a duration above 0", not "not a duration"; a word that is none is still "not a duration"', (t) =>
  withTempDir(t, async (dir) => {
    for (const value of ['0', '0s', '0m0s']) {
      const r = await cli(dir, ['seed', 'x.torrent', 'x', '--seed-time', value]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^error: option '--seed-time <duration>' argument '${value}' is invalid\\. not a duration above 0 \\(like 90s, 30m, 2h or 1h30m; a bare number is in minutes\\)$`, 'm'), r.stderr);
    }
    const word = await cli(dir, ['seed', 'x.torrent', 'x', '--seed-time', 'soon']);
    assert.equal(word.code, 2, word.stderr);
    assert.match(word.stderr, /argument 'soon' is invalid\. not a duration \(like 90s/, word.stderr);
    // download's takes 0 (aria2's "do not seed"): no usage error there.
    assert.doesNotMatch((await cli(dir, ['download', 'x.torrent', '--seed-time', '0'])).stderr, /--seed-time/);
  }));

test('get URL -o new/ (a trailing slash: a folder) of one file fails as -o DIR does (EISDIR, exit 23), plain or swarm, and writes nothing; it saved the file as "new"', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(1024 * 1024, 9));
    writeFileSync(join(root, 'small.txt'), 'small\n');
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentOf(`${g.url}/big.bin`);
    const out = join(dir, 'out');
    mkdirSync(out);
    for (const [file, folder] of [['small.txt', 'plain'], ['big.bin', 'swarm']] as const) {
      const r = await cli(out, ['get', `${g.url}/${file}`, '-o', `${folder}/`]);
      assert.equal(r.code, 23, r.stderr);
      assert.match(r.stderr, new RegExp(`^torrenttp: cannot write the download: ${join(out, folder)}/ \\(EISDIR\\) \\[GATEWAY_GET_OUTPUT\\]$`, 'm'), r.stderr);
      assert.equal(existsSync(join(out, folder)), false, `${folder}: nothing written`);
    }
    assert.deepEqual(readdirSync(out), []);
    assert.equal((await cli(out, ['get', `${g.url}/big.bin`, '-o', 'swarm'])).code, 0, 'without the slash: the file');
    assert.equal(readFileSync(join(out, 'swarm')).length, 1024 * 1024);
  }));

test('dispositionField: attachment, an ASCII filename, and filename* (RFC 8187) that dispositionName (get -J) reads back exactly', () => {
  assert.equal(dispositionField('big.iso.torrent'), `attachment; filename="big.iso.torrent"; filename*=UTF-8''big.iso.torrent`);
  assert.equal(dispositionField('grösse "€" 100%.bin.torrent'), `attachment; filename="gr_sse ___ 100_.bin.torrent"; filename*=UTF-8''gr%C3%B6sse%20%22%E2%82%AC%22%20100%25.bin.torrent`);
  for (const name of ['big.iso.torrent', 'grösse €.bin.torrent', "we#ird %25 name?(1)*'.torrent", '日本語.torrent']) assert.equal(dispositionName(dispositionField(name)), name);
});

test('serve\'s torrent of big.bin is named big.bin.torrent (Content-Disposition): aria2c told only the Accept header, without --follow-torrent=mem, saves it so and downloads big.bin', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(join(root, 'ü'), { recursive: true });
    const payload = bytes(1024 * 1024 + 3, 17);
    writeFileSync(join(root, 'big.bin'), payload);
    writeFileSync(join(root, 'ü', 'grösse €.bin'), payload);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentOf(`${g.url}/big.bin`);
    await torrentOf(`${g.url}/%C3%BC/gr%C3%B6sse%20%E2%82%AC.bin`);
    const port = Number(new URL(g.url).port);
    for (const [target, headers] of [['/big.bin?torrent', {}], ['/big.bin', { accept: 'application/x-bittorrent' }]] as const) {
      const r = await rawRequest(port, target, headers);
      assert.equal(r.status, 200);
      assert.match(r.head, /^content-disposition: attachment; filename="big\.bin\.torrent"; filename\*=UTF-8''big\.bin\.torrent\r$/im, target);
    }
    const utf8 = await rawRequest(port, '/%C3%BC/gr%C3%B6sse%20%E2%82%AC.bin?torrent');
    assert.match(utf8.head, /^content-disposition: attachment; filename="gr_sse _\.bin\.torrent"; filename\*=UTF-8''gr%C3%B6sse%20%E2%82%AC\.bin\.torrent\r$/im);
    // The bytes and the metainfo JSON are not attachments.
    assert.doesNotMatch((await rawRequest(port, '/big.bin')).head, /content-disposition/i);
    assert.doesNotMatch((await rawRequest(port, '/big.bin?metainfo')).head, /content-disposition/i);

    const out = join(dir, 'dl');
    await ariaLeech(t, `${g.url}/big.bin`, out, 90_000, ['--header', 'Accept: application/x-bittorrent']);
    assert.deepEqual(readdirSync(out).sort(), ['big.bin', 'big.bin.torrent']);
    assert.ok(readFileSync(join(out, 'big.bin')).equals(Buffer.from(payload)), 'the payload, not the torrent');
  }));

test('create -o /proc/x.torrent: "the folder /proc takes no new file (ENOENT)", not "does not exist"; a missing folder still "does not exist"', { skip: process.platform !== 'linux' }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'f'), 'x');
    const proc = await cli(dir, ['create', 'f', '-o', '/proc/x.torrent']);
    assert.equal(proc.code, 1, proc.stderr);
    assert.equal(proc.stderr, 'torrenttp: the output file cannot be written: /proc/x.torrent: the folder /proc takes no new file (ENOENT) [CLI_OUTPUT_UNWRITABLE]\n');
    const writes = await cli(dir, ['create', 'f', '-o', 'f.torrent']);
    assert.equal(writes.code, 0, writes.stderr);
    const gone = await cli(dir, ['convert', 'f.torrent', '-o', join(dir, 'no', 'x.json')]);
    assert.equal(gone.stderr, `torrenttp: the output file cannot be written: ${join(dir, 'no', 'x.json')}: the folder ${join(dir, 'no')} does not exist (ENOENT) [CLI_OUTPUT_UNWRITABLE]\n`);
  }));

test('get of a URL that redirects to a Location that is no URL ("http://[bad"): GATEWAY_GET_BAD_ANSWER naming both, not node\'s bare "Invalid URL"', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const url = await httpOrigin(t, (_req, res) => void res.writeHead(302, { location: 'http://[bad' }).end());
    const r = await cli(dir, ['get', `${url}/f`]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `torrenttp: server answered in a way a download cannot use: ${url}/f redirects (302) to "http://[bad", which is not a URL [GATEWAY_GET_BAD_ANSWER]\n`);
    assert.deepEqual(readdirSync(dir), []);
  }));

test('get -r past the end: the 416 fails with exit 22 as every error status, no file (it saved the 416\'s problem document and exited 0); -C - of a whole file is still done (0)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'small.txt'), 'small\n');
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    const out = join(dir, 'out');
    mkdirSync(out);
    const r = await cli(out, ['get', '-r', '99999999-', `${g.url}/small.txt`, '-o', 'r']);
    assert.equal(r.code, 22, r.stderr);
    assert.match(r.stderr, /^torrenttp: server answered with an HTTP error: 416 Range Not Satisfiable for \S+\/small\.txt \[GATEWAY_GET_HTTP_STATUS\]$/m, r.stderr);
    assert.deepEqual(readdirSync(out), []);
    writeFileSync(join(out, 'small.txt'), 'small\n');
    const whole = await cli(out, ['get', '-C', '-', `${g.url}/small.txt`, '-o', 'small.txt']);
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal(readFileSync(join(out, 'small.txt'), 'utf8'), 'small\n');
  }));

test('get -o FIFO of a swarm file (as -o /dev/null, a device): written through in order, the FIFO stays a FIFO; it was replaced by the renamed .part (as root, /dev/null became a file)', { timeout: 60_000, skip: process.platform === 'win32' }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const data = bytes(1024 * 1024 + 9, 29);
    writeFileSync(join(root, 'big.bin'), data);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentOf(`${g.url}/big.bin`);
    // Never the real /dev/null here: a regression would replace it on the machine running the test.
    const fifo = join(dir, 'pipe');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    // A second name for the FIFO, so that the end of the test can release a reader still blocked
    // in its open (were the FIFO replaced, nothing would ever open it for writing).
    linkSync(fifo, join(dir, 'pipe-link'));
    const chunks: Buffer[] = [];
    const reader = createReadStream(fifo);
    reader.on('data', (c) => chunks.push(c as Buffer));
    const read = new Promise<void>((resolve, reject) => reader.on('end', resolve).on('error', reject));
    t.after(() => {
      try {
        closeSync(openSync(join(dir, 'pipe-link'), constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waiting: nothing to release
      }
      reader.destroy();
    });
    const p = spawnCli(t, dir, ['get', `${g.url}/big.bin`, '-o', fifo]);
    assert.equal(await p.exited, 0, p.stderr);
    assert.ok(lstatSync(fifo).isFIFO(), 'still a FIFO');
    assert.equal(existsSync(`${fifo}.part`), false);
    await read;
    assert.ok(Buffer.concat(chunks).equals(Buffer.from(data)), 'the file, in order');
    assert.match(p.stderr, /from the swarm/, p.stderr);
    assert.match(p.stderr, new RegExp(`^saved: ${fifo} 1\\.00 MiB in `, 'm'), p.stderr);
  }));

test('get -o LINK (a symlink to a file) of a swarm file writes the link\'s target, the link stays, as curl\'s and wget\'s open does (the .part was renamed over the link)', { timeout: 60_000, skip: process.platform === 'win32' }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const data = bytes(1024 * 1024 + 1, 31);
    writeFileSync(join(root, 'big.bin'), data);
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    await torrentOf(`${g.url}/big.bin`);
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real', 'target.bin'), 'old\n');
    symlinkSync(join('real', 'target.bin'), join(dir, 'link.bin'));
    const r = await cli(dir, ['get', `${g.url}/big.bin`, '-o', 'link.bin']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(lstatSync(join(dir, 'link.bin')).isSymbolicLink(), 'still a link');
    assert.ok(readFileSync(join(dir, 'real', 'target.bin')).equals(Buffer.from(data)), 'the target has the file');
    assert.deepEqual(readdirSync(join(dir, 'real')), ['target.bin'], 'no .part left');
  }));

test('get URL -o NAME (a name of 300 bytes): "file name too long (ENAMETOOLONG)" in words, exit 23, as every other command says it (was the bare code)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'small.txt'), 'small\n');
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    const out = join(dir, 'out');
    mkdirSync(out);
    const long = 'b'.repeat(300);
    const r = await cli(out, ['get', `${g.url}/small.txt`, '-o', long]);
    assert.equal(r.code, 23, r.stderr);
    assert.match(r.stderr, new RegExp(`^torrenttp: cannot write the download: ${join(out, long)}: file name too long \\(ENAMETOOLONG\\) \\[GATEWAY_GET_OUTPUT\\]$`, 'm'), r.stderr);
    assert.deepEqual(readdirSync(out), []);
  }));

test('proxy --cache NAME (a name of 300 bytes): one line, the path once, "file name too long (ENAMETOOLONG)", exit 1 (was the path twice and node\'s message)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const long = 'b'.repeat(300);
    const r = await cli(dir, ['proxy', '--cache', long, '--port', '0']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `torrenttp: cannot read or write the proxy cache folder: ${join(dir, long)}: file name too long (ENAMETOOLONG) [GATEWAY_PROXY_CACHE_IO]\n`);
  }));

test('download -o NAME/x (a folder name of 300 bytes): one line, the folder\'s error in words, before the DHT starts (were two DHT "cannot lock" warnings, then node\'s message)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    writeFileSync(join(dir, 'p.bin'), bytes(50_000, 63));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const long = 'b'.repeat(300);
    // The DHT is on (the default); its bootstrap node is loopback's, should it start.
    const r = await cli(dir, ['download', 'p.torrent', '-o', `${long}/x`, '--no-trackers', '--dht-bootstrap', '127.0.0.1:9']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `torrenttp: disk read or write failed: ${join(dir, long, 'x')}: file name too long (ENAMETOOLONG) [STORAGE_IO]\n`);
  }));

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTorrent } from '../../src/metainfo/index.js';
import { cli } from '../helpers/cli.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

test('create then info, human and --json', () =>
  withTempDir(async (dir) => {
    writeFileSync(join(dir, 'movie.mkv'), bytes(200_000));
    const c = await cli(dir, ['create', 'movie.mkv', '-t', 'http://a/announce,http://b/announce', '-t', 'udp://c:1', '-w', 'http://w/movie.mkv', '-l', '15', '--private', '-c', 'hi', '--no-date']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /info hash [0-9a-f]{40}/);
    const m = parseTorrent(readFileSync(join(dir, 'movie.mkv.torrent')));
    assert.deepEqual(m.announceList, [['http://a/announce', 'http://b/announce'], ['udp://c:1']]);
    assert.deepEqual(m.urlList, ['http://w/movie.mkv']);
    assert.equal(m.pieceLength, 32768);
    assert.equal(m.private, true);
    assert.equal(m.comment, 'hi');
    assert.equal(m.creationDate, undefined);

    const info = await cli(dir, ['info', 'movie.mkv.torrent']);
    assert.equal(info.code, 0);
    assert.match(info.stdout, new RegExp(`info hash\\s+${m.infoHash}`));
    assert.match(info.stdout, /pieces\s+7 × 32.0 KiB/);
    assert.match(info.stdout, /tier 2: udp:\/\/c:1/);

    const json = await cli(dir, ['info', 'movie.mkv.torrent', '--json']);
    const doc = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.equal(doc['infoHash'], m.infoHash);
    assert.equal(doc['pieceCount'], 7);
    assert.deepEqual(doc['urlList'], ['http://w/movie.mkv']);

    const cj = await cli(dir, ['create', 'movie.mkv', '-o', 'second.torrent', '--json']);
    assert.equal(JSON.parse(cj.stdout).infoHash.length, 40);
  }));

test('convert to the JSON form and back keeps the info-hash; info reads all three inputs', () =>
  withTempDir(async (dir) => {
    writeFileSync(join(dir, 'f'), bytes(50_000));
    assert.equal((await cli(dir, ['create', 'f', '-t', 'http://t/announce'])).code, 0);
    assert.equal((await cli(dir, ['convert', 'f.torrent', '-o', 'f.json'])).code, 0);
    assert.equal((await cli(dir, ['convert', 'f.json', '-o', 'back.torrent'])).code, 0);
    const a = parseTorrent(readFileSync(join(dir, 'f.torrent')));
    const b = parseTorrent(readFileSync(join(dir, 'back.torrent')));
    assert.equal(b.infoHash, a.infoHash);
    assert.deepEqual(readFileSync(join(dir, 'back.torrent')), readFileSync(join(dir, 'f.torrent')));
    const fromJson = JSON.parse((await cli(dir, ['info', 'f.json', '--json'])).stdout);
    assert.equal(fromJson.infoHash, a.infoHash);
    assert.equal(fromJson.kind, 'json');
    const magnet = JSON.parse((await cli(dir, ['info', fromJson.magnet, '--json'])).stdout);
    assert.equal(magnet.infoHash, a.infoHash);
    assert.deepEqual(magnet.trackers, ['http://t/announce']);
  }));

test('errors: one line, non-zero exit, no stack unless --debug', () =>
  withTempDir(async (dir) => {
    writeFileSync(join(dir, 'junk.torrent'), 'd4:infoi1ee');
    writeFileSync(join(dir, 'f'), 'x');
    const cases: [string[], RegExp][] = [
      [['info', 'missing.torrent'], /input not found: \S+missing\.torrent \[CLI_INPUT_NOT_FOUND\]$/m],
      // The reason from the hashing thread, where the error was made.
      [['create', 'missing'], /cannot stat \S+missing: no such file or folder \(ENOENT\) \[CREATE_IO\]$/m],
      [['info', 'junk.torrent'], /info must be a dictionary \[METAINFO_BAD_FIELD\]/],
      [['info', 'magnet:?xt=urn:btih:zz'], /\[MAGNET_BAD_INFO_HASH\]/],
    ];
    for (const [args, want] of cases) {
      const r = await cli(dir, args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, want);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    }
    assert.equal((await cli(dir, ['create', 'f'])).code, 0);
    const again = await cli(dir, ['create', 'f']);
    assert.match(again.stderr, /\[CLI_OUTPUT_EXISTS\]/);
    assert.equal((await cli(dir, ['create', 'f', '--force'])).code, 0);
    const debug = await cli(dir, ['info', 'missing.torrent', '--debug']);
    assert.match(debug.stderr, /\n\s+at /, 'stack with --debug');
    const usage = await cli(dir, ['create']);
    assert.equal(usage.code, 2);
    // A bad option value is a usage error too (issue 13), named by commander.
    for (const l of ['huge', '1000']) {
      const bad = await cli(dir, ['create', 'f', '-l', l]);
      assert.equal(bad.code, 2, l);
      assert.match(bad.stderr, new RegExp(`option '-l, --piece-length <size>' argument '${l}' is invalid`));
    }
  }));

test('the installed bin runs: --help lists the commands, exit codes carry through', () =>
  withTempDir(async (dir) => {
    const help = execFileSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    for (const c of ['create', 'info', 'convert']) assert.match(help, new RegExp(`\\b${c}\\b`));
    writeFileSync(join(dir, 'f'), 'x');
    const out = execFileSync(process.execPath, [BIN, 'create', 'f', '--json'], { cwd: dir, encoding: 'utf8' });
    assert.equal(JSON.parse(out).pieceCount, 1);
    assert.throws(() => execFileSync(process.execPath, [BIN, 'info', 'nope'], { cwd: dir, stdio: 'pipe' }), (e: { status?: number }) => e.status === 1);
  }));

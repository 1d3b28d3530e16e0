/**
 * What a new user met walking the README's flows (session 18): `get -C -` against a server that
 * ignores `Range` (python3 -m http.server), the plain progress line's rate, and a TLS error's
 * message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { httpOrigin } from '../helpers/origin.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('get -C - against a server that ignores Range (python3 -m http.server) says it starts over, as wget does', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(200_000, 181);
    const ranges: (string | undefined)[] = [];
    const url = await httpOrigin(t, (req, res) => {
      ranges.push(req.headers.range);
      // python's SimpleHTTPRequestHandler: a 200 with the whole file, whatever the Range.
      res.writeHead(200, { 'content-length': payload.length, 'content-type': 'application/octet-stream' });
      res.end(payload);
    });
    writeFileSync(join(dir, 'p.bin'), payload.subarray(0, 50_000));
    const r = await cli(dir, ['get', `${url}/p.bin`, '-o', 'p.bin', '-C', '-']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(join(dir, 'p.bin')).equals(payload), 'the whole file, written over from byte 0');
    assert.equal(ranges.at(-1), 'bytes=50000-', 'the resuming request asked for the rest');
    assert.match(r.stderr, /torrenttp: warning: the server sent the whole file \(no range, or the file changed\): starting over/);
    // -s still means silent.
    writeFileSync(join(dir, 'p.bin'), payload.subarray(0, 50_000));
    const quiet = await cli(dir, ['get', `${url}/p.bin`, '-o', 'p.bin', '-C', '-', '-s']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
  }));

test('a plain get\'s progress line shows the rate it measured, not 0 B/s, from the first line', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(1_000_000, 182);
    const url = await httpOrigin(t, (_req, res) => {
      res.writeHead(200, { 'content-length': payload.length, 'content-type': 'application/octet-stream' });
      // Half now, half after the first progress tick (250 ms): the first line is drawn mid-body.
      res.write(payload.subarray(0, 500_000));
      setTimeout(() => res.end(payload.subarray(500_000)), 600);
    });
    const r = await cli(dir, ['get', `${url}/p.bin`, '-o', 'p.bin']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => /^\d+\.\d% /.test(l));
    assert.ok(lines.length > 0, r.stderr);
    for (const line of lines) assert.doesNotMatch(line, /↓ 0 B\/s/, `a rate was measured: ${r.stderr}`);
  }));

test('https:// to a server that speaks plain HTTP: OpenSSL\'s reason without its trailing newline (no "\\x0a" in the line)', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const url = (await httpOrigin(t, (_req, res) => res.end('plain'))).replace('http:', 'https:');
    const get = await cli(dir, ['get', `${url}/x.bin`, '-w', '[%{errormsg}]']);
    assert.equal(get.code, 35, get.stderr);
    assert.match(get.stderr, /wrong version number/);
    assert.doesNotMatch(get.stderr, /\\x0a/, get.stderr);
    assert.match(get.stdout, /ssl3_record\.c:\d+:\]$/, `-w %{errormsg}: one line: ${get.stdout}`);
    const info = await cli(dir, ['info', `${url}/x.torrent`]);
    assert.equal(info.code, 1, info.stderr);
    assert.match(info.stderr, /wrong version number/);
    assert.doesNotMatch(info.stderr, /\\x0a/, info.stderr);
  }));

test('wget\'s -O FILE URL is a usage error that says -o FILE (curl\'s -O takes no value)', (t) =>
  withTempDir(t, async (dir) => {
    const r = await cli(dir, ['get', '-q', '-O', 'out.bin', 'http://127.0.0.1:1/x.bin']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /-O takes no file name .*give -o out\.bin \(wget's -O FILE\)/, r.stderr);
    const plain = await cli(dir, ['get', 'out.bin']);
    assert.equal(plain.code, 2, plain.stderr);
    assert.match(plain.stderr, /"out\.bin" is not a valid URL/);
  }));

test('info of a 503 problem document saved as x.torrent (curl -H Accept while serve hashes) says what it is', (t) =>
  withTempDir(t, async (dir) => {
    const problem = { type: 'urn:torrenttp:error:GATEWAY_HASHING', title: 'the torrent of this file is being made; retry later', status: 503, code: 'GATEWAY_HASHING', detail: 'retry in 1 s' };
    writeFileSync(join(dir, 'x.torrent'), JSON.stringify(problem));
    const r = await cli(dir, ['info', 'x.torrent']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /x\.torrent is an HTTP error answer \(503 the torrent of this file is being made; retry later \[GATEWAY_HASHING\]\), not a torrent \[CLI_UNKNOWN_INPUT\]/, r.stderr);
    // A metainfo document with a bad version is still that error.
    writeFileSync(join(dir, 'v.json'), JSON.stringify({ version: 2, info: {} }));
    const v = await cli(dir, ['info', 'v.json']);
    assert.equal(v.code, 1, v.stderr);
    assert.match(v.stderr, /METAINFO_UNSUPPORTED_VERSION/);
  }));

/**
 * `torrenttp proxy` and its cache when the process dies or the disk misbehaves (issue 19: never
 * wrong bytes, never a crash), with real processes on loopback: `serve` as the origin, the proxy
 * as a process killed with SIGKILL (by pid) and started again on the same `--cache`, curl as the
 * program. What a program gets is the exact file, or a connection closed short (curl exits 18),
 * never other bytes; the proxy starts again without error and keeps serving.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from '../../src/bencode/index.js';
import { Bitfield, infoHashToBytes } from '../../src/metainfo/index.js';
import { requireTool, until, type Proc } from '../helpers/processes.js';
import { killed, MAIN, serveFiles as serve, started } from '../helpers/serve-proc.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { curl } from '../gateway/proxy-helpers.js';

const MIB = 1024 * 1024;

/** `torrenttp proxy` on `cache`, JSON logs (stderr) in its output; `wrap` runs it under another program (prlimit). */
function proxy(t: TestContext, cache: string, wrap: string[] = [], args: string[] = []): Promise<{ url: string; proc: Proc }> {
  return started(t, [...wrap, process.execPath, MAIN, 'proxy', '--port', '0', '--cache', cache, '--stall', '5s', '--log-format', 'json', ...args], /proxy at (http:\/\/127\.0\.0\.1:\d+)/);
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** How each request was served, from the proxy's request log lines. */
function served(p: Proc): string[] {
  return [...p.output.matchAll(/"how":"(\w+)"/g)].map((m) => m[1]!);
}

test('a proxy killed (SIGKILL) mid cold fetch, its data file then altered and a resume file planted that vouches for every piece: started again on the same --cache, it hashes what it finds and curl gets the exact file', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(2 * MIB + 5, 71);
    // 1 MiB/s: the cold fetch is still under way when the proxy is killed.
    const origin = await serve(t, dir, { 'app.bin': payload }, ['--max-upload-rate', '1M']);
    const url = `${origin.url}/app.bin`;
    const m = origin.torrents.get('app.bin')!;
    const cache = join(dir, 'pc');
    const first = await proxy(t, cache);
    const out1 = join(dir, 'out1');
    const cut = curl(t, ['-x', first.url, url, '-o', out1]);
    // Bytes at curl: their pieces were verified and written to the cache before they were sent.
    await until('curl to get two pieces', () => sizeOf(out1) >= 2 * m.pieceLength, 10_000, first.proc);
    await killed(first.proc);
    const r1 = await cut;
    assert.equal(r1.code, 18, `cut short, never ended as whole: ${r1.stderr}`);
    const got1 = readFileSync(out1);
    assert.ok(got1.length < payload.length && got1.equals(payload.subarray(0, got1.length)), 'what came before the kill is the file\'s start');

    // Between the runs: piece 0 altered on disk, and a resume file beside it that says every
    // piece is verified and names the data file's size and mtime as they are now (saved later,
    // by a close: so a storage that takes the resume file's word hashes nothing).
    const folder = join(cache, m.infoHash);
    const data = join(folder, 'data');
    const fd = openSync(data, 'r+');
    writeSync(fd, Buffer.from('not the bytes of piece 0'), 0, undefined, 100);
    closeSync(fd);
    const st = statSync(data, { bigint: true });
    assert.equal(Number(st.size), payload.length, 'the data file is allocated whole');
    const all = new Bitfield(m.pieceCount);
    for (let i = 0; i < m.pieceCount; i++) all.set(i);
    const resume = encode({ version: 1, 'info-hash': infoHashToBytes(m.infoHash), pieces: all.toBytes(), files: [[Number(st.size), st.mtimeNs]], saved: st.mtimeNs + 10_000_000_000n, final: 1 });
    writeFileSync(join(folder, `${m.infoHash}.resume`), resume);

    const again = await proxy(t, cache);
    const out2 = join(dir, 'out2');
    const r2 = await curl(t, ['-x', again.url, url, '-o', out2]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(readFileSync(out2).equals(payload), 'byte-identical: no altered piece and no zeros the resume file vouched for');
    await until('the request log line', () => served(again.proc).length > 0, 5000, again.proc);
    assert.match(again.proc.output, /failed verification and are not served until downloaded again: piece 0,/, 'the altered piece is said');
  }));

test('cache entries broken on start (a data file longer than the torrent, a file where the folder goes, a folder where the data file goes, symlinks): the proxy starts, says each, removes only them and gets those files from the swarm; a sound entry is kept', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const files = { 'long.bin': bytes(MIB + 1, 72), 'file.bin': bytes(MIB + 2, 73), 'folder.bin': bytes(MIB + 3, 74), 'link.bin': bytes(MIB + 4, 75), 'sound.bin': bytes(MIB + 5, 76), 'dangling.bin': bytes(MIB + 6, 82), 'away.bin': bytes(MIB + 7, 83) };
    const origin = await serve(t, dir, files);
    const cache = join(dir, 'pc');
    mkdirSync(cache);
    const entry = (name: string): string => join(cache, origin.torrents.get(name)!.infoHash);
    mkdirSync(entry('long.bin'));
    writeFileSync(join(entry('long.bin'), 'data'), Buffer.concat([files['long.bin'], Buffer.from('and more')]));
    writeFileSync(entry('file.bin'), 'not a folder');
    mkdirSync(join(entry('folder.bin'), 'data'), { recursive: true });
    mkdirSync(entry('link.bin'));
    const outside = join(dir, 'outside');
    writeFileSync(outside, 'a file of the user\'s');
    symlinkSync(outside, join(entry('link.bin'), 'data'));
    symlinkSync(join(dir, 'nowhere', 'x'), entry('dangling.bin'));
    const away = join(dir, 'away');
    mkdirSync(away);
    symlinkSync(away, entry('away.bin'));
    mkdirSync(entry('sound.bin'));
    writeFileSync(join(entry('sound.bin'), 'data'), files['sound.bin']);
    const soundInode = statSync(join(entry('sound.bin'), 'data')).ino;

    const p = await proxy(t, cache);
    for (const [name, payload] of Object.entries(files)) {
      const out = join(dir, `got-${name}`);
      const r = await curl(t, ['-x', p.url, `${origin.url}/${name}`, '-o', out]);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.ok(readFileSync(out).equals(payload), `${name}: byte-identical`);
    }
    await until('seven request log lines', () => served(p.proc).length >= 7, 5000, p.proc);
    assert.deepEqual(served(p.proc), Array(7).fill('swarm'), `from the swarm into the cache, not passed through:\n${p.proc.output}`);
    for (const [name, code] of [['long.bin', 'STORAGE_FILE_TOO_LONG'], ['file.bin', 'STORAGE_PATH_CONFLICT'], ['folder.bin', 'STORAGE_PATH_CONFLICT'], ['link.bin', 'STORAGE_PATH_ESCAPE'], ['dangling.bin', 'STORAGE_PATH_ESCAPE'], ['away.bin', 'STORAGE_PATH_ESCAPE']] as const) {
      assert.ok(p.proc.output.includes(`cache entry ${entry(name)} is broken (${code}): removed, downloading the file anew`), `${name}: said\n${p.proc.output}`);
      assert.ok(readFileSync(join(entry(name), 'data')).equals(files[name]), `${name}: the cache holds the file now`);
    }
    assert.equal(readFileSync(outside, 'utf8'), 'a file of the user\'s', 'a symlink\'s target is never written or removed');
    assert.deepEqual(readdirSync(away), [], 'nothing written through a symlinked entry');
    assert.equal(statSync(join(entry('sound.bin'), 'data')).ino, soundInode, 'the sound entry is kept');
    assert.doesNotMatch(p.proc.output, /"level":50/, 'no error');
  }));

test('the cache cannot take more (a file-size limit, prlimit --fsize: writes past it fail with EFBIG, SIGXFSZ ignored) mid cold fetch: the program gets the exact file (the origin sends the rest), the proxy lives on and serves the next requests', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    requireTool('prlimit', ['--version']);
    const big = bytes(3 * MIB + 7, 77);
    const small = bytes(MIB + 9, 78);
    const late = bytes(3 * MIB + 1, 84);
    const origin = await serve(t, dir, { 'big.bin': big, 'small.bin': small, 'late.bin': late });
    const cache = join(dir, 'pc');
    // As a proxy killed mid-download leaves it: the data file allocated whole (sparse), so the
    // open extends nothing and the limit bites on the writes, past 2 MiB.
    const allocate = (name: string, length: number): void => {
      const m = origin.torrents.get(name)!;
      mkdirSync(join(cache, m.infoHash), { recursive: true });
      writeFileSync(join(cache, m.infoHash, 'data'), '');
      truncateSync(join(cache, m.infoHash, 'data'), length);
    };
    allocate('big.bin', big.length);
    const p = await proxy(t, cache, ['prlimit', `--fsize=${2 * MIB}`], ['--log-level', 'debug']);
    // Made after the proxy looked at its folder: new to it, so its cold fetch streams the origin
    // (lone-stream.ts), whose writes fail past the limit.
    allocate('late.bin', late.length);
    for (const [name, payload] of [['big.bin', big], ['small.bin', small], ['big.bin', big], ['late.bin', late]] as const) {
      const out = join(dir, 'got');
      const r = await curl(t, ['-x', p.url, `${origin.url}/${name}`, '-o', out]);
      assert.equal(r.code, 0, `${name}: ${r.stderr}\n${p.proc.output}`);
      assert.ok(readFileSync(out).equals(payload), `${name}: byte-identical`);
    }
    assert.equal(p.proc.child.exitCode, null, 'the proxy runs');
    assert.match(p.proc.output, /EFBIG/, 'the failed write is said');
    assert.match(p.proc.output, /the cache failed after \d+ bytes of the body: the origin sends the rest/);
    await until('four request log lines', () => served(p.proc).length >= 4, 5000, p.proc);
    assert.deepEqual(served(p.proc), ['passthrough', 'swarm', 'passthrough', 'passthrough'], p.proc.output);
    assert.match(p.proc.output, /"url":"[^"]*\/late\.bin"[^\n]*"msg":"streaming the origin while alone"/, 'late.bin was streamed');
    assert.doesNotMatch(p.proc.output, /failed its hash check/, 'a failed write is not said as a bad piece');
  }));

test('the cache\'s data file cut short, then removed, under a running proxy: each request gets the exact file (the origin sends what the file cannot), the entry is dropped and downloaded anew', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const payload = bytes(2 * MIB + 11, 79);
    const origin = await serve(t, dir, { 'app.bin': payload });
    const url = `${origin.url}/app.bin`;
    const cache = join(dir, 'pc');
    const p = await proxy(t, cache);
    const data = join(cache, origin.torrents.get('app.bin')!.infoHash, 'data');
    const fetchOnce = async (): Promise<void> => {
      const out = join(dir, 'got');
      rmSync(out, { force: true });
      const r = await curl(t, ['-x', p.url, url, '-o', out]);
      assert.equal(r.code, 0, `${r.stderr}\n${p.proc.output}`);
      assert.ok(readFileSync(out).equals(payload), 'byte-identical');
    };
    await fetchOnce();
    truncateSync(data, MIB + 3);
    await fetchOnce(); // a cache hit whose read comes up short
    await fetchOnce(); // downloaded anew
    assert.ok(readFileSync(data).equals(payload), 'the cache holds the file again');
    rmSync(data);
    await fetchOnce(); // a cache hit whose file is gone
    await fetchOnce();
    await until('five request log lines', () => served(p.proc).length >= 5, 5000, p.proc);
    assert.deepEqual(served(p.proc), ['swarm', 'passthrough', 'swarm', 'passthrough', 'swarm'], p.proc.output);
    assert.equal((p.proc.output.match(/cache read failed: the torrent is dropped from the cache/g) ?? []).length, 2, p.proc.output);
    assert.equal(p.proc.child.exitCode, null, 'the proxy runs');
  }));

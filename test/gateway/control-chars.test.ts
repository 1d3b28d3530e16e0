/**
 * A terminal escape in a log line or an error message is an attack: `\x1b[2J` clears the screen,
 * U+009B (a C1 CSI) does the same on terminals that take C1, CR and LF forge lines. Input a
 * stranger controls (a URL path, a Host header, a served file's name, a tracker's `failure reason`)
 * reaches problem details, log lines and the CLI's messages cut with a mark and its controls
 * escaped (`clip`, `escapeControls`), never raw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFailure, HttpTrackerClient } from '../../src/tracker/index.js';
import { clip, escapeControls } from '../../src/errors/index.js';
import { cli, spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/processes.js';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';
import { rawRequest, recordingLogger, startGateway } from './helpers.js';

/** C0, DEL and C1 controls, raw. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const ESC = '\u001b[2J';
const CSI = '\u009b2J';

test('clip and escapeControls: controls escaped, a cut marked, never inside an escape', () => {
  assert.equal(escapeControls(`a${ESC}b${CSI}\r\n\u202e`), 'a\\x1b[2Jb\\x9b2J\\x0d\\x0a\\u202e');
  assert.equal(escapeControls('plain text, é 漢'), 'plain text, é 漢');
  assert.equal(clip('short'), 'short');
  assert.equal(clip(`x${ESC}`, 10), 'x\\x1b[2J');
  assert.equal(clip('abcdefghij', 5), 'abcd…');
  // The cut falls inside `\x1b`: the partial escape goes, the mark stays.
  assert.equal(clip(`ab${ESC}`, 5), 'ab…');
  assert.equal(clip(`abc${ESC}`, 8), 'abc\\x1b…');
  for (let max = 2; max < 40; max++) {
    const c = clip(`${'a'.repeat(max % 7)}${ESC}${CSI}${'z'.repeat(50)}`, max);
    assert.ok(c.length <= max, `${max}: ${c}`);
    assert.doesNotMatch(c, RAW_CONTROL);
    assert.doesNotMatch(c, /\\(x[0-9a-f]?|u[0-9a-f]{0,3})?…$/, `${max}: no partial escape before the mark: ${c}`);
  }
  // Bounded by `max`, whatever the input.
  const long = clip(ESC.repeat(1_000_000), 200);
  assert.ok(long.length <= 200 && long.length >= 196 && long.endsWith('…'));
});

test('serve: a control in a URL path or a Host header is refused or echoed escaped, in the answer and the log', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'a.txt'), 'a');
    const log = recordingLogger();
    const g = await startGateway(t, { root, logger: log });
    const port = g.address.port;
    // Raw in the request line or a header: node's parser refuses C0 there (400).
    assert.equal((await rawRequest(port, `/${ESC}`)).status, 400);
    assert.equal((await rawRequest(port, '/a.txt', { Host: `evil${ESC}.example` })).status, 400);
    // Percent-encoded in the path: a 404 that names nothing raw.
    const encoded = await rawRequest(port, '/%1b%5b2J%c2%9b.txt');
    assert.equal(encoded.status, 404);
    // A C1 control passes node's parser as obs-text (a byte ≥ 0x80 read as latin1): echoed escaped.
    const c1 = await rawRequest(port, '/a.txt', { Host: `evil${CSI}.example${'x'.repeat(500)}` });
    assert.equal(c1.status, 421);
    const detail = (JSON.parse(c1.body.toString('utf8')) as { detail: string }).detail;
    assert.doesNotMatch(detail, RAW_CONTROL);
    assert.ok(detail.startsWith('Host: evil\\x9b2J.example'), detail);
    assert.ok(detail.endsWith('…') && detail.length <= 'Host: '.length + 100, 'cut with a mark');
    const logged = JSON.stringify(log.entries);
    assert.doesNotMatch(logged, RAW_CONTROL);
  }));

test("a tracker's failure reason with a terminal escape: cut and escaped in the error and in download's output", { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const reason = `${ESC}${CSI}\r\n[ERROR] forged line ${'x'.repeat(5000)}`;
    const server = createServer((_req, res) => res.end(encodeFailure(reason)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const announce = `http://127.0.0.1:${(server.address() as { port: number }).port}/announce`;
    const c = new HttpTrackerClient(announce);
    const req = { infoHash: new Uint8Array(20).fill(1), peerId: new Uint8Array(20).fill(2), port: 1, uploaded: 0, downloaded: 0, left: 1, event: 'started' as const };
    await assert.rejects(c.announce(req), (e: Error & { code?: string; detail?: string }) => {
      assert.equal(e.code, 'TRACKER_FAILURE');
      assert.doesNotMatch(e.message, RAW_CONTROL);
      assert.ok(e.detail!.startsWith('\\x1b[2J\\x9b2J\\x0d\\x0a[ERROR] forged line'), e.detail);
      assert.ok(e.detail!.length <= 200 && e.detail!.endsWith('…'), 'cut with a mark');
      return true;
    });
    // The CLI: `download` of a torrent whose only tracker answers that.
    const data = bytes(40_000, 3);
    writeFileSync(join(dir, 'p.torrent'), torrentBytes({ name: 'p.bin', 'piece length': 16384, pieces: piecesOf(data, 16384), length: data.length }, { announce }));
    const p = spawnCli(t, dir, ['download', 'p.torrent', '-o', join(dir, 'dl')]);
    await until('the tracker failure to be said', () => p.stderr.includes('forged line'), 30_000);
    p.child.kill('SIGTERM');
    await p.exited;
    assert.doesNotMatch(p.stderr, RAW_CONTROL);
    assert.doesNotMatch(p.stderr, /^\[ERROR\] forged line/m, 'no line of its own');
    assert.match(p.stderr, /\\x1b\[2J\\x9b2J\\x0d\\x0a\[ERROR\] forged line x+…/);
  }));

test("serve's log (pino, json and pretty): a served file's name with controls is logged escaped", { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, `a${ESC}${CSI}.bin`), bytes(1024 * 1024 + 1, 5));
    for (const format of ['json', 'pretty']) {
      const p = spawnCli(t, dir, ['serve', root, '--port', '0', '--host', '127.0.0.1', '--cache', join(dir, `cache-${format}`), '--log-format', format]);
      await until('serve to start', () => /127\.0\.0\.1:(\d+)/.test(p.stdout), 30_000);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(p.stdout)![1]);
      await until('the torrent to be ready', async () => (await rawRequest(port, '/a%1b%5b2J%c2%9b2J.bin?torrent')).status === 200, 30_000).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${p.stdout}\n${p.stderr}`);
      });
      await until('the log line', () => p.stderr.includes('torrent ready'), 10_000);
      p.child.kill('SIGTERM');
      await p.exited;
      assert.doesNotMatch(p.stderr, RAW_CONTROL, format);
      assert.match(p.stderr, /a\\{1,2}x1b\[2J\\{1,2}x9b2J\.bin/, `${format}: the name, escaped`);
    }
  }));

test("info: a torrent's name, file paths and comment with controls are printed escaped", () =>
  withTempDir(async (dir) => {
    const data = bytes(100, 4);
    const info = { name: `n${ESC}`, 'piece length': 16384, pieces: piecesOf(data, 16384), files: [{ length: 100, path: [`f${CSI}`, `g\r\n[ERROR] forged`] }] };
    writeFileSync(join(dir, 'x.torrent'), torrentBytes(info, { comment: `c${ESC}${CSI}` }));
    const r = await cli(dir, ['info', 'x.torrent']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, RAW_CONTROL);
    assert.doesNotMatch(r.stdout, /^\[ERROR\] forged/m);
    assert.match(r.stdout, /name +n\\x1b\[2J$/m);
    assert.match(r.stdout, /comment +c\\x1b\[2J\\x9b2J$/m);
    assert.match(r.stdout, /f\\x9b2J\/g\\x0d\\x0a\[ERROR\] forged$/m);
  }));

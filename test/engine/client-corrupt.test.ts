/**
 * A seed whose data has a corrupt piece says so (issue 13: it sat at 99.9 % in silence): the
 * Client emits a `warning` with code STORAGE_PIECE_CORRUPT naming the piece and its file, just
 * after `add` resolves; a peer then downloads the piece, and a clean start warns of nothing. The
 * `download` CLI shows it (a JSON `warning` line).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '../../src/engine/index.js';
import type { TorrenttpError } from '../../src/errors/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

const PIECE = 64 * 1024;
const BIN = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

async function setUp(dir: string) {
  const good = join(dir, 'good');
  mkdirSync(good);
  const payload = bytes(20 * PIECE + 500, 41);
  writeFileSync(join(good, 'payload.bin'), payload);
  const { torrent } = await createTorrent(join(good, 'payload.bin'), { pieceLength: PIECE, creationDate: null });
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  const damaged = payload.slice();
  damaged[7 * PIECE + 1234]! ^= 0x20;
  writeFileSync(join(bad, 'payload.bin'), damaged);
  return { torrent, payload, good, bad };
}

test('a seed with a corrupt piece warns with the piece and file, then fetches it from a peer', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, payload, good, bad } = await setUp(dir);
    const other = new Client({ host: '127.0.0.1' });
    t.after(() => other.close());
    const otherWarnings: string[] = [];
    const clean = await other.add(torrent, { path: good, trackers: false });
    other.on('warning', (msg) => otherWarnings.push(msg));

    const client = new Client({ host: '127.0.0.1' });
    t.after(() => client.close());
    const tor = await client.add(torrent, { path: bad, trackers: false, peers: [`127.0.0.1:${await other.listen()}`] });
    // Attached after `add`, as the CLI does.
    const warned = new Promise<[string, TorrenttpError | undefined]>((r) => client.once('warning', (msg, err) => r([msg, err])));
    assert.equal(tor.have.count, 20, 'every piece but one');
    const [msg, err] = await warned;
    assert.equal(err?.code, 'STORAGE_PIECE_CORRUPT');
    assert.match(msg, /^payload\.bin: pieces on disk failed verification and are not served until downloaded again: piece 7, in payload\.bin$/);
    await tor.done;
    assert.deepEqual(readFileSync(join(bad, 'payload.bin')), Buffer.from(payload), 'downloaded again from the peer');
    assert.ok(clean.complete);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(otherWarnings.filter((m) => /verification/.test(m)), [], 'intact data: no warning');
  }));

test('download --json prints the corrupt piece as a warning line', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { torrent, payload, good, bad } = await setUp(dir);
    writeFileSync(join(dir, 'x.torrent'), torrent);
    const seeder = new Client({ host: '127.0.0.1' });
    t.after(() => seeder.close());
    await seeder.add(torrent, { path: good, trackers: false });
    const child = spawn(process.execPath, [BIN, 'download', 'x.torrent', '-o', bad, '--peer', `127.0.0.1:${await seeder.listen()}`, '--no-trackers', '--json'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    let errOut = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (errOut += d.toString()));
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 0, errOut);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { event: string; message?: string });
    const warnings = lines.filter((l) => l.event === 'warning' && /verification/.test(l.message ?? ''));
    assert.equal(warnings.length, 1, out);
    assert.match(warnings[0]!.message!, /piece 7, in payload\.bin/);
    assert.deepEqual(readFileSync(join(bad, 'payload.bin')), Buffer.from(payload));
  }));

/**
 * Every bad option value is a usage error (exit 2, docs/cli.md), reported by commander before
 * the command runs and naming the option; the parsers behind them, and the figures the
 * progress line shows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDuration } from '../../src/cli/format.js';
import { duration, peerAddress } from '../../src/cli/options.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { cli } from '../helpers/cli.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

test('bad option values exit 2 and name the option, in every command', () =>
  withTempDir(async (dir) => {
    writeFileSync(join(dir, 'p.bin'), bytes(40_000, 3));
    const { torrent } = await createTorrent(join(dir, 'p.bin'), { creationDate: null });
    writeFileSync(join(dir, 'p.torrent'), torrent);
    const cases: [string[], string][] = [
      [['download', 'p.torrent', '--port', 'abc'], '--port'],
      [['download', 'p.torrent', '--host-name', 'evil example'], '--host-name'],
      [['serve', '.', '--host-name', 'a_b.example'], '--host-name'],
      [['download', 'p.torrent', '--port', '70000'], '--port'],
      [['seed', 'p.torrent', 'p.bin', '--port', 'abc'], '--port'],
      [['download', 'p.torrent', '--peer', '127.0.0.1:99999'], '--peer'],
      [['download', 'p.torrent', '--peer', '127.0.0.1'], '--peer'],
      [['download', 'p.torrent', '--peer', '[nope]:80'], '--peer'],
      [['download', 'p.torrent', '--listen', 'nope'], '--listen'],
      [['download', 'p.torrent', '--upload-limit', 'fast'], '--upload-limit'],
      [['download', 'p.torrent', '--download-limit', '0'], '--download-limit'],
      [['download', 'p.torrent', '--stop-timeout', 'soon'], '--stop-timeout'],
      [['download', 'p.torrent', '--seed-ratio', '-1'], '--seed-ratio'],
      [['seed', 'p.torrent', 'p.bin', '--seed-time', '10x'], '--seed-time'],
      [['download', 'p.torrent', '--json-interval', 'x'], '--json-interval'],
      [['create', 'p.bin', '-l', '100000'], '--piece-length'],
      [['convert', 'p.torrent', '--to', 'xml'], '--to'],
      [['download', 'p.torrent', '--encryption', 'maybe'], '--encryption'],
      [['seed', 'p.torrent', 'p.bin', '--encryption', 'rc4'], '--encryption'],
      [['get', 'http://127.0.0.1:1/x', '--encryption', 'on'], '--encryption'],
      [['serve', '.', '--encryption', 'yes'], '--encryption'],
      [['serve', '.', '--max-upload-rate', '0'], '--max-upload-rate'],
      [['tracker', '--port', 'abc'], '--port'],
      [['tracker', '--interval', '0'], '--interval'],
      [['tracker', '--log-level', 'loud'], '--log-level'],
      [['create', 'p.bin', '-t', 'notaurl'], '--tracker'],
      [['create', 'p.bin', '-t', 'http://t.example/announce,notaurl'], '--tracker'],
      [['create', 'p.bin', '-w', 'ftp://x/'], '--web-seed'],
      [['tracker', '--redis', 'foo://x'], '--redis'],
      [['tracker', '--redis', 'not a url'], '--redis'],
    ];
    for (const [args, option] of cases) {
      const r = await cli(dir, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.includes(option), `${args.join(' ')} names ${option}: ${r.stderr}`);
      // The command's own help lists its options.
      assert.ok(r.stderr.includes(`(run torrenttp ${args[0]} --help for usage)`), `${args.join(' ')}: ${r.stderr}`);
    }
    const unknown = await cli(dir, ['nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /\(run torrenttp --help for usage\)/);
  }));

test('--help: no "(default: [])" on repeatable options; info and convert take http(s) URLs', async () => {
  for (const command of ['download', 'seed', 'create', 'serve']) {
    const r = await cli('.', [command, '--help']);
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.stdout, /default: \[\]/, `${command} --help:\n${r.stdout}`);
  }
  for (const command of ['info', 'convert']) {
    const r = await cli('.', [command, '--help']);
    assert.match(r.stdout, /http\(s\) URL/, `${command} --help:\n${r.stdout}`);
  }
});

test('option parsers: peer addresses, durations', () => {
  assert.equal(peerAddress('127.0.0.1:6881'), '127.0.0.1:6881');
  assert.equal(peerAddress('[::1]:6881'), '[::1]:6881');
  assert.equal(peerAddress('example.org:1'), 'example.org:1');
  for (const bad of ['127.0.0.1:0', '127.0.0.1:65536', 'host', ':80', '::1:80', '[::1]:']) assert.throws(() => peerAddress(bad), bad);
  assert.equal(duration('s')('30'), 30);
  assert.equal(duration('m')('30'), 1800); // aria2's --seed-time is in minutes
  assert.equal(duration('m')('1h30m'), 5400);
  assert.equal(duration('s')('90s'), 90);
  assert.equal(duration('s')('0.5'), 0.5);
  for (const bad of ['0', '', 'm', '1x', '-1s']) assert.throws(() => duration('s')(bad), bad);
  assert.equal(duration('s', { allowZero: true })('0'), 0); // --json-interval 0, --stop-timeout 0
  assert.equal(duration('s', { allowZero: true })('0s'), 0);
});

test('ETA figures carry units as aria2 shows them', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(45), '45s');
  assert.equal(formatDuration(89), '1m29s');
  assert.equal(formatDuration(3600), '1h0m0s');
  assert.equal(formatDuration(2 * 3600 + 16 * 60 + 51), '2h16m51s');
  assert.equal(formatDuration(5 * 86_400 + 3 * 3600), '5d3h');
});

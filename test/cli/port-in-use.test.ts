/**
 * A server command on a taken port names the flag that picks another (src/cli/port-in-use.ts):
 * `tracker` as `serve` and `proxy` do (test/cli/new-user-s19.test.ts), and a taken UDP port as
 * a taken TCP one: the tracker's UDP side and serve's embedded tracker bind the same number, and a
 * UDP port held by another program said only `udp 127.0.0.1:N`, with no reason and no way out.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

async function takenTcp(t: TestContext): Promise<string> {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  return String((blocker.address() as AddressInfo).port);
}

async function takenUdp(t: TestContext): Promise<string> {
  const blocker = createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  return String(blocker.address().port);
}

const hint = (proto: string, port: string, code: string): RegExp =>
  new RegExp(`${proto} 127\\.0\\.0\\.1:${port}: in use \\(EADDRINUSE\\); choose another with --port N, or --port 0 for any free port \\[${code}\\]$`, 'm');

test('tracker, and serve whose UDP port is taken, say which flag picks another port, as serve and proxy do for TCP', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const tcp = await takenTcp(t);
    const udp = await takenUdp(t);
    const cases: [string[], RegExp][] = [
      [['tracker', '--host', '127.0.0.1', '--port', tcp], hint('tcp', tcp, 'TRACKER_BIND_FAILED')],
      [['tracker', '--host', '127.0.0.1', '--port', udp], hint('udp', udp, 'TRACKER_BIND_FAILED')],
      [['serve', dir, '--host', '127.0.0.1', '--port', udp, '--cache', join(dir, 'c')], hint('udp', udp, 'GATEWAY_BIND_FAILED')],
    ];
    for (const [args, said] of cases) {
      const r = await cli(dir, [...args, '--log-format', 'json', '--log-level', 'warn']);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, said, args.join(' '));
      assert.doesNotMatch(r.stderr, /EADDRINUSE.*EADDRINUSE/, 'said once');
    }
  }));

test('seed --http-port on a taken port names --http-port, and says EADDRINUSE once', { timeout: 60_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const tcp = await takenTcp(t);
    writeFileSync(join(dir, 'a.bin'), bytes(64 * 1024, 7));
    const made = await cli(dir, ['create', join(dir, 'a.bin'), '-o', join(dir, 'a.torrent')]);
    assert.equal(made.code, 0, made.stderr);
    const r = await cli(dir, ['seed', join(dir, 'a.torrent'), join(dir, 'a.bin'), '--listen', '127.0.0.1', '--http-port', tcp]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`TorrentTTP tcp 127\\.0\\.0\\.1:${tcp}: in use \\(EADDRINUSE\\); choose another with --http-port N, or --http-port 0 for any free port \\[GATEWAY_BIND_FAILED\\]$`, 'm'));
    assert.doesNotMatch(r.stderr, /in use.*in use/, 'said once');
  }));

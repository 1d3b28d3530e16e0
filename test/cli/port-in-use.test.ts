/**
 * A server command on a taken port names the flag that picks another (src/cli/port-in-use.ts):
 * `tracker` as `serve` and `proxy` do (test/cli/new-user-s19.test.ts), and a taken UDP port as
 * a taken TCP one: the tracker's UDP side and serve's embedded tracker bind the same number, and a
 * UDP port held by another program said only `udp 127.0.0.1:N`, with no reason and no way out.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/torrents.js';

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

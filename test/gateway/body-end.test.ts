/**
 * How a file body that ends early is logged: a client that leaves (resets its connection
 * mid-body, as a stopped curl or a lone get's stream does) is a debug line, not a warning;
 * a file that shrinks under the server is still a warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { truncateSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { recordingLogger, startGateway } from './helpers.js';

const MIB = 1024 * 1024;

/**
 * A raw GET that stops reading (pauses) once it has more than 1 MiB: the server is then held
 * mid-body whatever the machine's load (polling for the count instead let a 48 MiB body end
 * first on a loaded machine, and the test waited for a line that could not come).
 */
async function getOpen(port: number, path: string): Promise<{ socket: Socket; received: () => number }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let n = 0;
  let held = false;
  socket.on('data', (d: Buffer) => {
    n += d.length;
    if (n > MIB && !held) {
      held = true; // once: a resume() reads on to the end
      socket.pause();
    }
  });
  socket.on('error', () => {});
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return { socket, received: () => n };
}

test('a client that resets mid-body is logged at debug; a file that shrinks mid-body at warn', (t) =>
  withTempDir(t, async (root) => {
    const file = join(root, 'big.bin');
    writeFileSync(file, bytes(48 * MIB, 9));
    const log = recordingLogger();
    const g = await startGateway(t, { root, logger: log });

    const gone = await getOpen(g.address.port, '/big.bin');
    await until('some body bytes', () => gone.received() > MIB, 10_000);
    gone.socket.resetAndDestroy();
    await until('the body to end', () => log.entries.some((e) => e.msg === 'the client left before the body ended'), 10_000);
    assert.deepEqual(log.entries.filter((e) => e.level === 'warn' || e.level === 'error'), [], 'no warning for a client that left');

    const slow = await getOpen(g.address.port, '/big.bin');
    await until('some body bytes', () => slow.received() > MIB, 10_000);
    truncateSync(file, 2 * MIB);
    slow.socket.resume();
    await until('a warning', () => log.entries.some((e) => e.level === 'warn' && e.msg === 'file body failed'), 10_000);
    slow.socket.destroy();
  }));

test('a client that closes mid-body (no reset) is logged at debug too', (t) =>
  withTempDir(t, async (root) => {
    writeFileSync(join(root, 'big.bin'), bytes(48 * MIB, 10));
    const log = recordingLogger();
    const g = await startGateway(t, { root, logger: log });
    const gone = await getOpen(g.address.port, '/big.bin');
    await until('some body bytes', () => gone.received() > MIB, 10_000); // paused: the server's writes wait for the socket to drain
    await new Promise((r) => setTimeout(r, 200));
    gone.socket.destroy(); // FIN, not RST: the response closes with no write error
    await until('the body to end', () => log.entries.some((e) => e.msg === 'the client left before the body ended'), 10_000);
    assert.deepEqual(log.entries.filter((e) => e.level === 'warn' || e.level === 'error'), [], 'no warning for a client that left');
  }));


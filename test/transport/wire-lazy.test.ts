/**
 * transport/wire-lazy.ts: the wire protocol's code loads at the first incoming connection, and a
 * socket that fails while it loads costs that connection only (its own process: node's test
 * runner runs each file apart, so the module is not loaded yet here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { TorrenttpError } from '../../src/errors/index.js';
import { acceptWirePeer } from '../../src/transport/index.js';

test('a socket that fails while the wire code loads rejects with TRANSPORT_PEER_CLOSED, its error heard (not the process\'s end)', async () => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  client.on('error', () => {});
  const [socket] = (await once(server, 'connection')) as [Socket];
  try {
    const accepted = acceptWirePeer(socket, () => undefined);
    socket.destroy(new Error('reset while loading')); // its 'error' comes on the next tick, before the module is in
    await assert.rejects(accepted, (err: unknown) => err instanceof TorrenttpError && err.code === 'TRANSPORT_PEER_CLOSED');
  } finally {
    client.destroy();
    server.close();
  }
});

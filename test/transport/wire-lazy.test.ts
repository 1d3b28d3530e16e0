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
import { acceptWirePeer, connectMetadataPeer, type MetadataPeerEvent, type MetadataPeerOptions } from '../../src/transport/index.js';

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

test('a metadata peer closed while its code loads never connects and says closed once, with the reason; once loaded, peers connect', async () => {
  const server = createServer();
  let connections = 0;
  server.on('connection', (s: Socket) => {
    connections++;
    s.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const opts = (onEvent: (e: MetadataPeerEvent) => void): MetadataPeerOptions => ({ infoHash: new Uint8Array(20), peerId: new Uint8Array(20), onEvent });
  try {
    const events: MetadataPeerEvent[] = [];
    const peer = connectMetadataPeer('127.0.0.1', port, opts((e) => events.push(e)));
    assert.equal(peer.id, `127.0.0.1:${port}`);
    peer.request(0); // dropped, as the real peer drops it before the extended handshake
    const reason = new TorrenttpError('TRANSPORT_PEER_CLOSED', { detail: 'closed while loading' });
    peer.close(reason);
    peer.close();
    await import('../../src/transport/metadata-peer.js'); // the module the peer was loading
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(events, [{ type: 'closed', reason }]);
    assert.equal(connections, 0, 'no connection after close');
    // Loaded: the next peer is the real one, which connects (the server hangs up on it).
    const closed = new Promise<MetadataPeerEvent>((resolve) => connectMetadataPeer('127.0.0.1', port, opts((e) => e.type === 'closed' && resolve(e))));
    assert.equal((await closed).type, 'closed');
    assert.equal(connections, 1);
  } finally {
    server.close();
  }
});

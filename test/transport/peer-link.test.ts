/**
 * One PeerLink conformance suite (test/helpers/peer-link-conformance.ts), three links: the
 * engine tests' fake, the wire link over a loopback socket, and the web seed against a small
 * node:http server, and the TorrentTTP HTTP peer against test/helpers/ttp-peer-server.ts.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metainfo } from '../../src/metainfo/index.js';
import { acceptWirePeer, connectWirePeer, createHttpPeer, createWebSeed, type BlockRequest, type PeerEvent, type PeerLink } from '../../src/transport/index.js';
import { FakeLink } from '../helpers/engine-fakes.js';
import { peerLinkConformance } from '../helpers/peer-link-conformance.js';
import { startTtpPeerServer } from '../helpers/ttp-peer-server.js';
import { listen, makeTorrent, peerId, wireTorrent } from './helpers.js';

// 5 pieces of 2 blocks, the last one short.
const { metainfo, data } = makeTorrent(4 * 32 * 1024 + 20_000, 32 * 1024, 14);

peerLinkConformance('the engine tests’ FakeLink', async (onEvent) => {
  // Held requests, answered by a pump unless the test stalls the remote.
  let stalled = false;
  const link = new FakeLink(data, metainfo, onEvent, { stall: true });
  const pump = setInterval(() => {
    if (!stalled) link.deliver();
  }, 2);
  return {
    link,
    metainfo,
    data,
    stall: () => {
      stalled = true;
    },
    resume: () => {
      stalled = false;
      link.deliver();
    },
    refuse: () => link.chokeUs(),
    hangUp: () => link.drop(),
    teardown: async () => {
      clearInterval(pump);
      link.close();
    },
  };
});

peerLinkConformance('the wire link (loopback TCP)', async (onEvent) => {
  let remote: PeerLink | undefined;
  let stalled = false;
  const held: BlockRequest[] = [];
  const sendOne = (req: BlockRequest) => {
    const at = metainfo.geometry.pieceOffset(req.index) + req.begin;
    remote!.sendBlock(req, data.subarray(at, at + req.length));
  };
  const remoteEvent = (e: PeerEvent) => {
    if (e.type === 'interested') remote?.setChoking(false);
    if (e.type === 'request') {
      if (stalled) held.push(e.req);
      else sendOne(e.req);
    }
  };
  let accepted: Promise<PeerLink> | undefined;
  const srv = await listen((socket) => {
    accepted = acceptWirePeer(socket, () => ({ torrent: wireTorrent(metainfo, true), opts: { peerId: peerId('remote'), onEvent: remoteEvent } }));
  });
  const link = await connectWirePeer('127.0.0.1', srv.port, wireTorrent(metainfo, false), { peerId: peerId('local'), onEvent });
  while (accepted === undefined) await new Promise((r) => setTimeout(r, 2));
  remote = await accepted;
  return {
    link,
    metainfo,
    data,
    stall: () => {
      stalled = true;
    },
    resume: () => {
      stalled = false;
      for (const r of held.splice(0)) sendOne(r); // cancelled ones are dropped by the remote link
    },
    refuse: () => remote!.setChoking(true),
    hangUp: () => remote!.close(),
    teardown: async () => {
      link.close();
      remote!.close();
      await srv.close();
    },
  };
});

peerLinkConformance('the web seed (node:http, Range)', async (onEvent) => {
  let mode: 'serve' | 'stall' | 'refuse' = 'serve';
  const held: (() => void)[] = [];
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    if (mode === 'refuse') {
      res.writeHead(503, { 'retry-after': '60' }).end();
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (m === null) {
      res.writeHead(200, { 'content-length': data.length }).end(data);
      return;
    }
    const first = Number(m[1]);
    const last = Math.min(Number(m[2]), data.length - 1);
    res.writeHead(206, { 'content-range': `bytes ${first}-${last}/${data.length}`, 'content-length': last - first + 1 });
    res.end(data.subarray(first, last + 1));
  };
  const server = createServer((req, res) => {
    if (mode === 'stall') held.push(() => answer(req, res));
    else answer(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/payload.bin`;
  const link = createWebSeed(url, metainfo as Metainfo, { onEvent, requestTimeoutMs: 10_000 });
  return {
    link,
    metainfo,
    data,
    stall: () => {
      mode = 'stall';
    },
    resume: () => {
      mode = 'serve';
      for (const h of held.splice(0)) h();
    },
    refuse: () => {
      mode = 'refuse';
      for (const h of held.splice(0)) h();
    },
    teardown: async () => {
      link.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
});

peerLinkConformance('the TorrentTTP HTTP peer (test/helpers/ttp-peer-server.ts)', async (onEvent) => {
  const server = await startTtpPeerServer({ metainfo, data });
  const link = createHttpPeer(server.url, metainfo, { onEvent, peerId: peerId('local') });
  return {
    link,
    metainfo,
    data,
    stall: () => server.stall(),
    resume: () => server.resume(),
    refuse: () => server.refuse(503, 60),
    teardown: async () => {
      link.close();
      await server.close();
    },
  };
});

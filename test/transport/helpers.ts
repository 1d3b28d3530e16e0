import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Bitfield, BLOCK_LENGTH, infoHashToBytes, parseTorrent, type Metainfo, type PieceIndex } from '../../src/metainfo/index.js';
import type { BlockRequest, PeerEvent, PeerLink, WireTorrent } from '../../src/transport/index.js';
import { encodeMessages, WireDecoder, type WireMessage } from '../../src/wire/index.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

/** A single-file torrent over deterministic bytes. */
export function makeTorrent(length: number, pieceLength: number, seed = 1, name = 'payload.bin'): { metainfo: Metainfo; data: Uint8Array } {
  const data = bytes(length, seed);
  const metainfo = parseTorrent(torrentBytes({ length, name, 'piece length': pieceLength, pieces: piecesOf(data, pieceLength) }));
  return { metainfo, data };
}

export function wireTorrent(metainfo: Metainfo, full: boolean): WireTorrent {
  return {
    infoHash: infoHashToBytes(metainfo.infoHash),
    metainfo,
    bitfield: full ? Bitfield.full(metainfo.pieceCount) : new Bitfield(metainfo.pieceCount),
  };
}

export function peerId(tag: string): Uint8Array {
  return new TextEncoder().encode(`-TT0001-${tag.padEnd(12, '0').slice(0, 12)}`);
}

/** Every block of the torrent, piece by piece. */
export function allBlocks(metainfo: Metainfo): BlockRequest[] {
  const g = metainfo.geometry;
  const out: BlockRequest[] = [];
  for (let i = 0; i < g.pieceCount; i++) {
    const index = g.pieceIndex(i);
    for (let b = 0; b < g.blockCount(index); b++) out.push({ index, begin: b * BLOCK_LENGTH, length: g.blockLength(index, b) });
  }
  return out;
}

/** Records a link's events and lets a test wait for one. */
export class Recorder {
  readonly events: PeerEvent[] = [];
  private waiters: { pred: (e: PeerEvent) => boolean; resolve: (e: PeerEvent) => void }[] = [];
  readonly handler = (e: PeerEvent): void => {
    this.events.push(e);
    this.listeners.forEach((l) => l(e));
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(e)) return true;
      w.resolve(e);
      return false;
    });
  };
  private readonly listeners: ((e: PeerEvent) => void)[] = [];

  on(listener: (e: PeerEvent) => void): void {
    this.listeners.push(listener);
  }

  of<T extends PeerEvent['type']>(type: T): Extract<PeerEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<PeerEvent, { type: T }> => e.type === type);
  }

  wait<T extends PeerEvent['type']>(type: T, timeoutMs = 5000, pred: (e: Extract<PeerEvent, { type: T }>) => boolean = () => true): Promise<Extract<PeerEvent, { type: T }>> {
    const seen = this.events.find((e) => e.type === type && pred(e as Extract<PeerEvent, { type: T }>));
    if (seen !== undefined) return Promise.resolve(seen as Extract<PeerEvent, { type: T }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} event within ${timeoutMs} ms; got ${this.events.map((e) => e.type).join(',')}`)), timeoutMs);
      this.waiters.push({
        pred: (e) => e.type === type && pred(e as Extract<PeerEvent, { type: T }>),
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e as Extract<PeerEvent, { type: T }>);
        },
      });
    });
  }
}

export async function listen(onSocket: (s: Socket) => void): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onSocket(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A hand-driven peer speaking raw wire messages, for the misbehaviour tests. */
export class RawPeer {
  readonly messages: WireMessage[] = [];
  /** Bytes read so far. */
  bytesIn = 0;
  private readonly decoder = new WireDecoder({ maxMessageBytes: 4 * 1024 * 1024, maxRunBytes: 1024 * 1024 });
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.bytesIn += c.length;
      try {
        this.messages.push(...this.decoder.push(c));
      } catch {
        socket.destroy();
      }
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static async dial(port: number): Promise<RawPeer> {
    const s = connect({ host: '127.0.0.1', port });
    await once(s, 'connect');
    return new RawPeer(s);
  }

  send(...messages: WireMessage[]): void {
    this.socket.write(encodeMessages(messages));
  }

  async until(pred: (msgs: readonly WireMessage[]) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.messages)) {
      if (this.closed) throw new Error('raw peer closed');
      if (Date.now() > deadline) throw new Error(`raw peer: condition not met; got ${this.messages.map((m) => m.type).join(',')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  async closedWithin(timeoutMs = 5000): Promise<boolean> {
    if (!this.closed) await Promise.race([once(this.socket, 'close'), new Promise((r) => setTimeout(r, timeoutMs))]);
    return this.closed;
  }
}

/**
 * Leeches every block through `link`, keeping `desiredQueueDepth` requests outstanding; resolves
 * with the assembled bytes. `onBlock` lets a test observe.
 */
export function leech(link: PeerLink, rec: Recorder, metainfo: Metainfo, totalTimeoutMs = 60_000): Promise<Uint8Array> {
  const g = metainfo.geometry;
  const out = new Uint8Array(g.totalLength);
  const todo = allBlocks(metainfo).reverse();
  let outstanding = 0;
  let received = 0;
  const total = todo.length;
  return new Promise<Uint8Array>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`leech: ${received}/${total} blocks after ${totalTimeoutMs} ms`)), totalTimeoutMs);
    const pump = (): void => {
      if (link.peerChoking) return;
      while (outstanding < link.desiredQueueDepth && todo.length > 0) {
        outstanding++;
        link.request(todo.pop()!);
      }
    };
    rec.on((e) => {
      if (e.type === 'unchoke') pump();
      else if (e.type === 'block') {
        outstanding--;
        received++;
        out.set(e.data, g.pieceOffset(e.req.index) + e.req.begin);
        if (received === total) {
          clearTimeout(timer);
          resolve(out);
        } else pump();
      } else if (e.type === 'rejected') {
        outstanding--;
        todo.push(e.req);
        pump();
      } else if (e.type === 'closed') {
        clearTimeout(timer);
        reject(e.reason ?? new Error('closed'));
      }
    });
    link.setInterested(true);
    pump();
  });
}

/** Serves every request from `data` (a seed's engine in one line). */
export function serve(link: PeerLink, rec: Recorder, metainfo: Metainfo, data: Uint8Array): void {
  const g = metainfo.geometry;
  rec.on((e) => {
    if (e.type === 'interested') link.setChoking(false);
    if (e.type === 'request') {
      const at = g.pieceOffset(e.req.index) + e.req.begin;
      link.sendBlock(e.req, data.subarray(at, at + e.req.length));
    }
  });
}

export function index(metainfo: Metainfo, n: number): PieceIndex {
  return metainfo.geometry.pieceIndex(n);
}

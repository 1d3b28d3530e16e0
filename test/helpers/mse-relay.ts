/**
 * A loopback TCP relay that records how each connection starts: "\x13BitTorrent protocol" is
 * plain, anything else an encrypted handshake (Ya); and a seed's payload with its torrent.
 * Shared by test/engine/client-encryption.test.ts and test/gateway/get-url.test.ts.
 */
import type { TestContext } from 'node:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { createTorrent } from '../../src/metainfo/index.js';
import { bytes } from './torrents.js';

const PLAIN = Buffer.from('\x13BitTorrent protocol', 'latin1');

export interface Relay {
  readonly port: number;
  /** One entry per connection: 'plain' or 'encrypted', by its first 20 bytes. */
  readonly starts: string[];
}

/** A relay on 127.0.0.1 to `target`; `plainOnly` drops connections that do not start plain. */
export async function relay(t: TestContext, target: number, plainOnly = false): Promise<Relay> {
  const starts: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    sockets.add(inbound);
    inbound.on('close', () => sockets.delete(inbound));
    let head = Buffer.alloc(0);
    let outbound: Socket | undefined;
    inbound.on('error', () => outbound?.destroy());
    inbound.on('data', (chunk: Buffer) => {
      if (outbound !== undefined) return;
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PLAIN.length);
      const plain = head.subarray(0, n).equals(PLAIN.subarray(0, n));
      if (plain && n < PLAIN.length) return;
      starts.push(plain ? 'plain' : 'encrypted');
      if (!plain && plainOnly) return void inbound.destroy();
      inbound.pause();
      const out = connect(target, '127.0.0.1', () => {
        out.write(head);
        inbound.pipe(out);
        out.pipe(inbound);
        inbound.resume();
      });
      outbound = out;
      sockets.add(out);
      out.on('close', () => {
        sockets.delete(out);
        inbound.destroy();
      });
      out.on('error', () => inbound.destroy());
      inbound.on('close', () => out.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as { port: number }).port, starts };
}

export async function seedAndTorrent(dir: string, size: number): Promise<{ torrent: Uint8Array; payload: Uint8Array }> {
  const data = join(dir, 'seed');
  mkdirSync(data, { recursive: true });
  const payload = bytes(size, 7);
  writeFileSync(join(data, 'payload.bin'), payload);
  const { torrent } = await createTorrent(join(data, 'payload.bin'), { pieceLength: 256 * 1024, creationDate: null });
  return { torrent, payload };
}


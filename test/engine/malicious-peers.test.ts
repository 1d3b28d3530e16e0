/**
 * Malicious seeds among a good one (issue 18), each a scripted raw-wire peer on a real socket:
 * it unchokes at once and (all but the flooder) says it has every piece, then
 * - `wrong length`: answers every request with half a block;
 * - `unsolicited`: says it has nothing (so it is asked for nothing) and floods blocks anyway;
 * - `overlapping`: answers every request with a block shifted by half a block, so it overlaps
 *   the one we asked for and the next;
 * - `choke storm`: chokes and unchokes every few milliseconds and answers nothing.
 * Every byte it sends is a fill pattern (0xEE). Beside it a good torrenttp seed, rate-limited so
 * that the bad one is asked for much of the torrent. For each: the download completes
 * byte-identical; the bad peer is closed with a reason naming what it did and banned (the
 * torrent's `peerClosed` and `banned` events, `isBanned`); no piece ever failed its hash (none of
 * its bytes got as far as a piece buffer that was committed) and every piece reported verified
 * was right on disk when reported.
 * Faults checked once: without the ban on misbehaviour (torrent.ts `leave`) the wrong-length
 * case fails; without the unrequested-block limit (wire-peer.ts) the unsolicited one; without the
 * block-alignment check the overlapping one; without the choke-storm limit the storm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Client } from '../../src/engine/index.js';
import type { TorrenttpError } from '../../src/errors/index.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { encodeMessages, WireDecoder, type WireMessage } from '../../src/wire/index.js';
import { bytes, piecesOf, torrentBytes, withTempDir } from '../helpers/torrents.js';

const PIECE = 64 * 1024;
const BLOCK = 16 * 1024;
const FILL = 0xee;
const data = bytes(4 * 1024 * 1024, 18);
const PIECES = data.length / PIECE;
const tbytes = torrentBytes({ name: 'payload.bin', 'piece length': PIECE, length: data.length, pieces: piecesOf(data, PIECE) });
const infoHash = Buffer.from(parseTorrent(tbytes).infoHash, 'hex');

type Kind = 'wrong length' | 'unsolicited' | 'overlapping' | 'choke storm';

interface Bad {
  server: Server;
  port: number;
  connections: number;
  /** Fill-pattern bytes written in piece messages. */
  sentBytes: number;
  close(): Promise<void>;
}

const piece = (index: number, begin: number, length: number): WireMessage => ({ type: 'piece', index, begin, block: new Uint8Array(length).fill(FILL) });

async function badSeed(kind: Kind): Promise<Bad> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const bad: Bad = {
    server: createServer((socket) => {
      bad.connections++;
      sockets.add(socket);
      socket.on('error', () => {});
      const write = (ms: WireMessage[]) => {
        if (socket.destroyed) return;
        for (const m of ms) if (m.type === 'piece') bad.sentBytes += m.block.length;
        socket.write(encodeMessages(ms));
      };
      const stop = () => {
        for (const t of timers) clearInterval(t);
      };
      socket.on('close', () => {
        sockets.delete(socket);
        stop();
      });
      const decoder = new WireDecoder();
      socket.on('data', (chunk: Buffer) => {
        let messages: WireMessage[];
        try {
          messages = decoder.push(chunk);
        } catch {
          socket.destroy();
          return;
        }
        for (const m of messages) {
          if (m.type === 'handshake') {
            // The flooder claims nothing, so we never ask it for anything: every block it sends is unsolicited.
            const bitfield = new Uint8Array(Math.ceil(PIECES / 8)).fill(kind === 'unsolicited' ? 0 : 0xff);
            write([{ type: 'handshake', reserved: new Uint8Array(8), infoHash, peerId: new Uint8Array(20).fill(0x66) }, { type: 'bitfield', bitfield }, { type: 'unchoke' }]);
            if (kind === 'unsolicited') {
              // Every block of the torrent, again and again, 64 at a time while the socket takes them.
              let next = 0;
              const flood = () => {
                while (!socket.destroyed && socket.writableLength < 256 * 1024) {
                  const b = next++ % (PIECES * (PIECE / BLOCK));
                  write([piece(Math.floor(b / (PIECE / BLOCK)), (b % (PIECE / BLOCK)) * BLOCK, BLOCK)]);
                }
              };
              const t = setInterval(flood, 5);
              timers.add(t);
            } else if (kind === 'choke storm') {
              let choked = false;
              const t = setInterval(() => {
                choked = !choked;
                write([{ type: choked ? 'choke' : 'unchoke' }]);
              }, 3);
              timers.add(t);
            }
          } else if (m.type === 'request') {
            if (kind === 'wrong length') write([piece(m.index, m.begin, m.length >> 1)]);
            else if (kind === 'overlapping') {
              const begin = m.begin + BLOCK / 2 + m.length <= PIECE ? m.begin + BLOCK / 2 : m.begin - BLOCK / 2;
              write([piece(m.index, begin, m.length)]);
            }
          }
        }
      });
    }),
    port: 0,
    connections: 0,
    sentBytes: 0,
    close: async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => bad.server.close(() => r()));
    },
  };
  await new Promise<void>((r) => bad.server.listen(0, '127.0.0.1', r));
  bad.port = (bad.server.address() as { port: number }).port;
  return bad;
}

const CASES: { kind: Kind; code: string }[] = [
  { kind: 'wrong length', code: 'TRANSPORT_BLOCK_MISMATCH' },
  { kind: 'unsolicited', code: 'TRANSPORT_UNREQUESTED_BLOCKS' },
  { kind: 'overlapping', code: 'TRANSPORT_BAD_BLOCK_OFFSET' },
  { kind: 'choke storm', code: 'TRANSPORT_CHOKE_STORM' },
];

for (const { kind, code } of CASES) {
  test(`a malicious seed (${kind}) beside a good one: closed with ${code} and banned, the download completes byte-identical without its bytes`, { timeout: 60_000 }, (t) =>
    withTempDir(t, async (dir) => {
      const seedDir = join(dir, 'seed');
      const dlDir = join(dir, 'dl');
      mkdirSync(seedDir);
      mkdirSync(dlDir);
      writeFileSync(join(seedDir, 'payload.bin'), data);
      const torrent = join(dir, 't.torrent');
      writeFileSync(torrent, tbytes);
      const bad = await badSeed(kind);
      const good = new Client({ host: '127.0.0.1', uploadLimit: 1024 * 1024 });
      const leech = new Client({ listen: false, allowLoopbackPeers: true });
      try {
        await good.add(torrent, { path: seedDir, trackers: false, webSeeds: false });
        const badId = `127.0.0.1:${bad.port}`;
        const goodId = `127.0.0.1:${good.port}`;
        const dl = await leech.add(torrent, { path: dlDir, peers: [badId, goodId], trackers: false, webSeeds: false });
        const closed = new Map<string, TorrenttpError | undefined>();
        const banned: string[] = [];
        const hashFailed: number[] = [];
        dl.on('peerClosed', (link, reason) => closed.set(link.id, reason));
        dl.on('banned', (id) => banned.push(id));
        dl.on('hashFailed', (i) => hashFailed.push(i));
        const wrongOnDisk: number[] = [];
        const checks: Promise<void>[] = [];
        dl.on('piece', (i) => {
          checks.push(
            (async () => {
              const f = await open(join(dlDir, 'payload.bin'), 'r');
              const buf = Buffer.alloc(PIECE);
              await f.read(buf, 0, PIECE, i * PIECE);
              await f.close();
              if (!buf.equals(data.subarray(i * PIECE, (i + 1) * PIECE))) wrongOnDisk.push(i);
            })(),
          );
        });
        const started = Date.now();
        await dl.done;
        await Promise.all(checks);
        const ms = Date.now() - started;
        t.diagnostic(`${kind}: done in ${ms} ms; the bad seed sent ${bad.sentBytes} fill bytes over ${bad.connections} connection(s); closed: ${closed.get(badId)?.code ?? 'no'}`);
        assert.ok(Buffer.from(readFileSync(join(dlDir, 'payload.bin'))).equals(data), 'byte-identical');
        assert.deepEqual(wrongOnDisk, [], 'every piece reported verified was right on disk');
        assert.deepEqual(hashFailed, [], 'no piece failed its hash: none of its bytes reached a piece buffer');
        assert.ok(bad.connections >= 1, 'the bad seed was connected to');
        if (kind !== 'choke storm') assert.ok(bad.sentBytes > 0, 'and sent its fill pattern');
        assert.equal(closed.get(badId)?.code, code, `the bad seed is closed with ${code} (got ${closed.get(badId)?.code ?? 'still connected'})`);
        assert.ok(banned.includes(badId), `and banned (banned: ${banned.join(', ') || 'none'})`);
        assert.equal(dl.isBanned(badId), true);
        assert.ok(!banned.includes(goodId) && closed.get(goodId)?.code !== code, 'the good seed is not');
      } finally {
        await leech.close();
        await good.close();
        await bad.close();
      }
    }),
  );
}

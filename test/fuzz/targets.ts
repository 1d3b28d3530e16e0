/**
 * Every parser of hostile input, as a fuzz target: bytes in, a value or a `TorrenttpError` out.
 * Each target has seeds (valid inputs, which mutations start from) and a `run` that feeds one
 * input to the parser the way torrenttp does. String parsers see the bytes as latin1 (every byte
 * a character, so mutations reach every code unit below 256) or UTF-8 where the input is a body.
 */
import { decode, decodeDocument, type BencodeValue } from '../../src/bencode/index.js';
import { TorrenttpError } from '../../src/errors/index.js';
import { decodeResume, encodeResume } from '../../src/storage/resume.js';
import { evaluateConditionals, ifRangeHolds, parseAccept, decideRange, preferredOffer } from '../../src/gateway/index.js';
import { Bitfield, magnetOf, metainfoFromInfoBytes, parseMagnet, parseMetainfoJson, parseTorrent, toMetainfoJson, type InfoHash } from '../../src/metainfo/index.js';
import {
  decodeAnnounceResponse,
  decodeHaveDocument,
  decodeJsonAnnounceResponse,
  decodeJsonScrapeResponse,
  decodeProblem,
  decodeScrapeResponse,
  decodeUdpRequest,
  decodeUdpResponse,
  encodeUdpAnnounceResponse,
  encodeUdpConnectResponse,
  encodeUdpErrorResponse,
  parseAnnounceQuery,
  parseContentRange,
  parseHaveQuery,
  parseJsonAnnounceRequest,
  parseJsonScrapeRequest,
  parsePieceRange,
  parseScrapeQuery,
  parseTtpTarget,
  retryAfterMs,
} from '../../src/tracker/index.js';
import { decodeKrpc, encodeQuery } from '../../src/dht/index.js';
import {
  decodeExtendedHandshake,
  decodeFastMessage,
  decodeHandshake,
  decodeMetadataMessage,
  decodePexMessage,
  encodeHandshake,
  encodeMessages,
  encodeMetadataMessage,
  encodePexMessage,
  MseHandshake,
  mseAvailable,
  mseTorrentKey,
  MSE_PLAINTEXT,
  MSE_RC4,
  WireDecoder,
} from '../../src/wire/index.js';
import { bytes, piecesOf, torrentBytes } from '../helpers/torrents.js';

export interface FuzzTarget {
  readonly name: string;
  readonly seeds: readonly Uint8Array[];
  /** Feeds one input; returns normally or throws (a `TorrenttpError` is the only allowed throw). */
  run(input: Uint8Array, rng: () => number): void;
}

const enc = new TextEncoder();
const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');
const s = (text: string): Uint8Array => enc.encode(text);
const text = (b: Uint8Array): string => latin1.decode(b);
const cat = (...parts: (Uint8Array | string)[]): Uint8Array => {
  const bs = parts.map((p) => (typeof p === 'string' ? Uint8Array.from(p, (c) => c.charCodeAt(0)) : p));
  const out = new Uint8Array(bs.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
};
const u32 = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
const u64 = (hi: number, lo: number): Uint8Array => cat(u32(hi), u32(lo));
/** The MSE seed handshake's IA length (see mseTargets). */
const IA_BYTES = 1000;

const data = bytes(5 * 16384 + 100, 3);
const single = torrentBytes({ name: 'a.bin', 'piece length': 16384, length: data.length, pieces: piecesOf(data, 16384) }, { announce: 'http://t.example/announce', 'url-list': ['http://w.example/a.bin'] });
const multi = torrentBytes({
  name: 'dir',
  'piece length': 16384,
  files: [
    { length: 40000, path: ['docs', 'data.bin'] },
    { length: data.length - 40000, path: ['readme.txt'] },
  ],
  pieces: piecesOf(data, 16384),
});
const metainfo = parseTorrent(single);
const infoOnly = (t: Uint8Array): Uint8Array => {
  const d = decodeDocument(t);
  const span = d.spanOf((d.value as Map<string, BencodeValue>).get('info')!)!;
  return t.subarray(span.start, span.end);
};
const infoHash = '2560f1ee58d918a78b3dbf9cd217b0f90dd36cf8';
const ih20 = bytes(20, 7);
const pid20 = s('-TT0010-abcdefghijkl');
const geometry = metainfo.geometry;

const wireStream = cat(
  encodeHandshake({ infoHash: ih20, peerId: pid20 }),
  encodeMessages([
    { type: 'bitfield', bitfield: Uint8Array.of(0xf8) },
    { type: 'have', index: 3 },
    { type: 'interested' },
    { type: 'unchoke' },
    { type: 'request', index: 1, begin: 0, length: 16384 },
    { type: 'piece', index: 5, begin: 0, block: bytes(100, 1) },
    { type: 'cancel', index: 1, begin: 0, length: 16384 },
    { type: 'keepAlive' },
  ] as never),
);

const udpAnnounceRequest = cat(u64(0x417, 0x27101980), u32(1), u32(7), ih20, pid20, u64(0, 10), u64(0, 1000), u64(0, 5), u32(2), u32(0), u32(9), u32(50), Uint8Array.of(0x1a, 0xe1));
const udpScrapeRequest = cat(u64(0x417, 0x27101980), u32(2), u32(8), ih20, bytes(20, 9));

export const TARGETS: readonly FuzzTarget[] = [
  { name: 'bencode-strict', seeds: [single, multi, s('li1ei-2e4:spamde0:lee')], run: (b) => void decode(b, { strict: true }) },
  { name: 'bencode-lenient', seeds: [single, multi, s('d1:bi1e1:ai2ee')], run: (b) => void decode(b, { strict: false }) },
  {
    name: 'bencode-document',
    seeds: [single, multi],
    run: (b) => {
      const d = decodeDocument(b);
      if (d.value instanceof Map) for (const v of d.value.values()) d.spanOf(v);
    },
  },
  { name: 'torrent-lenient', seeds: [single, multi], run: (b) => void parseTorrent(b) },
  { name: 'torrent-strict', seeds: [single, multi], run: (b) => void parseTorrent(b, { strict: true }) },
  { name: 'info-bytes', seeds: [infoOnly(single), infoOnly(multi)], run: (b) => void metainfoFromInfoBytes(b) },
  { name: 'metainfo-json', seeds: [s(JSON.stringify(toMetainfoJson(metainfo))), s(JSON.stringify(toMetainfoJson(parseTorrent(multi))))], run: (b) => void parseMetainfoJson(utf8.decode(b)) },
  { name: 'magnet', seeds: [s(magnetOf(metainfo)), s(`magnet:?xt=urn:btih:${infoHash}&dn=a%20b&tr=udp%3A%2F%2Ft%3A1&ws=http%3A%2F%2Fw%2Fa&x.pe=1.2.3.4:5`)], run: (b) => void parseMagnet(text(b)) },
  {
    name: 'wire-stream',
    seeds: [wireStream],
    run: (b, rng) => {
      const d = new WireDecoder({ expectHandshake: true, torrent: geometry });
      // Random chunking: any split must behave (the decoder is incremental).
      for (let at = 0; at < b.length; ) {
        const n = 1 + Math.floor(rng() * Math.min(64, b.length - at));
        d.push(b.subarray(at, at + n));
        at += n;
      }
    },
  },
  { name: 'handshake', seeds: [wireStream.subarray(0, 68)], run: (b) => void decodeHandshake(b) },
  { name: 'extension-handshake', seeds: [cat(Uint8Array.of(0), s('d1:md11:ut_metadatai1ee4:reqqi250e1:v5:aria2e'))], run: (b) => void decodeExtendedHandshake(b) },
  { name: 'udp-request', seeds: [cat(u64(0x417, 0x27101980), u32(0), u32(5)), udpAnnounceRequest, udpScrapeRequest], run: (b) => void decodeUdpRequest(b) },
  {
    name: 'udp-response',
    seeds: [
      encodeUdpConnectResponse(5, 77n),
      encodeUdpAnnounceResponse({ transactionId: 5, intervalSec: 1800, leechers: 1, seeders: 2, peers: bytes(12, 4) }),
      encodeUdpErrorResponse(5, 'not authorized'),
      cat(u32(2), u32(5), u32(1), u32(2), u32(3)),
    ],
    run: (b, rng) => void decodeUdpResponse(b, rng() < 0.9 ? 4 : 6),
  },
  {
    name: 'http-announce-query',
    seeds: [s(`info_hash=${'%25'.repeat(0)}%12%34%56%78%9a%bc%de%f0%12%34%56%78%9a%bc%de%f0%12%34%56%78&peer_id=-TT0010-abcdefghijkl&port=6881&uploaded=0&downloaded=0&left=10&compact=1&event=started&numwant=50&key=ab&ip=1.2.3.4`)],
    run: (b) => void parseAnnounceQuery(text(b)),
  },
  { name: 'http-scrape-query', seeds: [s('info_hash=%12%34%56%78%9a%bc%de%f0%12%34%56%78%9a%bc%de%f0%12%34%56%78&info_hash=aaaaaaaaaaaaaaaaaaaa')], run: (b) => void parseScrapeQuery(text(b)) },
  {
    name: 'http-announce-response',
    seeds: [
      cat('d8:completei1e10:incompletei2e8:intervali1800e12:min intervali900e5:peers12:', bytes(12, 5), '6:peers618:', bytes(18, 6), 'e'),
      s('d8:intervali60e5:peersld2:ip9:127.0.0.17:peer id20:-TT0010-abcdefghijkl4:porti6881eeee'),
      s('d14:failure reason6:denied8:retry in5:nevere'),
    ],
    run: (b) => void decodeAnnounceResponse(b),
  },
  { name: 'http-scrape-response', seeds: [cat('d5:filesd20:', ih20, 'd8:completei1e10:downloadedi2e10:incompletei3eeee')], run: (b) => void decodeScrapeResponse(b) },
  {
    name: 'ttp-json',
    seeds: [
      s(`{"infoHash":"${infoHash}","peerId":"2d5454303031302d6a3b9f0c11d27e4485a1c0de","port":6881,"url":"http://192.0.2.10:8080/ttp/v1/torrents/${infoHash}","uploaded":0,"downloaded":16384,"left":23718,"event":"started","numwant":50}`),
      s(`{"interval":1800,"minInterval":900,"complete":1,"incomplete":2,"peers":[{"peerId":"2d6172696132302d31333630383030303030303d","ip":"198.51.100.7","port":51413},{"url":"https://203.0.113.5:8443/ttp/v1/torrents/${infoHash}"}]}`),
      s(`{"infoHashes":["${infoHash}"]}`),
      s(`{"files":{"${infoHash}":{"complete":1,"downloaded":4,"incomplete":2}}}`),
      s('{"type":"urn:torrenttp:error:TRACKER_BAD_INFO_HASH","title":"t","status":400,"code":"TRACKER_BAD_INFO_HASH","detail":"d"}'),
      s(`{"version":1,"infoHash":"${infoHash}","pieceCount":3,"cursor":"q7Rz.2","have":"oA=="}`),
      s(`{"version":1,"infoHash":"${infoHash}","pieceCount":3,"cursor":"q7Rz.3","since":"q7Rz.2","added":[1]}`),
    ],
    run: (b) => {
      // One body, every JSON document reader: each must refuse what is not its own with a typed error.
      const readers = [
        () => parseJsonAnnounceRequest(b),
        () => decodeJsonAnnounceResponse(b),
        () => parseJsonScrapeRequest(b),
        () => decodeJsonScrapeResponse(b),
        () => decodeProblem(b),
        () => decodeHaveDocument(b, { infoHash, pieceCount: 3 }),
      ];
      for (const r of readers) tryTyped(r);
    },
  },
  {
    name: 'resume',
    seeds: [encodeResume(metainfo.infoHash, { bitfield: Bitfield.fromBytes(Uint8Array.of(0xa8), geometry.pieceCount), files: [{ size: data.length, mtimeNs: 1_700_000_000_000_000_000n }], savedNs: 1_700_000_000_000_000_000n, final: true })],
    run: (b) => void decodeResume(b, metainfo.infoHash as InfoHash, geometry.pieceCount, 1),
  },
  {
    name: 'http-headers',
    seeds: [s('text/html;q=0.9, application/x-bittorrent, */*;q=0.1'), s('bytes=0-99, 200-, -50'), s('"abc", W/"def"'), s('Sun, 06 Nov 1994 08:49:37 GMT'), s('bytes 0-16383/16384'), s('120'), s('/ttp/v1/torrents/2560f1ee58d918a78b3dbf9cd217b0f90dd36cf8/pieces/3'), s('since=q7Rz.2&wait=30')],
    run: (b) => {
      const h = text(b);
      const v = { etag: '"abc"', lastModifiedSec: 784111777 };
      tryTyped(() => parseAccept(h));
      tryTyped(() => preferredOffer(h, ['application/octet-stream', 'application/x-bittorrent']));
      tryTyped(() => decideRange(h, 1_000_000));
      tryTyped(() => parsePieceRange(h, 16384));
      tryTyped(() => evaluateConditionals({ ifMatch: h, ifNoneMatch: h, ifModifiedSince: h, ifUnmodifiedSince: h }, v));
      tryTyped(() => ifRangeHolds(h, v));
      tryTyped(() => retryAfterMs(h, 0));
      tryTyped(() => parseTtpTarget(h));
      tryTyped(() => parseContentRange(h));
      tryTyped(() => parseHaveQuery(h));
    },
  },
  {
    name: 'dht-krpc',
    seeds: [
      encodeQuery(s('aa'), { method: 'ping', id: ih20 }),
      encodeQuery(s('ab'), { method: 'find_node', id: ih20, target: ih20 }),
      encodeQuery(s('ac'), { method: 'get_peers', id: ih20, infoHash: ih20 }),
      encodeQuery(s('ad'), { method: 'announce_peer', id: ih20, infoHash: ih20, port: 6881, token: s('tok'), impliedPort: false }),
      cat('d1:rd2:id20:', ih20, '5:nodes26:', ih20, Uint8Array.of(127, 0, 0, 1, 0x1a, 0xe1), '6:valuesl6:', Uint8Array.of(1, 2, 3, 4, 0x1a, 0xe1), 'ee1:t2:aa1:y1:re'),
      s('d1:eli201e5:Errore1:t2:aa1:y1:ee'),
    ],
    run: (b) => void decodeKrpc(b),
  },
  {
    name: 'ut-metadata',
    seeds: [
      encodeMetadataMessage({ type: 'request', piece: 0 }).body,
      encodeMetadataMessage({ type: 'reject', piece: 1 }).body,
      (() => {
        const m = encodeMetadataMessage({ type: 'data', piece: 0, totalSize: 40, data: bytes(40, 5) });
        return cat(m.body, m.tail ?? new Uint8Array(0));
      })(),
    ],
    run: (b) => void decodeMetadataMessage(b),
  },
  {
    name: 'fast',
    seeds: [Uint8Array.of(13, 0, 0, 0, 7), Uint8Array.of(14), Uint8Array.of(15), Uint8Array.of(16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0), Uint8Array.of(17, 0, 0, 0, 3)],
    run: (b) => void decodeFastMessage(b[0] ?? 13, b.subarray(1)),
  },
  {
    name: 'ut-pex',
    seeds: [
      encodePexMessage({ added: [{ ip: '1.2.3.4', port: 6881, flags: 0x12 }, { ip: '::1', port: 51413, flags: 0 }], dropped: [{ ip: '5.6.7.8', port: 1, flags: 0 }] }),
      encodePexMessage({ added: [], dropped: [] }),
    ],
    run: (b) => void decodePexMessage(b),
  },
  ...mseTargets(),
];

/**
 * MSE/PE (the encryption handshake) from either side, fed in random chunks: each side's keys and
 * pads are fixed, so the seeds (what a real peer of the other side sent) reach every state, and
 * mutations of them the later ones. No targets without RC4 (node without --openssl-legacy-provider).
 */
function mseTargets(): FuzzTarget[] {
  if (!mseAvailable()) return [];
  const infoHash = bytes(20, 77);
  const aKey = bytes(20, 78);
  const bKey = bytes(20, 79);
  // IA: our BEP 3 handshake and more, so the seed's step 3 shows 1,016 bytes of A's keystream.
  const ia = cat(wireStream.subarray(0, 68), bytes(IA_BYTES - 68, 82));
  const initiator = (): MseHandshake =>
    MseHandshake.initiator({ infoHash, provide: MSE_RC4 | MSE_PLAINTEXT, privateKey: aKey, pad: bytes(7, 80), initialPayload: ia });
  const receiver = (): MseHandshake =>
    MseHandshake.receiver({
      skeyFor: (req2) => (Buffer.from(req2).equals(Buffer.from(mseTorrentKey(infoHash))) ? infoHash : undefined),
      select: (provide) => ((provide & MSE_RC4) !== 0 ? MSE_RC4 : (provide & MSE_PLAINTEXT) !== 0 ? MSE_PLAINTEXT : undefined),
      privateKey: bKey,
      pad: bytes(5, 81),
    });
  // One real handshake: all A sent is B's seed, all B sent is A's.
  const a = initiator();
  const b = receiver();
  const aOut: Uint8Array[] = [a.start()];
  const bOut: Uint8Array[] = [];
  let toB: Uint8Array = aOut[0]!;
  let toA: Uint8Array = new Uint8Array(0);
  for (let round = 0; round < 6 && !(a.isDone && b.isDone); round++) {
    if (toB.length > 0 && !b.isDone) {
      const out = b.push(toB);
      toB = new Uint8Array(0);
      bOut.push(...out.send);
      toA = cat(toA, ...out.send);
    }
    if (toA.length > 0 && !a.isDone) {
      const out = a.push(toA);
      toA = new Uint8Array(0);
      aOut.push(...out.send);
      toB = cat(toB, ...out.send);
    }
  }
  if (!a.isDone || !b.isDone) throw new Error('the MSE seed handshake did not complete');
  return [
    { name: 'mse-receiver', seeds: [cat(...aOut), aOut[0]!], run: (input, rng) => feedMse(receiver(), input, rng) },
    fieldsTarget(aOut, receiver),
    { name: 'mse-initiator', seeds: [cat(...bOut)], run: (input, rng) => feedMse(initiator(), input, rng) },
  ];
}

/**
 * B's step 3 fuzzed in plaintext: the input is what A encrypts (VC, crypto_provide, len(PadC),
 * PadC, len(IA), IA), so mutations reach each field instead of breaking the sync. It is encrypted
 * with the seed's keystream (its step 3's ciphertext XOR its known plaintext: RC4 is a stream
 * cipher) behind the seed's Ya, PadA and hashes.
 */
function fieldsTarget(aOut: readonly Uint8Array[], receiverOf: () => MseHandshake): FuzzTarget {
  const head = cat(aOut[0]!, aOut[1]!.subarray(0, 40));
  const cipher = aOut[1]!.subarray(40);
  const plain = cat(new Uint8Array(8), u32(MSE_RC4 | MSE_PLAINTEXT), Uint8Array.of(0, 0), Uint8Array.of(IA_BYTES >> 8, IA_BYTES & 255), cat(wireStream.subarray(0, 68), bytes(IA_BYTES - 68, 82)));
  if (cipher.length !== plain.length) throw new Error(`the MSE seed's step 3 is ${cipher.length} bytes, not ${plain.length}`);
  const keystream = plain.map((b, i) => b ^ cipher[i]!);
  return {
    name: 'mse-receiver-fields',
    seeds: [plain, plain.subarray(0, 16)],
    run: (input, rng) => {
      const n = Math.min(input.length, keystream.length);
      const enc = new Uint8Array(n);
      for (let i = 0; i < n; i++) enc[i] = input[i]! ^ keystream[i]!;
      feedMse(receiverOf(), cat(head, enc), rng);
    },
  };
}

/** `input` to a handshake in random chunks (1..700 bytes) until it is done or fails (typed). */
function feedMse(h: MseHandshake, input: Uint8Array, rng: () => number): void {
  h.start();
  let at = 0;
  try {
    while (at < input.length && !h.isDone) {
      const n = 1 + Math.floor(rng() * Math.min(input.length - at, 700));
      h.push(input.subarray(at, at + n));
      at += n;
    }
  } catch (err) {
    if (!isTyped(err)) throw err;
  }
}

/** A `TorrenttpError` with a code of its own: `INTERNAL` wraps an unexpected throw (a bug). */
export function isTyped(err: unknown): boolean {
  return err instanceof TorrenttpError && err.code !== 'INTERNAL';
}

function tryTyped(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!isTyped(err)) throw err;
  }
}

/**
 * A deterministic, torrent-shaped bencode document for the large-input test and
 * `bench/bencode.ts` (not a test file: it registers no tests).
 *
 * Shape: a multi-file BEP 3 metainfo with a `pieces` string of `piecesBytes` (default 10 MiB,
 * i.e. 524,288 SHA-1 hashes) and `files` entries (default 20,000) in two-level paths. Bytes come
 * from a fixed xorshift so every run builds the same document.
 */
import { encode, type BencodeDict, type BencodeValue } from '../../src/bencode/index.js';

export interface TorrentLikeOptions {
  readonly piecesBytes?: number;
  readonly files?: number;
}

const te = new TextEncoder();

export function buildTorrentLikeValue(opts: TorrentLikeOptions = {}): BencodeDict {
  const pieceCount = Math.ceil((opts.piecesBytes ?? 10 * 1024 * 1024) / 20);
  const fileCount = opts.files ?? 20_000;
  const pieces = new Uint8Array(pieceCount * 20);
  let x = 0x9e3779b9;
  for (let i = 0; i < pieces.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    pieces[i] = x & 0xff;
  }
  const files: BencodeValue[] = [];
  for (let i = 0; i < fileCount; i++) {
    files.push(
      new Map<string, BencodeValue>([
        ['length', 1_000 + ((i * 7_919) % 10_000_000)],
        ['path', [te.encode(`dir-${i % 100}`), te.encode(`file-${i}.bin`)]],
      ]),
    );
  }
  const info = new Map<string, BencodeValue>([
    ['files', files],
    ['name', te.encode('torrent-like')],
    ['piece length', 262_144],
    ['pieces', pieces],
  ]);
  return new Map<string, BencodeValue>([
    ['announce', te.encode('http://tracker.example/announce')],
    ['comment', te.encode('built by test/bencode/torrent-like.ts')],
    ['creation date', 1_700_000_000],
    ['info', info],
    ['url-list', [te.encode('https://seed.example/a/'), te.encode('https://seed.example/b/')]],
  ]);
}

export function buildTorrentLike(opts: TorrentLikeOptions = {}): Uint8Array {
  return encode(buildTorrentLikeValue(opts));
}

import { connect, type Socket } from 'node:net';
import { quoted } from '../errors/index.js';
import type { Client, SourceStatus, Torrent } from '../engine/index.js';
import type { Metainfo, PieceIndex } from '../metainfo/index.js';
import type { WholePiece } from '../storage/index.js';
import type { PeerLink } from '../transport/index.js';
import { connectHttpsOrigin } from '../transport/tls-connect.js';
import { webSeedFileUrl } from '../transport/web-seed-url.js';
import { WEB_SEED_HEADER } from './media-type.js';

/**
 * A lone download's stream (`torrenttp get`, a proxy's cold fetch): while nobody else downloads
 * the file, the origin's bytes come in ONE `GET` (`Range: bytes=OFFSET-`, OFFSET the start of
 * piece `fromPiece`, 0 by default; a proxied program's `Range` past the first piece starts there,
 * and the swarm fills the earlier pieces once the stream ends), read straight off a socket
 * of its own into the engine's piece
 * buffers (no copy in this process: each read lands where the piece's next bytes go), and each
 * whole piece goes to `Torrent.commitRun` with the others read in the same turn (one disk job
 * for them), which verifies each (SHA-1, on a disk thread) and
 * stores it like a piece from a peer. The engine meanwhile holds its requests
 * (`Torrent.downloadsHeld`): the named seed is connected but asked for nothing, so the origin
 * pays one plain upload, not the wire seed's (docs/cli.md, "get against curl").
 *
 * Ends `complete` (every piece from `fromPiece` on verified), `stopped` (the owner's `stop`: another peer arrived,
 * or the get ends), or `failed` (an answer that is not the file's bytes from OFFSET, a socket error, an
 * idle socket, a piece that failed its hash): the engine then takes the missing pieces from the
 * swarm as usual. Single-file torrents only. Over `https:` (a get's, not a proxy's: `loneStreamUrl`)
 * the socket is TLS with the trust of every other https connection of the process (`setClientTls`:
 * `get --cacert`, `-k`; node's CAs and NODE_EXTRA_CA_CERTS otherwise; the host name as SNI and
 * checked name), and its decrypted reads, which TLS gives only as node's own buffers, are copied
 * once into the piece buffers (`feed`).
 */
export type StreamEnd = { readonly how: 'complete' | 'stopped' } | { readonly how: 'failed'; readonly reason: string };

export interface LoneStream {
  /** Settles once the stream is over and every commit it made is answered; never rejects. */
  readonly over: Promise<StreamEnd>;
  /** Ends the stream (the piece being read is dropped); resolves with `over`. */
  stop(): Promise<StreamEnd>;
  /** Body bytes read so far. */
  readonly bytes: number;
}

export interface LoneStreamOptions {
  /** Extra request headers (`get -H`), already checked for CR and LF. */
  readonly headers?: Readonly<Record<string, string>>;
  /** No byte for this long: failed. Default 30 s. */
  readonly idleMs?: number;
  /** The first piece streamed (its start the `Range`'s); default 0. */
  readonly fromPiece?: number;
  /**
   * The stream's connection, opened earlier (`connectOrigin`, same URL and `fromPiece`; its
   * `headers` are the ones its request carried): adopted instead of a new one. Undefined: the
   * stream connects itself.
   */
  readonly connection?: OriginConnection;
}

/**
 * A lone stream's connection opened before its torrent is added (`connectOrigin`): connected,
 * its `GET` sent, nothing read (the socket is paused: the answer waits in the kernel's buffers,
 * and TCP holds the origin back beyond them). `streamOrigin` adopts it; one never adopted must be
 * closed. What it saves: the connect and the origin's first answer, while the engine is
 * compiled and the torrent added (a get that `serve` said is alone, swarm-get.ts).
 */
export interface OriginConnection {
  readonly url: string;
  readonly fromPiece: number;
  /** Why it ended before a stream took it (refused, reset, closed): the stream then fails at once. */
  readonly ended: string | undefined;
  /** Closes it; nothing once adopted (the stream closes it then). */
  close(): void;
}

/** What an adopting stream gives its connection: the socket's reads and its end. */
interface OriginSink {
  buffer(): Uint8Array;
  callback(n: number, buf: Uint8Array): boolean;
  fail(reason: string): void;
}

interface OriginSocket extends OriginConnection {
  readonly socket: Socket;
  /** The stream takes the socket: its reads and end go to `sink` from now on (an end before: at once). */
  adopt(sink: OriginSink): void;
  readonly adopted: boolean;
}

const origins = new WeakMap<OriginConnection, OriginSocket>();

/**
 * How the stream's pieces are written: into the page cache, as curl writes (a get keeps no
 * resume file, so nothing `fdatasync`s them), like the get's swarm (`GET_WRITE_MODE`). `O_DIRECT`
 * (the engine's default) made each piece wait for the device: a lone 256 MiB get spent 0.5 s of its disk
 * threads in those writes.
 */
export const STREAM_WRITE_MODE = 'buffered';
/** Pieces handed to storage and not yet verified and written, at most: the socket waits beyond (the engine's `maxCommitBytes`). */
export const STREAM_COMMIT_BYTES = 8 * 1024 * 1024;
/**
 * Whole pieces committed as one run at most (`Torrent.commitRun`): the pieces of one turn of the
 * socket's reads go together up to this, so a long turn still makes a few jobs that the disk
 * threads share. 2 MiB: 8 pieces of 256 KiB (docs/proxy.md, "Session 21").
 */
export const STREAM_RUN_BYTES = 2 * 1024 * 1024;
const MAX_HEAD_BYTES = 16 * 1024;
const DEFAULT_IDLE_MS = 30_000;
/** Headers the stream sets itself. */
const OWN_HEADERS = new Set(['host', 'range', 'accept', 'connection', 'user-agent', 'if-range', 'accept-encoding', 'te', 'transfer-encoding', 'content-length', WEB_SEED_HEADER]);

/** Header lines `get -H` gave that may go into a hand-written request (no CR, LF or NUL), or undefined when one may not. */
export function streamableHeaders(headers: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (/[\r\n\0]/.test(k) || /[\r\n\0]/.test(v) || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(k)) return undefined;
    if (!OWN_HEADERS.has(k.toLowerCase())) out[k] = v;
  }
  return out;
}

/**
 * Opens a lone stream's connection ahead of its stream (`OriginConnection`): connects to `url`'s
 * host and sends the stream's `GET` (`Range` from `opts.fromPiece`, `opts.headers`), reads nothing.
 */
export function connectOrigin(metainfo: Metainfo, url: string, opts: Pick<LoneStreamOptions, 'headers' | 'fromPiece'> = {}): OriginConnection {
  const u = new URL(url);
  const fromPiece = opts.fromPiece ?? 0;
  if (!Number.isSafeInteger(fromPiece) || fromPiece < 0 || fromPiece >= metainfo.geometry.pieceCount) throw new RangeError(`fromPiece ${fromPiece} of ${metainfo.geometry.pieceCount} pieces`);
  let sink: OriginSink | undefined;
  let early: string | undefined;
  /** At most what a sink's first buffer holds (the answer's head: `MAX_HEAD_BYTES`). */
  const first = new Uint8Array(1024);
  const end = (reason: string): void => {
    if (sink !== undefined) sink.fail(reason);
    else early ??= reason;
  };
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const secure = u.protocol === 'https:';
  const port = u.port === '' ? (secure ? 443 : 80) : Number(u.port);
  const sendGet = (): void => {
    const extra = Object.entries(opts.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: torrenttp\r\nAccept: */*\r\nRange: bytes=${fromPiece * metainfo.pieceLength}-\r\n${WEB_SEED_HEADER}: ${metainfo.infoHash}\r\n${extra}Connection: close\r\n\r\n`);
  };
  const socket: Socket = secure
    ? // Paused, the handshake still runs and the GET goes out; the answer waits in node's buffer
      // (its high-water mark, then the kernel's), as a raw socket's does.
      connectHttpsOrigin(host, port)
    : connect({
      host,
      port,
      onread: {
        // Until adopted, the socket has `first` to read into (node asks for a buffer at once), and
        // reads nothing: it is paused. The first read after may land there: it goes on to the sink.
        buffer: () => (sink === undefined ? first : sink.buffer()),
        callback: (n: number, buf: Uint8Array) => {
          if (sink === undefined) return false;
          if (buf !== first) return sink.callback(n, buf);
          const to = sink.buffer();
          to.set(first.subarray(0, n));
          return sink.callback(n, to);
        },
      },
    });
  socket.pause();
  if (secure) {
    socket.on('data', (chunk: Buffer) => {
      if (sink !== undefined) feed(sink, chunk);
    });
    // Not before: a GET sent ahead of the handshake would go out before the server is verified.
    socket.once('secureConnect', sendGet);
  } else socket.on('connect', sendGet);
  socket.on('error', (err) => end(`${url}: ${err.message}`));
  socket.on('close', () => end('closed'));
  const conn: OriginSocket = {
    url,
    fromPiece,
    socket,
    get adopted() {
      return sink !== undefined;
    },
    get ended() {
      return early;
    },
    adopt: (s) => {
      sink = s;
      if (early !== undefined) s.fail(early);
      else socket.resume();
    },
    close: () => {
      if (sink === undefined) socket.destroy();
    },
  };
  origins.set(conn, conn);
  return conn;
}

/**
 * A TLS socket's read (decrypted, in node's own buffer) into the sink's buffers, as a raw
 * socket's reads land there (`onread`): the same head parsing, limits and ends, one copy more.
 */
function feed(sink: OriginSink, chunk: Uint8Array): void {
  for (let off = 0; off < chunk.length; ) {
    const to = sink.buffer();
    const n = Math.min(to.length, chunk.length - off);
    if (n === 0) return; // no room: the stream has already failed (its head too long)
    to.set(chunk.subarray(off, off + n));
    off += n;
    if (!sink.callback(n, to)) return;
  }
}


export function streamOrigin(t: Torrent, url: string, opts: LoneStreamOptions = {}): LoneStream {
  const g = t.metainfo.geometry;
  const total = t.metainfo.length;
  const pieceCount = g.pieceCount;
  const fromPiece = opts.fromPiece ?? 0;
  if (!Number.isSafeInteger(fromPiece) || fromPiece < 0 || fromPiece >= pieceCount) throw new RangeError(`fromPiece ${fromPiece} of ${pieceCount} pieces`);
  const given = opts.connection === undefined ? undefined : origins.get(opts.connection);
  if (opts.connection !== undefined && (given === undefined || given.adopted || given.url !== url || given.fromPiece !== fromPiece)) {
    throw new RangeError(`the connection given is not an unused one to ${url} from piece ${fromPiece}`);
  }
  const origin = given ?? origins.get(connectOrigin(t.metainfo, url, opts))!;
  const socket = origin.socket;
  const offset = fromPiece * t.metainfo.pieceLength;
  let index = fromPiece;
  let piece: Uint8Array | undefined;
  let filled = 0;
  let head: Uint8Array | undefined = new Uint8Array(MAX_HEAD_BYTES);
  let headLen = 0;
  let bytes = 0;
  let committing = 0;
  let paused = false;
  let ended = false;
  let failure: StreamEnd | undefined;
  const inflight = new Set<Promise<void>>();
  let resolveOver!: (e: StreamEnd) => void;
  const over = new Promise<StreamEnd>((r) => (resolveOver = r));
  const scratch = new Uint8Array(64);

  const finish = (end: StreamEnd): void => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    socket.destroy();
    piece = undefined;
    flushRun(); // whole pieces already read are committed, as those handed over before
    const settle = (): void => resolveOver(failure ?? end);
    if (inflight.size === 0) settle();
    else void Promise.allSettled([...inflight]).then(settle);
  };
  /** `late`: a commit's answer, which counts even after the body ended. */
  const fail = (reason: string, late = false): void => {
    if (ended && !late) return;
    failure ??= { how: 'failed', reason };
    finish(failure);
  };

  /**
   * The whole pieces read in this turn of the event loop, not handed over yet: committed together
   * at the turn's end (`commitRun`: one disk-thread job and one answer for them, not one each),
   * or sooner once they reach `STREAM_RUN_BYTES`, or when the stream ends.
   */
  let run: WholePiece[] = [];
  let runBytes = 0;
  const flushRun = (): void => {
    if (run.length === 0) return;
    const pieces = run;
    const n = runBytes;
    run = [];
    runBytes = 0;
    committing += n;
    const p: Promise<void> = t
      .commitRun(pieces, 'webseed', STREAM_WRITE_MODE)
      .then(
        (ok) => {
          // A torrent closed under the commit (its storage failed: the torrent says so; or it was
          // stopped) stored nothing, and its pieces' bytes were never checked: not a bad piece.
          const bad = ok.indexOf(false);
          if (bad >= 0 && t.closed) finish({ how: 'stopped' });
          else if (bad >= 0) fail(`piece ${pieces[bad]!.index} failed its hash check`, true);
        },
        (err: unknown) => fail(`${pieces.length === 1 ? 'piece' : 'pieces'} ${pieces.map((p) => p.index).join(', ')}: ${String(err)}`, true),
      )
      .finally(() => {
        committing -= n;
        inflight.delete(p);
        if (paused && !ended && committing < STREAM_COMMIT_BYTES) {
          paused = false;
          socket.resume();
        }
      });
    inflight.add(p);
    if (committing >= STREAM_COMMIT_BYTES && !paused) {
      paused = true;
      socket.pause();
    }
  };
  const commit = (i: PieceIndex, buf: Uint8Array): void => {
    if (run.length === 0) setImmediate(flushRun);
    run.push({ index: i, data: buf });
    runBytes += buf.length;
    if (runBytes >= STREAM_RUN_BYTES) flushRun();
  };

  /** `n` body bytes landed at `piece[filled]`. */
  const landed = (n: number): void => {
    bytes += n;
    filled += n;
    const len = g.pieceLengthOf(index as PieceIndex);
    if (filled < len) return;
    commit(index as PieceIndex, piece!);
    piece = undefined;
    filled = 0;
    index++;
    // The whole body: complete once every commit verified (a failed one fails it first).
    if (index === pieceCount) finish({ how: 'complete' });
  };

  /** Body bytes that came with the head: copied into the pieces. */
  const take = (bytes: Uint8Array): void => {
    let off = 0;
    while (off < bytes.length && !ended) {
      if (index >= pieceCount) return fail('the answer is longer than the file');
      piece ??= t.pieceBuffer(index as PieceIndex);
      const n = Math.min(piece.length - filled, bytes.length - off);
      piece.set(bytes.subarray(off, off + n), filled);
      off += n;
      landed(n);
    }
  };

  const onHead = (): void => {
    const h = head!.subarray(0, headLen);
    const end = Buffer.from(h.buffer, h.byteOffset, h.length).indexOf('\r\n\r\n');
    if (end < 0) {
      if (headLen >= MAX_HEAD_BYTES) fail(`answer head longer than ${MAX_HEAD_BYTES} bytes`);
      return;
    }
    // An interim answer (1xx but 101; RFC 9110 §15.2: 100 Continue, 103 Early Hints) before the real one: skipped.
    if (/^HTTP\/1\.[01] 1(?!01)\d\d[ \r]/.test(Buffer.from(h.buffer, h.byteOffset, Math.min(13, end + 1)).toString('latin1'))) {
      head!.copyWithin(0, end + 4, headLen);
      headLen -= end + 4;
      if (headLen > 0) onHead();
      return;
    }
    head = undefined;
    const problem = checkHead(Buffer.from(h.buffer, h.byteOffset, end).toString('latin1'), total, offset);
    if (problem !== undefined) return fail(`${url}: ${problem}`);
    take(h.subarray(end + 4));
  };

  const timer = setTimeout(() => fail(`no byte for ${(opts.idleMs ?? DEFAULT_IDLE_MS) / 1000} s`), opts.idleMs ?? DEFAULT_IDLE_MS);
  origin.adopt({
    buffer: () => {
      if (head !== undefined) return head.subarray(headLen);
      if (index >= pieceCount || ended) return scratch;
      piece ??= t.pieceBuffer(index as PieceIndex);
      return piece.subarray(filled);
    },
    callback: (n: number, buf: Uint8Array) => {
      if (ended) return false;
      timer.refresh();
      if (head !== undefined) {
        headLen += n;
        onHead();
      } else if (buf === scratch || index >= pieceCount) {
        fail('the answer is longer than the file');
      } else {
        landed(n);
      }
      return true;
    },
    fail: (reason) => fail(reason === 'closed' ? `${url}: the connection closed after ${bytes} of ${total - offset} bytes` : reason),
  });

  return {
    over,
    stop: () => {
      finish({ how: 'stopped' });
      return over;
    },
    get bytes() {
      return bytes;
    },
  };
}

/**
 * Why a response head is not the file's bytes from `offset` to its end, plainly framed (no
 * transfer coding); undefined when it is. From 0: `200` of `total` bytes, or `206` of
 * `bytes 0-(total-1)/total`; from further on only a `206` of `bytes offset-(total-1)/total`.
 */
export function checkHead(head: string, total: number, offset = 0): string | undefined {
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (status === null) return `not an HTTP/1.x answer: ${quoted(lines[0] ?? '', 80)}`;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return 'a malformed header line';
    const name = line.slice(0, colon).trim().toLowerCase();
    if (headers.has(name) && (name === 'content-length' || name === 'content-range')) return `${name} twice`;
    headers.set(name, line.slice(colon + 1).trim());
  }
  const code = Number(status[1]);
  if (code !== 206 && (code !== 200 || offset > 0)) return `status ${code}`;
  if (headers.has('transfer-encoding')) return `transfer-encoding ${headers.get('transfer-encoding')}`;
  if (headers.get('content-length') !== String(total - offset)) return `content-length ${headers.get('content-length') ?? 'missing'}, ${total - offset} bytes asked (of ${total})`;
  if (code === 206 && headers.get('content-range') !== `bytes ${offset}-${total - 1}/${total}`) return `content-range ${headers.get('content-range') ?? 'missing'}`;
  return undefined;
}

/**
 * Whether and what to stream, for a get (swarm-get.ts) and a proxy's cold fetch (proxy-cache.ts)
 * alike. Where a lone download streams from, or undefined when it may not: the server named its
 * seed (`TorrentTTP-Seed`: a `serve`, whose file URL is the torrent's web seed and answers
 * ranges), one file, an `http:` web seed (or with `tls`, a get's, the first `http:` or `https:`
 * one: a proxy tunnels https and streams only http), nothing verified yet, and the request's
 * extra header lines (`get -H`, a proxied program's) fit to copy. `fromPiece`: the piece the
 * stream starts at (a proxied `Range`'s first), echoed for `streamWhileAlone`.
 */
export function loneStreamUrl(metainfo: Metainfo, peers: readonly string[], headers: Readonly<Record<string, string>> | undefined, verifiedBytes: number, fromPiece = 0, tls = false): { url: string; headers: Record<string, string>; fromPiece: number } | undefined {
  if (peers.length === 0 || metainfo.multiFile || verifiedBytes > 0 || metainfo.length === 0) return undefined;
  if (!Number.isSafeInteger(fromPiece) || fromPiece < 0 || fromPiece >= metainfo.geometry.pieceCount) return undefined;
  const base = metainfo.urlList.find((u) => (tls ? /^https?:\/\//i : /^http:\/\//i).test(u));
  const safe = streamableHeaders(headers);
  if (base === undefined || safe === undefined) return undefined;
  return { url: webSeedFileUrl(base, metainfo, 0), headers: safe, fromPiece };
}

/**
 * A lone download waits this long at most for its first tracker answer before it streams; no answer
 * by then: the swarm as usual (the seed the server named, the peers, the web seed).
 */
export const LONE_DECIDE_MS = 1000;

export interface WhileAloneOptions {
  /**
   * The server said the download is alone (`TorrentTTP-Swarm-Peers: 0`, counted when it handed
   * out the torrent, a crowd's later arrivals told apart: gateway.ts `swarmPeers`): stream at
   * once instead of waiting for the first tracker answer (5-60 ms on loopback, more on a loaded
   * machine). A peer found or connecting later still ends the stream.
   */
  readonly alone?: boolean;
  /** The piece the stream starts at (`streamOrigin`'s `fromPiece`); default 0. */
  readonly fromPiece?: number;
  /**
   * The stream's connection, opened while the torrent was added (`connectOrigin`, to the URL and
   * from the piece given here): the stream adopts it, or closes it when it never starts.
   */
  readonly connection?: OriginConnection;
  /** Told where the bytes come from as it changes (the stream starts, ends, gives way to the swarm): `get -v`. */
  readonly onRoute?: (message: string) => void;
}

/**
 * The torrent's downloads held until the first tracker answer says whether the download is alone:
 * nobody but the seeds the server named (`given`; a seed's own dial-back is told apart by peer
 * id). Alone, the origin is streamed (`streamOrigin`) until another peer is found or connects
 * (another get or proxy, which found this one through the tracker), or the stream fails; then, or when the
 * answer names others, fails to come within `LONE_DECIDE_MS` or the stream ends, the engine
 * takes what is missing from the swarm. Web seeds are no other peer. `stop` ends it all (the
 * stream's commits answered). Undefined when the torrent is already complete. `opts.alone`: the
 * server already said so; the stream starts at once. `opts.fromPiece`: where the stream starts.
 */
export function streamWhileAlone(client: Client, t: Torrent, url: string, given: readonly string[], headers: Record<string, string>, warn: (message: string) => void, opts: WhileAloneOptions = {}): { stop(): Promise<void> } | undefined {
  if (t.complete) {
    opts.connection?.close();
    return undefined;
  }
  t.downloadsHeld = true;
  const named = new Set(given);
  const namedIds = new Set<string>();
  let state: 'waiting' | 'streaming' | 'over' = 'waiting';
  let stream: LoneStream | undefined;
  const release = (): void => {
    if (!t.closed) t.downloadsHeld = false;
  };
  const cleanup = (): void => {
    clearTimeout(timer);
    client.off('discovered', onDiscovered);
    client.off('source', onSource);
    t.off('peer', onPeer);
  };
  const over = (why?: string): void => {
    if (state === 'over') return;
    const was = state;
    state = 'over';
    cleanup();
    if (why !== undefined) opts.onRoute?.(`${why}: ${was === 'streaming' ? 'the stream ends, ' : ''}the swarm's peers and web seeds`);
    if (was === 'streaming') void stream!.stop(); // its end releases
    else {
      opts.connection?.close();
      release();
    }
  };
  const onDiscovered = (infoHash: string, addresses: readonly string[]): void => {
    if (infoHash === t.infoHash && addresses.some((a) => !named.has(a))) over('the tracker names other peers');
  };
  const onPeer = (link: PeerLink): void => {
    const id = link.peerId === undefined ? undefined : Buffer.from(link.peerId).toString('hex');
    if (named.has(link.id)) {
      if (id !== undefined) namedIds.add(id);
      return;
    }
    if (link.kind === 'webseed' || (id !== undefined && namedIds.has(id))) return;
    over(`another peer (${link.id})`);
  };
  const start = (): void => {
    if (state !== 'waiting' || t.closed || t.complete) return;
    state = 'streaming';
    clearTimeout(timer);
    opts.onRoute?.(`alone in the swarm: streaming ${url} in one GET, each piece verified`);
    stream = streamOrigin(t, url, { headers, ...(opts.fromPiece === undefined ? {} : { fromPiece: opts.fromPiece }), ...(opts.connection === undefined ? {} : { connection: opts.connection }) });
    void stream.over.then((end) => {
      if (end.how === 'failed') warn(`streaming ${url}: ${end.reason}; the swarm takes the rest`);
      if (end.how === 'failed' && state === 'streaming') opts.onRoute?.(`the stream failed (${end.reason}): the swarm takes the rest`);
      if (state === 'streaming') {
        state = 'over';
        cleanup();
      }
      release();
    });
  };
  const onSource = (s: SourceStatus): void => {
    if (s.infoHash !== t.infoHash || s.kind !== 'tracker' || !s.ok || state !== 'waiting') return;
    // The answer is reported just before its peers are discovered (the same turn): decide after.
    setImmediate(start);
  };
  const timer = setTimeout(() => over(`no tracker answer within ${LONE_DECIDE_MS} ms`), LONE_DECIDE_MS);
  client.on('discovered', onDiscovered);
  client.on('source', onSource);
  t.on('peer', onPeer);
  if (opts.alone === true) start();
  return {
    stop: async () => {
      over();
      await stream?.over;
    },
  };
}

import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import { toTorrenttpError } from '../errors/index.js';
import { METAINFO_JSON_MEDIA_TYPE, type Metainfo, type PieceIndex } from '../metainfo/index.js';
import { loadUndici, readContentRange } from '../transport/index.js';
import { GatewayError } from './errors.js';
import { BITTORRENT_MEDIA_TYPE } from './gateway.js';
import { describedBy, discard, fetchLinked, isHashingAnswer, mediaType, negotiationAccept, parseMetainfo, readSmall, seedPeers, swarmPeers, type OpenResponse } from './negotiate-client.js';
import { FILE_ETAG_HEADER, FILE_LAST_MODIFIED_HEADER, FILE_TYPE_HEADER, JOIN_HEADER, SEED_HEADER, SWARM_PEERS_HEADER } from './media-type.js';
import { fetchFirstPiece, type FirstAnswer } from './proxy-early.js';
import { headerValue } from './proxy-request.js';

/**
 * The proxy's negotiation with the origin: `torrenttp get`'s (negotiate-client.ts), one hop at a
 * time, because a proxy must not follow redirects or swallow error statuses on the program's
 * behalf.
 *
 * - The program's GET goes out with the swarm's `Accept` in front of its own (`GET_ACCEPT` when
 *   it sent none or `*\/*`), and without `Range` and conditionals (the proxy answers those).
 * - A torrent (by `Accept` or by `Link: rel=describedby`, RFC 6249) is taken only for one file
 *   whose length the origin confirms; a torrent of several files or of another length is a lie
 *   or a mistake, and the program gets the origin's own answer. The origin's facts for the
 *   program (length, `Content-Type`, `ETag`, `Last-Modified`) come from an answer that is there
 *   anyway: the bytes' answer that carried the `Link`, or, for a torrent by `Accept` on a cold
 *   fetch, the `206` of the first piece the cache asks for (`Content-Range: bytes a-b/LENGTH`,
 *   proxy-early.ts). The offer is decided on that answer's head, not its body: the piece's
 *   SHA-1 verdict comes after, as `sameFile` (a piece of other bytes means the file at the URL
 *   is not the torrent's: the proxy then never sends the torrent's bytes under those headers,
 *   proxy.ts). A `HEAD` is sent only when there is no such
 *   answer (the torrent already in the cache, a piece too large to hold, an origin that ignores
 *   or refuses the range) or when the `206` lacks a validator a `200` may have had (RFC 9110
 *   §15.3.7 requires `ETag` on a `206`, not `Last-Modified`).
 * - A torrent by `Accept` that announces the bytes' head (`TorrentTTP-File-Type`,
 *   `TorrentTTP-File-ETag`, `TorrentTTP-File-Last-Modified`, serve's, media-type.ts) for a plain
 *   GET (`announced`: no `Range`, no preconditions) is taken at once with those facts and the
 *   torrent's length: the program's head need not wait for the first piece's round trip. The
 *   piece's answer is then a check (`sameFile`): a `206` of another length or another `ETag` is
 *   `changed` (the file changed after the torrent was answered: the proxy cuts the response
 *   short, the head promised other bytes), a piece of other bytes `mismatch`.
 * - Anything else is `plain`: the open answer when it is the one the program's own request gets
 *   (`reusable`), else none, and the caller forwards the program's request as it came.
 * - serve's `503` to the torrent request while it hashes the file (its `GATEWAY_HASHING` problem
 *   document, `isHashingAnswer`): plain at once, as `get` does, and the URL is asked again next
 *   time. Any other `503` is an answer as any other status: passed to the program as it came.
 * - The torrent request says the proxy is about to join (`TorrentTTP-Join: 1`, `join`), as `get`
 *   does: `serve` answers how many peers it would find (`TorrentTTP-Swarm-Peers`), and a `0` lets
 *   a cold fetch stream the origin at once (lone-stream.ts) instead of after the first tracker
 *   answer (`swarmPeers`, passed to `onTorrent`).
 */

/** The origin's description of the file, sent to the program with the swarm's bytes. */
export interface FileFacts {
  readonly length: number;
  readonly contentType: string;
  readonly etag?: string;
  readonly lastModified?: string;
}

/**
 * The origin's first piece against the offer: `same`, `mismatch` (its bytes are not the
 * torrent's), or `changed` (its head names another file than the facts announced with the
 * torrent, whose head the program may already have).
 */
export type Verdict = 'same' | 'mismatch' | 'changed';

export type ProxyOffer =
  | {
      readonly kind: 'torrent';
      readonly metainfo: Metainfo;
      readonly file: FileFacts;
      readonly via: 'accept' | 'link';
      /** Wire peers the origin named (`TorrentTTP-Seed`, its own seed): dialled at once, not after a tracker round trip. */
      readonly peers: readonly string[];
      /** Peers besides `peers` the origin's tracker knows (`TorrentTTP-Swarm-Peers`), when it said. */
      readonly swarmPeers: number | undefined;
      /**
       * An offer on the announced head (`announced`): nothing is opened or asked yet, so that the
       * program's head goes out first; the caller calls this once, right after, to start the
       * torrent's open and the first piece's `GET` (`onTorrent`), which `sameFile` then checks.
       */
      readonly prepare?: () => void;
      /** The first piece's verdict, when one was asked (`KnownUrl.sameFile`): `mismatch` once it failed its hash check, `changed` when its head is of another file than the announced one. */
      readonly sameFile?: Promise<Verdict>;
    }
  | { readonly kind: 'plain'; readonly response: OpenResponse | undefined; readonly reason: string };

export interface ProxyOfferOptions {
  readonly dispatcher: Dispatcher;
  /** The program's end-to-end request headers, flat (name, value, …), without `Host`, `Accept`, `Range` and conditionals (`negotiationHeaders`). */
  readonly headers: readonly string[];
  /**
   * Send `TorrentTTP-Join: 1` with the torrent request: the proxy will open the torrent if it is
   * offered (not for a request that may be answered without its body: `serve` would count the
   * proxy as a peer for a moment, and others would not stream meanwhile).
   */
  readonly join?: boolean;
  /** The program's `Accept`, if any. */
  readonly accept: string | undefined;
  /** The negotiation's answer is the one the program's own request would get (it had no `Range` or conditionals). */
  readonly reusable: boolean;
  /**
   * The program's request is a plain GET (no `Range`, no preconditions): a torrent answer that
   * announces the bytes' head (`TorrentTTP-File-*`) is taken on it, without waiting for the first
   * piece's or a `HEAD`'s answer.
   */
  readonly announced?: boolean;
  readonly signal?: AbortSignal;
  /**
   * A torrent of one file was offered and parsed (and, by `Link`, its length checked): the
   * caller may start opening it, and may ask the origin for the piece under the program's
   * position (`first`, with `headers`: the program's, for the origin). By `Accept`, that answer
   * confirms the offer instead of a `HEAD`; by `Link`, it must be of the same file. `undo` is
   * called if the offer falls through. `swarmPeers`: the origin's count of other peers, when it
   * said (`0`: alone, stream at once).
   */
  readonly onTorrent?: (metainfo: Metainfo, peers: readonly string[], headers: readonly string[], swarmPeers: number | undefined) => Prepared;
}

export interface Prepared {
  readonly undo: () => void;
  readonly first?: Promise<FirstAnswer | undefined>;
}

/** The program's request headers for the origin's bytes (the first piece, the stream, a `HEAD`): `Accept: *\/*` after the negotiation's `headers`. */
export function originHeaders(headers: readonly string[]): string[] {
  return [...headers, 'accept', '*/*'];
}

export async function proxyOffer(url: string, o: ProxyOfferOptions): Promise<ProxyOffer> {
  const first = await once(url, 'GET', [...o.headers, 'accept', negotiationAccept(o.accept), ...(o.join === true ? [JOIN_HEADER, '1'] : [])], o);
  const plain = async (reason: string): Promise<ProxyOffer> => {
    if (o.reusable) return { kind: 'plain', response: first, reason };
    await discard(first);
    return { kind: 'plain', response: undefined, reason };
  };
  if (await isHashingAnswer(first)) return { kind: 'plain', response: undefined, reason: 'the server is still making the torrent' };
  // Another 503 (an origin overloaded) is the answer it is, as any other status: unless its body
  // was read to see (a problem document of another code), the program gets it as it came.
  if (first.status !== 200) return first.body.readableEnded || first.body.destroyed ? { kind: 'plain', response: undefined, reason: `status ${first.status}` } : plain(`status ${first.status}`);
  const type = mediaType(first.headers['content-type']);
  if (type === BITTORRENT_MEDIA_TYPE || type === METAINFO_JSON_MEDIA_TYPE) {
    let metainfo: Metainfo;
    try {
      metainfo = await parseMetainfo(type, await readSmall(first));
    } catch (err) {
      return { kind: 'plain', response: undefined, reason: `the offered torrent is unusable: ${toTorrenttpError(err).message}` };
    }
    const peers = seedPeers(first.headers[SEED_HEADER]);
    const others = swarmPeers(first.headers[SWARM_PEERS_HEADER]);
    const headers = originHeaders(o.headers);
    const facts = o.announced === true && !metainfo.multiFile ? announcedFacts(first.headers, metainfo.length) : undefined;
    if (facts !== undefined) {
      let asked!: (first: Promise<FirstAnswer | undefined> | undefined) => void;
      const piece = new Promise<FirstAnswer | undefined>((resolve) => (asked = resolve));
      let once = false;
      const prepare = (): void => {
        if (once) return;
        once = true;
        try {
          asked(o.onTorrent?.(metainfo, peers, headers, others).first);
        } catch {
          asked(undefined);
        }
      };
      return { kind: 'torrent', metainfo, via: 'accept', peers, swarmPeers: others, file: facts, prepare, sameFile: checkAnnounced(piece, facts) };
    }
    const prepared = metainfo.multiFile ? undefined : o.onTorrent?.(metainfo, peers, headers, others);
    let offer: ProxyOffer | undefined;
    try {
      const answer = await prepared?.first;
      if (answer !== undefined && factsIn(answer)) offer = checked(metainfo, answer, 'accept', peers, others);
      else {
        const head = await once(url, 'HEAD', headers, o);
        await discard(head);
        offer = checked(metainfo, head, 'accept', peers, others);
      }
      return withVerdict(offer, answer);
    } finally {
      if (offer?.kind !== 'torrent') prepared?.undo();
    }
  }
  const link = describedBy(first.headers.link, url);
  if (link === undefined) return plain('no torrent offered');
  const linked = await fetchLinked(link, { dispatcher: o.dispatcher, headers: recordOf(o.headers), ...(o.join === true ? { join: true } : {}), ...(o.signal === undefined ? {} : { signal: o.signal }) }).catch(() => undefined);
  if (linked?.kind !== 'torrent') return plain('the linked torrent could not be fetched');
  const offer = checked(linked.metainfo, first, 'link', linked.peers, linked.swarmPeers);
  if (offer.kind === 'plain') return plain(offer.reason);
  // The facts are the bytes' answer's. A cold fetch's first piece must be of the same file: its
  // SHA-1 the torrent's, its ETag (if both have one) the answer's; else the answer passes through.
  const prepared = o.onTorrent?.(linked.metainfo, linked.peers, originHeaders(o.headers), linked.swarmPeers);
  const answer = await prepared?.first;
  const etag = headerValue(first.headers.etag);
  const pieceEtag = answer === undefined ? undefined : headerValue(answer.headers.etag);
  if (etag !== undefined && pieceEtag !== undefined && pieceEtag !== etag) {
    prepared?.undo();
    return plain(`the file changed while its torrent was fetched (ETag ${etag}, then ${pieceEtag})`);
  }
  await discard(first);
  return withVerdict(offer, answer);
}

/** A torrent offer with its first piece's verdict to come (the piece's body may still be arriving). */
function withVerdict(offer: ProxyOffer, answer: FirstAnswer | undefined): ProxyOffer {
  if (offer.kind !== 'torrent' || answer === undefined) return offer;
  return { ...offer, sameFile: bodyVerdict(answer) };
}

function bodyVerdict(answer: FirstAnswer): Promise<Verdict> {
  return answer.body.then((b) => (b.mismatch === true ? 'mismatch' : 'same'));
}

/**
 * The bytes' head announced with the torrent (`TorrentTTP-File-Type` and `-ETag`, `-Last-Modified`
 * if given), with the torrent's length; undefined when the origin announced none.
 */
function announcedFacts(h: Answered['headers'], length: number): FileFacts | undefined {
  const contentType = headerValue(h[FILE_TYPE_HEADER]);
  const etag = headerValue(h[FILE_ETAG_HEADER]);
  const lastModified = headerValue(h[FILE_LAST_MODIFIED_HEADER]);
  if (contentType === undefined || etag === undefined) return undefined;
  return { length, contentType, etag, ...(lastModified === undefined ? {} : { lastModified }) };
}

/**
 * The first piece's answer against facts the head already went out with: another `ETag` (on any
 * answer), or a `206` of another complete length, is `changed`; else the piece's own verdict. No
 * answer (none asked, or the origin did not answer) says nothing against them: the bytes are the
 * torrent's, checked piece by piece.
 */
async function checkAnnounced(first: Promise<FirstAnswer | undefined>, facts: FileFacts): Promise<Verdict> {
  const answer = await first.catch(() => undefined);
  if (answer === undefined) return 'same';
  const etag = headerValue(answer.headers.etag);
  if ((etag !== undefined && etag !== facts.etag) || (answer.status === 206 && completeLength(answer) !== facts.length)) {
    return 'changed';
  }
  return bodyVerdict(answer);
}

/** An answer with headers, for the origin's facts: a `200`, a `HEAD`'s, a piece's `206`. */
interface Answered {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * Whether the first piece's answer says all a `200` would: a `200` (the origin ignored the range:
 * its headers are the whole answer's), or a `206` of one range with both validators (a `206`
 * need not carry `Last-Modified`, and may lack an `ETag` in error: a `HEAD` then asks).
 */
function factsIn(a: Answered): boolean {
  if (a.status === 200) return true;
  return a.status === 206 && a.headers.etag !== undefined && a.headers['last-modified'] !== undefined && completeLength(a) !== undefined;
}

/** `LENGTH` of a `206`'s `Content-Range: bytes a-b/LENGTH` (RFC 9110 §14.4). */
function completeLength(a: Answered): number | undefined {
  const cr = readContentRange(headerValue(a.headers['content-range']));
  return cr === undefined || 'unsatisfied' in cr ? undefined : cr.complete;
}

/** The torrent, if it is of one file as long as the bytes the origin serves at this URL (`bytes`: a `200`'s or a `206`'s headers). */
function checked(metainfo: Metainfo, bytes: Answered, via: 'accept' | 'link', peers: readonly string[], others: number | undefined): ProxyOffer {
  const length = bytes.status === 206 ? completeLength(bytes) ?? NaN : Number(headerValue(bytes.headers['content-length']));
  if (metainfo.multiFile) return { kind: 'plain', response: undefined, reason: `the torrent holds ${metainfo.files.length} files, not this URL's one` };
  if ((bytes.status !== 200 && bytes.status !== 206) || length !== metainfo.length) {
    return { kind: 'plain', response: undefined, reason: `the torrent is of ${metainfo.length} bytes, the URL's answer ${bytes.status} of ${Number.isNaN(length) ? 'unknown' : length} bytes` };
  }
  const etag = headerValue(bytes.headers.etag);
  const lastModified = headerValue(bytes.headers['last-modified']);
  return {
    kind: 'torrent',
    metainfo,
    via,
    peers,
    swarmPeers: others,
    file: {
      length,
      contentType: headerValue(bytes.headers['content-type']) ?? 'application/octet-stream',
      ...(etag === undefined ? {} : { etag }),
      ...(lastModified === undefined ? {} : { lastModified }),
    },
  };
}

/** One request, no redirect followed. */
async function once(url: string, method: 'GET' | 'HEAD', headers: readonly string[], o: ProxyOfferOptions): Promise<OpenResponse> {
  const undici = await loadUndici();
  try {
    const res = await undici.request(url, {
      method,
      headers: [...headers],
      dispatcher: o.dispatcher,
      ...(o.signal === undefined ? {} : { signal: o.signal }),
    });
    return { url, status: res.statusCode, headers: res.headers, body: res.body };
  } catch (cause) {
    throw new GatewayError('GATEWAY_PROXY_UPSTREAM', { detail: `${new URL(url).host}: ${cause instanceof Error ? cause.message : String(cause)}`, cause });
  }
}

function recordOf(flat: readonly string[]): Record<string, string> {
  const r: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) r[flat[i]!.toLowerCase()] = flat[i + 1]!;
  return r;
}

/** The warm-up's file: three pieces of 16 KiB (the last of one byte), so that a whole cold fetch has a piece from memory, pieces streamed and pieces read back. */
const WARM_PIECE = 16 * 1024;
const WARM_BYTES = 2 * WARM_PIECE + 1;

/**
 * A fresh process's first cold fetch ran its whole path for the first time: undici's HTTP
 * parser's WebAssembly compiled, then the negotiation, the torrent's parser, the first piece's
 * request and check, each function compiled as it was first called: tens of milliseconds of a
 * cold first fetch under load, where the origin itself answers in a few. While the proxy starts,
 * two offers are negotiated with a throwaway loopback origin (a torrent of three small pieces by
 * `Accept` with its file's head announced, taken once on it and once on its first piece's `206`,
 * and a `HEAD`) to pay for that before any program waits. Then, when the proxy gives `through`
 * (a GET of a URL through its own listening server, proxy.ts), one whole cold fetch of that
 * file goes through it as a program's would: the proxy's request and response path, the
 * torrent's open in the cache, the lone stream, the disk threads' commits, the reader and the
 * read-back, which the offers alone left for the first program (its head about 1 ms later, its
 * first body byte 3 to 7 ms, than a second cold fetch's in the same process on a quiet machine;
 * tens of milliseconds under load: docs/proxy.md, session 17). Nothing of it is
 * kept (`through` removes the torrent); failures are ignored: it is only a warm-up.
 */
export async function warmUp(dispatcher: Dispatcher, through?: (url: string) => Promise<void>): Promise<void> {
  const data = Buffer.alloc(WARM_BYTES, 'x');
  data.fill('y', WARM_PIECE);
  const hashes = [0, WARM_PIECE, 2 * WARM_PIECE].map((at) => createHash('sha1').update(data.subarray(at, at + WARM_PIECE)).digest());
  const info = Buffer.concat([Buffer.from(`d6:lengthi${WARM_BYTES}e4:name1:x12:piece lengthi${WARM_PIECE}e6:pieces${20 * hashes.length}:`), ...hashes, Buffer.from('e')]);
  let torrent = Buffer.alloc(0);
  // The torrent's parser also on a torrent of as many pieces as a large file's (1024: 256 MiB in
  // 256 KiB pieces): three pieces leave its loops unoptimised (a 256 MiB torrent's first parse
  // took 0.5 to 0.7 ms, a later one 0.25 ms).
  const many = Buffer.concat([Buffer.from(`d4:infod6:lengthi${1024 * WARM_PIECE}e4:name1:x12:piece lengthi${WARM_PIECE}e6:pieces${20 * 1024}:`), Buffer.alloc(20 * 1024, 1), Buffer.from('ee')]);
  for (let i = 0; i < 3; i++) await parseMetainfo(BITTORRENT_MEDIA_TYPE, many).catch(() => undefined);
  const facts = { 'content-type': 'application/octet-stream', etag: '"w"', 'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT' };
  const server = createServer((req, res) => {
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range));
    if (String(req.headers.accept).includes(BITTORRENT_MEDIA_TYPE)) {
      res.writeHead(200, {
        'content-type': BITTORRENT_MEDIA_TYPE,
        'content-length': torrent.length,
        // A seed that is not there (the port refuses), named so that the cold fetch streams (lone-stream.ts).
        [SEED_HEADER]: '127.0.0.1:1',
        [SWARM_PEERS_HEADER]: '0',
        [FILE_TYPE_HEADER]: facts['content-type'],
        [FILE_ETAG_HEADER]: facts.etag,
        [FILE_LAST_MODIFIED_HEADER]: facts['last-modified'],
      });
      res.end(torrent);
    } else if (range !== null) {
      const from = Number(range[1]);
      const to = Math.min(range[2] === '' ? WARM_BYTES - 1 : Number(range[2]), WARM_BYTES - 1);
      res.writeHead(206, { ...facts, 'content-length': to - from + 1, 'content-range': `bytes ${from}-${to}/${WARM_BYTES}` });
      res.end(data.subarray(from, to + 1));
    } else {
      res.writeHead(200, { ...facts, 'content-length': WARM_BYTES });
      res.end(req.method === 'HEAD' ? undefined : data);
    }
  });
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
    torrent = Buffer.concat([Buffer.from('d4:info'), info, Buffer.from(`8:url-list${url.length}:${url}e`)]);
    const o: ProxyOfferOptions = {
      dispatcher,
      headers: ['user-agent', 'warm-up'],
      accept: undefined,
      reusable: false,
      join: true,
      onTorrent: (m, _peers, headers) => ({ undo: () => undefined, first: fetchFirstPiece(url, m, 0 as PieceIndex, { dispatcher, timeoutMs: 5000, headers }) }),
    };
    // Both of a cold fetch's ways: the head from the torrent's answer (a plain GET), and from the piece's.
    for (const announced of [true, false]) {
      const offer = await proxyOffer(url, { ...o, announced });
      if (offer.kind === 'torrent') {
        offer.prepare?.();
        await offer.sameFile;
      }
    }
    await discard(await once(url, 'HEAD', originHeaders(o.headers), o));
    await through?.(url);
  } catch {
    // nothing to warm then
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

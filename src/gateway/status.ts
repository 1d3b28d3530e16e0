import { createHash } from 'node:crypto';
import { relative, sep } from 'node:path';
import type { Client, Torrent } from '../engine/index.js';
import { fromHex } from '../metainfo/index.js';
import type { ScrapeEntry } from '../tracker/index.js';

/**
 * What `torrenttp serve` has sent, and how: the counters behind `/.torrenttp/status.json`.
 *
 * - Plain HTTP: body bytes of files (`200` and `206`), counted when the socket has taken them
 *   (the write callback), so a client that hangs up mid-body is not counted for the rest.
 *   Split by whether the file is eligible for a torrent; per file for eligible files only (the
 *   ones a swarm could have carried), at most `maxFiles` of them.
 * - As a peer: payload bytes the engine's seed uploaded (piece blocks, BEP 3), per info-hash,
 *   including torrents retired since (their last count is kept).
 * - Counters live in this process: with several servers behind a load balancer each shows its
 *   own bytes, while seeds and leechers (from the tracker's store) are the shared swarm's.
 */
export const STATUS_DOC_VERSION = 1;
/**
 * How old an identity sweep (`SwarmFiles.check`: a stat of every file with a torrent) a status
 * document may rely on. A sweep of 10,000 files took 0.2-0.7 s of CPU (docs/serve.md), so a
 * document makes one only when none younger than this exists: an open status page (it asks
 * every second), several, or a client asking in a loop cost at most one sweep per 5 s, serve's
 * own check interval, and while serve's timer runs its sweeps serve them. A file changed or
 * deleted on disk is then shown with its old swarm for at most this long, and not at all once a
 * request for it found it changed or gone (that request retires its torrent). At 1 s the page,
 * whose polls come a little over a second apart, would still make a sweep at each poll.
 */
export const STATUS_CHECK_MAX_AGE_MS = 5000;
/**
 * How long the serialized `files` and `swarms` of status.json (3 MB at 10,000 files, 10,000
 * swarms) are reused while no file or swarm came or went and no row's state changed: answers in
 * between rebuild only the head (`time`, `tracker`, `totals`, fresh at each answer) and, when
 * the head is the same too, share one ETag, so a poller sending `If-None-Match` gets `304`.
 * The sweep's age: what the tracker's seeds and leechers, a swarm's peers and rate (which change
 * without a sign here) may lag, as a deleted file may already.
 */
export const STATUS_LISTS_MAX_AGE_MS = STATUS_CHECK_MAX_AGE_MS;
/**
 * How long a row's byte counter (a file's `plainBytes`, a swarm's `peerBytes`) may lag the
 * totals while bytes move: the page's poll period, so that one open page sees its rows as
 * before, while more pages or a script asking in a loop share one rebuild per second.
 */
export const STATUS_COUNTERS_MAX_AGE_MS = 1000;
/** Eligible files with a per-file plain-HTTP count; more only add to the totals. */
export const DEFAULT_MAX_STATUS_FILES = 10_000;

export interface StatusFile {
  /** Path below the served folder, `/`-separated, starting with `/` (not URL-encoded). */
  readonly path: string;
  readonly size: number | null;
  /** `ready` (has a torrent), `hashing`, or `plain` (served plainly, no torrent asked for yet). */
  readonly state: 'ready' | 'hashing' | 'plain';
  readonly infoHash: string | null;
  readonly plainBytes: number;
  /** Range responses to clients that asked for the torrent: the server as the swarm's web seed (BEP 19). */
  readonly webSeedBytes: number;
}

export interface StatusSwarm {
  readonly infoHash: string;
  readonly paths: readonly string[];
  /** From the tracker's store (shared with other servers under `--redis`); this server's seed counts. Null when the store did not answer. */
  readonly seeds: number | null;
  readonly leechers: number | null;
  /** `event=completed` announces the store has counted. */
  readonly completed: number | null;
  /** Peers connected to this server's seed now. */
  readonly peers: number;
  /** Payload bytes this server's seed uploaded. */
  readonly peerBytes: number;
  readonly peerBytesPerSec: number;
}

export interface StatusDocument {
  readonly version: typeof STATUS_DOC_VERSION;
  /** Server clock, ms since the epoch, when this document was made. */
  readonly time: number;
  readonly startedAt: number;
  readonly tracker: { readonly store: 'memory' | 'redis'; readonly error: string | null };
  readonly totals: {
    readonly plainBytes: number;
    readonly plainEligibleBytes: number;
    readonly plainIneligibleBytes: number;
    readonly plainResponses: number;
    readonly peerBytes: number;
    /**
     * Body bytes of `Range` responses to requests whose `Accept` prefers the torrent (they would
     * have got it without the `Range`): swarm members using the file's URL as their web seed, as
     * `torrenttp get` does when it is alone and aria2 does when given the header. Not in `plainBytes`.
     */
    readonly webSeedBytes: number;
  };
  readonly files: readonly StatusFile[];
  readonly swarms: readonly StatusSwarm[];
}

export interface StatusSources {
  readonly root: string;
  /**
   * Re-reads the identity of the files with a torrent and retires those that changed or went
   * away, or relies on such a sweep made less than STATUS_CHECK_MAX_AGE_MS ago (`SwarmFiles.recheck`;
   * serve's timer sweeps every 5 s), so that the document lists a deleted file as `ready`, or its
   * swarm, for at most that long.
   */
  readonly check?: () => Promise<void>;
  /** Files with a torrent made or being made. */
  readonly files: () => readonly { absPath: string; size: number; infoHash: string | undefined }[];
  /** Info-hashes served now. */
  readonly infoHashes: () => readonly string[];
  readonly scrape: (infoHashes: readonly Uint8Array[]) => Promise<ScrapeEntry[]>;
  readonly store: 'memory' | 'redis';
}

/** status.json ready to send: the same bytes as `JSON.stringify` of its document. */
export interface StatusBody {
  /** Weak entity tag, `W/"…"`: the same while every field but `time` is. */
  readonly etag: string;
  /** The JSON in order; the lists' chunk is shared by the answers that reuse it (never modify). */
  readonly chunks: readonly Buffer[];
  readonly length: number;
}

/** A whole document as a StatusBody (its ETag from its bytes): for a caller holding a document. */
export function statusBodyOf(doc: StatusDocument): StatusBody {
  const json = Buffer.from(JSON.stringify(doc));
  const untimed = JSON.stringify({ ...doc, time: 0 });
  return { etag: `W/"${createHash('sha1').update(untimed).digest('base64url')}"`, chunks: [json], length: json.length };
}

/** The serialized lists of the last status body and what they were made from. */
interface Lists {
  readonly at: number;
  readonly files: readonly { absPath: string; size: number; infoHash: string | undefined }[];
  readonly hashes: readonly string[];
  readonly plainRows: number;
  /** `plainGen` and the uploads' total when made: the rows' byte counters. */
  readonly counters: string;
  readonly trackerError: string | null;
  /** `[…files…],"swarms":[…]}`: the document after its head. */
  readonly json: Buffer;
  readonly seq: number;
}

interface Rows {
  readonly files: StatusFile[];
  readonly swarms: StatusSwarm[];
  readonly trackerError: string | null;
}

interface PlainFile {
  bytes: number;
  webSeedBytes: number;
  size: number;
}

export class ServeStatus {
  private readonly startedAt: number;
  private plainEligible = 0;
  private plainIneligible = 0;
  private plainResponses = 0;
  private webSeed = 0;
  private readonly plainByFile = new Map<string, PlainFile>();
  /** Engine torrents seen (live ones and removed ones not yet folded into `retiredBytes`). */
  private readonly torrents = new Map<Torrent, string>();
  /** Uploads of removed torrents, by info-hash. */
  private readonly retiredBytes = new Map<string, number>();
  private client: Client | undefined;
  private inFlight: Promise<StatusDocument> | undefined;
  private bodyInFlight: Promise<StatusBody> | undefined;
  private lists: Lists | undefined;
  /** Bumped by each change of a file row's byte counters. */
  private plainGen = 0;

  constructor(
    private readonly opts: { readonly now?: () => number; readonly maxFiles?: number } = {},
  ) {
    this.startedAt = this.now();
  }

  /** Follows every torrent the seed's engine adds. */
  watch(client: Client): void {
    this.client = client;
    client.on('torrent', (t) => this.torrents.set(t, t.infoHash));
  }

  /** A plain file response is about to send its body. */
  plainResponse(): void {
    this.plainResponses++;
  }

  /** Body bytes of `absPath` read into a plain response; `webSeed`: a range for a client that asked for the torrent (see `webSeedBytes`). */
  countPlain(absPath: string, size: number, eligible: boolean, bytes: number, webSeed = false): void {
    if (!eligible) {
      this.plainIneligible += bytes;
      return;
    }
    if (webSeed) this.webSeed += bytes;
    else this.plainEligible += bytes;
    this.plainGen++;
    let f = this.plainByFile.get(absPath);
    if (f === undefined) {
      if (this.plainByFile.size >= (this.opts.maxFiles ?? DEFAULT_MAX_STATUS_FILES)) return;
      f = { bytes: 0, webSeedBytes: 0, size };
      this.plainByFile.set(absPath, f);
    }
    if (webSeed) f.webSeedBytes += bytes;
    else f.bytes += bytes;
    f.size = size;
  }

  /** The status document, made afresh (nothing cached); concurrent callers share one. */
  snapshot(src: StatusSources): Promise<StatusDocument> {
    this.inFlight ??= this.make(src).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /**
   * status.json to send, reusing the serialized lists while STATUS_LISTS_MAX_AGE_MS and
   * STATUS_COUNTERS_MAX_AGE_MS allow (their rule is there); the head is made at each call.
   * Concurrent callers share one.
   */
  body(src: StatusSources): Promise<StatusBody> {
    this.bodyInFlight ??= this.makeBody(src).finally(() => {
      this.bodyInFlight = undefined;
    });
    return this.bodyInFlight;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private async make(src: StatusSources): Promise<StatusDocument> {
    await src.check?.().catch(() => undefined); // the timer's check logs its failures; the page shows what is known
    const total = this.uploadTotal();
    const rows = await this.rows(src, src.files(), [...src.infoHashes()].sort(), this.liveUploads());
    return { ...this.head(src, total, rows.trackerError), files: rows.files, swarms: rows.swarms };
  }

  private async makeBody(src: StatusSources): Promise<StatusBody> {
    await src.check?.().catch(() => undefined);
    const total = this.uploadTotal();
    const files = src.files();
    const hashes = src.infoHashes();
    const now = this.now();
    const counters = `${this.plainGen}:${total}`;
    let lists = this.lists;
    const age = lists === undefined ? Infinity : now - lists.at;
    const stale =
      lists === undefined ||
      age < 0 ||
      age >= STATUS_LISTS_MAX_AGE_MS ||
      (lists.counters !== counters && age >= STATUS_COUNTERS_MAX_AGE_MS) ||
      lists.plainRows !== this.plainByFile.size ||
      !sameFiles(lists.files, files) ||
      !sameStrings(lists.hashes, hashes);
    if (lists === undefined || stale) {
      const rows = await this.rows(src, files, [...hashes].sort(), this.liveUploads());
      const json = Buffer.from(`${JSON.stringify(rows.files)},"swarms":${JSON.stringify(rows.swarms)}}`);
      // Same bytes as before (nothing changed, the common case): same sequence, so the same ETag.
      const seq = lists === undefined ? 0 : lists.json.equals(json) ? lists.seq : lists.seq + 1;
      lists = { at: now, files, hashes, plainRows: this.plainByFile.size, counters, trackerError: rows.trackerError, json, seq };
      this.lists = lists;
    }
    const head = this.head(src, total, lists.trackerError);
    const untimed = JSON.stringify([head.tracker, head.totals]);
    const etag = `W/"${this.startedAt.toString(36)}.${lists.seq}.${createHash('sha1').update(untimed).digest('base64url').slice(0, 16)}"`;
    const headJson = Buffer.from(`${JSON.stringify(head).slice(0, -1)},"files":`);
    return { etag, chunks: [headJson, lists.json], length: headJson.length + lists.json.length };
  }

  /** Everything but the lists, in the document's key order. */
  private head(src: StatusSources, peerBytes: number, trackerError: string | null): Omit<StatusDocument, 'files' | 'swarms'> {
    return {
      version: STATUS_DOC_VERSION,
      time: this.now(),
      startedAt: this.startedAt,
      tracker: { store: src.store, error: trackerError },
      totals: {
        plainBytes: this.plainEligible + this.plainIneligible,
        plainEligibleBytes: this.plainEligible,
        plainIneligibleBytes: this.plainIneligible,
        plainResponses: this.plainResponses,
        peerBytes,
        webSeedBytes: this.webSeed,
      },
    };
  }

  private async rows(
    src: StatusSources,
    offered: readonly { absPath: string; size: number; infoHash: string | undefined }[],
    hashes: readonly string[],
    live: Map<string, { uploaded: number; uploadRate: number; peers: number }>,
  ): Promise<Rows> {
    let scraped: ScrapeEntry[] | undefined;
    let trackerError: string | null = null;
    try {
      scraped = hashes.length === 0 ? [] : await src.scrape(hashes.map((h) => fromHex(h) ?? new Uint8Array(20)));
    } catch (err) {
      trackerError = err instanceof Error ? err.message : String(err);
    }
    const rel = (absPath: string): string => `/${relative(src.root, absPath).split(sep).join('/')}`;

    const files = new Map<string, StatusFile>();
    for (const [absPath, f] of this.plainByFile) files.set(absPath, { path: rel(absPath), size: f.size, state: 'plain', infoHash: null, plainBytes: f.bytes, webSeedBytes: f.webSeedBytes });
    const pathsOf = new Map<string, string[]>();
    for (const f of offered) {
      const known = files.get(f.absPath);
      const entry = { path: rel(f.absPath), size: f.size, state: f.infoHash === undefined ? ('hashing' as const) : ('ready' as const), infoHash: f.infoHash ?? null, plainBytes: known?.plainBytes ?? 0, webSeedBytes: known?.webSeedBytes ?? 0 };
      files.set(f.absPath, entry);
      if (f.infoHash !== undefined) pathsOf.set(f.infoHash, [...(pathsOf.get(f.infoHash) ?? []), entry.path]);
    }

    const swarms: StatusSwarm[] = hashes.map((infoHash, i) => {
      const s = scraped?.[i];
      const l = live.get(infoHash);
      return {
        infoHash,
        paths: (pathsOf.get(infoHash) ?? []).sort(),
        seeds: s?.complete ?? null,
        leechers: s?.incomplete ?? null,
        completed: s?.downloaded ?? null,
        peers: l?.peers ?? 0,
        peerBytes: (l?.uploaded ?? 0) + (this.retiredBytes.get(infoHash) ?? 0),
        peerBytesPerSec: Math.round(l?.uploadRate ?? 0),
      };
    });
    return { files: [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), swarms, trackerError };
  }

  /** Payload bytes uploaded, retired torrents included; removed torrents are folded into `retiredBytes` for good. One counter read per torrent: each answer makes it. */
  private uploadTotal(): number {
    let total = 0;
    for (const [t, infoHash] of this.torrents) {
      if (this.client?.get(infoHash) === t) {
        total += t.uploadedBytes;
      } else {
        this.retiredBytes.set(infoHash, (this.retiredBytes.get(infoHash) ?? 0) + t.uploadedBytes);
        this.torrents.delete(t);
      }
    }
    for (const v of this.retiredBytes.values()) total += v;
    return total;
  }

  /** Live torrents' uploads, rates and peers (a `stats()` each): for the swarm rows. */
  private liveUploads(): Map<string, { uploaded: number; uploadRate: number; peers: number }> {
    const live = new Map<string, { uploaded: number; uploadRate: number; peers: number }>();
    for (const [t, infoHash] of this.torrents) {
      if (this.client?.get(infoHash) !== t) continue;
      const s = t.stats();
      live.set(infoHash, { uploaded: s.uploaded, uploadRate: s.uploadRate, peers: s.peersByKind.wire + s.peersByKind.http });
    }
    return live;
  }
}

function sameFiles(a: Lists['files'], b: Lists['files']): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.absPath !== y.absPath || x.size !== y.size || x.infoHash !== y.infoHash) return false;
  }
  return true;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

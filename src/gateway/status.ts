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
 * How long a row's byte counter (a file's `plainBytes`, a swarm's `peerBytes`) may lag the
 * totals while bytes move, and a swarm's `peerBytesPerSec` its meter (which decays for 5 s
 * after the bytes stop, with no event to tell): the page's poll period, so that one open page
 * sees its rows as before, while more pages or a script asking in a loop share one rebuild per
 * second.
 *
 * status.json at 10,000 files is 3 MB, most of it the `files` and `swarms` lists: serve keeps
 * them serialized and makes only the head (`time`, `tracker`, `totals`, current at each answer)
 * per answer. Everything else a list shows is remade on the event that changes it, never on
 * age: both lists when a file or swarm comes or goes or a file's state changes; `swarms` when
 * the tracker's counts may have changed (`StatusSources.trackerVersion`, bumped by the store
 * at each announce or expiry that changes a count; a store without one is scraped at each
 * answer and its counts compared) or a link of the seed opened or closed (the engine's `peer`
 * and `peerClosed`). So a leecher that announced is in the very next answer however briefly it
 * stays one (a 5 s age here could miss a get that was a leecher for less than that, and the
 * tests waiting for it timed out: reverted in d0af783). Answers in between share one weak ETag while the
 * head is the same too, so a poller sending `If-None-Match` gets `304`.
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
  readonly files: () => readonly OfferedFile[];
  /** Info-hashes served now. */
  readonly infoHashes: () => readonly string[];
  readonly scrape: (infoHashes: readonly Uint8Array[]) => Promise<ScrapeEntry[]>;
  /**
   * Changes whenever a count `scrape` answers may have changed (`SwarmStore.version`): while it
   * is the same, the last scrape still holds and is not asked again. Absent (a store shared with
   * other servers, whose announces serve cannot see): every answer scrapes.
   */
  readonly trackerVersion?: () => number;
  readonly store: 'memory' | 'redis';
}

/** A file offered as a torrent (`StatusSources.files`): `infoHash` undefined while it is hashed. */
export interface OfferedFile {
  readonly absPath: string;
  readonly size: number;
  readonly infoHash: string | undefined;
}

/** A live torrent's uploads, for its swarm row. */
interface LiveUpload {
  readonly uploaded: number;
  readonly uploadRate: number;
  readonly peers: number;
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

/** One serialized list of the last status body (`files` or `swarms`) and when it was made. */
interface Part {
  readonly at: number;
  /** Its rows' byte counters when made: `plainGen` for files, the uploads' total for swarms. */
  readonly counter: number;
  readonly json: Buffer;
  /** Bumped when a remade list differs: the ETag names it. */
  readonly seq: number;
}

/** The serialized `swarms` and what it was made from, to tell when it no longer holds. */
interface SwarmsPart extends Part {
  readonly scraped: Scraped;
  /** `StatusSources.trackerVersion` read just before the scrape (undefined: the store has none). */
  readonly tracker: number | undefined;
  /** `ServeStatus.links` read just before the seed's peers were counted. */
  readonly links: number;
  /** A row shows a send rate: its meter decays with no event, so the list is remade after STATUS_COUNTERS_MAX_AGE_MS. */
  readonly moving: boolean;
}

/** The tracker's counts for the sorted info-hashes, or why there are none. */
interface Scraped {
  readonly entries: readonly ScrapeEntry[] | undefined;
  readonly error: string | null;
}

/** What both lists were made from: when it changes, both are remade at once. */
interface Listed {
  readonly files: readonly OfferedFile[];
  readonly hashes: readonly string[];
  /** `hashes` sorted (the rows' order) and as bytes, for the scrape. */
  readonly sorted: readonly string[];
  readonly keys: readonly Uint8Array[];
  readonly plainRows: number;
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
  private listed: Listed | undefined;
  private filesPart: Part | undefined;
  private swarmsPart: SwarmsPart | undefined;
  /** Bumped by each change of a file row's byte counters. */
  private plainGen = 0;
  /** Bumped when a link of the seed opens or closes (a swarm's `peers`). */
  private links = 0;

  constructor(
    private readonly opts: { readonly now?: () => number; readonly maxFiles?: number } = {},
  ) {
    this.startedAt = this.now();
  }

  /** Follows every torrent the seed's engine adds. */
  watch(client: Client): void {
    this.client = client;
    const linked = (): void => {
      this.links++;
    };
    client.on('torrent', (t) => {
      this.torrents.set(t, t.infoHash);
      t.on('peer', linked);
      t.on('peerClosed', linked);
    });
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
   * status.json to send, reusing the serialized lists while nothing they show changed (the rule
   * is at STATUS_COUNTERS_MAX_AGE_MS); the head is made at each call. Concurrent callers share one.
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
    const offered = src.files();
    const sorted = [...src.infoHashes()].sort();
    const scraped = await scrapeOf(src, sorted.map((h) => fromHex(h) ?? new Uint8Array(20)));
    const rows = this.swarmRows(src, offered, sorted, scraped, this.liveUploads());
    return { ...this.head(src, total, scraped.error), files: this.fileRows(src, offered), swarms: rows };
  }

  private async makeBody(src: StatusSources): Promise<StatusBody> {
    await src.check?.().catch(() => undefined);
    const total = this.uploadTotal();
    const offered = src.files();
    const hashes = src.infoHashes();
    const now = this.now();
    let listed = this.listed;
    const changed = listed === undefined || listed.plainRows !== this.plainByFile.size || !sameFiles(listed.files, offered) || !sameStrings(listed.hashes, hashes);
    if (changed || listed === undefined) {
      const sorted = [...hashes].sort();
      listed = { files: offered, hashes, sorted, keys: sorted.map((h) => fromHex(h) ?? new Uint8Array(20)), plainRows: this.plainByFile.size };
      this.listed = listed;
    }
    const ageOf = (p: Part | undefined): number => (p === undefined ? Infinity : now - p.at);
    // Remade, or kept when the same (nothing changed, the common case): then so is its sequence, so the ETag.
    const next = (old: Part | undefined, counter: number, json: Buffer): Part => ({ at: now, counter, json, seq: old === undefined ? 0 : old.json.equals(json) ? old.seq : old.seq + 1 });

    // Files: every field is serve's own, so only a change (or moved bytes, after 1 s) remakes them.
    let files = this.filesPart;
    const filesAge = ageOf(files);
    if (files === undefined || changed || filesAge < 0 || (files.counter !== this.plainGen && filesAge >= STATUS_COUNTERS_MAX_AGE_MS)) {
      files = next(files, this.plainGen, Buffer.from(JSON.stringify(this.fileRows(src, offered))));
      this.filesPart = files;
    }
    // Swarms: remade when the listing changed, a link of the seed opened or closed, the
    // tracker's counts may have (its version), or, after 1 s, bytes were sent or a rate shows.
    // Both versions are read before what they stand for (the scrape, the seed's peers): a change
    // in between makes the next answer remake the list again, never keeps a stale one.
    const tracker = src.trackerVersion?.();
    const links = this.links;
    let swarms = this.swarmsPart;
    const swarmsAge = ageOf(swarms);
    let stale = swarms === undefined || changed || swarmsAge < 0 || swarms.links !== links || ((swarms.counter !== total || swarms.moving) && swarmsAge >= STATUS_COUNTERS_MAX_AGE_MS);
    let scraped: Scraped | undefined;
    if (!stale && swarms !== undefined) {
      if (tracker !== undefined && swarms.tracker !== undefined) stale = tracker !== swarms.tracker;
      else {
        // No version (Redis: other servers' announces change the counts): ask, and compare.
        scraped = await scrapeOf(src, listed.keys);
        stale = !sameCounts(scraped, swarms.scraped);
      }
    }
    if (stale || swarms === undefined) {
      scraped ??= await scrapeOf(src, listed.keys);
      const rows = this.swarmRows(src, offered, listed.sorted, scraped, this.liveUploads());
      swarms = { ...next(swarms, total, Buffer.from(JSON.stringify(rows))), scraped, tracker, links, moving: rows.some((r) => r.peerBytesPerSec > 0) };
      this.swarmsPart = swarms;
    }

    const head = this.head(src, total, swarms.scraped.error);
    const untimed = JSON.stringify([head.tracker, head.totals]);
    const etag = `W/"${this.startedAt.toString(36)}.${files.seq}.${swarms.seq}.${createHash('sha1').update(untimed).digest('base64url').slice(0, 16)}"`;
    const chunks = [Buffer.from(`${JSON.stringify(head).slice(0, -1)},"files":`), files.json, SWARMS_KEY, swarms.json, END];
    return { etag, chunks, length: chunks.reduce((n, c) => n + c.length, 0) };
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

  /** The `files` rows: eligible files served plainly and files with a torrent, by path. */
  private fileRows(src: StatusSources, offered: readonly OfferedFile[]): StatusFile[] {
    const rel = relOf(src.root);
    const files = new Map<string, StatusFile>();
    for (const [absPath, f] of this.plainByFile) files.set(absPath, { path: rel(absPath), size: f.size, state: 'plain', infoHash: null, plainBytes: f.bytes, webSeedBytes: f.webSeedBytes });
    for (const f of offered) {
      const known = files.get(f.absPath);
      files.set(f.absPath, { path: rel(f.absPath), size: f.size, state: f.infoHash === undefined ? 'hashing' : 'ready', infoHash: f.infoHash ?? null, plainBytes: known?.plainBytes ?? 0, webSeedBytes: known?.webSeedBytes ?? 0 });
    }
    return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** The `swarms` rows (`hashes` sorted), with the tracker's counts for them. */
  private swarmRows(
    src: StatusSources,
    offered: readonly OfferedFile[],
    hashes: readonly string[],
    scraped: Scraped,
    live: Map<string, LiveUpload>,
  ): StatusSwarm[] {
    const rel = relOf(src.root);
    const pathsOf = new Map<string, string[]>();
    for (const f of offered) if (f.infoHash !== undefined) pathsOf.set(f.infoHash, [...(pathsOf.get(f.infoHash) ?? []), rel(f.absPath)]);
    return hashes.map((infoHash, i) => {
      const s = scraped.entries?.[i];
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
  private liveUploads(): Map<string, LiveUpload> {
    const live = new Map<string, LiveUpload>();
    for (const [t, infoHash] of this.torrents) {
      if (this.client?.get(infoHash) !== t) continue;
      const s = t.stats();
      live.set(infoHash, { uploaded: s.uploaded, uploadRate: s.uploadRate, peers: s.peersByKind.wire + s.peersByKind.http });
    }
    return live;
  }
}

/** The tracker's counts for `keys` (sorted info-hashes), or its error. */
async function scrapeOf(src: StatusSources, keys: readonly Uint8Array[]): Promise<Scraped> {
  try {
    return { entries: keys.length === 0 ? [] : await src.scrape(keys), error: null };
  } catch (err) {
    return { entries: undefined, error: err instanceof Error ? err.message : String(err) };
  }
}

function sameCounts(a: Scraped, b: Scraped): boolean {
  if (a.error !== b.error || (a.entries === undefined) !== (b.entries === undefined)) return false;
  const x = a.entries ?? [];
  const y = b.entries ?? [];
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    const p = x[i]!;
    const q = y[i]!;
    if (p.complete !== q.complete || p.incomplete !== q.incomplete || p.downloaded !== q.downloaded) return false;
  }
  return true;
}

const SWARMS_KEY = Buffer.from(',"swarms":');
const END = Buffer.from('}');

function relOf(root: string): (absPath: string) => string {
  return (absPath) => `/${relative(root, absPath).split(sep).join('/')}`;
}

function sameFiles(a: Listed['files'], b: Listed['files']): boolean {
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

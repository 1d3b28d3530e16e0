import type { SourceStatus, Torrent, TorrentStats } from '../engine/index.js';
import { escapeControls, type TorrenttpError } from '../errors/index.js';
import { printJson, type CliContext } from './context.js';
import { clipUrls, formatBytes, formatDuration, plural } from './format.js';

/**
 * What `download` and `seed` print: a bar on a terminal, a line every few seconds otherwise, one
 * JSON object per line with --json. Whatever goes wrong with a source (a tracker, a web seed, a
 * `--peer`) is one `[WARN]`/`[ERROR]` line on stderr when it changes, as aria2 prints them, and a
 * summary line when none of them can be reached: a silent "0 peers" helps nobody.
 */
export type Level = 'NOTICE' | 'WARN' | 'ERROR';

export interface ReporterOptions {
  readonly json: boolean;
  /** Least time between two JSON `progress` lines. */
  readonly jsonIntervalMs: number;
  /** Sources the user expects to work (trackers, web seeds, `--peer`s), as `kind id`. */
  readonly sources: ReadonlySet<string>;
}

/** A plain progress line (on stdout) this often when stderr, where the bar is drawn, is not a terminal. */
const PLAIN_INTERVAL_MS = 5000;

const KIND_WORD: Record<SourceStatus['kind'], string> = { tracker: 'tracker', webseed: 'web seed', peer: 'peer' };

/**
 * The bars' formats. Payload keys must not be cli-progress's own tokens (`total`, `value`,
 * `eta`, `duration`, `percentage`…): those are filled in after the payload and would overwrite
 * it (`10.8 MiB/67108864`, `ETA INF`).
 */
const PROGRESS_FORMAT = '{bar} {percentage}% | {done}/{size} | ↓ {speed} ↑ {up} | {peers} | ETA {remaining}';
const CHECKING_FORMAT = 'checking {bar} {percentage}% | {done}/{size}';

interface Bar {
  start(total: number, v: number, payload: object): void;
  update(v: number, payload: object): void;
  stop(): void;
}

export class Reporter {
  private bar: Bar | undefined;
  private barFormat: string | undefined;
  private wanted: { format: string; total: number; value: number; payload: object } | undefined;
  private barLoading = false;
  private lastLine = 0;
  private lastJson = -Infinity;
  private lastCheckLine = -Infinity;
  private lastCheckJson = -Infinity;
  private finished = false;
  private lastMetadataLine = '';
  private lastMetadataAt = -Infinity;
  /** Latest state of each expected source: true when it works. */
  private readonly states = new Map<string, boolean>();
  private unreachableSaid = false;
  private last: TorrentStats | undefined;

  /** cli-progress, loaded as soon as a bar may be needed, so that even a short check gets its bar. */
  private readonly barModule: Promise<typeof import('cli-progress')> | undefined;

  constructor(
    private readonly ctx: CliContext,
    private readonly o: ReporterOptions,
  ) {
    this.barModule = !o.json && this.barShown ? import('cli-progress') : undefined;
  }

  /**
   * The data on disk is being checked (hashed): a bar on a terminal, a line every few seconds
   * otherwise, JSON `checking` lines at most once per --json-interval (and the last one).
   */
  checking(done: number, total: number): void {
    if (this.finished) return;
    const now = Date.now();
    const last = done >= total;
    if (this.o.json) {
      if (!last && now - this.lastCheckJson < this.o.jsonIntervalMs) return;
      this.lastCheckJson = now;
      printJson(this.ctx, { event: 'checking', checkedBytes: done, totalBytes: total });
      return;
    }
    const payload = { done: formatBytes(done), size: formatBytes(total) };
    if (this.barShown) {
      this.showBar(CHECKING_FORMAT, total, done, payload);
      return;
    }
    // The first line at once (a blank screen while a big torrent is hashed looks like a hang), then every few seconds.
    if (now - this.lastCheckLine < PLAIN_INTERVAL_MS || last) return;
    this.lastCheckLine = now;
    this.ctx.stdout.write(`checking ${((done / Math.max(total, 1)) * 100).toFixed(1)}% ${payload.done}/${payload.size}\n`);
  }

  /** A magnet link's metadata fetch: "fetching metadata from N peers", then bytes once a peer offered it. */
  metadata(peers: number, receivedBytes: number, metadataSize: number | undefined): void {
    if (this.finished) return;
    if (this.o.json) {
      printJson(this.ctx, { event: 'metadata', peers, receivedBytes, ...(metadataSize === undefined ? {} : { metadataSize }) });
      return;
    }
    // A new peer count at once; bytes every few seconds (a small dict arrives within one anyway).
    const now = Date.now();
    const head = `fetching metadata from ${plural(peers, 'peer')}`;
    const line = `${head}${metadataSize === undefined ? '' : `: ${formatBytes(receivedBytes)}/${formatBytes(metadataSize)}`}`;
    if (line === this.lastMetadataLine) return;
    if (this.lastMetadataLine.startsWith(`${head}:`) && now - this.lastMetadataAt < PLAIN_INTERVAL_MS) return;
    this.lastMetadataLine = line;
    this.lastMetadataAt = now;
    this.ctx.stdout.write(`${line}\n`);
  }

  /** `ttpUrl`: the torrent's TorrentTTP URL, when the client serves it over HTTP (`--http-port`). */
  start(t: Torrent, port: number, mode: string, ttpUrl?: string): void {
    this.stopBar(); // the checking bar, if any
    const s = t.stats();
    this.last = s;
    if (this.o.json) {
      printJson(this.ctx, { event: 'started', mode, infoHash: s.infoHash, name: s.name, length: s.length, port, ...(ttpUrl === undefined ? {} : { ttpUrl }), verifiedBytes: s.verifiedBytes });
      return;
    }
    this.ctx.stderr.write(`${mode === 'seed' ? 'seeding' : 'downloading'} ${escapeControls(s.name)} (${formatBytes(s.length)}, ${s.infoHash}) on port ${port}\n`);
    if (ttpUrl !== undefined) this.ctx.stderr.write(`  TorrentTTP peer at ${ttpUrl}\n`);
  }

  /** One diagnostic line: `[WARN] …` on stderr, or a JSON `warning`/`error`/`notice` event. */
  say(level: Level, message: string, err?: TorrenttpError): void {
    if (this.finished) return;
    if (this.o.json) {
      printJson(this.ctx, { event: level === 'WARN' ? 'warning' : level.toLowerCase(), message, ...(err === undefined ? {} : { code: err.code }) });
      return;
    }
    this.stopBar(); // a line written under a live bar would be drawn over; the next progress update brings the bar back
    this.ctx.stderr.write(`[${level}] ${clipUrls(message)}${err === undefined ? '' : ` [${err.code}]`}\n`); // a torrent's 20 KB URL is not repeated whole
  }

  source(s: SourceStatus): void {
    if (this.finished) return;
    const key = `${s.kind} ${s.id}`;
    const before = this.states.get(key);
    if (this.o.sources.has(key)) this.states.set(key, s.ok);
    if (this.o.json) {
      printJson(this.ctx, {
        event: 'source',
        kind: s.kind,
        id: s.id,
        ok: s.ok,
        ...(s.error === undefined ? {} : { code: s.error.code, message: s.error.message }),
        ...(s.final === true ? { final: true } : {}),
      });
    } else if (s.error !== undefined) {
      this.say(s.final === true ? 'ERROR' : 'WARN', `${KIND_WORD[s.kind]} ${s.id}: ${s.error.message}`, s.error);
    } else if (before === false) {
      this.say('NOTICE', `${KIND_WORD[s.kind]} ${s.id} works again`);
    }
    this.checkReachable();
  }

  /**
   * A failed connection to or from a peer that is not a source: routine, JSON only; except a
   * failure of the encryption policy (`--encryption`), said once per address in normal output
   * too, since the user chose that policy and should see what it costs.
   */
  peerError(peer: string, err: TorrenttpError): void {
    if (this.o.json) {
      if (!this.finished) printJson(this.ctx, { event: 'peerError', peer, code: err.code, message: err.message });
      return;
    }
    if (err.code !== 'TRANSPORT_ENCRYPTION_REQUIRED' && err.code !== 'TRANSPORT_ENCRYPTION_FAILED') return;
    const host = peer.replace(/:\d+$/, '');
    if (this.encryptionNoted.has(host) || this.encryptionNoted.size >= 256) return;
    this.encryptionNoted.add(host);
    this.say('NOTICE', `peer ${peer}: ${err.message}`, err);
  }
  /** Addresses whose encryption failure was said already (at most 256: the rest stay in --json). */
  private readonly encryptionNoted = new Set<string>();

  /** `force`: a JSON line whatever --json-interval says (the first verified piece: time to first byte). */
  progress(s: TorrentStats, force = false): void {
    if (this.finished) return;
    this.last = s;
    this.checkReachable();
    const now = Date.now();
    if (this.o.json) {
      if (!force && now - this.lastJson < this.o.jsonIntervalMs) return;
      this.lastJson = now;
      printJson(this.ctx, { event: 'progress', ...s });
      return;
    }
    const payload = {
      done: formatBytes(s.verifiedBytes),
      size: formatBytes(s.length),
      speed: `${formatBytes(s.downloadRate)}/s`,
      up: `${formatBytes(s.uploadRate)}/s`,
      peers: peersText(s),
      remaining: s.done ? '0s' : s.etaSec === undefined ? '-' : formatDuration(s.etaSec),
    };
    if (this.barShown) {
      this.showBar(PROGRESS_FORMAT, s.length, s.verifiedBytes, payload);
      return;
    }
    if (now - this.lastLine < PLAIN_INTERVAL_MS) return;
    this.lastLine = now;
    this.ctx.stdout.write(`${(s.progress * 100).toFixed(1)}% ${payload.done}/${payload.size} ↓ ${payload.speed} ↑ ${payload.up} ${payload.peers} ETA ${payload.remaining}\n`);
  }

  /** Interrupted before the torrent started (while its data was checked). */
  stoppedEarly(signal: string): void {
    if (this.o.json) printJson(this.ctx, { event: 'summary', status: `stopped (${signal})` });
    else this.ctx.stderr.write(`stopped (${signal}) before the transfer started\n`);
  }

  seeding(t: Torrent, until: string): void {
    this.stopBar();
    if (this.o.json) printJson(this.ctx, { event: 'seeding', infoHash: t.infoHash });
    else this.ctx.stderr.write(`seeding ${until}\n`);
  }

  summary(s: TorrentStats, seconds: number, how: string): void {
    this.stopBar();
    if (this.o.json) {
      printJson(this.ctx, { event: 'summary', status: how, seconds, ...s });
      return;
    }
    // ↓ is the payload the files got, as aria2's and Transmission's "downloaded"; what came twice
    // (endgame) or failed its hash is said apart, so an 8.00 MiB file does not read as 8.02 MiB.
    const payload = s.downloaded - s.wasted;
    const wasted = s.wasted > 0 ? `, +${formatBytes(s.wasted)} wasted` : '';
    this.ctx.stdout.write(
      `${how}: ${s.name} ${(s.progress * 100).toFixed(1)}% in ${seconds.toFixed(1)} s, ↓ ${formatBytes(payload)} (${formatBytes(payload / Math.max(seconds, 1e-3))}/s${wasted}) ↑ ${formatBytes(s.uploaded)}\n`,
    );
  }

  /** No more output: what the shutdown (`stopped` to the trackers) stirs up is nobody's news. */
  finish(): void {
    this.stopBar();
    this.finished = true;
  }

  private stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.wanted = undefined;
  }

  /**
   * A bar where it is drawn, on stderr, when that is a terminal: `download > log` still shows it,
   * `download 2>log` gets the plain lines on stdout instead of a bar's escape codes in the log.
   */
  private get barShown(): boolean {
    return this.ctx.stderr.isTTY === true;
  }

  /** Draws (or updates) the bar in `format` on stderr; cli-progress is loaded on first use only. */
  private showBar(format: string, total: number, value: number, payload: object): void {
    if (this.bar !== undefined && this.barFormat === format) {
      this.bar.update(value, payload);
      return;
    }
    this.stopBar();
    // While the module loads, the latest call wins; a stopBar() meanwhile (a line printed, the
    // check over) cancels the bar.
    this.wanted = { format, total, value, payload };
    if (this.barLoading || this.barModule === undefined) return;
    this.barLoading = true;
    void this.barModule.then(({ SingleBar }) => {
      this.barLoading = false;
      const w = this.wanted;
      if (w === undefined || this.bar !== undefined || this.finished) return;
      this.bar = new SingleBar({ format: w.format, stream: this.ctx.stderr, hideCursor: true, clearOnComplete: true });
      this.barFormat = w.format;
      this.bar.start(w.total, w.value, w.payload);
    });
  }

  /** Says once, each time it becomes true, that no expected source works and no peer is connected. */
  private checkReachable(): void {
    const s = this.last;
    if (s === undefined || s.done) return;
    const connected = s.peersByKind.wire + s.peersByKind.http;
    const expected = this.o.sources.size;
    const failed = [...this.states.values()].filter((ok) => !ok).length;
    const unreachable = expected > 0 && failed === expected && connected === 0;
    if (unreachable && !this.unreachableSaid) {
      this.unreachableSaid = true;
      const counts = (['tracker', 'webseed', 'peer'] as const)
        .map((k) => [KIND_WORD[k], [...this.o.sources].filter((key) => key.startsWith(`${k} `)).length] as const)
        .filter(([, n]) => n > 0)
        .map(([word, n]) => plural(n, word));
      this.say('ERROR', `no source can be reached (${counts.join(', ')}: all failing, see above); still trying until interrupted or --stop-timeout`);
    } else if (!unreachable) this.unreachableSaid = false;
  }
}

/** `1 peer`, or `0 peers, 1 web seed`: a web seed is always "connected", so it is counted apart. */
export function peersText(s: TorrentStats): string {
  const peers = plural(s.peersByKind.wire + s.peersByKind.http, 'peer');
  return s.peersByKind.webseed === 0 ? peers : `${peers}, ${plural(s.peersByKind.webseed, 'web seed')}`;
}

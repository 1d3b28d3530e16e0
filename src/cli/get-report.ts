import { existsSync } from 'node:fs';
import type { GetEvent, GetResult } from '../gateway/client.js';
import type { CliContext } from './context.js';
import { clipUrls, formatBytes, formatDuration, plural } from './format.js';

/**
 * Progress for `get`: a bar on a terminal (stderr), a line every 5 s otherwise, JSON lines with
 * --json. Never on stdout when stdout carries the data.
 * TODO(issue 15): fold into transfer.ts's Reporter once its rework lands; the bar's look is the same.
 */
export class GetReporter {
  private bar: { update(v: number, payload: object): void; stop(): void; start(total: number, v: number, payload: object): void; setTotal(n: number): void } | undefined;
  private barLoading = false;
  private stopped = false;
  private lastLine = 0;
  private readonly jsonOut: CliContext['stdout'];

  constructor(
    private readonly ctx: CliContext,
    private readonly json: boolean,
    private readonly silent: boolean,
    private readonly toStdout: boolean,
  ) {
    this.jsonOut = toStdout ? ctx.stderr : ctx.stdout;
  }

  /** A warning of the get's own (not the swarm's routine ones): `warning` in JSON, else a line on stderr unless silent. */
  warn(message: string): void {
    if (this.json) this.jsonOut.write(`${JSON.stringify({ event: 'warning', message })}\n`);
    else if (!this.silent) this.ctx.stderr.write(`torrenttp: warning: ${clipUrls(message)}\n`);
  }

  event(e: GetEvent): void {
    if (e.type === 'response' || e.type === 'route') return; // -I's, -D's and -v's
    if (this.json) {
      if (e.type !== 'progress' || Date.now() - this.lastLine >= 1000) {
        if (e.type === 'progress') this.lastLine = Date.now();
        this.jsonOut.write(`${JSON.stringify({ event: e.type, ...e, type: undefined })}\n`);
      }
      return;
    }
    if (this.silent) return;
    switch (e.type) {
      case 'start': {
        const size = e.totalBytes === undefined ? 'size unknown' : formatBytes(e.totalBytes);
        const from = e.mode === 'swarm' ? `from the swarm (${e.reason}; ${e.infoHash}, BitTorrent port ${e.port})` : `over plain HTTP (${e.reason})`;
        // `-C -` of a file already whole (its bytes verified, or the server's 416 or same length): nothing is resumed.
        const whole = e.totalBytes !== undefined && e.resumedBytes >= e.totalBytes;
        const resumed = e.resumedBytes <= 0 ? '' : !whole ? `, resuming at ${formatBytes(e.resumedBytes)}` : e.reason === 'already complete' ? '' : ', already complete';
        this.ctx.stderr.write(`${clipUrls(`${e.path ?? e.name}: ${size} ${from}${resumed}`)}\n`); // the name may be the server's
        return;
      }
      case 'progress':
        this.progress(e);
        return;
      case 'seeding':
        this.bar?.stop();
        this.bar = undefined;
        this.ctx.stderr.write('seeding until interrupted (Ctrl-C)\n');
        return;
      case 'lingering':
        this.bar?.stop();
        this.bar = undefined;
        this.ctx.stderr.write(`done; passing pieces on to the peers still fetching them (up to ${e.maxSeconds} s)\n`);
        return;
      case 'warning':
        // Peer and tracker trouble is routine in a swarm (--json shows it); a peer banned for
        // sending bytes that failed their hash (a lying web seed, by its URL) is said.
        if (e.notable !== true) return;
        this.bar?.stop();
        this.bar = undefined;
        this.warn(e.message);
        return;
      case 'retry':
        this.bar?.stop();
        this.bar = undefined;
        this.ctx.stderr.write(`torrenttp: ${clipUrls(e.message)}. ${retryWords(e.delayMs, e.left)}\n`);
        return;
    }
  }

  private progress(e: Extract<GetEvent, { type: 'progress' }>): void {
    const payload = {
      speed: `${formatBytes(e.rateBytesPerSec)}/s`,
      up: `${formatBytes(e.uploadRateBytesPerSec)}/s`,
      peers: e.peers === undefined ? 'http' : plural(e.peers, 'peer'),
      left: e.totalBytes === undefined || e.rateBytesPerSec <= 0 ? '-' : formatDuration((e.totalBytes - e.doneBytes) / e.rateBytesPerSec),
      done: e.totalBytes === undefined ? formatBytes(e.doneBytes) : `${formatBytes(e.doneBytes)}/${formatBytes(e.totalBytes)}`,
    };
    if (this.ctx.stderr.isTTY === true) {
      if (this.bar !== undefined) {
        this.bar.update(e.doneBytes, payload);
        return;
      }
      if (this.barLoading) return;
      this.barLoading = true;
      void import('cli-progress').then(({ SingleBar }) => {
        if (this.stopped) return;
        this.bar = new SingleBar({
          format: '{bar} {percentage}% {done} | ↓ {speed} ↑ {up} | {peers} | ETA {left}',
          stream: this.ctx.stderr,
          hideCursor: true,
          // cli-progress redraws on a timer of its own, 10 a second by default; the engine's
          // progress comes 4 a second, so 6 of those 10 formatted the same line again (an idle
          // get's CPU doubled with the bar: docs/serve.md, "A get's CPU while it waits").
          fps: 4,
        });
        this.bar.start(e.totalBytes ?? 0, e.doneBytes, payload);
      });
      return;
    }
    const now = Date.now();
    if (now - this.lastLine < 5000) return;
    this.lastLine = now;
    const pct = e.totalBytes === undefined || e.totalBytes === 0 ? '' : `${((e.doneBytes / e.totalBytes) * 100).toFixed(1)}% `;
    this.ctx.stderr.write(`${pct}${payload.done} ↓ ${payload.speed} ↑ ${payload.up} ${payload.peers} ETA ${payload.left}\n`);
  }

  summary(r: GetResult): void {
    this.stop();
    if (this.json) {
      this.jsonOut.write(`${JSON.stringify({ event: 'summary', ...r })}\n`);
      return;
    }
    if (this.silent) return;
    if (r.status !== 'complete' && (r.path === undefined ? !this.toStdout : !existsSync(r.path))) {
      // Interrupted before anything was written (the server had not answered): no file to name.
      this.ctx.stderr.write(`interrupted after ${r.seconds.toFixed(1)} s: nothing written\n`);
      return;
    }
    const rate = formatBytes(r.downloadedBytes / Math.max(r.seconds, 1e-3));
    const s = r.sources;
    const from = r.mode === 'swarm' ? ` (peers ${formatBytes(s.wire)}, web seed ${formatBytes(s.webseed)}${s.http > 0 ? `, TorrentTTP peers ${formatBytes(s.http)}` : ''}), ↑ ${formatBytes(r.uploadedBytes)}` : '';
    const verified = r.mode === 'swarm' ? ', every piece verified' : r.digestVerified === true ? ', SHA-256 verified' : '';
    const wasted = r.wastedBytes !== undefined && r.wastedBytes > 0 ? `, +${formatBytes(r.wastedBytes)} wasted` : '';
    // A partial file stays, but the next get without -C - starts it over: say how to continue.
    const resume = r.status !== 'complete' && r.path !== undefined && r.downloadedBytes > 0 ? '; -C - continues it' : '';
    this.ctx.stderr.write(`${r.status === 'complete' ? 'saved' : 'interrupted'}: ${clipUrls(r.path ?? 'stdout')} ${formatBytes(r.downloadedBytes)} in ${r.seconds.toFixed(1)} s (${rate}/s)${from}${verified}${wasted}${resume}\n`);
  }

  stop(): void {
    this.stopped = true;
    this.bar?.stop();
    this.bar = undefined;
  }
}

/** curl's words for a retry: `Will retry in 1 second. 2 retries left.`, the count including the retry it announces. */
export function retryWords(delayMs: number, left: number): string {
  const secs = delayMs / 1000;
  const n = secs.toFixed(delayMs % 1000 === 0 ? 0 : 1);
  return `Will retry in ${n} second${n === '1' ? '' : 's'}. ${left} ${left === 1 ? 'retry' : 'retries'} left.`;
}

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clip } from '../errors/index.js';
import { evaluateConditionals } from './conditional.js';
import { GatewayError } from './errors.js';
import type { StatusBody } from './status.js';

/**
 * The reserved status path of `torrenttp serve`: `/.torrenttp/` (an HTML page) and
 * `/.torrenttp/status.json` (the document of `status.ts`). A dot folder can never be a served
 * file (dotfiles are `404`), so the path cannot shadow anything in the folder.
 *
 * The page has no external assets: one inline style, one inline script that polls the JSON every
 * second and draws both send rates as SVG polylines. Its Content-Security-Policy admits exactly
 * those two by hash, and `connect-src 'self'` for the polling.
 */
export const STATUS_PATH = '/.torrenttp/';
export const STATUS_JSON_PATH = '/.torrenttp/status.json';

export function isStatusPath(pathOnly: string): boolean {
  return pathOnly === '/.torrenttp' || pathOnly.startsWith(STATUS_PATH);
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 60em; padding: 0 1em; color: #222; background: #fff; }
h1 { font-size: 1.4em; margin: 0 0 .2em; }
h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
#state { color: #666; }
.totals { display: flex; gap: 2em; flex-wrap: wrap; }
.totals div { border-left: 4px solid #999; padding-left: .6em; }
.totals .plain { border-color: #d9822b; }
.totals .peer { border-color: #2b7bd9; }
.totals b { display: block; font-size: 1.3em; }
svg { width: 100%; height: auto; border: 1px solid #ddd; background: #fafafa; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid #eee; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.h { font-family: ui-monospace, monospace; font-size: .9em; }
.empty { color: #888; }
.legend .plain { color: #d9822b; }
.legend .peer { color: #2b7bd9; }
`;

const SCRIPT = `
(() => {
  'use strict';
  const WINDOW = 120;
  const W = 600, H = 200;
  const samples = [];
  const $ = (id) => document.getElementById(id);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const bytes = (n) => {
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(1)) + ' ' + units[i];
  };
  const count = (n) => (n === null ? '?' : String(n));
  const drawn = new Map();
  function rows(id, list, cells, empty) {
    // Redrawn only when a row changed: with thousands of files, rebuilding both tables (and the
    // layout that follows) at each poll took seconds of the browser's time, and most polls
    // change no row.
    const key = JSON.stringify(list);
    if (drawn.get(id) === key) return;
    drawn.set(id, key);
    const body = $(id);
    body.replaceChildren();
    if (list.length === 0) {
      const tr = body.insertRow();
      const td = tr.insertCell();
      td.colSpan = 9;
      td.className = 'empty';
      td.textContent = empty;
      return;
    }
    for (const item of list) {
      const tr = body.insertRow();
      for (const [text, cls] of cells(item)) {
        const td = tr.insertCell();
        td.textContent = text;
        if (cls) td.className = cls;
      }
    }
  }
  function draw() {
    const rates = [];
    for (let i = 1; i < samples.length; i++) {
      const dt = Math.max(0.001, (samples[i].t - samples[i - 1].t) / 1000);
      rates.push({ plain: Math.max(0, samples[i].plain - samples[i - 1].plain) / dt, peer: Math.max(0, samples[i].peer - samples[i - 1].peer) / dt });
    }
    let max = 1;
    for (const r of rates) max = Math.max(max, r.plain, r.peer);
    const x = (i) => ((WINDOW - 1 - (rates.length - 1 - i)) / (WINDOW - 1)) * W;
    const y = (v) => H - (v / max) * (H - 10);
    const line = (key) => rates.map((r, i) => x(i).toFixed(1) + ',' + y(r[key]).toFixed(1)).join(' ');
    $('plain-line').setAttribute('points', line('plain'));
    $('peer-line').setAttribute('points', line('peer'));
    $('chart-max').textContent = bytes(max) + '/s';
    $('chart').setAttribute('data-samples', String(rates.length));
  }
  function render(d) {
    const swarmBytes = d.totals.peerBytes + d.totals.webSeedBytes;
    samples.push({ t: d.time, plain: d.totals.plainBytes, peer: swarmBytes });
    if (samples.length > WINDOW + 1) samples.shift();
    $('plain-total').textContent = bytes(d.totals.plainBytes);
    $('peer-total').textContent = bytes(swarmBytes);
    $('peer-split').textContent = bytes(d.totals.peerBytes) + ' by the seed, ' + bytes(d.totals.webSeedBytes) + ' as web seed';
    $('plain-split').textContent = bytes(d.totals.plainEligibleBytes) + ' of files offered as torrents, ' + d.totals.plainResponses + ' responses';
    $('store').textContent = d.tracker.store + (d.tracker.error ? ' (error: ' + d.tracker.error + ')' : '');
    rows('files', d.files, (f) => [[f.path], [f.size === null ? '?' : bytes(f.size), 'n'], [f.state], [f.infoHash || '', 'h'], [bytes(f.plainBytes), 'n']], 'no file offered yet');
    rows('swarms', d.swarms, (s) => [[s.infoHash, 'h'], [s.paths.join(', ')], [count(s.seeds), 'n'], [count(s.leechers), 'n'], [count(s.completed), 'n'], [String(s.peers), 'n'], [bytes(s.peerBytes), 'n']], 'no swarm yet');
    draw();
  }
  async function poll() {
    try {
      // no-cache: the browser asks with If-None-Match and, on 304, reads the copy it holds.
      const r = await fetch('status.json', { cache: 'no-cache' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      render(await r.json());
      $('state').textContent = 'live, updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      $('state').textContent = 'not updating: ' + (e instanceof Error ? e.message : String(e));
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
`;

const HTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>torrenttp serve: status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head><body>
<h1>torrenttp serve</h1>
<p id="state">loading…</p>
<div class="totals">
<div class="plain">sent over plain HTTP<b id="plain-total">–</b><span id="plain-split"></span></div>
<div class="peer">sent in the swarm<b id="peer-total">–</b><span id="peer-split"></span></div>
</div>
<h2>Send rate, last two minutes (peak <span id="chart-max">–</span>)</h2>
<svg id="chart" viewBox="0 0 600 200" role="img" aria-label="bytes per second sent over plain HTTP and as a peer" data-samples="0">
<polyline id="plain-line" fill="none" stroke="#d9822b" stroke-width="2" points=""></polyline>
<polyline id="peer-line" fill="none" stroke="#2b7bd9" stroke-width="2" points=""></polyline>
</svg>
<p class="legend"><span class="plain">&#9632; plain HTTP</span> &nbsp; <span class="peer">&#9632; as a peer</span> &nbsp; (bytes per second, polled every second)</p>
<h2>Swarms</h2>
<table><thead><tr><th>info-hash</th><th>paths</th><th>seeds</th><th>leechers</th><th>completed</th><th>peers of this seed</th><th>sent as a peer</th></tr></thead>
<tbody id="swarms"></tbody></table>
<h2>Files offered</h2>
<table><thead><tr><th>path</th><th>size</th><th>torrent</th><th>info-hash</th><th>sent over plain HTTP</th></tr></thead>
<tbody id="files"></tbody></table>
<p>Tracker store: <span id="store">–</span>. Machine-readable: <a href="status.json">status.json</a>.</p>
<script>${SCRIPT}</script>
</body></html>
`;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64');
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; script-src 'sha256-${sha256(SCRIPT)}'; style-src 'sha256-${sha256(STYLE)}'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;
const PAGE_BYTES = Buffer.from(HTML);

/** Answers a request under the status path; throws `GatewayError` (405, 404) for the caller's problem response. */
export async function serveStatus(req: IncomingMessage, res: ServerResponse, pathOnly: string, body: () => Promise<StatusBody>): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    throw new GatewayError('GATEWAY_METHOD_NOT_ALLOWED', { detail: clip(String(req.method), 16) });
  }
  const head = req.method === 'HEAD';
  if (pathOnly === '/.torrenttp') {
    res.writeHead(301, { location: STATUS_PATH, 'content-type': 'text/plain; charset=utf-8', 'content-length': 0 });
    res.end();
    return;
  }
  if (pathOnly === STATUS_PATH) {
    res.writeHead(200, { ...PAGE_HEADERS, 'content-length': PAGE_BYTES.length });
    res.end(head ? undefined : PAGE_BYTES);
    return;
  }
  if (pathOnly === STATUS_JSON_PATH) {
    const b = await body();
    // `no-cache` with a weak ETag (same while all but `time` is): a poller that sends
    // If-None-Match gets 304 and no body while nothing it shows changed (status.ts).
    const headers = { 'content-type': 'application/json', 'cache-control': 'no-cache', etag: b.etag, 'x-content-type-options': 'nosniff' };
    const inm = req.headers['if-none-match'];
    if (inm !== undefined && evaluateConditionals({ ifNoneMatch: Array.isArray(inm) ? inm.join(', ') : inm }, { etag: b.etag.slice(2) }) === 304) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': b.length });
    if (!head) for (const c of b.chunks) res.write(c);
    res.end();
    return;
  }
  throw new GatewayError('GATEWAY_NOT_FOUND');
}

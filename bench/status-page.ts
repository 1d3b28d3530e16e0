/**
 * The browser's cost of serve's status page under many files: headless Chromium (Debian's
 * `chromium`, driven by playwright-core) polls a synthetic status.json of N files with a torrent
 * each (as many swarms) whose rows do not change between polls, only the totals; the main-thread
 * time per poll (CDP `Performance.getMetrics`: task, layout, style) over `--polls` polls.
 *
 *   npm run build && node dist/bench/status-page.js [--files 10000] [--polls 10] [--runs 2] [--root DIR]
 *
 * `--root` names another checkout whose page (dist/src/gateway/status-page.js) to measure too,
 * alternating with this one's, run by run.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import type { StatusDocument } from '../src/gateway/status.js';

type ServeStatus = (req: IncomingMessage, res: ServerResponse, pathOnly: string, snapshot: () => Promise<unknown>) => Promise<void>;

const { values } = parseArgs({ options: { files: { type: 'string', default: '10000' }, polls: { type: 'string', default: '10' }, runs: { type: 'string', default: '2' }, root: { type: 'string' } } });
const N = Number(values.files);
const POLLS = Number(values.polls);
const CHROMIUM = '/usr/bin/chromium';

const files = Array.from({ length: N }, (_, i) => ({ path: `/d${i % 50}/file-${i}.bin`, size: 2_000_000 + i, state: 'ready' as const, infoHash: i.toString(16).padStart(8, '0').repeat(5), plainBytes: i * 10, webSeedBytes: 0 }));
const swarms = files.map((f) => ({ infoHash: f.infoHash, paths: [f.path], seeds: 1, leechers: 0, completed: 0, peers: 0, peerBytes: 0, peerBytesPerSec: 0 }));

async function measure(label: string, pageModule: string): Promise<void> {
  const { serveStatus } = (await import(pageModule)) as { serveStatus: ServeStatus };
  // A page module with status bodies (ETag, cached lists) takes one; an older one a document.
  const { statusBodyOf } = (await import(pageModule.replace(/status-page\.js$/, 'status.js'))) as { statusBodyOf?: (d: StatusDocument) => unknown };
  let polls = 0;
  const server = createServer((req, res) => {
    const pathOnly = (req.url ?? '/').split('?')[0]!;
    if (pathOnly.endsWith('status.json')) polls++;
    const doc = (): Promise<StatusDocument> =>
      Promise.resolve({ version: 1, time: Date.now(), startedAt: 0, tracker: { store: 'memory', error: null }, totals: { plainBytes: polls * 1000, plainEligibleBytes: 0, plainIneligibleBytes: 0, plainResponses: polls, peerBytes: 0, webSeedBytes: 0 }, files, swarms });
    serveStatus(req, res, pathOnly, statusBodyOf === undefined ? doc : () => doc().then(statusBodyOf)).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const profile = mkdtempSync(join(tmpdir(), 'ttp-bench-status-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/.torrenttp/`);
    await page.locator('#state', { hasText: /^live/ }).waitFor({ timeout: 120_000 });
    const metrics = async (): Promise<Map<string, number>> => new Map((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const p0 = polls;
    const m0 = await metrics();
    while (polls < p0 + POLLS) await new Promise((r) => setTimeout(r, 100));
    const m1 = await metrics();
    const n = polls - p0;
    const per = (k: string): string => ((((m1.get(k) ?? 0) - (m0.get(k) ?? 0)) * 1000) / n).toFixed(1);
    console.log(`${label.padEnd(6)} files ${N}, ${n} polls, ms per poll: task ${per('TaskDuration')}, layout ${per('LayoutDuration')}, style ${per('RecalcStyleDuration')}, script ${per('ScriptDuration')}`);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    server.close();
  }
}

const here = new URL('../src/gateway/status-page.js', import.meta.url).href;
const other = values.root === undefined ? undefined : pathToFileURL(resolve(values.root, 'dist/src/gateway/status-page.js')).href;
for (let run = 0; run < Number(values.runs); run++) {
  if (other !== undefined) await measure('root', other);
  await measure('this', here);
}

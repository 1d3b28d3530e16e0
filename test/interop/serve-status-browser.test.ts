/**
 * The status page of `torrenttp serve` in a real browser: Debian's `chromium`, headless, driven
 * by playwright-core (which downloads nothing when given `executablePath`). The page renders with
 * no console error, its chart draws both send rates once bytes move over plain HTTP and over the
 * wire, and a screenshot is a real, non-blank PNG. Chromium is required: without it this fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { PNG } from 'pngjs';
import { request } from 'undici';
import { Client } from '../../src/engine/index.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from '../gateway/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const MIB = 1024 * 1024;
/** No network of its own, no first-run or component downloads: the test stays on loopback. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function launch(t: { after: (fn: () => Promise<void> | void) => void }): Promise<BrowserContext> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is required for this test (apt-get install chromium; .ci/run does)`);
  const profile = mkdtempSync(join(tmpdir(), 'ttp-chromium-'));
  // headless: true makes playwright pass --headless; a persistent context is how a fresh
  // --user-data-dir is given (playwright refuses that flag in args).
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1000, height: 900 } });
  t.after(async () => {
    await context.close(); // ends the browser it started
    rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

/** Highest y-value drawn (smaller y is higher in SVG): 200 means a flat zero line. */
function peakY(points: string | null): number {
  const ys = (points ?? '').trim().split(/\s+/).filter(Boolean).map((p) => Number(p.split(',')[1]));
  return ys.length === 0 ? Infinity : Math.min(...ys);
}

test('the status page renders in chromium with no console error and charts plain and peer bytes', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    const big = bytes(4 * MIB + 5, 7);
    writeFileSync(join(root, 'big.bin'), big);
    writeFileSync(join(root, 'small.txt'), 'hello\n');
    const g = await startGateway(t, { root });
    const context = await launch(t);
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));

    const response = await page.goto(`${g.url}/.torrenttp/`);
    assert.equal(response?.status(), 200);
    // Locators, not page functions: they need no eval, which the page's CSP forbids (as it should).
    await page.locator('#state', { hasText: /^live/ }).waitFor({ timeout: 10_000 });
    assert.equal(await page.textContent('#swarms'), 'no swarm yet');

    // Bytes move: plain HTTP, then a wire download from the server's seed (no web seed).
    await (await request(`${g.url}/big.bin`)).body.arrayBuffer();
    await (await request(`${g.url}/small.txt`)).body.text();
    const client = new Client({ port: 0, allowLoopbackPeers: true });
    t.after(() => client.close());
    const leech = await client.add(await torrentOf(`${g.url}/big.bin`), { path: join(dir, 'dl'), webSeeds: false });
    await leech.done;
    assert.deepEqual(readFileSync(join(dir, 'dl', 'big.bin')), Buffer.from(big));

    // The page catches up: totals, the swarm row, and both lines off the floor of the chart.
    await page.locator('#peer-total', { hasText: /MiB$/ }).waitFor({ timeout: 15_000 });
    await page.locator('#peer-split', { hasText: /by the seed, .* as web seed$/ }).waitFor({ timeout: 15_000 });
    await page.locator('#swarms td.h').waitFor({ timeout: 15_000 });
    assert.equal(await page.textContent('#plain-total'), '4.0 MiB');
    // The page samples once a second: on a quick machine the whole transfer fits in one sample,
    // so wait (bounded) for the next poll before judging the chart.
    let samples = 0;
    for (let i = 0; i < 50 && samples < 2; i++) {
      samples = Number(await page.getAttribute('#chart', 'data-samples'));
      if (samples < 2) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(samples >= 2, `chart samples ${samples}`);
    assert.ok(peakY(await page.getAttribute('#plain-line', 'points')) < 190, 'the plain-HTTP line rose');
    assert.ok(peakY(await page.getAttribute('#peer-line', 'points')) < 190, 'the peer line rose');
    const files = await page.$$eval('#files tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    assert.equal(files.length, 1);
    assert.equal(files[0]![0], '/big.bin');
    assert.equal(files[0]![2], 'ready');

    // A poll that changes no row leaves the table as it is: rebuilding every row (and laying them
    // out again) at each poll cost seconds per poll with 10,000 files.
    const row = await page.$('#files tr');
    const polled = Number(await page.getAttribute('#chart', 'data-samples'));
    for (let i = 0; i < 50 && Number(await page.getAttribute('#chart', 'data-samples')) < polled + 2; i++) await new Promise((r) => setTimeout(r, 200));
    assert.ok(Number(await page.getAttribute('#chart', 'data-samples')) >= polled + 2, 'two more polls');
    assert.equal(await row!.evaluate((el) => el.isConnected), true, 'the same row element, not a rebuilt one');

    // A screenshot: a real PNG of the viewport, not one flat colour.
    const shot = PNG.sync.read(await page.screenshot({ fullPage: false }));
    assert.equal(shot.width, 1000);
    assert.equal(shot.height, 900);
    const colours = new Set<number>();
    for (let i = 0; i < shot.data.length; i += 4 * 97) colours.add(shot.data.readUInt32BE(i));
    assert.ok(colours.size >= 4, `screenshot has ${colours.size} colours in its samples`);
    writeFileSync(join(dir, 'status.png'), PNG.sync.write(shot)); // re-encodes: the decoded image is whole

    assert.deepEqual(problems, []);
  }));

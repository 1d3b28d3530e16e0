/**
 * serve's CPU per `/.torrenttp/status.json` request under N offered files (each with a torrent,
 * as many swarms, each with plain bytes): a child process runs serve's status code (status.ts's
 * ServeStatus, status-page.ts's handler) behind an HTTP server on loopback, with synthetic
 * sources (no engine, no disk: the sweep is not measured; status-sweep.test.ts bounds it); the
 * parent asks in a loop, one request at a time, for `--seconds` per case, and reads the child's
 * `process.cpuUsage()` before and after. Cases:
 *
 *   - `script`: plain GETs, the body read whole (a script polling, or a page without the ETag);
 *   - `page`: GETs with the last answer's ETag in If-None-Match (the page's `cache: 'no-cache'`);
 *   - `moving`: as `page`, with one file's plain bytes counted before each request (a transfer);
 *   - `announce`: as `page`, with the tracker's version moved before each request (an announce
 *     that changed a count, every time: the worst case, a scrape and the swarms list remade);
 *   - `page-1s`: as `page`, one request a second (one open page, nothing moving).
 *
 *   npm run build && node dist/bench/status-json.js [--files 10000] [--seconds 10] [--runs 2] [--root DIR]
 *
 * `--root` names another checkout whose dist to measure too, alternating run by run (a build
 * before the cache answers every case as `script`: it sends no ETag; one before the tracker's
 * version ignores it). The wall clock is real, so the rows' 1 s lag applies as in serve.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';

const { values } = parseArgs({ options: { files: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '10' }, runs: { type: 'string', default: '2' }, root: { type: 'string' }, child: { type: 'string' } } });
const N = Number(values.files);

interface Msg {
  readonly port?: number;
  readonly cpuMs?: number;
}

async function child(distRoot: string): Promise<void> {
  const mod = (await import(pathToFileURL(resolve(distRoot, 'src/gateway/status.js')).href)) as Record<string, unknown>;
  const page = (await import(pathToFileURL(resolve(distRoot, 'src/gateway/status-page.js')).href)) as { serveStatus: (req: IncomingMessage, res: ServerResponse, p: string, f: () => Promise<unknown>) => Promise<void> };
  const Status = mod['ServeStatus'] as new () => { countPlain: (a: string, s: number, e: boolean, b: number) => void; snapshot: (src: unknown) => Promise<unknown>; body?: (src: unknown) => Promise<unknown> };
  const root = '/srv/www';
  const files = Array.from({ length: N }, (_, i) => ({ absPath: `${root}/d${i % 50}/file-${i}.bin`, size: 2_000_000 + i, infoHash: i.toString(16).padStart(8, '0').repeat(5) }));
  const hashes = files.map((f) => f.infoHash);
  const status = new Status();
  for (const f of files) status.countPlain(f.absPath, f.size, true, 1000);
  const src = {
    root,
    files: () => files.map((f) => ({ ...f })), // SwarmFiles.files() makes a new array of new objects
    infoHashes: () => [...hashes],
    scrape: (list: readonly Uint8Array[]) => Promise.resolve(list.map((infoHash) => ({ infoHash, complete: 1, incomplete: 0, downloaded: 0 }))),
    trackerVersion: () => version, // the memory store's (SwarmStore.version)
    store: 'memory' as const,
  };
  let version = 0;
  let moving = false;
  let announcing = false;
  const get = (): Promise<unknown> => {
    if (moving) status.countPlain(files[0]!.absPath, files[0]!.size, true, 16384);
    if (announcing) version++;
    return status.body !== undefined ? status.body(src) : status.snapshot(src);
  };
  const server = createServer((req, res) => {
    page.serveStatus(req, res, '/.torrenttp/status.json', get).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  let cpu = process.cpuUsage();
  process.on('message', (m: string) => {
    if (m === 'start' || m === 'start-moving' || m === 'start-announce') {
      moving = m === 'start-moving';
      announcing = m === 'start-announce';
      cpu = process.cpuUsage();
      process.send?.({});
    } else if (m === 'stop') {
      const d = process.cpuUsage(cpu);
      process.send?.({ cpuMs: (d.user + d.system) / 1000 });
    } else if (m === 'exit') process.exit(0);
  });
  process.send?.({ port: (server.address() as AddressInfo).port });
}

async function ask(c: ChildProcess, m: string): Promise<Msg> {
  const reply = once(c, 'message') as Promise<[Msg]>;
  c.send(m);
  return (await reply)[0];
}

async function measure(label: string, distRoot: string): Promise<void> {
  const c = fork(fileURLToPath(import.meta.url), ['--child', distRoot, '--files', String(N)], { stdio: 'inherit' });
  try {
    const [{ port }] = (await once(c, 'message')) as [Msg];
    const url = `http://127.0.0.1:${port}/.torrenttp/status.json`;
    const row: string[] = [];
    for (const kase of ['script', 'page', 'moving', 'announce', 'page-1s'] as const) {
      let etag: string | undefined;
      const one = async (): Promise<number> => {
        const r = await request(url, { headers: kase !== 'script' && etag !== undefined ? { 'if-none-match': etag } : {} });
        const size = (await r.body.arrayBuffer()).byteLength;
        if (r.statusCode === 200 && typeof r.headers['etag'] === 'string') etag = r.headers['etag'];
        return r.statusCode === 304 ? 0 : size;
      };
      await one(); // the first answer builds the lists; not counted
      await ask(c, kase === 'moving' ? 'start-moving' : kase === 'announce' ? 'start-announce' : 'start');
      const end = performance.now() + Number(values.seconds) * 1000;
      let n = 0;
      let bytes = 0;
      while (performance.now() < end) {
        bytes += await one();
        n++;
        if (kase === 'page-1s') await new Promise((r) => setTimeout(r, 1000));
      }
      const { cpuMs = NaN } = await ask(c, 'stop');
      row.push(`${kase} ${(cpuMs / n).toFixed(2)} ms/req (${n} req, ${(bytes / n / 1024).toFixed(0)} KiB/req)`);
    }
    console.log(`${label.padEnd(5)} files ${N}: ${row.join('; ')}`);
  } finally {
    c.send('exit');
    if (c.exitCode === null) await once(c, 'exit');
  }
}

if (values.child !== undefined) await child(values.child);
else {
  const here = resolve(fileURLToPath(import.meta.url), '../..');
  for (let run = 0; run < Number(values.runs); run++) {
    if (values.root !== undefined) await measure('root', resolve(values.root, 'dist'));
    await measure('this', here);
  }
}

/**
 * `bench/offload.ts` with an account of every byte the origin's seed uploads (a diagnostic: it
 * reads the gateway's and the seed torrent's private state, so it breaks when they change):
 *
 *   npm run build && node dist/bench/offload-account.js [--size-mib 64] [--clients 20] [--no-super-seed]
 *
 * Env: SKIP_CURL=1 runs the gets only; TIMELINE=1 prints the seed's upload and the swarm's pieces
 * each second; LOG_REOFFERS=1 prints every piece offered a second time.
 * ACCOUNT lines: the seed's wire bytes by piece (how many peers each piece went to, bytes beyond
 * one copy per piece), blocks sent twice to one link, bytes sent while another peer had the
 * piece (what the swarm could have given), bytes of pieces never offered to that peer, and each
 * offer by kind: first offer of a piece, or again after its offer was released (R0), while
 * another peer holds an offer of it (R1), or while a peer has it (R2).
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { Gateway, silentGatewayLogger } from '../src/gateway/index.js';
import { sha1File } from './usage.js';

const { values } = parseArgs({
  options: { 'size-mib': { type: 'string', default: '64' }, clients: { type: 'string', default: '20' }, 'no-super-seed': { type: 'boolean', default: false } },
});
const SIZE_MIB = Number(values['size-mib']);
const CLIENTS = Number(values.clients);
if (!(SIZE_MIB > 0) || !Number.isInteger(CLIENTS) || CLIENTS < 1) {
  console.error('usage: offload.js [--size-mib N] [--clients N] [--no-super-seed]');
  process.exit(2);
}
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'torrenttp-bench-offload-'));

/** One client under /usr/bin/time: its exit code and CPU seconds (user + system). */
function timed(cmd: string, args: string[], tag: string): Promise<{ code: number | null; cpuSec: number; out: string }> {
  const timeFile = join(work, `${tag}.time`);
  const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const [u, s] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      resolve({ code, cpuSec: u! + s!, out });
    }),
  );
}

interface Summary {
  readonly seconds: number;
  readonly sources: { readonly wire: number; readonly webseed: number; readonly plain: number };
}

function summaryOf(log: string): Summary | undefined {
  for (const line of log.split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line) as { event?: string } & Partial<Summary>;
      if (j.event === 'summary' && j.sources !== undefined && typeof j.seconds === 'number') return j as Summary;
    } catch {
      // a progress line cut short: not the summary
    }
  }
  return undefined;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const root = join(work, 'www');
  mkdirSync(root);
  const file = join(root, 'payload.bin');
  const fd = openSync(file, 'w');
  const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
  for (let i = 0; i < SIZE_MIB / 4; i++) writeSync(fd, randomFillSync(chunk));
  closeSync(fd);
  const size = SIZE_MIB * 2 ** 20;
  const want = await sha1File(file);
  const g = await Gateway.start({ root, host: '127.0.0.1', port: 0, cacheDir: join(work, 'cache'), logger: silentGatewayLogger, superSeed: !values['no-super-seed'] });
  try {
    const url = `${g.url}/payload.bin`;
    for (;;) {
      const r = await request(`${url}?torrent`);
      await r.body.dump();
      if (r.statusCode === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }

    // DEBUG accounting
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const seedClient = (g as any).client;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const entry = [...(seedClient.torrents as Map<string, any>).values()][0];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const seedT = entry.torrent as any;
    const plen = seedT.metainfo.pieceLength as number;
    const pc = seedT.metainfo.pieceCount as number;
    const sentBlocks = new Map<string, number>(); // peer|index|begin -> count
    const piecePeers: Map<number, Map<string, number>> = new Map();
    let sentTotal = 0, sentDupSamePeer = 0, sentWhileAvail = 0, sentNotOffered = 0;
    const offeredTo = new Map<string, Set<number>>();
    const offerCats = new Map<string, number>();
    const reofferLog: string[] = [];
    const tStart = performance.now();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    seedT.on('peer', (link: any) => {
      const id = link.id as string;
      const origHave = link.announceHave.bind(link);
      link.announceHave = (i: number) => {
        if (seedT.superSeeding) {
          const ss = seedT.superSeed;
          const avail = seedT.availability(i) as number;
          let live = 0;
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          for (const [p, list] of ss.offers as Map<any, any[]>) if (p.link?.id !== id && list.some((o) => o.index === i)) live++;
          const prev = (ss.offered[i] as number) - 1;
          const cat = prev === 0 ? 'first' : avail > 0 ? 'R2-avail' : live > 0 ? 'R1-concurrent' : 'R0-released';
          offerCats.set(cat, (offerCats.get(cat) ?? 0) + 1);
          const t = ((performance.now() - tStart) / 1000).toFixed(1);
          if (cat !== 'first') reofferLog.push(`${t}s ${cat} ${i} -> ${id} avail ${avail} live ${live} prevOffers ${prev}`);
        }
        let s = offeredTo.get(id); if (!s) offeredTo.set(id, (s = new Set())); s.add(i); origHave(i); };
      const orig = link.sendBlock.bind(link);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      link.sendBlock = (req: any, data: Uint8Array, done?: () => void) => {
        sentTotal += data.length;
        const k = `${id}|${req.index}|${req.begin}`;
        const n = (sentBlocks.get(k) ?? 0) + 1; sentBlocks.set(k, n);
        if (n > 1) sentDupSamePeer += data.length;
        if ((seedT.availability(req.index) as number) > 0) sentWhileAvail += data.length;
        if (!offeredTo.get(id)?.has(req.index)) sentNotOffered += data.length;
        let m = piecePeers.get(req.index); if (!m) piecePeers.set(req.index, (m = new Map()));
        m.set(id, (m.get(id) ?? 0) + data.length);
        orig(req, data, done);
      };
    });
    const timeline: string[] = [];
    const sampler = setInterval(() => {
      let held = 0; let zero = 0;
      for (let i = 0; i < pc; i++) { const a = seedT.availability(i) as number; held += a; if (a === 0) zero++; }
      let offersNow = 0;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      for (const list of (seedT.superSeed?.offers as Map<any, any[]> | undefined)?.values() ?? []) offersNow += list.length;
      timeline.push(`${((performance.now() - tStart) / 1000).toFixed(0)}s seed ${(sentTotal / 2 ** 20).toFixed(0)}MiB held ${(held / pc).toFixed(2)} files-worth, pieces nobody has ${zero}, peers ${seedT.peerCount}, offers ${offersNow}, cpu ${(process.cpuUsage().user / 1e6).toFixed(1)}s`);
    }, 1000);
    sampler.unref();
    const account = (): void => {
      clearInterval(sampler);
      if (process.env.TIMELINE) for (const l of timeline) console.log(l);
      const hist = new Map<number, number>();
      let extraBytes = 0;
      for (let i = 0; i < pc; i++) {
        const m = piecePeers.get(i); const copies = m ? m.size : 0;
        hist.set(copies, (hist.get(copies) ?? 0) + 1);
        if (m) { let tot = 0; for (const v of m.values()) tot += v; extraBytes += tot - Math.min(tot, plen); }
      }
      console.log(`ACCOUNT pieceLen ${plen} pieces ${pc}; sent ${(sentTotal/2**20).toFixed(1)} MiB; same-peer dup ${(sentDupSamePeer/2**20).toFixed(1)} MiB; sent while another peer had it ${(sentWhileAvail/2**20).toFixed(1)} MiB; not offered ${(sentNotOffered/2**20).toFixed(1)} MiB; bytes beyond 1 copy/piece ${(extraBytes/2**20).toFixed(1)} MiB; peers-per-piece hist ${JSON.stringify([...hist].sort((a,b)=>a[0]-b[0]))}`);
      const offs = [...offeredTo.values()].map((s) => s.size);
      console.log(`ACCOUNT offer categories ${JSON.stringify([...offerCats])}`);
      if (process.env.LOG_REOFFERS) for (const l of reofferLog) console.log(l);
      console.log(`ACCOUNT offers per peer ${JSON.stringify(offs)} total ${offs.reduce((a,b)=>a+b,0)}`);
    };
    console.log(`serve at ${g.url} (super-seed ${values['no-super-seed'] ? 'off' : 'on'}); ${SIZE_MIB} MiB payload; ${CLIENTS} clients at once\n`);
    console.log('| case | origin upload | last client done | CPU per client (median) |\n|---|---|---|---|');
    const cases: [string, (i: number) => [string, string[]]][] = [
      ['curl', (i) => ['curl', ['-s', '-o', join(work, `curl-${i}.bin`), url]]],
      ['torrenttp get', (i) => [process.execPath, [CLI, 'get', url, '-o', join(work, `get-${i}.bin`), '--json']]],
    ];
    const notes: string[] = [];
    for (const [name, argsOf] of cases.filter(([n]) => !(process.env.SKIP_CURL && n === 'curl'))) {
      const before = await g.statusDocument();
      const t0 = performance.now();
      const runs = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => {
        const [cmd, args] = argsOf(i);
        return timed(cmd, args, `${name.replace(/\W/g, '')}-${i}`).then((r) => ({ ...r, out: args[args.indexOf('-o') + 1]!, log: r.out }));
      }));
      const wall = (performance.now() - t0) / 1000;
      const after = await g.statusDocument();
      for (const r of runs) {
        if (r.code !== 0) throw new Error(`${name} failed (${r.code}):\n${r.log}`);
        if ((await sha1File(r.out)) !== want) throw new Error(`${name}: ${r.out} differs from the payload`);
        rmSync(r.out);
      }
      const wire = after.totals.peerBytes - before.totals.peerBytes;
      const http = after.totals.plainBytes - before.totals.plainBytes;
      console.log(`| ${name} | ${((wire + http) / size).toFixed(2)}× (wire ${(wire / 2 ** 20).toFixed(0)} MiB, HTTP ${(http / 2 ** 20).toFixed(0)} MiB) | ${wall.toFixed(2)} s | ${median(runs.map((r) => r.cpuSec)).toFixed(2)} s |`);
      // get --json ends with a summary line: where each client's bytes came from.
      const sums = runs.map((r) => summaryOf(r.log)).filter((x) => x !== undefined);
      if (sums.length > 0) {
        const web = sums.filter((x) => x.sources.webseed > 0);
        notes.push(`${name}: ${web.length} of ${sums.length} clients used the web seed (${(web.reduce((n, x) => n + x.sources.webseed, 0) / 2 ** 20).toFixed(0)} MiB); client times median ${median(sums.map((x) => x.seconds)).toFixed(1)} s, max ${Math.max(...sums.map((x) => x.seconds)).toFixed(1)} s`);
      }
    }
    for (const n of notes) console.log(`\n${n}`);
    account();
  } finally {
    await g.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();

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
import type { Gateway } from '../src/gateway/index.js';
import { runOffload } from './offload-run.js';

await runOffload({
  onServe: (g: Gateway) => {
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
    return account;
  },
});

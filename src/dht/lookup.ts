import { compareDistance } from './distance.js';
import type { CompactNode, KrpcResponse, PeerAddr } from './krpc.js';

/**
 * The iterative lookup of BEP 5 ("find_node"/"get_peers" until no closer node appears), with
 * Kademlia's bounded parallelism: at most `alpha` queries in flight; the candidates kept are the
 * `maxCandidates` closest; it ends when the `k` closest nodes that answered have all been asked,
 * or after `maxQueries` queries, whichever is first, so a poisoned network that keeps handing
 * out fresh "closer" ids cannot keep a lookup going forever.
 */
export interface LookupOptions {
  readonly alpha?: number;
  readonly k?: number;
  /** Default 64. */
  readonly maxCandidates?: number;
  /** Default 100. */
  readonly maxQueries?: number;
}

export interface LookupResult {
  /** The closest nodes that answered, closest first, with the token each gave (get_peers). */
  readonly closest: readonly { node: CompactNode; token: Uint8Array | undefined }[];
  readonly peers: readonly PeerAddr[];
  readonly queried: number;
}

interface Candidate {
  readonly node: CompactNode;
  state: 'new' | 'asking' | 'answered' | 'failed';
  token: Uint8Array | undefined;
}

export async function lookup(
  target: Uint8Array,
  seeds: readonly CompactNode[],
  ask: (node: CompactNode) => Promise<KrpcResponse>,
  onPeers: (peers: readonly PeerAddr[]) => void = () => undefined,
  opts: LookupOptions = {},
): Promise<LookupResult> {
  const alpha = opts.alpha ?? 3;
  const k = opts.k ?? 8;
  const maxCandidates = opts.maxCandidates ?? 64;
  const maxQueries = opts.maxQueries ?? 100;
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  const peers = new Map<string, PeerAddr>();
  let queried = 0;
  let inFlight = 0;

  const addCandidate = (node: CompactNode): void => {
    const key = `${node.ip}:${node.port}`;
    if (seen.has(key) || node.port === 0) return;
    seen.add(key);
    candidates.push({ node, state: 'new', token: undefined });
    candidates.sort((a, b) => compareDistance(target, a.node.id, b.node.id));
    // Drop the farthest not yet asked (never one in flight: its answer is awaited).
    for (let i = candidates.length - 1; candidates.length > maxCandidates && i >= 0; i--) {
      if (candidates[i]!.state === 'new') candidates.splice(i, 1);
    }
  };
  seeds.forEach(addCandidate);

  return new Promise<LookupResult>((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      const closest = candidates.filter((c) => c.state === 'answered').slice(0, k);
      resolve({ closest: closest.map((c) => ({ node: c.node, token: c.token })), peers: [...peers.values()], queried });
    };
    const pump = (): void => {
      // Done when the k closest answering-or-unasked candidates have all been asked.
      const live = candidates.filter((c) => c.state !== 'failed').slice(0, k);
      const next = live.filter((c) => c.state === 'new');
      if (next.length === 0 || queried >= maxQueries) {
        if (inFlight === 0) finish();
        return;
      }
      for (const c of next) {
        if (inFlight >= alpha || queried >= maxQueries) break;
        c.state = 'asking';
        inFlight++;
        queried++;
        ask(c.node).then(
          (r) => {
            c.state = 'answered';
            c.token = r.token;
            if (r.values.length > 0) {
              const fresh = r.values.filter((p) => !peers.has(`${p.ip}:${p.port}`));
              for (const p of fresh) peers.set(`${p.ip}:${p.port}`, p);
              if (fresh.length > 0) onPeers(fresh);
            }
            for (const n of r.nodes) addCandidate(n);
            for (const n of r.nodes6 ?? []) addCandidate(n);
          },
          () => {
            c.state = 'failed';
          },
        ).finally(() => {
          inFlight--;
          pump();
        });
      }
      if (inFlight === 0) finish();
    };
    pump();
  });
}

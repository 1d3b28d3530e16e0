import { DhtError } from './errors.js';
import { bytesEqual, commonPrefixBits, compareDistance } from './distance.js';
import { NODE_ID_BYTES, type CompactNode } from './krpc.js';
import { hostKey } from './rate-limit.js';

/**
 * The BEP 5 routing table: k-buckets over the XOR distance to our own id.
 *
 * Rules:
 * - Buckets are ranges of shared-prefix length with our id: bucket i holds nodes sharing exactly
 *   i leading bits, and the last bucket holds every node closer than that. Only the last bucket
 *   (the one our id falls in) splits when full, as BEP 5 says, so the table never exceeds
 *   160 buckets × k nodes.
 * - A full bucket takes a new node only in place of a bad one (failed `maxFailures` queries in a
 *   row); otherwise the newcomer is dropped: long-lived nodes are the reliable ones.
 * - Against poisoning: a node id must be 20 bytes and not ours; an address keeps the id it was
 *   first seen with (a node changing id for a known ip:port is refused); a host (an IPv4 address,
 *   an IPv6 /64: `hostKey`) holds at most `maxNodesPerIp` entries (libtorrent's
 *   `restrict_routing_ips`), loopback exempt so that a private DHT of several nodes on one host
 *   works.
 */
export interface RoutingNode extends CompactNode {
  readonly key: string;
  lastSeenMs: number;
  /** Queries in a row that got no answer. */
  failures: number;
  /** Has answered one of our queries (a node that only queried us is unverified). */
  verified: boolean;
}

export interface RoutingTableOptions {
  /** Bucket size. Default 8 (BEP 5). */
  readonly k?: number;
  /** Failures in a row before a node is bad and replaceable. Default 2. */
  readonly maxFailures?: number;
  /** Entries per host (IPv4 address, IPv6 /64). Default 1; loopback addresses are exempt. */
  readonly maxNodesPerIp?: number;
}

export type AddResult = 'added' | 'updated' | 'full' | 'refused';

export class RoutingTable {
  readonly k: number;
  private readonly maxFailures: number;
  private readonly maxNodesPerIp: number;
  /** buckets[i] for i < last: shared prefix exactly i; the last: prefix ≥ buckets.length − 1. */
  private buckets: RoutingNode[][] = [[]];
  private readonly byAddress = new Map<string, RoutingNode>();
  private readonly perIp = new Map<string, number>();

  constructor(
    readonly ownId: Uint8Array,
    opts: RoutingTableOptions = {},
  ) {
    if (ownId.length !== NODE_ID_BYTES) throw new DhtError('DHT_BAD_NODE_ID', { detail: 'our own id is not 20 bytes' });
    this.k = opts.k ?? 8;
    this.maxFailures = opts.maxFailures ?? 2;
    this.maxNodesPerIp = opts.maxNodesPerIp ?? 1;
  }

  get size(): number {
    return this.byAddress.size;
  }

  get bucketCount(): number {
    return this.buckets.length;
  }

  /** Adds or refreshes a node seen at `nowMs`; `verified` when it answered us. Never throws on hostile input. */
  add(node: CompactNode, nowMs: number, verified: boolean): AddResult {
    if (node.id.length !== NODE_ID_BYTES || bytesEqual(node.id, this.ownId) || node.port === 0) return 'refused';
    const key = `${node.ip}:${node.port}`;
    const known = this.byAddress.get(key);
    if (known !== undefined) {
      if (!bytesEqual(known.id, node.id)) return 'refused';
      known.lastSeenMs = nowMs;
      if (verified) {
        known.verified = true;
        known.failures = 0;
      }
      return 'updated';
    }
    if (!isLoopback(node.ip) && (this.perIp.get(hostKey(node.ip)) ?? 0) >= this.maxNodesPerIp) return 'refused';
    for (;;) {
      const index = this.bucketIndex(node.id);
      const bucket = this.buckets[index]!;
      if (bucket.some((n) => bytesEqual(n.id, node.id))) return 'refused'; // one id, one address
      if (bucket.length < this.k) {
        this.insert(bucket, node, key, nowMs, verified);
        return 'added';
      }
      const badIndex = bucket.findIndex((n) => n.failures >= this.maxFailures);
      if (badIndex >= 0) {
        this.forget(bucket[badIndex]!);
        this.insert(bucket, node, key, nowMs, verified);
        return 'added';
      }
      if (index === this.buckets.length - 1 && this.buckets.length < NODE_ID_BYTES * 8) {
        this.split();
        continue;
      }
      return 'full';
    }
  }

  /** A query to this node went unanswered. */
  failed(ip: string, port: number): void {
    const n = this.byAddress.get(`${ip}:${port}`);
    if (n !== undefined) n.failures++;
  }

  remove(ip: string, port: number): void {
    const n = this.byAddress.get(`${ip}:${port}`);
    if (n !== undefined) this.forget(n);
  }

  get(ip: string, port: number): RoutingNode | undefined {
    return this.byAddress.get(`${ip}:${port}`);
  }

  /** The `count` good nodes closest to `target`, closest first. */
  closest(target: Uint8Array, count = this.k): RoutingNode[] {
    const all = [...this.byAddress.values()].filter((n) => n.failures < this.maxFailures);
    all.sort((a, b) => compareDistance(target, a.id, b.id));
    return all.slice(0, count);
  }

  all(): RoutingNode[] {
    return [...this.byAddress.values()];
  }

  private bucketIndex(id: Uint8Array): number {
    return Math.min(commonPrefixBits(id, this.ownId), this.buckets.length - 1);
  }

  private split(): void {
    const last = this.buckets.pop()!;
    const depth = this.buckets.length; // nodes sharing exactly `depth` bits stay here
    const far: RoutingNode[] = [];
    const near: RoutingNode[] = [];
    for (const n of last) (commonPrefixBits(n.id, this.ownId) === depth ? far : near).push(n);
    this.buckets.push(far, near);
  }

  private insert(bucket: RoutingNode[], node: CompactNode, key: string, nowMs: number, verified: boolean): void {
    const entry: RoutingNode = { id: node.id, ip: node.ip, port: node.port, key, lastSeenMs: nowMs, failures: 0, verified };
    bucket.push(entry);
    this.byAddress.set(key, entry);
    const host = hostKey(node.ip);
    this.perIp.set(host, (this.perIp.get(host) ?? 0) + 1);
  }

  private forget(n: RoutingNode): void {
    const bucket = this.buckets[this.bucketIndex(n.id)]!;
    const i = bucket.indexOf(n);
    if (i >= 0) bucket.splice(i, 1);
    this.byAddress.delete(n.key);
    const host = hostKey(n.ip);
    const c = (this.perIp.get(host) ?? 1) - 1;
    if (c <= 0) this.perIp.delete(host);
    else this.perIp.set(host, c);
  }
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

import type { DhtClock, DhtTimer } from './clock.js';
import { DhtError } from './errors.js';
import { bytesEqual } from './distance.js';
import { encodeQuery, type KrpcMessage, type KrpcQuery, type KrpcResponse } from './krpc.js';

/**
 * Outgoing queries and their transactions. Each query gets a fresh 4-byte transaction id; a
 * reply is matched by id *and* by the address it was sent to (a forged reply from elsewhere
 * is ignored), and, when we knew the node's id, by that id. Timeouts run on the injected clock.
 * In-flight queries are bounded, so a lookup storm cannot grow the map.
 */
export interface RpcOptions {
  /** Default 2,000 ms: loopback and most of the internet answer in well under a second. */
  readonly timeoutMs?: number;
  /** Default 256. */
  readonly maxInFlight?: number;
  readonly readOnly?: boolean;
}

interface Pending {
  readonly ip: string;
  readonly port: number;
  readonly expectId: Uint8Array | undefined;
  readonly resolve: (r: KrpcResponse) => void;
  readonly reject: (e: DhtError) => void;
  readonly timer: DhtTimer;
}

export type Outgoing = Exclude<KrpcQuery, { method: 'unknown' }>;

export class Rpc {
  private readonly pending = new Map<number, Pending>();
  private nextTid: number;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private closed = false;

  constructor(
    private readonly clock: DhtClock,
    private readonly send: (packet: Uint8Array, ip: string, port: number) => void,
    private readonly opts: RpcOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxInFlight = opts.maxInFlight ?? 256;
    this.nextTid = Math.floor(Math.random() * 0xffffffff);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  query(ip: string, port: number, q: Outgoing, expectId?: Uint8Array): Promise<KrpcResponse> {
    if (this.closed) return Promise.reject(new DhtError('DHT_CLOSED'));
    if (this.pending.size >= this.maxInFlight) return Promise.reject(new DhtError('DHT_TOO_BUSY', { detail: `${this.pending.size} queries in flight` }));
    const tid = (this.nextTid = (this.nextTid + 1) >>> 0);
    const t = Uint8Array.of(tid >>> 24, (tid >>> 16) & 0xff, (tid >>> 8) & 0xff, tid & 0xff);
    return new Promise<KrpcResponse>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(tid);
        reject(new DhtError('DHT_TIMEOUT', { detail: `${q.method} to ${ip}:${port}` }));
      }, this.timeoutMs);
      this.pending.set(tid, { ip, port, expectId, resolve, reject, timer });
      this.send(encodeQuery(t, q, this.opts.readOnly === true), ip, port);
    });
  }

  /** A decoded `r` or `e` packet from ip:port. False when it matches no transaction of ours. */
  onReply(msg: Extract<KrpcMessage, { y: 'r' | 'e' }>, ip: string, port: number): boolean {
    if (msg.t.length !== 4) return false;
    const tid = ((msg.t[0]! << 24) | (msg.t[1]! << 16) | (msg.t[2]! << 8) | msg.t[3]!) >>> 0;
    const p = this.pending.get(tid);
    if (p === undefined || p.ip !== ip || p.port !== port) return false;
    this.pending.delete(tid);
    this.clock.clearTimeout(p.timer);
    if (msg.y === 'e') p.reject(new DhtError('DHT_ERROR_REPLY', { detail: `${msg.code} ${msg.message}` }));
    else if (p.expectId !== undefined && !bytesEqual(p.expectId, msg.response.id)) p.reject(new DhtError('DHT_WRONG_SENDER', { detail: `${ip}:${port} answered with another node id` }));
    else p.resolve(msg.response);
    return true;
  }

  close(): void {
    this.closed = true;
    for (const p of this.pending.values()) {
      this.clock.clearTimeout(p.timer);
      p.reject(new DhtError('DHT_CLOSED'));
    }
    this.pending.clear();
  }
}

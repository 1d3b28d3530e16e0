import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { clip } from '../../errors/index.js';
import type { AnnounceRequest } from '../announce-types.js';
import type { PeerAddress } from '../ip.js';
import { TrackerError } from '../errors.js';
import {
  decodeUdpResponse,
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  encodeUdpScrapeRequest,
  MAX_UDP_SCRAPE_HASHES,
  type UdpResponse,
} from '../udp.js';
import { udpTrackerAddress, type AnnounceResult, type ScrapeResult, type TrackerClient, type TrackerRequestOptions } from './types.js';

/**
 * UDP tracker client (BEP 15). One connected socket per tracker address, shared by every
 * tracker URL of a `UdpTrackerSockets`; transactions are matched by id and socket.
 *
 * Retransmission per BEP 15: wait 15 × 2^n seconds for an answer, n = 0…8, then give up. The
 * base is an option (tests use milliseconds). A connection id is reused for one minute after
 * it was received (BEP 15: a client may use it that long), per tracker.
 */
export interface UdpTrackerOptions {
  /** First retransmission timeout. Default 15 s (BEP 15). */
  readonly baseTimeoutMs?: number;
  /** Retransmissions before giving up. Default 8 (BEP 15's n ≤ 8). */
  readonly maxRetries?: number;
  /** Key sent in announces (BEP 15 `key`); default random per process. */
  readonly key?: number;
}

const CONNECTION_ID_TTL_MS = 60_000;

interface Pending {
  /** The connected socket the transaction went out on: its errors fail the transaction. */
  readonly key: string;
  resolve(r: UdpResponse): void;
  fail(err: TrackerError): void;
}

/**
 * The sockets and in-flight transactions behind any number of UDP tracker clients: one
 * connected socket per tracker address, so that the kernel filters replies to that address and
 * an ICMP "port unreachable" (nothing listens there) comes back as ECONNREFUSED at once instead
 * of BEP 15's minutes of silent retransmissions.
 */
export class UdpTrackerSockets {
  private readonly sockets = new Map<string, Promise<Socket>>();
  private readonly pending = new Map<number, Pending>();

  async send(family: 4 | 6, address: string, port: number, packet: Uint8Array, transactionId: number, waitMs: number, signal?: AbortSignal): Promise<UdpResponse | undefined> {
    if (signal?.aborted === true) throw new TrackerError('TRACKER_TIMEOUT', { detail: 'aborted', cause: signal.reason });
    const key = `${family}|${address}|${port}`;
    const sock = await this.socket(key, family, address, port);
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(transactionId);
      };
      const done = (r: UdpResponse | undefined): void => {
        settle();
        resolve(r);
      };
      const fail = (err: TrackerError): void => {
        settle();
        reject(err);
      };
      const onAbort = (): void => fail(new TrackerError('TRACKER_TIMEOUT', { detail: 'aborted', cause: signal?.reason }));
      const timer = setTimeout(() => done(undefined), waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(transactionId, { key, resolve: done, fail });
      sock.send(packet, (err) => {
        if (err) done(undefined);
      });
    });
  }

  close(): void {
    for (const s of this.sockets.values()) void s.then((sock) => sock.close(), () => undefined);
    this.sockets.clear();
  }

  private socket(key: string, family: 4 | 6, address: string, port: number): Promise<Socket> {
    let s = this.sockets.get(key);
    if (s !== undefined) return s;
    const sock = createSocket(family === 4 ? 'udp4' : 'udp6');
    sock.on('message', (msg) => {
      // A connected socket hears only its tracker's address and port.
      if (msg.length < 8) return;
      const p = this.pending.get(msg.readUInt32BE(4));
      if (p === undefined || p.key !== key) return;
      let r: UdpResponse;
      try {
        r = decodeUdpResponse(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), family);
      } catch {
        return; // a malformed reply is as good as none: the retransmission schedule goes on
      }
      p.resolve(r);
    });
    sock.unref();
    const where = `udp://${family === 6 ? `[${address}]` : address}:${port}`;
    s = new Promise<Socket>((resolve, reject) => {
      let connected = false;
      // ECONNREFUSED (ICMP port unreachable), EHOSTUNREACH, …: every transaction waiting on this
      // tracker fails now, with the reason. The socket stays usable for the next attempt.
      sock.on('error', (err: NodeJS.ErrnoException) => {
        const failure = new TrackerError('TRACKER_UNREACHABLE', { detail: `${where} (${err.code ?? err.message})`, cause: err });
        if (!connected) {
          this.sockets.delete(key);
          sock.close();
          reject(failure);
          return;
        }
        for (const p of [...this.pending.values()]) if (p.key === key) p.fail(failure);
      });
      sock.connect(port, address, () => {
        connected = true;
        resolve(sock);
      });
    });
    this.sockets.set(key, s);
    return s;
  }
}

const defaultSockets = new UdpTrackerSockets();
const processKey = randomInt(0, 2 ** 32);

export class UdpTrackerClient implements TrackerClient {
  private connection: { id: bigint; expiresMs: number } | undefined;
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly url: string,
    private readonly opts: UdpTrackerOptions = {},
    private readonly sockets: UdpTrackerSockets = defaultSockets,
  ) {
    ({ host: this.host, port: this.port } = udpTrackerAddress(url));
  }

  async announce(req: AnnounceRequest, opts: TrackerRequestOptions = {}): Promise<AnnounceResult<PeerAddress>> {
    const r = await this.exchange(opts, (connectionId, transactionId) =>
      encodeUdpAnnounceRequest({ connectionId, transactionId, key: this.opts.key ?? processKey, announce: req }),
    );
    if (r.type === 'error') throw new TrackerError('TRACKER_FAILURE', { detail: r.refusedAnnounce === true ? 'announce refused' : clip(r.message) });
    if (r.type !== 'announce') throw new TrackerError('TRACKER_BAD_RESPONSE', { detail: `expected an announce reply, got ${r.type}` });
    return { peers: r.peers, intervalSec: r.intervalSec, seeders: r.seeders, leechers: r.leechers };
  }

  async scrape(infoHashes: readonly Uint8Array[], opts: TrackerRequestOptions = {}): Promise<ScrapeResult[]> {
    const out: ScrapeResult[] = [];
    for (let i = 0; i < infoHashes.length; i += MAX_UDP_SCRAPE_HASHES) {
      const batch = infoHashes.slice(i, i + MAX_UDP_SCRAPE_HASHES);
      const r = await this.exchange(opts, (connectionId, transactionId) => encodeUdpScrapeRequest({ connectionId, transactionId, infoHashes: batch }));
      if (r.type === 'error') throw new TrackerError('TRACKER_FAILURE', { detail: clip(r.message) });
      if (r.type !== 'scrape' || r.entries.length !== batch.length) throw new TrackerError('TRACKER_BAD_RESPONSE', { detail: 'scrape reply does not match the request' });
      r.entries.forEach((e, j) => out.push({ infoHash: batch[j]!, ...e }));
    }
    return out;
  }

  /** connect (unless a fresh connection id is cached), then the request, each on BEP 15's schedule. */
  private async exchange(opts: TrackerRequestOptions, build: (connectionId: bigint, transactionId: number) => Uint8Array): Promise<UdpResponse> {
    const { family, address } = await this.resolve();
    const started = Date.now();
    const deadline = opts.timeoutMs === undefined ? Infinity : started + opts.timeoutMs;
    const base = this.opts.baseTimeoutMs ?? 15_000;
    const maxRetries = this.opts.maxRetries ?? 8;
    for (let n = 0; n <= maxRetries; n++) {
      const waitMs = Math.min(base * 2 ** n, deadline - Date.now());
      if (waitMs <= 0) break;
      if (this.connection === undefined || this.connection.expiresMs <= Date.now()) {
        const tx = randomInt(0, 2 ** 32);
        const r = await this.sockets.send(family, address, this.port, encodeUdpConnectRequest(tx), tx, waitMs, opts.signal);
        if (r === undefined) continue;
        if (r.type === 'error') throw new TrackerError('TRACKER_FAILURE', { detail: clip(r.message) });
        if (r.type !== 'connect') throw new TrackerError('TRACKER_BAD_RESPONSE', { detail: `expected a connect reply, got ${r.type}` });
        this.connection = { id: r.connectionId, expiresMs: Date.now() + CONNECTION_ID_TTL_MS };
      }
      const tx = randomInt(0, 2 ** 32);
      const r = await this.sockets.send(family, address, this.port, build(this.connection.id, tx), tx, waitMs, opts.signal);
      if (r !== undefined) {
        // An error may mean our connection id expired on the tracker's side: connect again next time.
        if (r.type === 'error') this.connection = undefined;
        return r;
      }
      this.connection = undefined; // no answer: the id may be stale too
    }
    throw new TrackerError('TRACKER_TIMEOUT', { detail: `${this.url}: no answer in ${Math.round((Date.now() - started) / 1000)} s` });
  }

  private async resolve(): Promise<{ family: 4 | 6; address: string }> {
    const literal = isIP(this.host);
    if (literal !== 0) return { family: literal as 4 | 6, address: this.host };
    try {
      const r = await lookup(this.host);
      return { family: r.family as 4 | 6, address: r.address };
    } catch (cause) {
      throw new TrackerError('TRACKER_UNREACHABLE', { detail: `cannot resolve ${this.host}`, cause });
    }
  }
}

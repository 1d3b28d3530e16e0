import { createRequire } from 'node:module';
import { TorrenttpError } from '../../errors/index.js';
import { TrackerError } from '../errors.js';
import type { ParsedIp } from '../ip.js';
import { SourceCache } from './udp-endpoint.js';

/**
 * The tracker's UDP socket on Linux: `native/udp_batch.c` (built by `npm install` with node-gyp)
 * reads datagrams with recvmmsg(2) and sends the answers with sendmmsg(2), up to `SLOTS` per
 * JavaScript call, through buffers allocated here. `node:dgram` costs a JavaScript call, an
 * ArrayBuffer, an address string, a request object and a syscall per datagram each way; here
 * those are per batch. Where the addon is not built (no compiler at install, not Linux) the
 * tracker uses `node:dgram` (`udpBatchAvailable()` says which).
 *
 * Batch i of a call: request bytes at `i × IN_SLOT`, and `[length (-1: longer than the slot),
 * family, port, address (16 bytes), IPv6 scope id]` as 8 int32s at `8i`; the answer, if any, is written at
 * `i × OUT_SLOT` and its length at `i`. An answer given later (scrape, an async store) or larger
 * than a slot goes out on its own with `sendTo`. A reply the kernel cannot take at once (its
 * socket buffer full) is dropped, as UDP allows; the client asks again.
 */
interface NativeUdpBatch {
  open(family: 4 | 6, addr: Uint8Array, port: number, slots: number, inSlot: number, outSlot: number,
    inBytes: ArrayBuffer, inMeta: ArrayBuffer, outBytes: ArrayBuffer, outMeta: ArrayBuffer, onBatch: (n: number) => void): { handle: object; port: number };
  sendTo(handle: object, bytes: Uint8Array, family: 4 | 6, addr: Uint8Array, port: number, scope: number): number;
  close(handle: object): void;
}

const SLOTS = 64;
/** Past BEP 15's largest request (a 74-hash scrape, 1496 bytes) and the default 1500-byte limit. */
const MIN_IN_SLOT = 2048;
/** An announce answer of 200 IPv6 peers (3620 bytes); larger ones go out on their own. */
const OUT_SLOT = 4096;

let loaded: NativeUdpBatch | null | undefined;

function native(): NativeUdpBatch | undefined {
  if (loaded === undefined) {
    loaded = null;
    if (process.platform === 'linux' && process.env['TORRENTTP_UDP_BATCH'] !== '0') {
      try {
        // dist/src/tracker/server/ → the package root's build/
        loaded = createRequire(import.meta.url)('../../../../build/Release/udp_batch.node') as NativeUdpBatch;
      } catch {
        loaded = null;
      }
    }
  }
  return loaded ?? undefined;
}

/** Is the batched UDP socket built and allowed here (Linux; `TORRENTTP_UDP_BATCH=0` turns it off)? */
export function udpBatchAvailable(): boolean {
  return native() !== undefined;
}

/** Where a batched datagram came from, and its place in the batch (for an answer given at once). */
export interface BatchSource {
  readonly source: ParsedIp;
  readonly port: number;
  /** IPv6 scope (interface) id of a link-local source, else 0. */
  readonly scope: number;
  readonly slot: number;
  readonly batch: number;
}

export type BatchHandler = (msg: Uint8Array, source: ParsedIp, to: BatchSource) => void;

export class UdpBatchSocket {
  readonly port: number;
  private readonly nat: NativeUdpBatch;
  private readonly handle: object;
  private readonly inSlot: number;
  private readonly inBytes: Uint8Array;
  private readonly inMeta: Int32Array;
  private readonly inMetaBytes: Uint8Array;
  private readonly outBytes: Uint8Array;
  private readonly outMeta: Int32Array;
  private readonly v4 = new SourceCache<number>();
  private readonly v6 = new SourceCache<string>();
  private batch = 0;
  private inBatch = false;
  private closed = false;
  /** Answers sent on their own (not in a batch) that the kernel refused. */
  dropped = 0;

  private constructor(nat: NativeUdpBatch, host: ParsedIp, port: number, inSlot: number, private onDatagram: BatchHandler) {
    this.nat = nat;
    this.inSlot = inSlot;
    const inBytes = new ArrayBuffer(SLOTS * inSlot);
    const inMeta = new ArrayBuffer(SLOTS * 32);
    const outBytes = new ArrayBuffer(SLOTS * OUT_SLOT);
    const outMeta = new ArrayBuffer(SLOTS * 4);
    this.inBytes = new Uint8Array(inBytes);
    this.inMeta = new Int32Array(inMeta);
    this.inMetaBytes = new Uint8Array(inMeta);
    this.outBytes = new Uint8Array(outBytes);
    this.outMeta = new Int32Array(outMeta);
    try {
      const opened = nat.open(host.family, host.bytes, port, SLOTS, inSlot, OUT_SLOT, inBytes, inMeta, outBytes, outMeta, (n) => this.onBatch(n));
      this.handle = opened.handle;
      this.port = opened.port;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new TrackerError('TRACKER_BIND_FAILED', { detail: `udp ${host.family === 4 ? 'IPv4' : 'IPv6'} port ${port}${code === 'EADDRINUSE' ? ': in use' : ''}`, cause: err });
    }
  }

  /**
   * Binds `host` (an address, not a name; IPv6 `::` takes IPv4 too) and `port` (0: any free
   * one). `maxRequestBytes`: longer datagrams are dropped. Throws `TRACKER_BIND_FAILED`, and
   * `INTERNAL` if the addon is not available (check `udpBatchAvailable()` first).
   */
  static open(host: ParsedIp, port: number, maxRequestBytes: number, onDatagram: BatchHandler): UdpBatchSocket {
    const nat = native();
    if (nat === undefined) throw new TorrenttpError('INTERNAL', { detail: 'the batched UDP socket is not built here' });
    return new UdpBatchSocket(nat, host, port, Math.min(65_536, Math.max(MIN_IN_SLOT, maxRequestBytes + 1)), onDatagram);
  }

  /** Answers `to`: in its batch slot while its batch is being handled, else on its own. */
  send(bytes: Uint8Array, to: BatchSource): void {
    if (this.closed) return;
    if (this.inBatch && to.batch === this.batch && bytes.length <= OUT_SLOT && this.outMeta[to.slot] === 0) {
      this.outBytes.set(bytes, to.slot * OUT_SLOT);
      this.outMeta[to.slot] = bytes.length;
      return;
    }
    if (this.nat.sendTo(this.handle, bytes, to.source.family, to.source.bytes, to.port, to.scope) < 0) this.dropped++;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.nat.close(this.handle);
  }

  private onBatch(n: number): void {
    const meta = this.inMeta;
    const batch = ++this.batch;
    this.inBatch = true;
    try {
      for (let i = 0; i < n; i++) {
        const length = meta[8 * i]!;
        if (length < 0) continue; // longer than any request we take: dropped, as TRACKER_UDP_TOO_LARGE is
        const source = this.sourceOf(i);
        if (source === undefined) continue;
        const port = meta[8 * i + 2]!;
        const at = i * this.inSlot;
        this.onDatagram(this.inBytes.subarray(at, at + length), source, { source, port, scope: meta[8 * i + 7]! >>> 0, slot: i, batch });
      }
    } finally {
      this.inBatch = false;
    }
  }

  private sourceOf(i: number): ParsedIp | undefined {
    const meta = this.inMeta;
    const family = meta[8 * i + 1];
    const at = 4 * (8 * i + 3);
    if (family === 4) {
      const word = meta[8 * i + 3]!;
      return this.v4.get(word) ?? this.v4.add(word, { family: 4, bytes: this.inMetaBytes.slice(at, at + 4) });
    }
    if (family !== 6) return undefined;
    const key = `${meta[8 * i + 3]},${meta[8 * i + 4]},${meta[8 * i + 5]},${meta[8 * i + 6]}`;
    return this.v6.get(key) ?? this.v6.add(key, { family: 6, bytes: this.inMetaBytes.slice(at, at + 16) });
  }
}

/** A tiny UDP tracker client for tests: one socket, replies matched by transaction id. */
import { createSocket, type Socket } from 'node:dgram';
import { decodeUdpResponse, type IpFamily, type UdpResponse } from '../../../src/tracker/index.js';

export class UdpTestClient {
  private readonly socket: Socket;
  private readonly waiting = new Map<number, (r: UdpResponse) => void>();
  private nextTx = 1;
  readonly ready: Promise<void>;

  /** `localAddress`: the address to send from (another loopback address, 127.0.0.2, is a foreign source). */
  constructor(private readonly host: string, private readonly port: number, readonly family: IpFamily = 4, localAddress?: string) {
    this.socket = createSocket(family === 4 ? 'udp4' : 'udp6');
    this.socket.on('message', (m) => {
      const r = decodeUdpResponse(new Uint8Array(m), family);
      this.waiting.get(r.transactionId)?.(r);
      this.waiting.delete(r.transactionId);
    });
    this.ready = new Promise((resolve) => this.socket.bind(0, localAddress ?? (family === 4 ? '127.0.0.1' : '::1'), () => resolve()));
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  txid(): number {
    return this.nextTx++;
  }

  /** Sends a packet (to `port`, by default the tracker's) and waits for the reply with `tx`, or undefined after `timeoutMs`. */
  async ask(packet: Uint8Array, tx: number, timeoutMs = 1000, port = this.port): Promise<UdpResponse | undefined> {
    await this.ready;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(tx);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(tx, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.socket.send(packet, port, this.host);
    });
  }

  async sendRaw(packet: Uint8Array): Promise<void> {
    await this.ready;
    await new Promise<void>((resolve) => this.socket.send(packet, this.port, this.host, () => resolve()));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export function peerId(n: number): Uint8Array {
  const id = new TextEncoder().encode(`-TT0001-${String(n).padStart(12, '0')}`);
  return id;
}

export function infoHash(n: number): Uint8Array {
  return Uint8Array.from({ length: 20 }, (_, i) => (n * 31 + i * 7) & 0xff);
}

/** A seeded uniform [0, 1) generator (an LCG), for stores whose sampling a test must repeat. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

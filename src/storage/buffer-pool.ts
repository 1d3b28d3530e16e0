/**
 * Whole-piece buffers kept for reuse, by length, bounded in bytes. A leech fills a fresh piece
 * buffer for every piece it downloads; without reuse that is one new 1 MiB `ArrayBuffer` per MiB
 * of download: cold pages to fault in, external memory for the GC to chase, a new backing store
 * for every transfer to a disk thread. With it, the few buffers of the commit window go round.
 *
 * Only buffers that nothing else can still see may be given back: one that was lent out as
 * block views (uploads in a socket's queue) never is.
 */
export class BufferPool {
  private readonly free = new Map<number, Uint8Array[]>();
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  /** A buffer of `length` bytes, reused when one is free. Its bytes are stale, not zeroed. */
  take(length: number): Uint8Array {
    const list = this.free.get(length);
    const buf = list?.pop();
    if (buf === undefined) return new Uint8Array(length);
    this.bytes -= length;
    return buf;
  }

  /** Gives `buf` back; it must span its whole ArrayBuffer and nobody may use it after. */
  give(buf: Uint8Array): void {
    if (buf.byteOffset !== 0 || buf.byteLength !== buf.buffer.byteLength || buf.length === 0) return;
    if (this.bytes + buf.length > this.maxBytes) return;
    let list = this.free.get(buf.length);
    if (list === undefined) this.free.set(buf.length, (list = []));
    list.push(buf);
    this.bytes += buf.length;
  }

  clear(): void {
    this.free.clear();
    this.bytes = 0;
  }
}

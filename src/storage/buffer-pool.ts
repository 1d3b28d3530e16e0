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

  /**
   * A buffer of `length` bytes spanning its own ArrayBuffer (it may move to a disk thread),
   * reused when one is free. Its bytes are stale, and a new one's are not zeroed either
   * (`allocUnsafeSlow`): a seed takes a new one for every piece it reads for upload (those are
   * lent out as block views, so never come back), and zero-filling it is a pass over memory the
   * read overwrites anyway. That is safe because every taker overwrites every byte before
   * anything reads it:
   * - `PieceStore.loadPiece` reads the whole piece into it: the disk thread's `read` fills every
   *   byte of every slice, or throws (a file shorter than the torrent says is `EIO`), and then
   *   the buffer is never cached or served (test/storage/piece-store.test.ts, "a read that comes
   *   up short…").
   * - `PieceStore.pieceBuffer` (the downloader's piece buffer): the piece is committed only once
   *   every block of it has arrived (`picker.isComplete`), each block copied in at its offset,
   *   and hashed whole before it is written; an incomplete buffer is dropped, never read.
   * A plain `Uint8Array` over it, not the `Buffer`: `Buffer#slice` is a view where callers
   * (`Torrent` readers) rely on `Uint8Array#slice` copying.
   */
  take(length: number): Uint8Array {
    const list = this.free.get(length);
    const buf = list?.pop();
    if (buf === undefined) return new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
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

import { randomBytes } from 'node:crypto';
import type { Torrent } from '../engine/index.js';
import type { PieceIndex } from '../metainfo/index.js';
import type { HaveDocument } from '../tracker/index.js';

/**
 * The have-set of one torrent as a TorrentTTP peer server shows it (docs/torrenttp.md §5), and
 * its long-polls. Rules:
 * - A cursor is `<prefix>.<n>`: a random prefix per watch (so a restarted server, or a torrent
 *   removed and added again, never reuses a cursor for another set) and `n`, the number of pieces
 *   verified since the watch began. A cursor therefore never names two different sets.
 * - `log` holds those pieces in the order they verified, so a delta from cursor `k` is the
 *   pieces of `log[k…]`, sorted. An unknown cursor, or a delta that would be larger than the full
 *   document, gets the full document (§5.3 lets the server choose).
 * - A long-poll resolves on the next verified piece, at its deadline, or when the watch is
 *   released (the server shuts down, the torrent closes): held requests are answered then, never
 *   left hanging. An empty delta is a delta: the answer to `since` when nothing changed in time.
 * - No timers of its own: the caller gives the deadline and its own clock.
 */
export class HaveWatch {
  readonly prefix: string;
  private readonly log: PieceIndex[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly onPiece = (i: PieceIndex): void => this.added(i);
  private released = false;

  constructor(private readonly torrent: Torrent) {
    this.prefix = randomBytes(6).toString('base64url');
    torrent.on('piece', this.onPiece);
  }

  get cursor(): string {
    return `${this.prefix}.${this.log.length}`;
  }

  /** Whether `cursor` names the set as it is now. */
  isCurrent(cursor: string): boolean {
    return cursor === this.cursor;
  }

  /** The full document, or a delta from `since` when one can say it (see the rules above). */
  document(since?: string): HaveDocument {
    const { infoHash, metainfo } = this.torrent;
    const head = { infoHash, pieceCount: metainfo.pieceCount, cursor: this.cursor };
    const from = since === undefined ? undefined : this.positionOf(since);
    if (from !== undefined) {
      const added = [...new Set(this.log.slice(from))].sort((a, b) => a - b);
      // A delta entry costs up to digits + 1 characters, the full set 4/3 of a bit per piece.
      const deltaChars = added.length * (String(metainfo.pieceCount).length + 1);
      const fullChars = Math.ceil(metainfo.pieceCount / 8 / 3) * 4;
      if (deltaChars <= fullChars) return { type: 'delta', ...head, since: since!, added };
    }
    return { type: 'full', ...head, bitfield: this.torrent.have };
  }

  /**
   * Resolves when the set changes, at `timeoutMs`, or when the watch is released; `abort`
   * (the caller went away) resolves it too. Timers are the caller's: it passes `schedule`.
   */
  wait(timeoutMs: number, schedule: (fn: () => void, ms: number) => () => void, onAbort: (fn: () => void) => void): Promise<void> {
    if (this.released || timeoutMs <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let cancel = (): void => undefined;
      const done = (): void => {
        if (!this.waiters.delete(done)) return;
        cancel();
        resolve();
      };
      this.waiters.add(done);
      cancel = schedule(done, timeoutMs);
      onAbort(done);
    });
  }

  get held(): number {
    return this.waiters.size;
  }

  /** Answers every held long-poll and stops following the torrent. */
  release(): void {
    this.released = true;
    this.torrent.off('piece', this.onPiece);
    this.wake();
  }

  private added(index: PieceIndex): void {
    this.log.push(index);
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private positionOf(cursor: string): number | undefined {
    const dot = cursor.lastIndexOf('.');
    if (dot < 0 || cursor.slice(0, dot) !== this.prefix) return undefined;
    const n = cursor.slice(dot + 1);
    if (!/^(?:0|[1-9][0-9]{0,9})$/.test(n) || Number(n) > this.log.length) return undefined;
    return Number(n);
  }
}

import { Bitfield } from './bitfield.js';
import { MetainfoError } from './errors.js';
import type { Geometry, PieceIndex } from './geometry.js';

/**
 * Which files of a torrent to download (aria2 `--select-file`, libtorrent file priorities 0/1),
 * and what that means piece by piece. Pure geometry.
 *
 * - File indexes here are 0-based, in torrent order (the CLI's 1-based `--select` converts).
 * - A piece is *wanted* when it holds at least one byte of a selected file. Pieces are verified
 *   whole, so a piece that straddles a selected and an unselected file is downloaded whole,
 *   and the unselected file's share of it (at most one piece length on each side of a selected
 *   file) is the only part of an unselected file that is ever written.
 * - `length` counts only the selected files' bytes: it is what the download is about, and what
 *   the tracker hears as `left` until done.
 */
export class FileSelection {
  /** Selected file indexes, ascending, no duplicates. */
  readonly files: readonly number[];
  /** Pieces holding at least one byte of a selected file. */
  readonly pieces: Bitfield;
  /** Bytes of the selected files. */
  readonly length: number;
  private readonly selected: Uint8Array;

  /** `files` must name at least one file of `geometry`; repeats are fine. */
  constructor(
    private readonly geometry: Geometry,
    files: Iterable<number>,
  ) {
    const fileCount = geometry.fileLengths.length;
    this.selected = new Uint8Array(fileCount);
    for (const f of files) {
      if (!Number.isInteger(f) || f < 0 || f >= fileCount) {
        throw new MetainfoError('METAINFO_BAD_FILE_SELECTION', { detail: `file index ${String(f)} not in [0, ${fileCount})` });
      }
      this.selected[f] = 1;
    }
    const list: number[] = [];
    for (let f = 0; f < fileCount; f++) if (this.selected[f] === 1) list.push(f);
    if (list.length === 0) throw new MetainfoError('METAINFO_BAD_FILE_SELECTION', { detail: 'no file selected' });
    this.files = list;
    this.pieces = new Bitfield(geometry.pieceCount);
    let length = 0;
    for (const f of list) {
      length += geometry.fileLengths[f]!;
      const { first, end } = geometry.piecesOfFile(f);
      for (let i = first; i < end; i++) this.pieces.set(i);
    }
    this.length = length;
  }

  /** Every file of the torrent: what no selection means. */
  static all(geometry: Geometry): FileSelection {
    return new FileSelection(
      geometry,
      geometry.fileLengths.map((_, i) => i),
    );
  }

  get everything(): boolean {
    return this.files.length === this.geometry.fileLengths.length;
  }

  has(fileIndex: number): boolean {
    return this.selected[fileIndex] === 1;
  }

  /** Bytes of piece `index` that belong to selected files. */
  selectedBytesOf(index: PieceIndex | number): number {
    let n = 0;
    for (const s of this.geometry.pieceSlices(index as PieceIndex)) if (this.selected[s.fileIndex] === 1) n += s.length;
    return n;
  }

  /**
   * Files storage must be able to write: the selected ones, plus unselected ones that share a
   * wanted piece (their boundary bytes). Ascending.
   */
  touchedFiles(): number[] {
    const touched = new Uint8Array(this.selected);
    for (const f of this.files) {
      const { first, end } = this.geometry.piecesOfFile(f);
      if (first === end) continue;
      for (const i of [first, end - 1]) for (const s of this.geometry.pieceSlices(i as PieceIndex)) touched[s.fileIndex] = 1;
    }
    const out: number[] = [];
    for (let f = 0; f < touched.length; f++) if (touched[f] === 1) out.push(f);
    return out;
  }
}

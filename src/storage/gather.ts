/**
 * Gathering a commit's buffered writes: the slices of pieces written one after another that run
 * on in the same file (consecutive pieces of a stream, the usual case) go out as ONE `pwritev`
 * instead of one `pwrite` each. Pure bookkeeping: the caller writes each `GatheredWrite` and
 * owns its failures (a failed write fails every piece in `pieces`, and only those).
 */

/** One write: `buffers` (views of piece buffers, in order) at `fileOffset` of `path`. */
export interface GatheredWrite {
  readonly path: string;
  readonly fileOffset: number;
  readonly length: number;
  readonly buffers: Uint8Array[];
  /** The caller's numbers of the pieces it holds bytes of (each once). */
  readonly pieces: number[];
}

/**
 * Bytes gathered into one write at most: 1 MiB, 4 pieces of 256 KiB. A disk thread hashes a
 * piece just before it gathers it, and the write copies the bytes again: this much is still in a
 * core's 1 MiB L2 when it does (docs/proxy.md, "Session 21"). Also far under `IOV_MAX` (1024).
 */
export const GATHER_MAX_BYTES = 1024 * 1024;

export class WriteGatherer {
  private open: { path: string; fileOffset: number; length: number; buffers: Uint8Array[]; pieces: number[] } | undefined;

  /** `write` is called with each gathered write as it closes (in file order of the pieces added). */
  constructor(
    private readonly write: (w: GatheredWrite) => void,
    private readonly maxBytes = GATHER_MAX_BYTES,
  ) {}

  /** `bytes` of piece `piece` go at `fileOffset` of `path`: appended to the open write when they follow it there. */
  add(piece: number, path: string, fileOffset: number, bytes: Uint8Array): void {
    const o = this.open;
    if (o !== undefined && o.path === path && o.fileOffset + o.length === fileOffset && o.length + bytes.length <= this.maxBytes) {
      o.buffers.push(bytes);
      o.length += bytes.length;
      if (o.pieces[o.pieces.length - 1] !== piece) o.pieces.push(piece);
      return;
    }
    this.flush();
    this.open = { path, fileOffset, length: bytes.length, buffers: [bytes], pieces: [piece] };
  }

  /** Closes the open write (a piece that is not written comes next, or the commit ends). */
  flush(): void {
    const o = this.open;
    if (o === undefined) return;
    this.open = undefined;
    this.write(o);
  }
}

/** `buffers` from byte `done` on: the ones wholly written dropped, the one written in part cut (views, no copy). */
export function remaining(buffers: readonly Uint8Array[], done: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = done;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip === 0 ? b : b.subarray(skip));
    skip = 0;
  }
  return out;
}

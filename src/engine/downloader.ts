import { toTorrenttpError, type TorrenttpError } from '../errors/index.js';
import { Bitfield, BLOCK_LENGTH, type Geometry, type PieceIndex } from '../metainfo/index.js';
import { copyBytes, type BlockRequest, type PeerLink } from '../transport/index.js';
import { blockKey, type PeerSet, type PeerState } from './peer-set.js';
import type { PiecePicker } from './picker.js';
import { RateMeter, type TokenBucket } from './rate.js';
import type { TorrentStore } from './torrent-api.js';
import type { WholePiece, WriteMode } from '../storage/index.js';

/**
 * Downloading: requests out, blocks in, pieces assembled and committed. Rules (STATE.md):
 * - Every outstanding request is in exactly one peer's `outstanding` and counted once in the
 *   picker; it leaves both on its block, its rejection, an endgame cancel, or the peer's close.
 * - A block is copied once, from the link's buffer into its piece buffer; a piece's buffer
 *   leaves `buffers` when its commit starts, so it is committed at most once.
 * - Bytes handed to storage and not yet answered stay near `maxCommitBytes`: at or above it no
 *   request goes out, and every finished commit refills every peer.
 * - A failed piece is locked from the peers that sent blocks of it (libtorrent's `lock_piece`)
 *   until a copy from elsewhere verifies: they are not asked for it while another connected
 *   peer that serves downloads has it, so the next copy comes from someone else and tells who
 *   lied. With nobody else holding it, a locked peer may be asked again rather than stall.
 * - Trust: a verified piece gives each peer that sent blocks of it +1 (capped), a failed piece
 *   −4 to a sole sender and −1 to each of several; at −2 × `banAfterHashFailures` it is banned.
 */
export interface DownloaderOptions {
  readonly maxCommitBytes: number;
  readonly banAfterHashFailures: number;
  readonly limiters: readonly TokenBucket[];
}

export interface DownloaderHost {
  readonly now: () => number;
  readonly closed: () => boolean;
  /** Verified and stored: tell peers, readers, completion. */
  /** `from`: the peers that sent its blocks (none for a piece that came whole). */
  readonly verified: (index: PieceIndex, from?: ReadonlySet<PeerState>) => void;
  readonly hashFailed: (index: PieceIndex) => void;
  readonly ban: (peer: PeerState) => void;
  readonly fail: (err: TorrenttpError) => void;
}

/** Trust a peer can bank, so a long good record does not license a run of bad pieces. */
const MAX_TRUST = 8;

export class Downloader {
  readonly down = new RateMeter();
  /** Bytes received per kind of peer, for `stats().downloadedByKind` only (never a decision). */
  readonly downByKind: Record<PeerLink['kind'], number> = { wire: 0, webseed: 0, http: 0 };
  /**
   * Of `down`'s bytes, those no file got: a block that came twice (endgame asks more than one
   * peer for the last blocks) or for a piece no longer in progress, and the pieces that failed
   * their hash. libtorrent's `total_redundant_bytes` and `total_failed_bytes`, Transmission's
   * "corrupt": shown apart from the payload (the CLI's summaries).
   */
  wasted = 0;
  private readonly buffers = new Map<number, { buf: Uint8Array; contributors: Set<PeerState> }>();
  private committingBytes = 0;
  /** Failed pieces → the peers that sent blocks of the failed copies. */
  private readonly locks = new Map<number, Set<PeerState>>();

  constructor(
    private readonly geometry: Geometry,
    private readonly store: TorrentStore,
    private readonly picker: PiecePicker,
    private readonly peers: PeerSet,
    private readonly opts: DownloaderOptions,
    private readonly host: DownloaderHost,
  ) {}

  /** No request goes out (`Torrent.holdDownloads`); pieces come whole through `commitWhole`. */
  held = false;

  /** Every wanted piece is verified. */
  get complete(): boolean {
    return this.picker.missing === 0;
  }

  /** `amInterested` is true exactly when the peer has a wanted piece we lack (and serves downloads). */
  updateInterest(peer: PeerState): void {
    const link = peer.link!;
    const want = link.canDownload && !this.complete && this.picker.interestedIn(link.bitfield);
    if (want !== peer.amInterested) {
      peer.amInterested = want;
      link.setInterested(want);
    }
  }

  block(peer: PeerState, req: BlockRequest, data: Uint8Array): void {
    const k = blockKey(req.index, req.begin);
    if (!peer.outstanding.delete(k)) return; // unrequested or already cancelled: the link should not deliver it
    const now = this.host.now();
    peer.down.add(data.length, now);
    this.down.add(data.length, now);
    if (peer.link !== undefined) this.downByKind[peer.link.kind] += data.length;
    for (const l of this.opts.limiters) l.take(data.length, now);
    if (!this.picker.receive(req.index, req.begin)) this.wasted += data.length;
    else {
      let entry = this.buffers.get(req.index);
      if (entry === undefined) {
        const buf = this.store.pieceBuffer?.(req.index) ?? new Uint8Array(this.geometry.pieceLengthOf(req.index));
        entry = { buf, contributors: new Set() };
        this.buffers.set(req.index, entry);
      }
      // The one copy of a block: out of the socket's buffer, or out of an encrypted link's cipher
      // ring (shared memory, which TypedArray.set copies word by word: copyBytes is one memcpy).
      if (data.buffer instanceof SharedArrayBuffer) copyBytes(entry.buf, data, req.begin);
      else entry.buf.set(data, req.begin);
      entry.contributors.add(peer);
      if (this.picker.endgame) this.cancelDuplicates(peer, req, k);
      if (this.picker.isComplete(req.index)) void this.commit(req.index);
    }
    this.fill(peer);
  }

  rejected(peer: PeerState, req: BlockRequest): void {
    if (!peer.outstanding.delete(blockKey(req.index, req.begin))) return;
    this.picker.release(req.index, req.begin);
    this.fillAll();
  }

  fillAll(): void {
    for (const p of this.peers) this.fill(p);
  }

  fill(peer: PeerState): void {
    const link = peer.link;
    if (link === undefined || peer.closed || this.held || this.host.closed() || this.complete) return;
    if (!peer.amInterested) return; // amInterested implies canDownload
    // Choked: only pieces the peer allows us while choked (BEP 6 allowed-fast), if any.
    const from = link.peerChoking ? allowedWhileChoked(link) : link.bitfield;
    if (from === undefined) return;
    if (this.committingBytes >= this.opts.maxCommitBytes) return; // storage is behind: commit() resumes us
    const now = this.host.now();
    let want = link.desiredQueueDepth - peer.outstanding.size;
    const limiters = this.opts.limiters;
    let batch = Math.min(16, Math.max(1, Math.floor(link.desiredQueueDepth / 4)));
    if (limiters.length > 0) {
      // Under a limit, a request spends the tokens of the bytes it asks for: the tightest
      // limiter's tokens less the bytes already asked of every peer (taken when they arrive).
      // So the bytes received by any time are at most the rate's worth since the start plus one
      // block (curl's --limit-rate holds its average from the start), whatever the pipeline's
      // depth; a request that fails gives its tokens back by leaving the count.
      let credit = Infinity;
      for (const l of limiters) credit = Math.min(credit, l.available(now));
      credit -= this.peers.outstanding() * BLOCK_LENGTH;
      if (credit <= 0) return;
      want = Math.min(want, Math.ceil(credit / BLOCK_LENGTH));
      batch = 1; // the credit comes a block at a time: waiting for a batch would only lose rate
    }
    // Refill in batches (a quarter of the pipe, at most 16 blocks): one socket write then carries
    // many requests instead of one per block received.
    if (peer.outstanding.size > 0 && want < batch) return;
    if (want <= 0) return;
    const locked = this.locks.size === 0 ? undefined : this.lockedFor(peer);
    const reqs = this.picker.pick(from, want, link.prefersRuns, (i, b) => peer.outstanding.has(blockKey(i, b * BLOCK_LENGTH)), locked);
    for (const r of reqs) {
      peer.outstanding.set(blockKey(r.index, r.begin), r);
      link.request(r);
    }
  }

  /** Failed pieces this peer sent blocks of, which another connected peer could send instead. */
  private lockedFor(peer: PeerState): Set<number> | undefined {
    let out: Set<number> | undefined;
    for (const [index, senders] of this.locks) {
      if (!senders.has(peer)) continue;
      for (const other of this.peers) {
        const l = other.link;
        if (senders.has(other) || other.closed || l === undefined || !l.canDownload || !l.bitfield.has(index)) continue;
        (out ??= new Set()).add(index);
        break;
      }
    }
    return out;
  }

  private cancelDuplicates(except: PeerState, req: BlockRequest, k: number): void {
    for (const other of this.peers) {
      if (other === except || !other.outstanding.delete(k)) continue;
      other.link?.cancel(req);
      this.picker.release(req.index, req.begin);
    }
  }

  /**
   * A whole piece from outside the peers (a lone get's stream of the origin's bytes, gateway):
   * verified and stored like a downloaded one, its bytes counted as `kind`'s. Only while held
   * (the picker started no piece then) and for a wanted piece still missing; otherwise, or on a
   * hash mismatch (`hashFailed`; the piece stays missing), resolves false. `mode`: how it is
   * written, when not the store's own way.
   */
  async commitWhole(index: PieceIndex, data: Uint8Array, kind: PeerLink['kind'], mode?: WriteMode): Promise<boolean> {
    if (!this.held || this.store.bitfield.has(index) || !this.picker.wants(index)) return false;
    const now = this.host.now();
    const length = data.length; // `data` may move to a disk thread: its length is 0 here after
    this.down.add(length, now);
    this.downByKind[kind] += length;
    const ok = await this.storePiece(index, data, mode);
    if (ok === undefined) return false;
    if (!ok) {
      this.wasted += length;
      this.host.hashFailed(index);
      return false;
    }
    this.picker.adopt(index);
    this.host.verified(index);
    return true;
  }

  /**
   * `commitWhole` for several whole pieces that came together (a stream's run of consecutive
   * pieces): one storage job for them all (`TorrentStore.commitRun`), each piece still judged on
   * its own, in order: true verified and stored (`verified`), false when it failed its hash
   * (`hashFailed`, it stays missing: the others are unaffected) or was not to be taken (as
   * `commitWhole`: not held, not wanted, already had, or twice in the run). All false when
   * storage failed (the torrent fails) or the torrent closed meanwhile.
   */
  async commitRun(pieces: readonly WholePiece[], kind: PeerLink['kind'], mode?: WriteMode): Promise<boolean[]> {
    const out = pieces.map(() => false);
    const taken: WholePiece[] = [];
    const at: number[] = [];
    const seen = new Set<number>();
    pieces.forEach((p, i) => {
      if (!this.held || this.store.bitfield.has(p.index) || !this.picker.wants(p.index) || seen.has(p.index)) return;
      seen.add(p.index);
      taken.push(p);
      at.push(i);
    });
    if (taken.length === 0) return out;
    const now = this.host.now();
    // Counted now: a piece's buffer may move to a disk thread (its `length` 0 here after).
    const lengths = taken.map((p) => p.data.length);
    let bytes = 0;
    for (const n of lengths) bytes += n;
    this.down.add(bytes, now);
    this.downByKind[kind] += bytes;
    this.committingBytes += bytes;
    let verdicts: boolean[];
    try {
      const cache = this.peers.anyInterested();
      const store = this.store;
      verdicts = store.commitRun !== undefined ? await store.commitRun(taken, cache, mode) : await Promise.all(taken.map((p) => store.commitPiece(p.index, p.data, cache, mode)));
    } catch (err) {
      this.host.fail(toTorrenttpError(err));
      return out;
    } finally {
      this.committingBytes -= bytes;
    }
    if (this.host.closed()) return out;
    taken.forEach((p, j) => {
      if (!verdicts[j]) {
        this.wasted += lengths[j]!;
        this.host.hashFailed(p.index);
        return;
      }
      this.picker.adopt(p.index);
      this.host.verified(p.index);
      out[at[j]!] = true;
    });
    return out;
  }

  /**
   * A whole piece to storage (SHA-1 and write), its bytes counted in `committingBytes` meanwhile:
   * storage's verdict, or undefined when storage failed (the torrent fails) or the torrent closed
   * meanwhile. A piece just downloaded is worth keeping in memory only if some peer may ask for it
   * soon; a pure leech (peers that want nothing from us) recycles the buffer instead: 16 MB less.
   */
  private async storePiece(index: PieceIndex, data: Uint8Array, mode?: WriteMode): Promise<boolean | undefined> {
    const bytes = data.length;
    this.committingBytes += bytes;
    let ok: boolean;
    try {
      ok = await this.store.commitPiece(index, data, this.peers.anyInterested(), mode);
    } catch (err) {
      this.host.fail(toTorrenttpError(err));
      return undefined;
    } finally {
      this.committingBytes -= bytes;
    }
    return this.host.closed() ? undefined : ok;
  }

  private async commit(index: PieceIndex): Promise<void> {
    const entry = this.buffers.get(index);
    if (entry === undefined) return;
    this.buffers.delete(index); // taken out first: a piece is committed at most once
    const length = entry.buf.length; // the buffer may move to a disk thread: its length is 0 here after
    const ok = await this.storePiece(index, entry.buf);
    if (ok === undefined) return;
    if (!ok) {
      this.wasted += length;
      this.picker.failed(index);
      const senders = this.locks.get(index) ?? new Set();
      for (const p of entry.contributors) senders.add(p);
      this.locks.set(index, senders);
      this.host.hashFailed(index);
      const penalty = entry.contributors.size === 1 ? 4 : 1;
      for (const p of entry.contributors) {
        p.trust -= penalty;
        if (p.link !== undefined && !p.closed && p.trust <= -2 * this.opts.banAfterHashFailures) this.host.ban(p);
      }
      this.fillAll();
      return;
    }
    this.picker.verified(index);
    this.locks.delete(index);
    for (const p of entry.contributors) p.trust = Math.min(p.trust + 1, MAX_TRUST);
    this.host.verified(index, entry.contributors);
    if (!this.complete) this.fillAll(); // requests may have waited for this commit (maxCommitBytes)
  }
}

/** The peer's pieces we may request while it chokes us: its allowed-fast set (BEP 6) that it has. */
function allowedWhileChoked(link: PeerLink): Bitfield | undefined {
  const allowed = link.allowedFast;
  if (allowed === undefined || allowed.size === 0) return undefined;
  const out = new Bitfield(link.bitfield.pieceCount);
  let any = false;
  for (const i of allowed) if (link.bitfield.has(i)) any = out.set(i) || any;
  return any ? out : undefined;
}

import { EngineError, type PeerSlot, type Torrent } from '../engine/index.js';
import type { TorrenttpError } from '../errors/index.js';
import { Bitfield, type PieceIndex } from '../metainfo/index.js';
import type { BlockRequest, PeerEvent, PeerLink } from '../transport/index.js';

/**
 * The callers of one torrent on a TorrentTTP peer server, as peers of the engine
 * (docs/torrenttp.md §7). Rules:
 * - A caller is a `PeerLink` like a wire peer: added through `Torrent.newPeerSlot`, counted in
 *   the torrent's peer limit, ranked by the one choker, and served only through `Torrent.lease`.
 *   It downloads from us and never serves us through this link (`canDownload` false); its pieces
 *   are unknown (an empty bitfield), so completion keeps it.
 * - Identity: the caller's IP address, plus its `TorrentTTP-Peer-Id` when it sends one. A peer
 *   id is a claim, so one address gets at most `maxPerAddress` identities; past that its new ids
 *   share the address's plain entry. One address cannot fill the torrent's peer slots.
 * - Interest is implicit (§7): a piece request makes the caller interested (the choker may then
 *   unchoke it at once, if a slot is free; a choked caller says so again at each request); `idleMs` without one makes it not interested (the
 *   choker frees its slot); `closeAfterMs` without one removes it (its peer slot is freed).
 *   A request in flight keeps it busy.
 * - `sweep(now)` applies the timeouts; the server calls it every second. No timers here.
 */
export interface CallerOptions {
  /** Not interested after this long without a piece request. Default 10 s (§7). */
  readonly idleMs?: number;
  /** Removed after this long without a request. Default 60 s. */
  readonly closeAfterMs?: number;
  /** Identities (peer ids) per IP address. Default 4. */
  readonly maxPerAddress?: number;
}

export const CALLER_DEFAULTS = { idleMs: 10_000, closeAfterMs: 60_000, maxPerAddress: 4 } as const;

const noop = (): void => undefined;

class CallerLink implements PeerLink {
  readonly kind = 'http' as const;
  readonly canDownload = false;
  readonly canUpload = true;
  readonly prefersRuns = false;
  readonly pollsHaves = false;
  readonly desiredQueueDepth = 0;
  readonly peerChoking = true;
  readonly bitfield: Bitfield;
  interested = false;
  choking = true;
  inFlight = 0;
  lastMs: number;
  closed = false;

  constructor(
    readonly id: string,
    readonly key: string,
    pieceCount: number,
    private readonly emit: (e: PeerEvent) => void,
    now: number,
    private readonly onClose: (link: CallerLink) => void,
  ) {
    this.bitfield = new Bitfield(pieceCount);
    this.lastMs = now;
  }

  request(_req: BlockRequest): void {}
  cancel(_req: BlockRequest): void {}
  setChoking(choking: boolean): void {
    this.choking = choking;
  }
  setInterested(_interested: boolean): void {}
  announceHave(_index: PieceIndex): void {}
  sendBlock(_req: BlockRequest, _data: Uint8Array, done?: (written: boolean) => void): void {
    (done ?? noop)(false); // a caller pulls with Torrent.lease; nothing is pushed to it
  }

  event(e: PeerEvent): void {
    if (!this.closed) this.emit(e);
  }

  close(reason?: TorrenttpError): void {
    if (this.closed) return;
    this.event(reason === undefined ? { type: 'closed' } : { type: 'closed', reason });
    this.closed = true;
    this.onClose(this);
  }
}

export type { CallerLink };

export class Callers {
  private readonly byKey = new Map<string, CallerLink>();
  private readonly perAddress = new Map<string, number>();
  private readonly o: Required<CallerOptions>;

  constructor(
    private readonly torrent: Torrent,
    opts: CallerOptions = {},
  ) {
    this.o = { ...CALLER_DEFAULTS, ...opts };
  }

  get size(): number {
    return this.byKey.size;
  }

  /**
   * The caller at `ip` (with the peer id it claims, 40 hex, if any), created if new; undefined
   * when the torrent takes no more peers (`admits` false: the client's own connection limit).
   */
  callerFor(ip: string, peerId: string | undefined, now: number, admits: boolean): CallerLink | undefined {
    let key = peerId === undefined ? ip : `${ip}#${peerId}`;
    let link = this.byKey.get(key);
    if (link === undefined && peerId !== undefined && (this.perAddress.get(ip) ?? 0) >= this.o.maxPerAddress) {
      key = ip;
      link = this.byKey.get(key);
    }
    if (link !== undefined) return link;
    const id = peerId === undefined ? `ttp-caller ${ip}` : `ttp-caller ${ip} ${peerId}`;
    if (!admits || !this.torrent.accepts(id)) return undefined;
    const slot: PeerSlot = this.torrent.newPeerSlot('incoming');
    link = new CallerLink(id, key, this.torrent.metainfo.pieceCount, slot.onEvent, now, (l) => this.forget(l, ip));
    this.byKey.set(key, link);
    this.perAddress.set(ip, (this.perAddress.get(ip) ?? 0) + 1);
    slot.attach(link);
    return link.closed ? undefined : link;
  }

  /** A piece request starts: the caller is interested (again) and busy. Call `end` when it ends. */
  begin(link: CallerLink, now: number): void {
    link.lastMs = now;
    link.inFlight++;
    // Said again while choked: a slot freed since (a caller went idle) is then given at once.
    if (!link.interested || link.choking) {
      link.interested = true;
      link.event({ type: 'interested' });
    }
  }

  end(link: CallerLink, now: number): void {
    link.lastMs = now;
    link.inFlight--;
  }

  /** Applies the idle timeouts (see the rules). */
  sweep(now: number): void {
    for (const link of [...this.byKey.values()]) {
      if (link.inFlight > 0) continue;
      const idle = now - link.lastMs;
      if (idle >= this.o.closeAfterMs) link.close();
      else if (idle >= this.o.idleMs && link.interested) {
        link.interested = false;
        link.event({ type: 'notInterested' });
      }
    }
  }

  /** Every caller leaves (the server closes). */
  closeAll(): void {
    for (const link of [...this.byKey.values()]) link.close(new EngineError('ENGINE_CLOSED'));
  }

  private forget(link: CallerLink, ip: string): void {
    if (this.byKey.get(link.key) !== link) return;
    this.byKey.delete(link.key);
    const n = (this.perAddress.get(ip) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(ip);
    else this.perAddress.set(ip, n);
  }
}

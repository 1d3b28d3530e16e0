import { bytesEqual } from '../bytes.js';
import { formatIp, type ParsedIp } from '../ip.js';
import type { AnnounceEvent } from '../announce-types.js';
import type { ReplyShape, SwarmAnnounceResult, SwarmPeer } from './swarm-store.js';

/**
 * A peer that lives in the tracker's own process: the seed of a web server that embeds its
 * tracker (`torrenttp serve`). It announces to the tracker over loopback like any peer, so the
 * store holds it at a loopback address, which is useless to every client on another machine.
 *
 * Rules for a torrent the embedded peer has:
 * - Every reply lists it exactly once, first, at the address the announcer reached the tracker
 *   on (the local address of its TCP connection, or of the UDP socket) and its wire port: the one
 *   address of this host that client is known to reach. Not in its own replies, nor in a reply
 *   that asks for no peers.
 * - The store's entries for it (its port at a loopback address, at the announcer's local address
 *   or at any address it announced from) are dropped, so it is never listed twice or at an
 *   address the announcer cannot reach.
 * - Other peers' announces are reported (`announced`), so the embedded peer can dial them: some
 *   clients (Transmission) never dial peers a tracker gives them at some addresses.
 */
export interface EmbeddedPeer {
  /** Its peer id: its own announces are recognised by it. */
  readonly peerId: Uint8Array;
  /** Its wire port for this torrent, or undefined when it does not have the torrent. */
  portFor(infoHash: Uint8Array): number | undefined;
  /**
   * Its TorrentTTP torrent URL for this torrent at `local` (the address the announcer reached the
   * tracker on, as text), if it serves one: JSON replies list it with the wire endpoint (§15).
   */
  urlFor?(infoHash: Uint8Array, local: string): string | undefined;
  /**
   * Another peer announced a torrent the embedded peer has: its source address (never a claimed
   * `ip`), and the peer id it announced (so a peer already connected need not be dialled).
   */
  announced?(infoHash: Uint8Array, peer: { readonly ip: string; readonly port: number; readonly peerId: Uint8Array; readonly left: number; readonly event: AnnounceEvent | undefined }): void;
}

/** Most addresses remembered as the embedded peer's own sources (a host has a few). */
const MAX_OWN_SOURCES = 16;

export class EmbeddedPeerReplies {
  private readonly ownSources = new Set<string>();

  constructor(readonly peer: EmbeddedPeer) {}

  /** Remembers where the embedded peer announced from: its store entry has that address. */
  noteSource(peerId: Uint8Array, source: ParsedIp): boolean {
    if (!bytesEqual(peerId, this.peer.peerId)) return false;
    if (this.ownSources.size < MAX_OWN_SOURCES) this.ownSources.add(formatIp(source.bytes));
    return true;
  }

  /** The reply for `reply` with the embedded peer at `local`, following the rules above. */
  rewrite(res: SwarmAnnounceResult, port: number, local: ParsedIp, reply: ReplyShape, numwant: number, isSelf: boolean, infoHash?: Uint8Array): SwarmAnnounceResult {
    const localText = formatIp(local.bytes);
    const own = (ip: string, p: number): boolean => p === port && (ip === localText || isLoopbackText(ip) || this.ownSources.has(ip));
    const add = !isSelf && numwant > 0;
    const peers4 = reply === 'list' ? res.peers4 : compactWith(res.peers4, 6, own, add && local.family === 4 ? local : undefined, port);
    const peers6 = reply === 'list' ? res.peers6 : compactWith(res.peers6, 18, own, add && local.family === 6 ? local : undefined, port);
    let peers = res.peers;
    if (reply === 'list') {
      peers = res.peers.filter((p) => !(own(p.ip, p.port) || bytesEqual(p.peerId, this.peer.peerId)));
      const url = add && infoHash !== undefined ? this.peer.urlFor?.(infoHash, localText) : undefined;
      if (add) peers = [{ peerId: this.peer.peerId, ip: localText, port, ...(url === undefined ? {} : { url }) } satisfies SwarmPeer, ...peers];
    }
    return { complete: res.complete, incomplete: res.incomplete, peers4, peers6, peers };
  }
}

function isLoopbackText(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/** Compact peers without the entries `drop` matches, with `first` (if any) in front. */
function compactWith(peers: Uint8Array, entryBytes: 6 | 18, drop: (ip: string, port: number) => boolean, first: ParsedIp | undefined, port: number): Uint8Array {
  const kept: Uint8Array[] = [];
  if (first !== undefined) {
    const e = new Uint8Array(entryBytes);
    e.set(first.bytes, 0);
    e[entryBytes - 2] = port >> 8;
    e[entryBytes - 1] = port & 0xff;
    kept.push(e);
  }
  for (let i = 0; i < peers.length; i += entryBytes) {
    const entry = peers.subarray(i, i + entryBytes);
    const p = (entry[entryBytes - 2]! << 8) | entry[entryBytes - 1]!;
    if (!drop(formatIp(entry.subarray(0, entryBytes - 2)), p)) kept.push(entry);
  }
  const out = new Uint8Array(kept.length * entryBytes);
  kept.forEach((e, i) => out.set(e, i * entryBytes));
  return out;
}

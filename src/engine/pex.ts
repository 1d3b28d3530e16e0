import { ipScope, type IpScope } from '../tracker/client.js';
import { hostPort, type PeerLink } from '../transport/index.js';
import { PEX_FLAGS, PEX_LIMITS, type PexMessage, type PexPeer } from '../wire/lite.js';
import type { PeerState } from './peer-set.js';

/**
 * BEP 11 peer exchange for one torrent: what we told each peer, and what we believe of what
 * peers tell us. The links carry the messages (`sendPeers`, `peers` events) and the codec is
 * pure (wire/ut-pex.ts); the state lives here, on the torrent's clock. Rules:
 *
 * Sending
 * - Only to a link that `exchangesPeers` (both sides offered ut_pex; web seeds and HTTP peers
 *   never do). Its first message goes at the first `tick` after that, with the peers we can vouch
 *   for (at most `PEX_LIMITS.maxSend`); then every `intervalMs` (60 s, BEP 11: "no more than
 *   once a minute") the difference since the last message to it: added and dropped, at most
 *   `maxSend` each, the rest next time. Nothing is sent when nothing changed.
 * - We vouch only for peers we are connected to whose listen port we know (`link.address`): one
 *   we dialled (its address, flag `connectable`), or an incoming one that named its port in its
 *   BEP 10 handshake. Never the peer itself. Flags: `seed` when its bitfield is complete,
 *   `encryption` when the link says so; never `utp` (we speak TCP only).
 *
 * Receiving
 * - At most one message per peer per `minReceiveIntervalMs` (45 s: BEP 11's minute less slack
 *   for timers) is honoured; the others are ignored, and a peer that sends more than
 *   `maxIgnored` of them between two honoured ones is closed (ENGINE_PEX_FLOOD), as libtorrent
 *   closes a peer sending three within a minute (`too_frequent_pex`).
 * - The first `maxAddedPerMessage` added entries are read; `dropped` is not (we never dropped
 *   a peer because another said so; the dial queue forgets stale addresses by itself).
 * - An address that leads nowhere (unspecified, multicast, not an IP) is skipped; a loopback one
 *   is believed only from a loopback peer, a private one (RFC 1918, link-local, ULA) only from a
 *   loopback or private peer (libtorrent's `is_local` rule): a stranger must not point us at our
 *   own network. What is left goes to the owner's dial queue like a tracker's peers.
 */
export interface PexOptions {
  /** A message to each peer at most this often. Default 60 s. */
  readonly intervalMs: number;
  /** Messages from one peer closer together than this are ignored. Default 45 s. */
  readonly minReceiveIntervalMs: number;
  /** Ignored messages a peer may send between two honoured ones before it is closed. Default 3. */
  readonly maxIgnored: number;
  /** Added entries read from one message. Default 50 (BEP 11's most per message). */
  readonly maxAddedPerMessage: number;
}

export const PEX_DEFAULTS: PexOptions = { intervalMs: 60_000, minReceiveIntervalMs: 45_000, maxIgnored: 3, maxAddedPerMessage: PEX_LIMITS.maxSend };

export interface PexStats {
  /** Messages sent. */
  readonly sent: number;
  /** Messages honoured. */
  readonly received: number;
  /** Messages ignored: too soon after the last one from that peer. */
  readonly ignored: number;
  /** Addresses handed to the dial queue (before its dedupe). */
  readonly learned: number;
}

/** What became of a received message. */
export type PexVerdict =
  | { readonly kind: 'honoured'; readonly addresses: readonly string[] }
  | { readonly kind: 'ignored' }
  /** Too many ignored in a row: close the peer. */
  | { readonly kind: 'flood'; readonly ignored: number };

interface PeerPex {
  /** What the peer has been told is connected (`ip:port` → entry); undefined before the first message. */
  told: Map<string, PexPeer> | undefined;
  nextSendMs: number;
  lastHonouredMs: number;
  ignored: number;
}

export class PeerExchange {
  private readonly o: PexOptions;
  private readonly state = new Map<PeerState, PeerPex>();
  private counters = { sent: 0, received: 0, ignored: 0, learned: 0 };

  constructor(opts: Partial<PexOptions> = {}) {
    this.o = { ...PEX_DEFAULTS, ...opts };
  }

  get stats(): PexStats {
    return { ...this.counters };
  }

  /** Sends what is due to every peer that exchanges peers. */
  tick(now: number, peers: Iterable<PeerState>): void {
    let current: Map<string, PexPeer> | undefined; // built once per tick, only when someone is due
    for (const p of peers) {
      const link = p.link;
      if (p.closed || link === undefined || link.exchangesPeers !== true || link.sendPeers === undefined) continue;
      const st = this.of(p);
      if (now < st.nextSendMs) continue;
      current ??= vouched(peers);
      const self = link.address?.listenPort === undefined ? undefined : hostPort(link.address.ip, link.address.listenPort);
      const first = st.told === undefined;
      const told = (st.told ??= new Map());
      const added: PexPeer[] = [];
      const dropped: PexPeer[] = [];
      for (const [k, e] of current) {
        if (added.length >= PEX_LIMITS.maxSend) break;
        if (k !== self && !told.has(k)) added.push(e);
      }
      for (const [k, e] of told) {
        if (dropped.length >= PEX_LIMITS.maxSend) break;
        if (!current.has(k)) dropped.push({ ip: e.ip, port: e.port, flags: 0 });
      }
      st.nextSendMs = now + this.o.intervalMs;
      if (!first && added.length === 0 && dropped.length === 0) continue;
      for (const e of added) told.set(hostPort(e.ip, e.port), e);
      for (const e of dropped) told.delete(hostPort(e.ip, e.port));
      link.sendPeers({ added, dropped });
      this.counters.sent++;
    }
  }

  /** A `peers` event from `p`'s link. */
  received(p: PeerState, m: PexMessage, now: number): PexVerdict {
    const st = this.of(p);
    if (now - st.lastHonouredMs < this.o.minReceiveIntervalMs) {
      this.counters.ignored++;
      return ++st.ignored > this.o.maxIgnored ? { kind: 'flood', ignored: st.ignored } : { kind: 'ignored' };
    }
    st.lastHonouredMs = now;
    st.ignored = 0;
    this.counters.received++;
    const from = p.link?.address === undefined ? 'invalid' : ipScope(p.link.address.ip);
    const addresses: string[] = [];
    for (const e of m.added.slice(0, this.o.maxAddedPerMessage)) {
      if (e.port > 0 && believable(ipScope(e.ip), from)) addresses.push(hostPort(e.ip, e.port));
    }
    this.counters.learned += addresses.length;
    return { kind: 'honoured', addresses };
  }

  remove(p: PeerState): void {
    this.state.delete(p);
  }

  private of(p: PeerState): PeerPex {
    let st = this.state.get(p);
    if (st === undefined) {
      st = { told: undefined, nextSendMs: -Infinity, lastHonouredMs: -Infinity, ignored: 0 };
      this.state.set(p, st);
    }
    return st;
  }
}

/** The connected peers we can vouch for, by `ip:port`, in connection order. */
function vouched(peers: Iterable<PeerState>): Map<string, PexPeer> {
  const out = new Map<string, PexPeer>();
  for (const p of peers) {
    const link = p.link;
    const a = link?.address;
    if (p.closed || link === undefined || a === undefined || a.listenPort === undefined || ipScope(a.ip) === 'invalid') continue;
    out.set(hostPort(a.ip, a.listenPort), { ip: a.ip, port: a.listenPort, flags: flagsOf(link, a.dialled) });
  }
  return out;
}

function flagsOf(link: PeerLink, dialled: boolean): number {
  return (link.bitfield.complete ? PEX_FLAGS.seed : 0) | (dialled ? PEX_FLAGS.connectable : 0) | (link.encrypted === true ? PEX_FLAGS.encryption : 0);
}

function believable(scope: IpScope, from: IpScope): boolean {
  switch (scope) {
    case 'public':
      return true;
    case 'loopback':
      return from === 'loopback';
    case 'private':
      return from === 'loopback' || from === 'private';
    default:
      return false;
  }
}

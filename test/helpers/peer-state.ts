import { RateMeter } from '../../src/engine/index.js';
import type { PeerState } from '../../src/engine/peer-set.js';
import type { PeerLink } from '../../src/transport/index.js';

/** A fresh peer slot as `PeerSet` makes one (unchoked, interested in us), for unit tests of one engine part. */
export function peerState(link: PeerLink | undefined, o: Partial<PeerState> = {}): PeerState {
  return {
    link,
    source: 'given',
    pending: [],
    outstanding: new Map(),
    down: new RateMeter(),
    up: new RateMeter(),
    counted: undefined,
    amChoking: false,
    amInterested: false,
    peerInterested: true,
    trust: 0,
    uploads: [],
    reading: new Set(),
    closed: false,
    joinedMs: 0,
    spoke: true,
    lastUsefulMs: 0,
    unchokedMs: 0,
    lastRequestMs: 0,
    uploadSnubbed: false,
    sent: undefined,
    ...o,
  };
}

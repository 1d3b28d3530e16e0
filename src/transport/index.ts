export type { BlockRequest, PeerEvent, PeerEventHandler, PeerKind, PeerLink } from './peer-link.js';

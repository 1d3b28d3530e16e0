export { Announcer, isLoopback, type AnnouncerEvents, type AnnouncerOptions } from './announcer.js';
export { HttpTrackerClient, type HttpTrackerOptions } from './http-client.js';
export { isUrlRef, udpTrackerAddress, type AnnounceResult, type PeerRef, type ScrapeResult, type TrackerClient, type TrackerRequestOptions } from './types.js';
export { JsonTrackerClient, type JsonTrackerOptions } from './json-client.js';
export { addressScope, peerUrlAllowed, type AddressScope } from './address-scope.js';

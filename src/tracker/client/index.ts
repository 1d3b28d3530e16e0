export { Announcer, isLoopback, type AnnouncerEvents, type AnnouncerOptions } from './announcer.js';
export { HttpTrackerClient, type HttpTrackerOptions } from './http-client.js';
export type { AnnounceResult, ScrapeResult, TrackerClient, TrackerRequestOptions } from './types.js';
export { UdpTrackerClient, UdpTrackerSockets, type UdpTrackerOptions } from './udp-client.js';

/**
 * Tracker layer: pure packet codecs for HTTP (BEP 3/7/23/48), UDP (BEP 15) and TorrentTTP JSON
 * announces, shared by clients and the server, and the tracker server itself (`server/`).
 */
export * from './client.js';
export * from './server/index.js';

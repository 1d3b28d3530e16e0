/**
 * torrenttp library entry point. Each layer's `index.ts` is its only public surface.
 */
export * from './errors/index.js';
export * from './bencode/index.js';
export * from './metainfo/index.js';
export * from './storage/index.js';
export * from './wire/index.js';
export * from './tracker/index.js';
export * from './transport/index.js';
export * from './dht/index.js';
export * from './engine/index.js';
export * from './gateway/index.js';

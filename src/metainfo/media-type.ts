/**
 * The media type of the JSON metainfo form (docs/torrenttp.md). Its own module, a public surface
 * beside `index.ts` (see test/layers.test.ts), so that a client that only names it in `Accept`
 * (`torrenttp get` before it knows whether a torrent comes back) does not compile the rest of
 * this layer.
 */
export const METAINFO_JSON_MEDIA_TYPE = 'application/vnd.torrenttp.metainfo+json';

/** The BitTorrent metainfo media type (what `Accept` asks for and a `.torrent` is served as). */
export const BITTORRENT_MEDIA_TYPE = 'application/x-bittorrent';

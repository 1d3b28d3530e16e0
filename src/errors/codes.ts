/**
 * The one registry of torrenttp error codes (the fastify `FST_ERR_*` / undici `UND_ERR_*` habit).
 *
 * Rules:
 * - A code is API: never renamed, never reused for another meaning. Add, don't edit.
 * - `side` says whose fault it is (h11's Local/RemoteProtocolError): `remote` means the input,
 *   peer, tracker or request was bad and the caller should drop *that* party; `local` means our
 *   own misuse, configuration or environment (disk, permissions).
 * - `status` is the HTTP status the gateway uses when it turns the error into a problem document.
 * - Sections per layer keep merges from colliding; keep each section sorted.
 */
export interface ErrorSpec {
  readonly message: string;
  readonly side: 'local' | 'remote';
  readonly status: number;
}

export const ERROR_CODES = {
  // ── generic ────────────────────────────────────────────────────────────────────────────
  INVALID_ARGUMENT: { message: 'invalid argument', side: 'local', status: 400 },
  INTERNAL: { message: 'internal error', side: 'local', status: 500 },

  // ── bencode (src/bencode) ──────────────────────────────────────────────────────────────
  BENCODE_DEPTH_EXCEEDED: { message: 'bencode nesting is deeper than the limit', side: 'remote', status: 400 },
  BENCODE_DUPLICATE_KEY: { message: 'bencode dictionary has a duplicate key', side: 'remote', status: 400 },
  BENCODE_EXPECTED_COLON: { message: 'bencode string length is not followed by a colon', side: 'remote', status: 400 },
  BENCODE_INPUT_TOO_LARGE: { message: 'bencode input is larger than the limit', side: 'remote', status: 413 },
  BENCODE_INTEGER_TOO_LONG: { message: 'bencode integer has more digits than the limit', side: 'remote', status: 400 },
  BENCODE_INVALID_INTEGER: { message: 'bencode integer is malformed', side: 'remote', status: 400 },
  BENCODE_KEY_NOT_STRING: { message: 'bencode dictionary key is not a byte string', side: 'remote', status: 400 },
  BENCODE_LEADING_ZERO: { message: 'bencode number has a leading zero', side: 'remote', status: 400 },
  BENCODE_NEGATIVE_ZERO: { message: 'bencode integer is negative zero', side: 'remote', status: 400 },
  BENCODE_STRING_TOO_LONG: { message: 'bencode string is longer than the limit', side: 'remote', status: 400 },
  BENCODE_TOKEN_LIMIT: { message: 'bencode input has more values than the limit', side: 'remote', status: 400 },
  BENCODE_TRAILING_DATA: { message: 'bencode input has data after the value', side: 'remote', status: 400 },
  BENCODE_UNENCODABLE: { message: 'value cannot be bencoded', side: 'local', status: 500 },
  BENCODE_UNEXPECTED_BYTE: { message: 'unexpected byte where a bencode value should start', side: 'remote', status: 400 },
  BENCODE_UNEXPECTED_EOF: { message: 'bencode input ends inside a value', side: 'remote', status: 400 },
  BENCODE_UNSORTED_KEYS: { message: 'bencode dictionary keys are not sorted', side: 'remote', status: 400 },

  // ── metainfo (src/metainfo) ────────────────────────────────────────────────────────────
  METAINFO_BAD_FIELD: { message: 'metainfo field has the wrong type or value', side: 'remote', status: 422 },
  METAINFO_BAD_FILE_LENGTH: { message: 'metainfo file length is negative or absurd', side: 'remote', status: 422 },
  METAINFO_BAD_FILE_SELECTION: { message: 'invalid file selection', side: 'local', status: 400 },
  METAINFO_BAD_JSON: { message: 'metainfo JSON document is invalid', side: 'remote', status: 422 },
  METAINFO_BAD_PATH: { message: 'metainfo file path is unsafe or empty', side: 'remote', status: 422 },
  METAINFO_BAD_PIECE_LENGTH: { message: 'metainfo piece length is invalid', side: 'remote', status: 422 },
  METAINFO_BAD_PIECES: { message: 'metainfo pieces do not match the total length', side: 'remote', status: 422 },
  METAINFO_BAD_URL: { message: 'metainfo URL is invalid', side: 'remote', status: 422 },
  METAINFO_LIMIT_EXCEEDED: { message: 'metainfo exceeds a limit (file path components or bytes)', side: 'remote', status: 413 },
  METAINFO_MISSING_FIELD: { message: 'metainfo lacks a required field', side: 'remote', status: 422 },
  METAINFO_NOT_A_DICT: { message: 'metainfo is not a bencoded dictionary', side: 'remote', status: 422 },
  METAINFO_NOT_CANONICAL: { message: 'info dict is not canonical bencode (unsorted keys), so no JSON form can keep its info-hash', side: 'remote', status: 422 },
  METAINFO_PIECE_OUT_OF_RANGE: { message: 'piece index is out of range', side: 'remote', status: 416 },
  METAINFO_RANGE_OUT_OF_BOUNDS: { message: 'byte range is outside the torrent', side: 'remote', status: 416 },
  METAINFO_UNSUPPORTED_VERSION: { message: 'metainfo version is not supported', side: 'remote', status: 422 },

  // ── magnet (src/metainfo/magnet) ───────────────────────────────────────────────────────
  MAGNET_BAD_INFO_HASH: { message: 'magnet info-hash is not 40 hex or 32 base32 characters', side: 'remote', status: 400 },
  MAGNET_BAD_URI: { message: 'not a magnet URI', side: 'remote', status: 400 },
  MAGNET_NO_INFO_HASH: { message: 'magnet URI has no BitTorrent info-hash (xt=urn:btih:)', side: 'remote', status: 400 },

  // ── create (src/metainfo create: reading the files to share) ───────────────────────────
  CREATE_EMPTY: { message: 'nothing to share: no files, or only empty ones', side: 'local', status: 400 },
  CREATE_IO: { message: 'cannot read the files to share', side: 'local', status: 500 },
  CREATE_CHANGED: { message: 'a file changed while it was being hashed', side: 'local', status: 409 },

  // ── cli (src/cli) ──────────────────────────────────────────────────────────────────────
  CLI_FETCH_FAILED: { message: 'cannot fetch the torrent from its URL', side: 'remote', status: 502 },
  CLI_INPUT_NOT_FOUND: { message: 'input not found', side: 'local', status: 404 },
  CLI_INPUT_UNREADABLE: { message: 'cannot read the input', side: 'local', status: 500 },
  CLI_OUTPUT_EXISTS: { message: 'output file exists (use --force to overwrite)', side: 'local', status: 409 },
  CLI_OUTPUT_UNWRITABLE: { message: 'the output file cannot be written', side: 'local', status: 500 },
  CLI_STOP_TIMEOUT: { message: 'no data arrived for the --stop-timeout', side: 'remote', status: 504 },
  CLI_UNKNOWN_INPUT: { message: 'input is not a .torrent, a magnet URI or a metainfo JSON document', side: 'local', status: 400 },

  // ── storage (src/storage) ──────────────────────────────────────────────────────────────
  STORAGE_BAD_LENGTH: { message: 'piece data has the wrong length for its index', side: 'remote', status: 400 },
  STORAGE_CLOSED: { message: 'storage is closed', side: 'local', status: 503 },
  STORAGE_FILE_TOO_LONG: { message: 'a file on disk is longer than the torrent says; it is left untouched', side: 'local', status: 409 },
  STORAGE_HARD_LINK: { message: 'a file the torrent writes has other names (hard links); it is never written in place', side: 'local', status: 409 },
  STORAGE_IO: { message: 'disk read or write failed', side: 'local', status: 500 },
  STORAGE_NO_SPACE: { message: 'no space left on the disk (or quota exceeded)', side: 'local', status: 507 },
  STORAGE_NOT_SELECTED: { message: 'piece holds no byte of a selected file', side: 'local', status: 409 },
  STORAGE_NOT_VERIFIED: { message: 'piece is not verified here yet', side: 'remote', status: 404 },
  STORAGE_OUT_OF_RANGE: { message: 'piece index or block range is outside the torrent', side: 'remote', status: 416 },
  STORAGE_PATH_CONFLICT: { message: 'a path the torrent needs is taken by something else', side: 'local', status: 409 },
  STORAGE_PATH_ESCAPE: { message: 'a path would leave the download folder through a symlink', side: 'local', status: 403 },
  STORAGE_PIECE_CORRUPT: { message: 'pieces on disk failed verification and are not served until downloaded again', side: 'local', status: 409 },
  STORAGE_READ_ONLY: { message: 'disk or file is read-only or not writable by us', side: 'local', status: 500 },

  // ── transport (src/transport) ──────────────────────────────────────────────────────────
  TRANSPORT_ADDRESS_LIMIT: { message: 'too many incoming connections from one IP address', side: 'remote', status: 429 },
  TRANSPORT_ABORTED: { message: 'peer connection attempt was aborted', side: 'local', status: 499 },
  TRANSPORT_BAD_PEER_ADDRESS: { message: 'peer address is not host:port', side: 'local', status: 400 },
  TRANSPORT_BLOCK_MISMATCH: { message: 'peer sent a block whose length differs from the request', side: 'remote', status: 400 },
  TRANSPORT_CONNECT_FAILED: { message: 'cannot connect to the peer', side: 'remote', status: 502 },
  TRANSPORT_CONNECT_TIMEOUT: { message: 'peer did not connect and answer the handshake in time', side: 'remote', status: 504 },
  TRANSPORT_HANDSHAKE_TIMEOUT: { message: 'incoming peer did not send its handshake in time', side: 'remote', status: 408 },
  TRANSPORT_HTTP_BAD_LENGTH: { message: 'web seed body length differs from the range asked for', side: 'remote', status: 502 },
  TRANSPORT_HTTP_BAD_RANGE: { message: 'web seed did not answer the range asked for (status 206 and Content-Range)', side: 'remote', status: 502 },
  TRANSPORT_HTTP_ERROR_PAGE: { message: 'web seed answered with an HTML page instead of file bytes', side: 'remote', status: 502 },
  TRANSPORT_HTTP_FAILED: { message: 'web seed or HTTP peer request failed', side: 'remote', status: 502 },
  TRANSPORT_HTTP_PEER_GAVE_UP: { message: 'TorrentTTP peer failed too many times in a row', side: 'remote', status: 502 },
  TRANSPORT_HTTP_STATUS: { message: 'web seed or HTTP peer answered with an unexpected HTTP status', side: 'remote', status: 502 },
  TRANSPORT_HTTP_TIMEOUT: { message: 'web seed or HTTP peer did not answer in time', side: 'remote', status: 504 },
  TRANSPORT_HTTP_UNAVAILABLE: { message: 'web seed or HTTP peer is busy (HTTP 429 or 503)', side: 'remote', status: 503 },
  TRANSPORT_IDLE_TIMEOUT: { message: 'peer sent nothing for too long', side: 'remote', status: 408 },
  TRANSPORT_INFO_HASH_MISMATCH: { message: 'peer handshake names another info-hash', side: 'remote', status: 400 },
  TRANSPORT_LISTEN_FAILED: { message: 'cannot listen for peers on the address and port', side: 'local', status: 500 },
  TRANSPORT_METADATA_MISMATCH: { message: 'peer sent metadata pieces that disagree with its metadata_size or our request', side: 'remote', status: 400 },
  TRANSPORT_NO_METADATA: { message: 'peer does not offer the torrent metadata (no BEP 10 / ut_metadata or no metadata_size)', side: 'remote', status: 404 },
  TRANSPORT_PEER_CLOSED: { message: 'peer closed the connection', side: 'remote', status: 502 },
  TRANSPORT_PORT_IN_USE: { message: 'the port for incoming peers is already in use', side: 'local', status: 409 },
  TRANSPORT_SOCKET_ERROR: { message: 'peer connection failed', side: 'remote', status: 502 },
  TRANSPORT_TOO_MANY_REQUESTS: { message: 'peer queued more block requests than the limit', side: 'remote', status: 429 },
  TRANSPORT_UNKNOWN_TORRENT: { message: 'peer asked for a torrent we do not serve', side: 'remote', status: 404 },
  TRANSPORT_WEBSEED_GAVE_UP: { message: 'web seed failed too many times in a row', side: 'remote', status: 502 },
  TRANSPORT_WEBSEED_NO_RANGE: { message: 'web seed ignores Range (answers 200 with the whole file) and the torrent is too large to fetch file by file', side: 'remote', status: 502 },

  // ── dht (src/dht, BEP 5) ───────────────────────────────────────────────────────────────
  DHT_BAD_MESSAGE: { message: 'DHT message lacks a field or has one of the wrong type or size', side: 'remote', status: 400 },
  DHT_BAD_NODE_ID: { message: 'DHT node id is not 20 bytes, is ours, or changed for a known address', side: 'remote', status: 400 },
  DHT_BAD_PACKET: { message: 'DHT packet is not valid bencode within the limits', side: 'remote', status: 400 },
  DHT_BAD_STATE: { message: 'the saved DHT node table is unreadable', side: 'local', status: 500 },
  DHT_BAD_TOKEN: { message: 'announce_peer token is not one we gave this address', side: 'remote', status: 403 },
  DHT_BIND_FAILED: { message: 'cannot open the DHT UDP port', side: 'local', status: 500 },
  DHT_CLOSED: { message: 'the DHT node is closed', side: 'local', status: 410 },
  DHT_ERROR_REPLY: { message: 'DHT node answered with an error', side: 'remote', status: 502 },
  DHT_PACKET_TOO_LARGE: { message: 'DHT packet is larger than the limit', side: 'remote', status: 413 },
  DHT_RATE_LIMITED: { message: 'too many DHT packets from one address', side: 'remote', status: 429 },
  DHT_TIMEOUT: { message: 'DHT node did not answer in time', side: 'remote', status: 504 },
  DHT_TOO_BUSY: { message: 'too many DHT queries in flight', side: 'local', status: 503 },
  DHT_WRONG_SENDER: { message: 'DHT reply came from another address or node id than the one asked', side: 'remote', status: 400 },

  // ── engine (src/engine) ────────────────────────────────────────────────────────────────
  ENGINE_BAD_RANGE: { message: 'byte range is not within the torrent', side: 'local', status: 416 },
  ENGINE_BAD_PEER_ADDRESS: { message: 'peer address is not host:port', side: 'local', status: 400 },
  ENGINE_CLOSED: { message: 'the torrent or client is closed', side: 'local', status: 410 },
  ENGINE_DUPLICATE_TORRENT: { message: 'this torrent is already added', side: 'local', status: 409 },
  ENGINE_LISTEN_FAILED: { message: 'cannot listen for peers on the address and port', side: 'local', status: 500 },
  ENGINE_METADATA_HASH_MISMATCH: { message: 'metadata from peers does not hash to the info-hash', side: 'remote', status: 502 },
  ENGINE_METADATA_REJECTED: { message: 'every peer refused to send the metadata', side: 'remote', status: 502 },
  ENGINE_METADATA_TIMEOUT: { message: 'no peer gave the torrent metadata in time', side: 'remote', status: 504 },
  ENGINE_METADATA_TOO_LARGE: { message: 'peer announces metadata larger than the limit', side: 'remote', status: 413 },
  ENGINE_PEER_BANNED: { message: 'peer banned for sending data that failed the hash check', side: 'remote', status: 403 },
  ENGINE_PEER_EVICTED: { message: 'peer disconnected to make room for another: silent or idle while the torrent was full', side: 'remote', status: 503 },
  ENGINE_RANGE_NOT_SELECTED: { message: 'byte range holds pieces of files not selected for download', side: 'local', status: 416 },
  ENGINE_PORT_IN_USE: { message: 'the port for incoming peers is already in use', side: 'local', status: 409 },
  ENGINE_TOO_MANY_PEERS: { message: 'connection limit reached', side: 'local', status: 503 },

  // ── gateway (src/gateway) ──────────────────────────────────────────────────────────────
  GATEWAY_BAD_PATH: { message: 'request path is malformed or tries to leave the served folder', side: 'remote', status: 400 },
  GATEWAY_BAD_REQUEST: { message: 'request is malformed', side: 'remote', status: 400 },
  GATEWAY_BIND_FAILED: { message: 'web server cannot listen on the address and port', side: 'local', status: 500 },
  GATEWAY_CACHE_IO: { message: 'cannot read or write the metainfo cache', side: 'local', status: 500 },
  GATEWAY_FILE_SHRANK: { message: 'the file got shorter while it was sent; the response was cut off', side: 'local', status: 500 },
  GATEWAY_FORBIDDEN: { message: 'not allowed to read this path', side: 'remote', status: 403 },
  GATEWAY_GET_BAD_ANSWER: { message: 'server answered in a way a download cannot use', side: 'remote', status: 502 },
  GATEWAY_GET_DIGEST_MISMATCH: { message: 'downloaded bytes do not match the digest the server sent', side: 'remote', status: 502 },
  GATEWAY_GET_FAILED: { message: 'request failed', side: 'remote', status: 502 },
  GATEWAY_GET_HTTP_STATUS: { message: 'server answered with an HTTP error', side: 'remote', status: 502 },
  GATEWAY_GET_OUTPUT: { message: 'cannot write the download', side: 'local', status: 500 },
  GATEWAY_HASHING: { message: 'the torrent of this file is being made; retry later', side: 'local', status: 503 },
  GATEWAY_METHOD_NOT_ALLOWED: { message: 'HTTP method not allowed here', side: 'remote', status: 405 },
  GATEWAY_NOT_FOUND: { message: 'no such file', side: 'remote', status: 404 },
  GATEWAY_NOT_OFFERED: { message: 'this file is not offered as a torrent', side: 'remote', status: 404 },
  GATEWAY_PRECONDITION_FAILED: { message: 'a precondition (If-Match / If-Unmodified-Since) failed', side: 'remote', status: 412 },
  GATEWAY_PROXY_BAD_TARGET: { message: 'proxy request target is not an absolute http URL or a CONNECT host:port', side: 'remote', status: 400 },
  GATEWAY_PROXY_CACHE_IO: { message: 'cannot read or write the proxy cache folder', side: 'local', status: 500 },
  GATEWAY_PROXY_UPGRADE: { message: 'the proxy does not tunnel protocol upgrades (websockets): use CONNECT', side: 'remote', status: 501 },
  GATEWAY_PROXY_UPSTREAM: { message: 'the proxy could not reach the origin server', side: 'remote', status: 502 },
  GATEWAY_RANGE_NOT_SATISFIABLE: { message: 'requested range is outside the file', side: 'remote', status: 416 },
  GATEWAY_ROOT_UNUSABLE: { message: 'the folder to serve cannot be read', side: 'local', status: 500 },
  GATEWAY_TLS: { message: 'cannot read the TLS certificate or key', side: 'local', status: 500 },
  GATEWAY_UNKNOWN_HOST: { message: 'the Host header names none of the names this loopback server is reached by (DNS rebinding guard)', side: 'remote', status: 421 },

  // ── TorrentTTP peer resources (src/tracker/ttp-*; docs/torrenttp.md) ─────────────────────
  TTP_BAD_CONTENT_RANGE: { message: 'peer answered with a Content-Range or Content-Length other than the range asked for', side: 'remote', status: 502 },
  TTP_BAD_HAVE: { message: 'have-set document is malformed or does not fit the torrent', side: 'remote', status: 502 },
  TTP_BAD_QUERY: { message: 'TorrentTTP query parameter is malformed', side: 'remote', status: 400 },
  TTP_BAD_RANGE: { message: 'Range is not one byte range (bytes=first-last, first- or -suffix)', side: 'remote', status: 400 },
  TTP_BAD_URL: { message: 'not a TorrentTTP torrent URL (http(s), no credentials, query or fragment, no trailing slash)', side: 'remote', status: 400 },
  TTP_BODY_TOO_LONG: { message: 'response body is longer than its Content-Length or the range asked for', side: 'remote', status: 502 },
  TTP_BODY_TOO_SHORT: { message: 'response body ended before its Content-Length or the range asked for', side: 'remote', status: 502 },
  TTP_CHOKED: { message: 'this peer is not uploading to you now; retry after Retry-After', side: 'remote', status: 429 },
  TTP_NO_SUCH_PIECE: { message: 'piece index is not below the torrent\'s piece count', side: 'remote', status: 404 },
  TTP_NOT_FOUND: { message: 'no such TorrentTTP resource', side: 'remote', status: 404 },
  TTP_RANGE_IGNORED: { message: 'peer answered a Range request with 200 and the whole piece', side: 'remote', status: 502 },
  TTP_RANGE_NOT_SATISFIABLE: { message: 'requested range is outside the piece', side: 'remote', status: 416 },
  TTP_RANGE_TOO_LARGE: { message: 'requested range is longer than the per-request limit', side: 'remote', status: 400 },
  TTP_RESPONSE_TOO_LARGE: { message: 'TorrentTTP document is larger than the limit', side: 'remote', status: 502 },
  TTP_UNSUPPORTED_VERSION: { message: 'TorrentTTP document version is not supported', side: 'remote', status: 502 },

  // ── wire (src/wire) ────────────────────────────────────────────────────────────────────
  WIRE_BAD_BITFIELD: { message: 'peer bitfield has the wrong length or spare bits set', side: 'remote', status: 400 },
  WIRE_BAD_BLOCK_LENGTH: { message: 'block length is zero or larger than the limit', side: 'remote', status: 400 },
  WIRE_BAD_EXTENSION: { message: 'peer extension message (BEP 6, 9 or 10) is malformed or over a limit', side: 'remote', status: 400 },
  WIRE_BAD_HANDSHAKE: { message: 'peer handshake does not start with pstrlen 19 and "BitTorrent protocol"', side: 'remote', status: 400 },
  WIRE_BAD_LENGTH: { message: 'peer message has the wrong length for its id', side: 'remote', status: 400 },
  WIRE_MESSAGE_TOO_LONG: { message: 'peer message is longer than the limit', side: 'remote', status: 413 },
  WIRE_OUT_OF_RANGE: { message: 'piece index or block range is outside the torrent', side: 'remote', status: 416 },
  WIRE_UNENCODABLE: { message: 'value cannot be encoded as a peer message', side: 'local', status: 500 },
  WIRE_UNEXPECTED_BITFIELD: { message: 'peer sent a bitfield that is not its first message (no longer raised: real clients send bitfields at any time)', side: 'remote', status: 400 },

  // ── tracker (src/tracker) ──────────────────────────────────────────────────────────────
  TRACKER_ACCESS_LIST_BAD: { message: 'info-hash list file has a line that is not 40 hex characters', side: 'local', status: 500 },
  TRACKER_BAD_EVENT: { message: 'announce event is not started, completed, stopped, paused or empty', side: 'remote', status: 400 },
  TRACKER_BAD_INFO_HASH: { message: 'info_hash is not exactly 20 bytes', side: 'remote', status: 400 },
  TRACKER_BAD_IP: { message: 'ip is not an IPv4 or IPv6 address literal', side: 'remote', status: 400 },
  TRACKER_BAD_NUMBER: { message: 'number is negative, not an integer, or out of range', side: 'remote', status: 400 },
  TRACKER_BAD_PEER_ID: { message: 'peer_id is not exactly 20 bytes', side: 'remote', status: 400 },
  TRACKER_BAD_PERCENT_ENCODING: { message: 'query string has a malformed percent escape', side: 'remote', status: 400 },
  TRACKER_BAD_PORT: { message: 'port is not between 1 and 65535', side: 'remote', status: 400 },
  TRACKER_BAD_QUERY: { message: 'query string is malformed', side: 'remote', status: 400 },
  TRACKER_BAD_RESPONSE: { message: 'tracker response is malformed', side: 'remote', status: 502 },
  TRACKER_BAD_URL: { message: 'peer URL is not an absolute http(s) URL', side: 'remote', status: 400 },
  TRACKER_BIND_FAILED: { message: 'tracker cannot listen on the address and port', side: 'local', status: 500 },
  TRACKER_BODY_TOO_LARGE: { message: 'request body is larger than the limit', side: 'remote', status: 413 },
  TRACKER_CONNECTION_ID_INVALID: { message: 'UDP connection id is unknown or expired', side: 'remote', status: 400 },
  TRACKER_FAILURE: { message: 'tracker refused the request', side: 'remote', status: 502 },
  TRACKER_FULL: { message: 'tracker holds as many torrents or peers as it may', side: 'local', status: 503 },
  TRACKER_FULL_SCRAPE_DISABLED: { message: 'full scrape is disabled on this tracker', side: 'remote', status: 403 },
  TRACKER_HTTP_STATUS: { message: 'tracker answered with an HTTP error', side: 'remote', status: 502 },
  TRACKER_JSON_BAD_BODY: { message: 'request body is not a JSON object', side: 'remote', status: 400 },
  TRACKER_JSON_BAD_FIELD: { message: 'JSON field has the wrong type or value', side: 'remote', status: 422 },
  TRACKER_METHOD_NOT_ALLOWED: { message: 'HTTP method not allowed on this path', side: 'remote', status: 405 },
  TRACKER_MISSING_PARAM: { message: 'request lacks a required parameter', side: 'remote', status: 400 },
  TRACKER_NOT_FOUND: { message: 'no such tracker endpoint', side: 'remote', status: 404 },
  TRACKER_QUERY_TOO_LARGE: { message: 'query string is longer than the limit', side: 'remote', status: 414 },
  TRACKER_RESPONSE_TOO_LARGE: { message: 'tracker response is larger than the limit', side: 'remote', status: 502 },
  TRACKER_STORE_UNAVAILABLE: { message: 'the shared swarm store (Redis) cannot be reached or failed', side: 'local', status: 503 },
  TRACKER_TIMEOUT: { message: 'tracker did not answer in time', side: 'remote', status: 504 },
  TRACKER_TOO_MANY_HASHES: { message: 'scrape asks for more info-hashes than the limit', side: 'remote', status: 400 },
  TRACKER_TORRENT_NOT_ALLOWED: { message: 'torrent is not served by this tracker', side: 'remote', status: 403 },
  TRACKER_UDP_BAD_ACTION: { message: 'UDP tracker packet has an unknown action', side: 'remote', status: 400 },
  TRACKER_UDP_BAD_PROTOCOL_ID: { message: 'UDP connect request lacks the BEP 15 protocol id', side: 'remote', status: 400 },
  TRACKER_UDP_TOO_LARGE: { message: 'UDP tracker packet is larger than the limit', side: 'remote', status: 413 },
  TRACKER_UDP_TRUNCATED: { message: 'UDP tracker packet is shorter than its action needs', side: 'remote', status: 400 },
  TRACKER_UNREACHABLE: { message: 'tracker cannot be reached', side: 'remote', status: 502 },
  TRACKER_UNSUPPORTED_MEDIA_TYPE: { message: 'request body must be application/json', side: 'remote', status: 415 },
  TRACKER_UNSUPPORTED_URL: { message: 'tracker URL scheme is not supported', side: 'local', status: 400 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERROR_CODES[code];
}

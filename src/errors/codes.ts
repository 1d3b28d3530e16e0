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
  METAINFO_BAD_JSON: { message: 'metainfo JSON document is invalid', side: 'remote', status: 422 },
  METAINFO_BAD_PATH: { message: 'metainfo file path is unsafe or empty', side: 'remote', status: 422 },
  METAINFO_BAD_PIECE_LENGTH: { message: 'metainfo piece length is invalid', side: 'remote', status: 422 },
  METAINFO_BAD_PIECES: { message: 'metainfo pieces do not match the total length', side: 'remote', status: 422 },
  METAINFO_BAD_URL: { message: 'metainfo URL is invalid', side: 'remote', status: 422 },
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
  CLI_INPUT_NOT_FOUND: { message: 'input not found', side: 'local', status: 404 },
  CLI_OUTPUT_EXISTS: { message: 'output file exists (use --force to overwrite)', side: 'local', status: 409 },
  CLI_UNKNOWN_INPUT: { message: 'input is not a .torrent, a magnet URI or a metainfo JSON document', side: 'local', status: 400 },

  // ── storage (src/storage) ──────────────────────────────────────────────────────────────

  // ── transport (src/transport) ──────────────────────────────────────────────────────────

  // ── engine (src/engine) ────────────────────────────────────────────────────────────────
  ENGINE_CLOSED: { message: 'the torrent or client is closed', side: 'local', status: 410 },
  ENGINE_DUPLICATE_TORRENT: { message: 'this torrent is already added', side: 'local', status: 409 },
  ENGINE_PEER_BANNED: { message: 'peer banned for sending data that failed the hash check', side: 'remote', status: 403 },
  ENGINE_TOO_MANY_PEERS: { message: 'connection limit reached', side: 'local', status: 503 },

  // ── wire (src/wire) ────────────────────────────────────────────────────────────────────
  WIRE_BAD_BITFIELD: { message: 'peer bitfield has the wrong length or spare bits set', side: 'remote', status: 400 },
  WIRE_BAD_BLOCK_LENGTH: { message: 'block length is zero or larger than the limit', side: 'remote', status: 400 },
  WIRE_BAD_HANDSHAKE: { message: 'peer handshake does not start with pstrlen 19 and "BitTorrent protocol"', side: 'remote', status: 400 },
  WIRE_BAD_LENGTH: { message: 'peer message has the wrong length for its id', side: 'remote', status: 400 },
  WIRE_MESSAGE_TOO_LONG: { message: 'peer message is longer than the limit', side: 'remote', status: 413 },
  WIRE_OUT_OF_RANGE: { message: 'piece index or block range is outside the torrent', side: 'remote', status: 416 },
  WIRE_UNENCODABLE: { message: 'value cannot be encoded as a peer message', side: 'local', status: 500 },
  WIRE_UNEXPECTED_BITFIELD: { message: 'peer sent a bitfield that is not its first message', side: 'remote', status: 400 },

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
  TRACKER_FULL: { message: 'tracker holds as many torrents or peers as it may', side: 'local', status: 503 },
  TRACKER_FULL_SCRAPE_DISABLED: { message: 'full scrape is disabled on this tracker', side: 'remote', status: 403 },
  TRACKER_JSON_BAD_BODY: { message: 'request body is not a JSON object', side: 'remote', status: 400 },
  TRACKER_JSON_BAD_FIELD: { message: 'JSON field has the wrong type or value', side: 'remote', status: 422 },
  TRACKER_METHOD_NOT_ALLOWED: { message: 'HTTP method not allowed on this path', side: 'remote', status: 405 },
  TRACKER_MISSING_PARAM: { message: 'request lacks a required parameter', side: 'remote', status: 400 },
  TRACKER_NOT_FOUND: { message: 'no such tracker endpoint', side: 'remote', status: 404 },
  TRACKER_QUERY_TOO_LARGE: { message: 'query string is longer than the limit', side: 'remote', status: 414 },
  TRACKER_RESPONSE_TOO_LARGE: { message: 'tracker response is larger than the limit', side: 'remote', status: 502 },
  TRACKER_STORE_UNAVAILABLE: { message: 'the shared swarm store (Redis) cannot be reached or failed', side: 'local', status: 503 },
  TRACKER_TOO_MANY_HASHES: { message: 'scrape asks for more info-hashes than the limit', side: 'remote', status: 400 },
  TRACKER_TORRENT_NOT_ALLOWED: { message: 'torrent is not served by this tracker', side: 'remote', status: 403 },
  TRACKER_UDP_BAD_ACTION: { message: 'UDP tracker packet has an unknown action', side: 'remote', status: 400 },
  TRACKER_UDP_BAD_PROTOCOL_ID: { message: 'UDP connect request lacks the BEP 15 protocol id', side: 'remote', status: 400 },
  TRACKER_UDP_TOO_LARGE: { message: 'UDP tracker packet is larger than the limit', side: 'remote', status: 413 },
  TRACKER_UDP_TRUNCATED: { message: 'UDP tracker packet is shorter than its action needs', side: 'remote', status: 400 },
  TRACKER_UNSUPPORTED_MEDIA_TYPE: { message: 'request body must be application/json', side: 'remote', status: 415 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERROR_CODES[code];
}

#!/usr/bin/env python3
"""A TorrentTTP v1 peer server in Python's standard library alone, written from docs/torrenttp.md
(and docs/metainfo-json.md) only: the proof that a stranger can build the server half too.

    python3 examples/ttp-server.py FILE.torrent DATA_DIR [--port N] [--host ADDR]

It serves the torrent whose files are under DATA_DIR (a multi-file torrent's files under
DATA_DIR/<name>/, a single file at DATA_DIR/<name>, as BitTorrent clients lay them out) at the
torrent URL http://HOST:PORT/ttp/v1/torrents/<info-hash>, and prints that URL (with the bound port;
--port 0, the default, picks a free one) on its first line of output. It offers what a server MUST
(§17): the metainfo as JSON and as .torrent, negotiated by Accept at the torrent URL (§4), the
have-set with cursors, If-None-Match, ?wait= and ?since= (§5), pieces whole or by one Range with
the piece ETag and immutable caching (§6, §8), CORS and preflights (§9), problem documents (§13),
and 503 + Retry-After when every upload slot is taken (§7). Every piece is hashed when the server
starts, and again each time it is read: only verified bytes are sent, and a piece whose file
changed leaves the have-set (a new cursor). Loopback only by default, with the Host check of §16.

Limits of this example: HTTP/1.1 without TLS, one torrent, no tracker or announce (give the URL
to a client by hand), no choker beyond the slot count (it has no wire peers to share slots with),
callers not told apart (TorrentTTP-Peer-Id is ignored), and each piece request reads and hashes
the whole piece again (fine for whole-piece requests, torrenttp's; slow for 16 KiB blocks).

--fault is for tests only, and makes the server break the protocol on purpose:
  --fault flip:N       piece N goes out with one byte wrong (its ETag and have-set still claim it)
  --fault spare-bit    the full have-set has a spare bit set (§5.1: a client must refuse it)
"""

import argparse
import base64
import hashlib
import http.server
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading

MAX_REQUEST_BYTES = 16 * 1024 * 1024  # §6.1, §11
MAX_WAIT_SEC = 60  # §5.3
MAX_RANGE_HEADER = 256  # §11
MAX_PIECES = 1 << 22  # §11
CURSOR_RE = re.compile(r"[A-Za-z0-9._~-]{1,64}")
HASH_RE = re.compile(r"[0-9a-f]{40}")
INDEX_RE = re.compile(r"0|[1-9][0-9]{0,15}")
MOUNT = "/ttp/v1/"
JSON_TYPE = "application/vnd.torrenttp.metainfo+json"
BT_TYPE = "application/x-bittorrent"
HAVE_TYPE = "application/vnd.torrenttp.have+json"
CORS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "Content-Length, Content-Location, Content-Range, ETag, Retry-After"),
]
TITLES = {  # §13: each code's title
    "TRACKER_BAD_INFO_HASH": "info-hash is malformed",
    "TTP_BAD_QUERY": "TorrentTTP query parameter is malformed",
    "TTP_BAD_RANGE": "Range is not one byte range (bytes=first-last, first- or -suffix)",
    "TTP_RANGE_TOO_LARGE": "requested range is longer than the per-request limit",
    "TTP_NOT_FOUND": "no such TorrentTTP resource",
    "TRANSPORT_UNKNOWN_TORRENT": "peer asked for a torrent we do not serve",
    "TTP_NO_SUCH_PIECE": "piece index is not below the torrent's piece count",
    "STORAGE_NOT_VERIFIED": "piece is not verified here yet",
    "TRACKER_METHOD_NOT_ALLOWED": "HTTP method not allowed on this path",
    "GATEWAY_PRECONDITION_FAILED": "a precondition (If-Match / If-Unmodified-Since) failed",
    "TTP_RANGE_NOT_SATISFIABLE": "requested range is outside the piece",
    "GATEWAY_UNKNOWN_HOST": "the Host header names none of the names this loopback server is reached by (DNS rebinding guard)",
    "ENGINE_TOO_MANY_PEERS": "connection limit reached",
    "INTERNAL": "internal error",
}


# ---- bencode (BEP 3) -------------------------------------------------------------------------

class BencodeError(ValueError):
    pass


def bdecode(data):
    """Decode one bencoded value that fills `data`. Returns (value, spans): spans maps the id of
    each top-level dict value's key to its raw byte span, so the info dict is hashed as sent."""
    spans = {}

    def val(i, depth):
        if depth > 100:
            raise BencodeError("nested too deep")
        if i >= len(data):
            raise BencodeError("truncated")
        c = data[i]
        if c == ord("i"):
            end = data.index(b"e", i)
            s = data[i + 1:end]
            if not re.fullmatch(rb"0|-?[1-9][0-9]*", s):
                raise BencodeError("bad integer")
            return int(s), end + 1
        if c == ord("l"):
            i += 1
            out = []
            while i < len(data) and data[i] != ord("e"):
                v, i = val(i, depth + 1)
                out.append(v)
            if i >= len(data):
                raise BencodeError("truncated list")
            return out, i + 1
        if c == ord("d"):
            i += 1
            out = {}
            while i < len(data) and data[i] != ord("e"):
                k, i = val(i, depth + 1)
                if not isinstance(k, bytes):
                    raise BencodeError("dict key is not a string")
                start = i
                v, i = val(i, depth + 1)
                if k in out:
                    raise BencodeError("duplicate key")
                out[k] = v
                if depth == 0:
                    spans[k] = (start, i)
            if i >= len(data):
                raise BencodeError("truncated dict")
            return out, i + 1
        if ord("0") <= c <= ord("9"):
            colon = data.index(b":", i)
            s = data[i:colon]
            if not re.fullmatch(rb"0|[1-9][0-9]*", s):
                raise BencodeError("bad string length")
            n = int(s)
            if colon + 1 + n > len(data):
                raise BencodeError("truncated string")
            return data[colon + 1:colon + 1 + n], colon + 1 + n
        raise BencodeError("unexpected byte %r" % chr(c))

    try:
        v, end = val(0, 0)
    except ValueError as e:  # data.index found no terminator
        raise BencodeError(str(e))
    if end != len(data):
        raise BencodeError("trailing bytes")
    return v, spans


def bencode(v):
    if isinstance(v, bool):
        raise TypeError("no bencode form for a boolean")
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, str):
        return bencode(v.encode("utf-8"))
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode("utf-8") if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError("no bencode form for %r" % type(v))


# ---- the JSON metainfo (docs/metainfo-json.md) ------------------------------------------------

def b64(b):
    return base64.b64encode(b).decode("ascii")


def utf8(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return None


def to_json_value(v, top_of_info=False, key=None):
    if isinstance(v, int):
        return v if abs(v) <= 2 ** 53 - 1 else {"$int": str(v)}
    if isinstance(v, bytes):
        if top_of_info and key == b"pieces":
            return b64(v)
        s = utf8(v)
        return s if s is not None else {"$bytes": b64(v)}
    if isinstance(v, list):
        return [to_json_value(x) for x in v]
    out = {}
    for k, x in v.items():
        s = utf8(k)
        name = "$bytes:" + b64(k) if s is None else ("$" + s if s.startswith("$") else s)
        out[name] = to_json_value(x, False, k)
    return out


def metainfo_json(meta, info, info_hash):
    info_json = {}
    for k, x in info.items():
        s = utf8(k)
        name = "$bytes:" + b64(k) if s is None else ("$" + s if s.startswith("$") else s)
        info_json[name] = to_json_value(x, True, k)
    doc = {"version": 1, "infoHash": info_hash, "info": info_json}
    # Outer fields are hints (§4): copied when they are well-formed text, dropped otherwise.
    tiers = meta.get(b"announce-list")
    if isinstance(tiers, list):
        tiers = [[utf8(u) for u in t if isinstance(u, bytes)] for t in tiers if isinstance(t, list)]
        tiers = [[u for u in t if u] for t in tiers]
        tiers = [t for t in tiers if t]
    elif isinstance(meta.get(b"announce"), bytes) and utf8(meta[b"announce"]):
        tiers = [[utf8(meta[b"announce"])]]
    else:
        tiers = []
    if tiers:
        doc["announceList"] = tiers
    urls = meta.get(b"url-list")
    urls = [urls] if isinstance(urls, bytes) else urls if isinstance(urls, list) else []
    urls = [utf8(u) for u in urls if isinstance(u, bytes) and utf8(u)]
    if urls:
        doc["urlList"] = urls
    if isinstance(meta.get(b"creation date"), int):
        doc["creationDate"] = meta[b"creation date"]
    for src, dst in ((b"comment", "comment"), (b"created by", "createdBy")):
        if isinstance(meta.get(src), bytes) and utf8(meta[src]) is not None:
            doc[dst] = utf8(meta[src])
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ---- the torrent and its data ----------------------------------------------------------------

def safe_component(b):
    s = utf8(b)
    if s is None or s in ("", ".", "..") or "/" in s or "\\" in s or "\0" in s:
        raise SystemExit("refusing unsafe path component %r" % b)
    return s


class Torrent:
    def __init__(self, torrent_path, data_dir):
        raw = open(torrent_path, "rb").read()
        meta, spans = bdecode(raw)
        if not isinstance(meta, dict) or not isinstance(meta.get(b"info"), dict):
            raise SystemExit("%s: no info dict" % torrent_path)
        info = meta[b"info"]
        start, end = spans[b"info"]
        info_raw = raw[start:end]
        if bencode(info) != info_raw:
            # metainfo-json.md: a non-canonical info dict has no JSON form with the same hash.
            raise SystemExit("%s: the info dict is not canonical bencode; it has no JSON form" % torrent_path)
        self.info_hash = hashlib.sha1(info_raw).hexdigest()
        if info.get(b"private") == 1:
            raise SystemExit("%s is private (BEP 27): a TorrentTTP peer does not expose it (§16)" % torrent_path)
        self.piece_length = info[b"piece length"]
        pieces = info[b"pieces"]
        if not isinstance(self.piece_length, int) or self.piece_length <= 0 or len(pieces) % 20:
            raise SystemExit("%s: bad piece length or pieces" % torrent_path)
        self.hashes = [pieces[i:i + 20] for i in range(0, len(pieces), 20)]
        name = safe_component(info[b"name"])
        self.files = []  # (path or None for a BEP 47 padding file, offset, length)
        offset = 0
        if b"files" in info:
            for f in info[b"files"]:
                parts = [safe_component(p) for p in f[b"path"]]
                pad = b"p" in f.get(b"attr", b"")
                self.files.append((None if pad else os.path.join(data_dir, name, *parts), offset, f[b"length"]))
                offset += f[b"length"]
        else:
            self.files.append((os.path.join(data_dir, name), 0, info[b"length"]))
            offset = info[b"length"]
        self.total = offset
        self.piece_count = len(self.hashes)
        if self.piece_count == 0 or self.piece_count > MAX_PIECES or self.piece_count != -(-self.total // self.piece_length):
            raise SystemExit("%s: %d pieces do not cover %d bytes" % (torrent_path, self.piece_count, self.total))
        self.json = metainfo_json(meta, info, self.info_hash)
        self.torrent = raw
        self.name = name

    def piece_bytes(self, index):
        if index < self.piece_count - 1:
            return self.piece_length
        return self.total - (self.piece_count - 1) * self.piece_length

    def read_piece(self, index):
        """The piece's bytes from disk if they hash right, else None."""
        want = self.piece_bytes(index)
        begin = index * self.piece_length
        end = begin + want
        out = bytearray()
        try:
            for path, off, length in self.files:
                lo, hi = max(begin, off), min(end, off + length)
                if lo >= hi:
                    continue
                if path is None:
                    out += bytes(hi - lo)
                    continue
                with open(path, "rb") as f:
                    f.seek(lo - off)
                    chunk = f.read(hi - lo)
                if len(chunk) != hi - lo:
                    return None
                out += chunk
        except OSError:
            return None
        if len(out) != want or hashlib.sha1(out).digest() != self.hashes[index]:
            return None
        return bytes(out)


# ---- the have-set (§5) -----------------------------------------------------------------------

class HaveSet:
    """The verified pieces, named by cursors `<random prefix>.<n>` (§5.2): n counts changes, the
    prefix is new at every start, so a cursor never names two sets."""

    def __init__(self, count):
        self.count = count
        self.have = bytearray((count + 7) // 8)
        self.prefix = secrets.token_urlsafe(6).replace("-", "").replace("_", "")[:6] or "p"
        self.n = 0
        self.history = {}  # cursor -> bytes of the set it named (kept for deltas)
        self.cond = threading.Condition()
        self.closing = False
        self.history[self.cursor()] = bytes(self.have)

    def cursor(self):
        return "%s.%d" % (self.prefix, self.n)

    def holds(self, i):
        return bool(self.have[i >> 3] & (0x80 >> (i & 7)))

    def set(self, i, held):
        with self.cond:
            if self.holds(i) == held:
                return
            if held:
                self.have[i >> 3] |= 0x80 >> (i & 7)
            else:
                self.have[i >> 3] &= ~(0x80 >> (i & 7)) & 0xFF
            self.n += 1
            self.history[self.cursor()] = bytes(self.have)
            while len(self.history) > 64:
                del self.history[next(iter(self.history))]
            self.cond.notify_all()

    def wait_change(self, cursor, seconds):
        """Hold until the current cursor is not `cursor`, `seconds` pass, or the server closes."""
        with self.cond:
            self.cond.wait_for(lambda: self.closing or self.cursor() != cursor, timeout=seconds)

    def close(self):
        with self.cond:
            self.closing = True
            self.cond.notify_all()


# ---- HTTP ------------------------------------------------------------------------------------

class Problem(Exception):
    def __init__(self, status, code, detail=None, headers=()):
        super().__init__(code)
        self.status, self.code, self.detail, self.headers = status, code, detail, list(headers)


def etag_list(value):
    """The entity tags of an If-None-Match / If-Match value, weak prefixes dropped; '*' as is."""
    if value is None:
        return None
    value = value.strip()
    if value == "*":
        return "*"
    return [m.group(1) for m in re.finditer(r'(?:W/)?"([^"]*)"', value)]


def matches(tags, tag):
    return tags is not None and (tags == "*" or tag in tags)


def accepts_torrent(accept):
    """§4: the .torrent only when Accept ranks it strictly higher than the JSON type."""
    if accept is None:
        return False
    ranges = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        mt = fields[0].lower()
        if "/" not in mt:
            continue
        q = 1.0
        for p in fields[1:]:
            if p.lower().startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        ranges.append((mt, q))

    def quality(t):
        best, spec = 0.0, -1
        major = t.split("/")[0]
        for mt, q in ranges:
            s = 2 if mt == t else 1 if mt == major + "/*" else 0 if mt == "*/*" else -1
            if s > spec:
                best, spec = q, s
        return best if spec >= 0 else 0.0

    return quality(BT_TYPE) > quality(JSON_TYPE)


def parse_range(value, size):
    """(first, last) of a Range header against a piece of `size` bytes, or None for the whole
    piece (no header, or a unit other than bytes). Raises Problem per §6.2."""
    if value is None:
        return None
    if len(value) > MAX_RANGE_HEADER:
        raise Problem(400, "TTP_BAD_RANGE", "the Range header is longer than %d characters" % MAX_RANGE_HEADER)
    m = re.fullmatch(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)=(.*)", value.strip())
    if m is None:
        raise Problem(400, "TTP_BAD_RANGE", "not a range: %s" % value)
    if m.group(1).lower() != "bytes":
        return None  # RFC 9110 §14.2: an unknown unit is ignored
    spec = m.group(2).strip(" \t")
    if "," in spec:
        raise Problem(400, "TTP_BAD_RANGE", "one range per request")
    m = re.fullmatch(r"([0-9]+)-([0-9]*)|-([0-9]+)", spec)
    if m is None:
        raise Problem(400, "TTP_BAD_RANGE", "not a byte range: %s" % spec)
    if m.group(3) is not None:
        suffix = int(m.group(3))
        if suffix == 0:
            raise Problem(416, "TTP_RANGE_NOT_SATISFIABLE", "bytes=-0 asks for nothing",
                          [("Content-Range", "bytes */%d" % size)])
        first, last = max(0, size - suffix), size - 1
    else:
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else None
        if last is not None and last < first:
            raise Problem(400, "TTP_BAD_RANGE", "last byte %d < first byte %d" % (last, first))
        if first >= size:
            raise Problem(416, "TTP_RANGE_NOT_SATISFIABLE", "first byte %d \u2265 piece length %d" % (first, size),
                          [("Content-Range", "bytes */%d" % size)])
        last = size - 1 if last is None else min(last, size - 1)
    return first, last


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # persistent connections (§2)
    server_version = "ttp-server.py"
    timeout = 15  # §11: a request head must arrive within 15 s (and idle keep-alives end then)

    # Every method goes through one door, so anything unknown is a 405 with a problem document.
    def handle_one_request(self):
        try:
            self.raw_requestline = self.rfile.readline(16385)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if len(self.raw_requestline) > 16384:
                self.requestline, self.request_version, self.command = "", "HTTP/1.1", "GET"
                self.send_error(414)
                return
            if not self.parse_request():
                return
            self.serve()
            self.wfile.flush()
        except (socket.timeout, ConnectionError):
            self.close_connection = True

    def send_error(self, code, message=None, explain=None):
        # A request that is not well-formed HTTP (parse_request's errors): a bare status, and the
        # connection closed (§2: no resource was named, so there is no problem document to send).
        self.close_connection = True
        self.send_response_only(code)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    # -- answers

    def answer(self, status, headers, body=b""):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304) and body:
            self.wfile.write(body)

    def problem(self, p):
        title = TITLES.get(p.code, p.code)
        doc = {"type": "urn:torrenttp:error:" + p.code, "title": title, "status": p.status, "code": p.code}
        if p.detail is not None:
            doc["detail"] = p.detail
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.answer(p.status, [("Content-Type", "application/problem+json"), ("Cache-Control", "no-store")]
                    + p.headers + CORS, body)

    # -- routing (§3): paths matched exactly, never decoded

    def serve(self):
        try:
            self.check_host()
            path, _, query = self.path.partition("?")
            ih, kind, arg = self.route(path)
            if self.command == "OPTIONS":
                return self.preflight()
            if self.command not in ("GET", "HEAD"):
                raise Problem(405, "TRACKER_METHOD_NOT_ALLOWED", self.command[:16], [("Allow", "GET, HEAD, OPTIONS")])
            if self.server.have.closing:
                raise Problem(503, "ENGINE_TOO_MANY_PEERS", "this peer is shutting down", [("Retry-After", "10")])
            t = self.server.torrent
            if ih != t.info_hash:
                raise Problem(404, "TRANSPORT_UNKNOWN_TORRENT", ih)
            if kind == "piece" and arg >= t.piece_count:
                raise Problem(404, "TTP_NO_SUCH_PIECE", "%d \u2265 %d" % (arg, t.piece_count))
            if kind == "metainfo":
                return self.metainfo(arg)
            if kind == "have":
                return self.have_set(query)
            return self.piece(arg)
        except Problem as p:
            self.problem(p)

    def check_host(self):
        """§16 DNS rebinding: on loopback, answer only Hosts this server is reached by."""
        allowed = self.server.host_names
        if allowed is None:
            return
        host = (self.headers.get("Host") or "").strip().lower()
        m = re.fullmatch(r"\[([0-9a-f:.]+)\](?::[0-9]+)?|([^:\[\]]*)(?::[0-9]+)?", host)
        name = None if m is None else (m.group(1) or m.group(2))
        if name is None:
            raise Problem(421, "GATEWAY_UNKNOWN_HOST", host)
        try:
            ipaddress.ip_address(name)
            return  # an IP literal names no one else
        except ValueError:
            pass
        if name not in allowed:
            raise Problem(421, "GATEWAY_UNKNOWN_HOST", host)

    def route(self, path):
        """(info-hash, kind, arg) of a resource path of §3; Problem for anything else."""
        prefix = MOUNT + "torrents/"
        parts = path[len(prefix):].split("/") if path.startswith(prefix) else []
        if not 1 <= len(parts) <= 3:
            raise Problem(404, "TTP_NOT_FOUND", path[:120])
        if not HASH_RE.fullmatch(parts[0]):
            raise Problem(400, "TRACKER_BAD_INFO_HASH", "the path needs the info-hash as 40 lowercase hex digits")
        if len(parts) == 1:
            return parts[0], "metainfo", None
        if len(parts) == 2 and parts[1] in ("metainfo.json", "metainfo.torrent"):
            return parts[0], "metainfo", parts[1]
        if len(parts) == 2 and parts[1] == "have":
            return parts[0], "have", None
        if len(parts) == 3 and parts[1] == "pieces" and INDEX_RE.fullmatch(parts[2]):
            return parts[0], "piece", int(parts[2])
        raise Problem(404, "TTP_NOT_FOUND", path[:120])

    def preflight(self):
        # §9: a preflight gets 204 and its headers; a plain OPTIONS, 204 with Allow and CORS.
        if self.headers.get("Access-Control-Request-Method") is None:
            return self.answer(204, [("Allow", "GET, HEAD, OPTIONS")] + CORS)
        self.answer(204, [("Access-Control-Allow-Origin", "*"),
                          ("Access-Control-Allow-Methods", "GET, HEAD"),
                          ("Access-Control-Allow-Headers", "Range, If-None-Match, If-Range, TorrentTTP-Peer-Id"),
                          ("Access-Control-Max-Age", "86400")])

    # -- §4 metainfo

    def metainfo(self, form):
        t = self.server.torrent
        base = MOUNT + "torrents/" + t.info_hash
        negotiated = form is None
        if negotiated:
            form = "metainfo.torrent" if accepts_torrent(self.headers.get("Accept")) else "metainfo.json"
        if form == "metainfo.json":
            ctype, body, tag = JSON_TYPE, t.json, "json-" + t.info_hash
        else:
            ctype, body, tag = BT_TYPE, t.torrent, "bt-" + t.info_hash
        headers = [("ETag", '"%s"' % tag)]
        if negotiated:
            headers += [("Vary", "Accept"), ("Content-Location", base + "/" + form)]
        headers += [("Cache-Control", "no-cache")] + CORS
        if_match = etag_list(self.headers.get("If-Match"))
        if if_match is not None and not matches(if_match, tag):
            raise Problem(412, "GATEWAY_PRECONDITION_FAILED", "If-Match")
        if matches(etag_list(self.headers.get("If-None-Match")), tag):
            return self.answer(304, headers)
        self.answer(200, [("Content-Type", ctype), ("X-Content-Type-Options", "nosniff")] + headers, body)

    # -- §5 have-set

    def have_set(self, query):
        hs = self.server.have
        params = {}
        for part in query.split("&") if query else []:
            k, eq, v = part.partition("=")
            if k in ("wait", "since"):
                if k in params:
                    raise Problem(400, "TTP_BAD_QUERY", "%s is repeated" % k)
                params[k] = v
        wait = 0
        if "wait" in params:
            if not re.fullmatch(r"[0-9]+", params["wait"]):
                raise Problem(400, "TTP_BAD_QUERY", "wait must be whole seconds")
            # §5.3: any run of digits is clamped, never refused; past 3 significant digits it is
            # more than 60, so a long run is never converted (int() refuses over 4300 digits).
            digits = params["wait"].lstrip("0") or "0"
            wait = MAX_WAIT_SEC if len(digits) > 3 else min(int(digits), MAX_WAIT_SEC)
        since = params.get("since")
        if since is not None and not CURSOR_RE.fullmatch(since):
            raise Problem(400, "TTP_BAD_QUERY", "since is not a cursor")
        inm = etag_list(self.headers.get("If-None-Match"))
        # The set the client names: If-None-Match decides when both are given (§5.3).
        named = None
        if inm is not None:
            named = hs.cursor() if matches(inm, hs.cursor()) else None
        elif since is not None:
            named = since
        if named is not None and named == hs.cursor() and wait > 0 and self.command == "GET":
            hs.wait_change(named, wait)
        with hs.cond:
            cursor, have = hs.cursor(), bytes(hs.have)
            old = hs.history.get(since) if since is not None else None
        headers = [("Content-Type", HAVE_TYPE), ("ETag", '"%s"' % cursor), ("Cache-Control", "no-cache")] + CORS
        if matches(inm, cursor):
            return self.answer(304, [h for h in headers if h[0] != "Content-Type"])
        doc = {"version": 1, "infoHash": self.server.torrent.info_hash, "pieceCount": hs.count, "cursor": cursor}
        have_b64 = b64(self.server.fault_have(have))
        body = json.dumps(dict(doc, have=have_b64), separators=(",", ":")).encode()
        if old is not None and all((o & ~n) == 0 for o, n in zip(old, have)):
            # The set only grew since `since`: a delta, unless listing `added` is longer than `have`.
            added = [i for i in range(hs.count) if have[i >> 3] & (0x80 >> (i & 7)) and not old[i >> 3] & (0x80 >> (i & 7))]
            if len(json.dumps(added, separators=(",", ":"))) <= len(have_b64) + 2:
                body = json.dumps(dict(doc, since=since, added=added), separators=(",", ":")).encode()
        self.answer(200, headers, body)

    # -- §6 pieces

    def piece(self, index):
        srv, t = self.server, self.server.torrent
        size = t.piece_bytes(index)
        ranges = self.headers.get_all("Range") or []
        if_range = self.headers.get("If-Range")
        tag = '"sha1-%s"' % t.hashes[index].hex()
        if if_range is not None and if_range.strip() != tag:
            ranges = []  # §6.3: anything but the piece's strong ETag: the Range is ignored, not read
        if len(ranges) > 1:
            raise Problem(400, "TTP_BAD_RANGE", "one Range header per request")
        rng = parse_range(ranges[0] if ranges else None, size)
        first, last = rng if rng is not None else (0, size - 1)
        if last - first + 1 > MAX_REQUEST_BYTES:
            raise Problem(400, "TTP_RANGE_TOO_LARGE", "%d bytes asked for; at most %d" % (last - first + 1, MAX_REQUEST_BYTES))
        if not srv.have.holds(index):
            raise Problem(404, "STORAGE_NOT_VERIFIED", "piece %d" % index)
        headers = [("Content-Type", "application/octet-stream"), ("ETag", tag),
                   ("Cache-Control", "public, max-age=31536000, immutable"), ("Accept-Ranges", "bytes"),
                   ("X-Content-Type-Options", "nosniff")] + CORS
        if matches(etag_list(self.headers.get("If-None-Match")), tag[1:-1]):
            return self.answer(304, headers[1:])  # all but Content-Type
        status = 200 if rng is None else 206
        if rng is not None:
            headers.insert(1, ("Content-Range", "bytes %d-%d/%d" % (first, last, size)))
        if self.command == "HEAD":
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(last - first + 1))
            return self.end_headers()
        if not srv.slots.acquire(blocking=False):
            raise Problem(503, "ENGINE_TOO_MANY_PEERS", "all %d upload slots are taken" % srv.slot_count,
                          [("Retry-After", "1")])
        try:
            data = t.read_piece(index)  # hashed again: only verified bytes go out (§6.2)
            if data is None:
                srv.have.set(index, False)
                raise Problem(404, "STORAGE_NOT_VERIFIED", "piece %d no longer matches its hash" % index)
            if srv.fault_flip == index:
                data = bytearray(data)
                data[len(data) // 2] ^= 0x01
                data = bytes(data)
            self.answer(status, headers, data[first:last + 1])
        finally:
            srv.slots.release()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def main():
    ap = argparse.ArgumentParser(description="A TorrentTTP v1 peer server (docs/torrenttp.md).")
    ap.add_argument("torrent")
    ap.add_argument("data_dir")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--slots", type=int, default=8, help="piece answers at once; more get 503 (§7)")
    ap.add_argument("--host-name", action="append", default=[], help="another name this server is reached by (§16)")
    ap.add_argument("--fault", action="append", default=[], help=argparse.SUPPRESS)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    try:
        torrent = Torrent(args.torrent, args.data_dir)
    except (OSError, BencodeError, KeyError, TypeError, AttributeError) as e:
        raise SystemExit("%s: not a usable .torrent (%s: %s)" % (args.torrent, type(e).__name__, e))
    have = HaveSet(torrent.piece_count)
    for i in range(torrent.piece_count):
        if torrent.read_piece(i) is not None:
            have.set(i, True)

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    Server.address_family = family
    srv = Server((args.host, args.port), Handler)
    srv.torrent, srv.have, srv.verbose = torrent, have, args.verbose
    srv.slot_count = args.slots
    srv.slots = threading.BoundedSemaphore(args.slots)
    loopback = ipaddress.ip_address(args.host).is_loopback if re.fullmatch(r"[0-9a-fA-F:.]+", args.host) else args.host == "localhost"
    srv.host_names = {"localhost"} | {h.lower() for h in args.host_name} if loopback else None
    srv.fault_flip = None
    srv.fault_have = lambda b: b
    for f in args.fault:
        if f.startswith("flip:"):
            srv.fault_flip = int(f[5:])
        elif f == "spare-bit":
            if torrent.piece_count % 8 == 0:
                raise SystemExit("--fault spare-bit needs a piece count that is not a multiple of 8")
            srv.fault_have = lambda b: b[:-1] + bytes([b[-1] | 1])
        else:
            raise SystemExit("unknown fault %s" % f)

    port = srv.server_address[1]
    host = "[%s]" % args.host if family == socket.AF_INET6 else args.host
    held = sum(have.holds(i) for i in range(torrent.piece_count))
    print("http://%s:%d%storrents/%s" % (host, port, MOUNT, torrent.info_hash), flush=True)
    print("serving %s: %d of %d pieces verified, port %d" % (torrent.name, held, torrent.piece_count, port), flush=True)

    def stop(*_):
        have.close()  # held long-polls answer at once (§5.3)
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    srv.serve_forever()
    srv.server_close()


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# A complete TorrentTTP v1 client in curl, jq, base64, od, sha1sum and dd, written from
# docs/torrenttp.md alone: the proof that the protocol is as simple as it claims.
#
#   examples/ttp-curl-client.sh TORRENT_URL OUTPUT_DIR
#   examples/ttp-curl-client.sh http://192.0.2.10:8080/ttp/v1/torrents/2560f1ee58d918a78b3dbf9cd217b0f90dd36cf8 out
#
# It fetches the JSON metainfo (§4), checks that its info dict hashes to the info-hash in the URL
# (bencoding the JSON `info` with jq, docs/metainfo-json.md), reads the peer's have-set (§5),
# fetches every piece (§6), honours 429/503 Retry-After (§7), checks every piece's SHA-1 before
# keeping it, and writes the torrent's files under OUTPUT_DIR. Limits of this example: keys or
# strings that are not UTF-8 (`$bytes`) in `info` are refused; pieces come from one peer.
set -euo pipefail

url=${1:?usage: $0 TORRENT_URL OUTPUT_DIR}
out=${2:?usage: $0 TORRENT_URL OUTPUT_DIR}
hash=${url##*/}
[[ $hash =~ ^[0-9a-f]{40}$ ]] || { echo "not a torrent URL (…/ttp/v1/torrents/<40 hex>): $url" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl_() { curl -sS --max-time 60 --connect-timeout 10 --proto '=http,https' "$@"; }

# §4: the metainfo, and its info-hash checked against the URL.
curl_ -f -o "$work/meta.json" "$url/metainfo.json"
[[ $(jq -r .version "$work/meta.json") == 1 ]] || { echo 'unsupported metainfo version' >&2; exit 1; }
# Bencode (BEP 3) of the JSON info dict, as a stream of base64 chunks, one per line.
jq -r '
  def chunk: @base64;
  def b64len: (length / 4 * 3) - ((. | test("==$")) as $two | if $two then 2 elif test("=$") then 1 else 0 end);
  def benc:
    if type == "number" then "i\(tostring)e" | chunk
    elif type == "string" then "\(utf8bytelength):\(.)" | chunk
    elif type == "array" then ("l" | chunk), (.[] | benc), ("e" | chunk)
    elif type == "object" then
      if keys == ["$int"] then "i\(."$int")e" | chunk
      elif keys == ["$bytes"] or (keys | any(startswith("$bytes:"))) then error("non-UTF-8 bytes are not supported by this example")
      else ("d" | chunk),
        (to_entries | map(.key |= (if startswith("$$") then .[1:] else . end)) | sort_by(.key) | .[] | (.key | benc), (.value | benc)),
        ("e" | chunk)
      end
    else error("no bencode form for \(type)") end;
  .info | ("d" | chunk),
    (to_entries | sort_by(.key) | .[] |
      (.key | benc),
      (if .key == "pieces" then ("\(.value | b64len):" | chunk), .value else .value | benc end)),
    ("e" | chunk)
' "$work/meta.json" | while read -r line; do printf '%s' "$line" | base64 -d; done > "$work/info.bencode"
got=$(sha1sum < "$work/info.bencode" | cut -c1-40)
[[ $got == "$hash" && $(jq -r .infoHash "$work/meta.json") == "$hash" ]] || { echo "metainfo hashes to $got, not $hash" >&2; exit 1; }

plen=$(jq -r '.info["piece length"]' "$work/meta.json")
total=$(jq -r 'if .info.files then [.info.files[].length] | add else .info.length end' "$work/meta.json")
count=$(( (total + plen - 1) / plen ))
jq -r .info.pieces "$work/meta.json" | base64 -d | od -An -v -tx1 | tr -d ' \n' > "$work/pieces.hex"

# §5: which pieces the peer holds (base64 of the BEP 3 bitfield, piece 0 = the high bit of byte 0).
curl_ -f -o "$work/have.json" "$url/have"
[[ $(jq -r '.version, .infoHash, .pieceCount' "$work/have.json" | paste -sd ' ') == "1 $hash $count" ]] || { echo 'have-set is for another torrent' >&2; exit 1; }
mapfile -t bits < <(jq -r .have "$work/have.json" | base64 -d | od -An -v -tu1 | tr -s ' ' '\n' | grep -v '^$')

# §6, §7: every piece, whole, retried after Retry-After when choked; kept only if its SHA-1 matches.
: > "$work/all.bin"
for ((i = 0; i < count; i++)); do
  (( (bits[i / 8] >> (7 - i % 8)) & 1 )) || { echo "the peer does not have piece $i" >&2; exit 1; }
  want=$(cut -c$((i * 40 + 1))-$((i * 40 + 40)) "$work/pieces.hex")
  for ((try = 0; ; try++)); do
    status=$(curl_ -o "$work/piece" -D "$work/head" -w '%{http_code}' -H 'Accept-Encoding: identity' "$url/pieces/$i")
    [[ $status == 200 ]] && break
    if [[ ($status == 429 || $status == 503) && $try -lt 20 ]]; then
      wait=$(tr -d '\r' < "$work/head" | sed -n 's/^[Rr]etry-[Aa]fter: *\([0-9]\{1,3\}\)$/\1/p')
      sleep "${wait:-5}"
      continue
    fi
    echo "piece $i: HTTP $status $(cat "$work/piece" | head -c 300)" >&2
    exit 1
  done
  [[ $(sha1sum < "$work/piece" | cut -c1-40) == "$want" ]] || { echo "piece $i fails its SHA-1: discarded" >&2; exit 1; }
  cat "$work/piece" >> "$work/all.bin"
done

# The files, in torrent order, from the verified bytes. Path components are checked: no `..`, no `/`.
name=$(jq -r .info.name "$work/meta.json")
safe() { [[ -n $1 && $1 != . && $1 != .. && $1 != */* ]] || { echo "unsafe path component: $1" >&2; exit 1; }; }
safe "$name"
offset=0
jq -c 'if .info.files then .info.files[] | {length, path} else {length: .info.length, path: null} end' "$work/meta.json" |
  while read -r f; do
    len=$(jq -r .length <<< "$f")
    if [[ $(jq -r '.path == null' <<< "$f") == true ]]; then dest="$out/$name"; else
      dest="$out/$name"
      while read -r part; do safe "$part"; dest="$dest/$part"; done < <(jq -r '.path[]' <<< "$f")
    fi
    mkdir -p "$(dirname "$dest")"
    # dd, not `tail | head`: head leaving early kills tail with SIGPIPE, which pipefail makes fatal.
    dd if="$work/all.bin" of="$dest" iflag=skip_bytes,count_bytes skip="$offset" count="$len" bs=1M status=none
    offset=$((offset + len))
  done
echo "downloaded $name ($total bytes, $count pieces verified) from $url"

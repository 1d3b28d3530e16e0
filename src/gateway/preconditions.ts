import type { IncomingMessage, ServerResponse } from 'node:http';
import { conditionalHeaders, evaluateConditionals, type Validators } from './conditional.js';
import { GatewayError } from './errors.js';

/**
 * RFC 9110 §13.2.2 for a GET or HEAD, shared by `serve`'s files and torrents and the TorrentTTP
 * metainfo: false when it answered instead, a 304 with the headers already set plus
 * `notModified` (§15.4.5), or a thrown 412 (`GATEWAY_PRECONDITION_FAILED`).
 */
export function preconditionsHold(req: IncomingMessage, res: ServerResponse, validators: Validators, notModified: Readonly<Record<string, string>> = {}): boolean {
  const cond = evaluateConditionals(conditionalHeaders(req.headers), validators);
  if (cond === 412) throw new GatewayError('GATEWAY_PRECONDITION_FAILED');
  if (cond === 304) {
    res.writeHead(304, notModified);
    res.end();
    return false;
  }
  return true;
}

/**
 * The strong tag (RFC 9110 §8.8.3) of a torrent's metainfo in one form, the same from `serve`'s
 * file URLs and the TorrentTTP resources: the info-hash fixes the info, and for one URL (Host
 * included) the outer fields are the same every time; never the bytes' tag.
 */
export function metainfoEtag(form: 'torrent' | 'json', infoHash: string): string {
  return `"${form === 'torrent' ? 'bt' : 'json'}-${infoHash}"`;
}

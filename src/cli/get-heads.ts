import { escapeControls } from '../errors/index.js';
import type { GetEvent, ResponseHead } from '../gateway/client.js';
import { clipUrls } from './format.js';
import { retryWords } from './get-report.js';

/**
 * A response's head as curl prints it (`-I`, `-D`): the status line, each field as the server
 * sent it, a blank line, CRLF-ended. `prefix` starts each line (`-v`'s `< `).
 */
export function formatHead(head: ResponseHead, prefix = ''): string {
  let text = `${prefix}HTTP/${head.httpVersion} ${head.status}${head.statusMessage === '' ? '' : ` ${head.statusMessage}`}\r\n`;
  for (let i = 0; i + 1 < head.rawHeaders.length; i += 2) text += `${prefix}${head.rawHeaders[i]}: ${head.rawHeaders[i + 1]}\r\n`;
  return `${text}${prefix}\r\n`;
}

/** A field of a head, by name (the first of a repeated one); '' when absent. */
export function headField(head: ResponseHead | undefined, name: string): string {
  if (head === undefined) return '';
  for (let i = 0; i + 1 < head.rawHeaders.length; i += 2) if (head.rawHeaders[i]!.toLowerCase() === name) return head.rawHeaders[i + 1]!;
  return '';
}

const REDIRECTS: readonly number[] = [301, 302, 303, 307, 308];

/** Most interim answers (1xx) `-D` keeps for one body: a server's endless 1xx are not held head by head until memory runs out. */
export const MAX_DUMPED_HEADS = 64;

/**
 * What `-D` and `-w` read from a get's events: the last response's head (the final one once the
 * body starts: `start`), the redirects followed, the bytes received. `dump` (`-D`) gets, once, the
 * heads that led to the body, as curl writes them: each redirect's, each interim answer's (1xx)
 * and the final one; when the body starts, or at the end (`flush`) for a get that failed or had
 * no body. A request of the get's own after a final answer (the negotiation's answer before a
 * `-C -`'s `Range` request) starts the heads anew.
 */
export class HeadWatch {
  last: ResponseHead | undefined;
  redirects = 0;
  private heads: ResponseHead[] = [];
  private resumed = 0;
  private done = 0;
  private dumped = false;

  constructor(private readonly dump?: (text: string) => void) {}

  event(e: GetEvent): void {
    if (e.type === 'response') {
      if (this.last !== undefined && REDIRECTS.includes(this.last.status)) this.redirects++;
      if (this.last !== undefined && this.last.status >= 200 && !REDIRECTS.includes(this.last.status)) this.heads = [];
      // Kept for -D only; interim answers up to MAX_DUMPED_HEADS (redirects are bounded by --max-redirs).
      if (this.dump !== undefined && (e.head.status >= 200 || this.heads.length < MAX_DUMPED_HEADS)) this.heads.push(e.head);
      this.last = e.head;
    } else if (e.type === 'start') {
      this.resumed = this.done = e.resumedBytes;
      this.flush();
    } else if (e.type === 'progress') {
      this.done = e.doneBytes;
    }
  }

  /** Bytes this get received, as the progress last said. */
  get received(): number {
    return Math.max(0, this.done - this.resumed);
  }

  flush(): void {
    if (this.dumped || this.last === undefined || this.dump === undefined) return;
    this.dumped = true;
    this.dump(this.heads.map((h) => formatHead(h)).join(''));
  }
}

/** Request fields whose values `-v` does not print (a log pasted into an issue must not carry the password). */
const SECRET_FIELDS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie']);

/**
 * `-v`'s lines for an event (curl's marks): `> ` the request, `< ` the response's head, `* ` which
 * way the bytes come. '' for the events it does not show. They go to the terminal: each line's
 * controls escaped (`escapeControls`: a server's ESC or U+009B in a reason phrase or field value
 * is shown, not acted on), as the other lines of get's output. `-I` and `-D` stay byte for byte.
 */
export function verboseLines(e: GetEvent): string {
  const text = verboseText(e);
  return text === '' ? text : text.split('\n').map(escapeControls).join('\n');
}

function verboseText(e: GetEvent): string {
  switch (e.type) {
    case 'response': {
      const h = e.head;
      // The request was shown with the interim answer (1xx) before this head.
      if (h.afterInterim === true) return formatHead(h, '< ').replaceAll('\r\n', '\n');
      const u = new URL(h.url);
      let text = `> ${h.method} ${u.pathname}${u.search} HTTP/1.1\n> Host: ${u.host}\n`;
      for (const [name, value] of Object.entries(h.requestHeaders)) text += `> ${name}: ${SECRET_FIELDS.has(name.toLowerCase()) ? '(not shown)' : value}\n`;
      return `${text}>\n${formatHead(h, '< ').replaceAll('\r\n', '\n')}`;
    }
    case 'start':
      return e.mode === 'swarm' ? `* from the swarm (${e.reason}; ${e.infoHash}, BitTorrent port ${e.port})\n` : `* over plain HTTP (${e.reason})\n`;
    case 'route':
      return `* ${e.message}\n`;
    case 'retry':
      // The words of the line `--retry` prints without -v (curl's), so that -sv, which hides
      // that line, says the same thing.
      return `* ${clipUrls(e.message)}. ${retryWords(e.delayMs, e.left)}\n`;
    default:
      return '';
  }
}

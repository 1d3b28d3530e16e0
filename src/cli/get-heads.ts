import type { ResponseHead } from '../gateway/client.js';

/**
 * A response's head as curl prints it (`-I`, `-D`): the status line, each field as the server
 * sent it, a blank line, CRLF-ended. `prefix` starts each line (`-v`'s `< `).
 */
export function formatHead(head: ResponseHead, prefix = ''): string {
  let text = `${prefix}HTTP/${head.httpVersion} ${head.status}${head.statusMessage === '' ? '' : ` ${head.statusMessage}`}\r\n`;
  for (let i = 0; i + 1 < head.rawHeaders.length; i += 2) text += `${prefix}${head.rawHeaders[i]}: ${head.rawHeaders[i + 1]}\r\n`;
  return `${text}${prefix}\r\n`;
}

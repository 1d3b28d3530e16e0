/** The ```http example blocks of a markdown document (docs/torrenttp.md), parsed. */
import assert from 'node:assert/strict';

export interface Message {
  readonly line: number;
  readonly start: string;
  readonly headers: Map<string, string>;
  readonly body: string;
}

/** The ```http blocks of a markdown text, parsed: start line, headers (lower-cased names), body. */
export function httpBlocks(markdown: string): Message[] {
  const out: Message[] = [];
  for (const m of markdown.matchAll(/^```http\n([\s\S]*?)^```$/gm)) {
    const line = markdown.slice(0, m.index).split('\n').length;
    const text = m[1]!.replace(/\n$/, '');
    const blank = text.indexOf('\n\n');
    const head = blank < 0 ? text : text.slice(0, blank);
    const body = blank < 0 ? '' : text.slice(blank + 2);
    const [start, ...fields] = head.split('\n');
    const headers = new Map<string, string>();
    for (const f of fields) {
      const colon = f.indexOf(':');
      assert.ok(colon > 0, `line ${line}: header without a colon: ${f}`);
      const name = f.slice(0, colon).toLowerCase();
      assert.ok(!headers.has(name), `line ${line}: ${name} twice`);
      headers.set(name, f.slice(colon + 1).trim());
    }
    out.push({ line, start: start!, headers, body });
  }
  return out;
}

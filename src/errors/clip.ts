/** The longest URL (or other echoed input) a message or log line repeats: a 20 KB URL refused with a 431 is named by its first 200 characters. */
export const SHOWN_URL_CHARS = 200;

/**
 * Characters a terminal or a log reader acts on rather than shows: C0 controls (ESC, CR, LF, BS…),
 * DEL, C1 controls (U+009B is a CSI on its own), the Unicode line and paragraph separators, and the
 * bidirectional overrides and isolates (they reorder what follows on the line).
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every control character (`CONTROLS`) written as `\xNN` (`\uNNNN` above U+00FF): a
 * URL, header, tracker message or peer's text echoed in a message or log line cannot clear the
 * screen (`\x1b[2J`), move the cursor, or start a line of its own that reads as ours.
 */
export function escapeControls(text: string): string {
  CONTROLS.lastIndex = 0;
  if (!CONTROLS.test(text)) return text;
  return text.replace(CONTROLS, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/**
 * `text` as echoed input: its control characters escaped (`escapeControls`), cut to `max`
 * characters, the last of them an ellipsis, so a cut never reads as the whole. Never cuts inside
 * an escape or a surrogate pair.
 */
export function clip(text: string, max = SHOWN_URL_CHARS): string {
  // Only the head is looked at: the work is bounded by `max`, whatever the input's length.
  const head = text.length > max ? text.slice(0, max) : text;
  const shown = escapeControls(head);
  if (shown.length <= max && head.length === text.length) return shown;
  let cut = shown.slice(0, max - 1);
  const esc = cut.lastIndexOf('\\');
  if (esc >= 0 && /^\\(x[0-9a-f]?|u[0-9a-f]{0,3})?$/.test(cut.slice(esc))) cut = cut.slice(0, esc);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** `clip(text, max)` between double quotes: echoed input whose spaces (or emptiness) matter. */
export function quoted(text: string, max = SHOWN_URL_CHARS): string {
  return `"${clip(text, max)}"`;
}

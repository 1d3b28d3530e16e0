/** The longest URL (or other echoed input) a message or log line repeats: a 20 KB URL refused with a 431 is named by its first 200 characters. */
export const SHOWN_URL_CHARS = 200;

/** `text` cut to `max` characters, the last of them an ellipsis, so a cut never reads as the whole. */
export function clip(text: string, max = SHOWN_URL_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

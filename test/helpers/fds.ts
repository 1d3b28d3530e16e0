import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Whether this process's fds can be listed with their open flags (Linux `/proc`). */
export const canListFds = ((): boolean => {
  try {
    readFileSync('/proc/self/fdinfo/0', 'utf8');
    return true;
  } catch {
    return false;
  }
})();

/**
 * The open fds of this process (worker threads' included: they share the table) whose path
 * `matches`, with their open flags (`O_DIRECT`, the access mode…) from `/proc/self/fdinfo`.
 */
export function openFds(matches: (path: string) => boolean): { path: string; flags: number }[] {
  const out: { path: string; flags: number }[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let path: string;
    let info: string;
    try {
      path = readlinkSync(`/proc/self/fd/${fd}`);
      if (!matches(path)) continue;
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed since the listing
    }
    const flags = /^flags:\s+([0-7]+)$/m.exec(info);
    if (flags !== null) out.push({ path, flags: parseInt(flags[1]!, 8) });
  }
  return out;
}

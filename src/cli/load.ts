import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TorrenttpError } from '../errors/index.js';
import { parseMagnet, parseMetainfoJson, parseTorrent, type Magnet, type Metainfo } from '../metainfo/index.js';

/** What a user may name on the command line: a .torrent, a JSON metainfo document or a magnet URI. */
export type LoadedInput = { readonly kind: 'torrent' | 'json'; readonly metainfo: Metainfo } | { readonly kind: 'magnet'; readonly magnet: Magnet };

/** Largest input file we read: 64 MiB of bencode, or its JSON form (base64 inflates by 4/3). */
const MAX_INPUT_BYTES = 96 * 1024 * 1024;

export async function loadInput(input: string, cwd: string): Promise<LoadedInput> {
  if (/^magnet:/i.test(input)) return { kind: 'magnet', magnet: parseMagnet(input) };
  const path = resolve(cwd, input);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    throw new TorrenttpError(code === 'ENOENT' ? 'CLI_INPUT_NOT_FOUND' : 'CREATE_IO', { detail: path, cause });
  }
  if (bytes.length > MAX_INPUT_BYTES) throw new TorrenttpError('CLI_UNKNOWN_INPUT', { detail: `${path} is larger than any torrent` });
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] === 0x7b) return { kind: 'json', metainfo: parseMetainfoJson(new TextDecoder().decode(bytes)) };
  if (bytes[0] === 0x64) return { kind: 'torrent', metainfo: parseTorrent(bytes) };
  throw new TorrenttpError('CLI_UNKNOWN_INPUT', { detail: path });
}

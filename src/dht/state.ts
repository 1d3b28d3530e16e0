import { readFile } from 'node:fs/promises';
import { decode, encode } from '../bencode/index.js';
import { writeFileAtomic } from '../storage/index.js';
import { DhtError } from './errors.js';
import { COMPACT_NODE6_BYTES, decodeCompactNodes, decodeCompactNodes6, encodeCompactNodes, encodeCompactNodes6, ipFamily, NODE_ID_BYTES, type CompactNode } from './krpc.js';

/**
 * The node table across restarts (BEP 5: "a node should keep its id and table"): a bencoded
 * dict `{ id, nodes, nodes6 }` with nodes in the compact 26-byte form and IPv6 nodes in the
 * 38-byte form of BEP 32 (an IPv6 node keeps its own file), written atomically (temp file,
 * fsync, rename) so a crash leaves the old table or the new one. At most `MAX_SAVED_NODES` are
 * kept; reading applies the same bound, so a planted huge file costs nothing.
 */
export const MAX_SAVED_NODES = 400;
const MAX_STATE_BYTES = 64 + MAX_SAVED_NODES * COMPACT_NODE6_BYTES + 64;

export interface DhtState {
  readonly id: Uint8Array;
  readonly nodes: readonly CompactNode[];
}

export function encodeState(state: DhtState): Uint8Array {
  const kept = state.nodes.slice(0, MAX_SAVED_NODES);
  const v6 = kept.filter((n) => ipFamily(n.ip) === 6);
  return encode({
    id: state.id,
    nodes: encodeCompactNodes(kept.filter((n) => ipFamily(n.ip) === 4)),
    ...(v6.length > 0 ? { nodes6: encodeCompactNodes6(v6) } : {}),
    v: 1,
  });
}

export function decodeState(bytes: Uint8Array): DhtState {
  try {
    const v = decode(bytes, { maxInputBytes: MAX_STATE_BYTES, maxDepth: 2, maxTokens: 16 });
    const id = v instanceof Map ? v.get('id') : undefined;
    const nodes = v instanceof Map ? v.get('nodes') : undefined;
    const nodes6 = v instanceof Map ? v.get('nodes6') : undefined;
    if (!(id instanceof Uint8Array) || id.length !== NODE_ID_BYTES || !(nodes instanceof Uint8Array)) throw new DhtError('DHT_BAD_STATE', { detail: 'no id or nodes' });
    if (nodes6 !== undefined && !(nodes6 instanceof Uint8Array)) throw new DhtError('DHT_BAD_STATE', { detail: 'nodes6 is not a byte string' });
    const all = [...decodeCompactNodes(nodes), ...(nodes6 === undefined ? [] : decodeCompactNodes6(nodes6))];
    return { id: new Uint8Array(id), nodes: all.slice(0, MAX_SAVED_NODES) };
  } catch (err) {
    if (err instanceof DhtError && err.code === 'DHT_BAD_STATE') throw err;
    throw new DhtError('DHT_BAD_STATE', { detail: err instanceof Error ? err.message : String(err), cause: err });
  }
}

/** The saved state, undefined when there is none yet; DHT_BAD_STATE when the file is damaged. */
export async function loadState(path: string): Promise<DhtState | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DhtError('DHT_BAD_STATE', { detail: `${path}: ${(err as Error).message}`, cause: err });
  }
  return decodeState(bytes);
}

/** With `noSymlinkDir`, refuses a folder that is a symlink (ours sits in the download folder, where one could be planted). */
export async function saveState(path: string, state: DhtState, opts: { noSymlinkDir?: boolean } = {}): Promise<void> {
  await writeFileAtomic(path, encodeState(state), opts);
}

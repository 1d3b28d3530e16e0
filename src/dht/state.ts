import { link, lstat, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { decode, encode } from '../bencode/index.js';
import { makeFolders, writeFileAtomic } from '../storage/index.js';
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

/** Lock files this process holds: a second node on the same file in this process is kept out too. */
const heldLocks = new Set<string>();

/** What `lockState` got: the lock (release it after the last save), or the pid of the live process holding it. */
export type StateLock = { readonly release: () => Promise<void> } | { readonly heldBy: number };

/**
 * Takes `<path>.lock` for one DHT node: two nodes on one state file (two `torrenttp download`s
 * into one folder) would run one node id twice on the DHT and overwrite each other's table. The
 * lock holds our pid and is created whole (written aside, then hard-linked into place, which
 * fails if it exists), so a reader never sees it empty (where the file system has no hard links,
 * it is created exclusively, then written). One left by a process that is gone (a
 * crash) is taken over; a live holder's pid is returned instead. Two processes that take over
 * the same dead lock at the same instant may both get it (they then only share a table, as
 * without the lock). A `.torrenttp` folder that is a symlink is refused, as `saveState` does.
 */
export async function lockState(path: string): Promise<StateLock> {
  const lockPath = resolve(`${path}.lock`);
  if (heldLocks.has(lockPath)) return { heldBy: process.pid };
  const dir = dirname(lockPath);
  try {
    await makeFolders(dir); // not mkdir's recursive: it spins for ever where a filesystem answers ENOENT (/proc)
    if ((await lstat(dir)).isSymbolicLink()) throw new Error(`${dir} is a symlink`);
  } catch (err) {
    throw new DhtError('DHT_BAD_STATE', { detail: `${lockPath}: ${(err as Error).message}`, cause: err });
  }
  const aside = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(aside, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await createLock(aside, lockPath);
        heldLocks.add(lockPath);
        let released = false;
        return {
          release: async () => {
            if (released) return;
            released = true;
            heldLocks.delete(lockPath);
            await rm(lockPath, { force: true });
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new DhtError('DHT_BAD_STATE', { detail: `${lockPath}: ${(err as Error).message}`, cause: err });
      }
      const pid = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
      // Our own pid but not in heldLocks: left by an earlier process that had our pid (a container's restart).
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) return { heldBy: pid };
      await rm(lockPath, { force: true });
    }
    throw new DhtError('DHT_BAD_STATE', { detail: `${lockPath}: could not be taken` });
  } finally {
    await rm(aside, { force: true });
  }
}

/** Hard-links the written file into place; where the file system has no hard links (FAT, exFAT, some network mounts), creates it exclusively and writes it. */
async function createLock(aside: string, lockPath: string): Promise<void> {
  try {
    await link(aside, lockPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOENT') throw err;
    await writeFile(lockPath, `${process.pid}\n`, { flag: 'wx' });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}
